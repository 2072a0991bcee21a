//! Runs one upstream attempt: the offline companion's paced chunks, or a streamed
//! `fetch` with first-byte and total timeouts, fed to the core as events.

use futures::future::{select, Either};
use futures::StreamExt;
use std::time::Duration;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

use super::{now_ms, Work};
use crate::conversation::{Failure, OpinionResult, UpstreamEvent, UpstreamJob, UpstreamRequest};

/// What an upstream attempt asks of the session that started it (the Durable Object).
pub(super) trait Caller {
    /// Whether the core still wants this attempt's events.
    fn wants(&self, job: &UpstreamJob) -> bool;
    /// Hands the core an event of the attempt; returns the work it asked for meanwhile.
    async fn feed(&self, job: &UpstreamJob, event: UpstreamEvent) -> Work;
    /// Lets the core abort the attempt's request.
    fn register_abort(&self, reply_id: &str, controller: AbortController);
    fn forget_abort(&self, reply_id: &str);
}

/// How long a finished reply's body may take to end before it is cancelled.
const DRAIN_MS: u64 = 100;

fn delay(ms: u64) -> Delay {
    Delay::from(Duration::from_millis(ms))
}

/// Asks for a second opinion (moderation, the safety judge): the status and whole body,
/// or why there is none. Past `timeout_ms` the request is aborted.
pub(super) async fn second_opinion(http: &crate::upstream::openai::HttpRequest, timeout_ms: u64) -> OpinionResult {
    let controller = AbortController::default();
    let signal = controller.signal();
    let call = async {
        let request = build(http).map_err(|e| e.to_string())?;
        let response = Fetch::Request(request).send_with_signal(&signal).await.map_err(|e| e.to_string())?;
        let status = response.status_code();
        // The whole body in one promise, read by the runtime: `worker::Response::text` would
        // read it chunk by chunk through wasm.
        let response: web_sys::Response = response.into();
        let text = response.text().map_err(|e| format!("{e:?}"))?;
        let body = JsFuture::from(text).await.map_err(|e| format!("{e:?}"))?;
        Ok::<_, String>((status, body.as_string().unwrap_or_default()))
    };
    let result = match select(Box::pin(call), delay(timeout_ms)).await {
        Either::Left((Ok((status, body)), _)) => OpinionResult::Answer { status, body },
        Either::Left((Err(e), _)) => OpinionResult::Failed(e),
        Either::Right(_) => {
            controller.abort();
            OpinionResult::Timeout
        }
    };
    result
}

/// Runs `job` and returns the work the core asked for meanwhile.
pub(super) async fn run(session: &impl Caller, job: UpstreamJob) -> Work {
    if job.delay_ms > 0 {
        delay(job.delay_ms).await;
    }
    if !session.wants(&job) {
        return Work::default();
    }
    match &job.request {
        UpstreamRequest::Offline { chunks, delay_ms } => {
            let mut jobs = Work::default();
            for chunk in chunks {
                if *delay_ms > 0 {
                    delay(*delay_ms).await;
                }
                if !session.wants(&job) {
                    return jobs;
                }
                jobs.extend(session.feed(&job, UpstreamEvent::Delta(chunk.clone())).await);
            }
            jobs.extend(session.feed(&job, UpstreamEvent::End).await);
            jobs
        }
        UpstreamRequest::Http(http) => {
            let controller = AbortController::default();
            let signal = controller.signal();
            session.register_abort(&job.reply_id, controller);
            let jobs = stream(session, &job, http, &signal).await;
            session.forget_abort(&job.reply_id);
            jobs
        }
    }
}

async fn stream(
    session: &impl Caller,
    job: &UpstreamJob,
    http: &crate::upstream::openai::HttpRequest,
    signal: &worker::AbortSignal,
) -> Work {
    let fail = |f: Failure| UpstreamEvent::Failed(f);
    let started = now_ms();
    let first_byte_deadline = started + job.first_byte_timeout_ms;
    let total_deadline = started + job.total_timeout_ms;

    let request = match build(http) {
        Ok(r) => r,
        Err(e) => return session.feed(job, fail(Failure::Network(e.to_string()))).await,
    };
    let fetch = Fetch::Request(request);
    let sent = fetch.send_with_signal(signal);
    let mut response = match select(Box::pin(sent), delay(job.first_byte_timeout_ms)).await {
        Either::Left((Ok(r), _)) => r,
        Either::Left((Err(e), _)) => return session.feed(job, fail(Failure::Network(e.to_string()))).await,
        Either::Right(_) => return session.feed(job, fail(Failure::FirstByteTimeout)).await,
    };
    let code = response.status_code();
    let retry_after_ms = response
        .headers()
        .get("Retry-After")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s * 1000);
    let mut jobs = session.feed(job, UpstreamEvent::Status { code, retry_after_ms }).await;
    if !(200..300).contains(&code) || !session.wants(job) {
        return jobs;
    }
    let mut body = match response.stream() {
        Ok(b) => b,
        Err(e) => {
            jobs.extend(session.feed(job, fail(Failure::Network(e.to_string()))).await);
            return jobs;
        }
    };
    // One timer per deadline for the whole stream: a timer per read costs more than the read.
    // Until the first bytes, the nearer deadline counts as the first-byte one.
    let mut first_byte = Some(Box::pin(delay(first_byte_deadline.min(total_deadline).saturating_sub(now_ms()))));
    let mut total = Box::pin(delay(total_deadline.saturating_sub(now_ms())));
    loop {
        let next = body.next();
        let event = match &mut first_byte {
            Some(first) => match select(next, first).await {
                Either::Left((item, _)) => Ok(item),
                Either::Right(_) => Err(Failure::FirstByteTimeout),
            },
            None => match select(next, &mut total).await {
                Either::Left((item, _)) => Ok(item),
                Either::Right(_) => Err(Failure::TotalTimeout),
            },
        };
        let event = match event {
            Ok(Some(Ok(bytes))) => {
                first_byte = None;
                UpstreamEvent::Bytes(bytes)
            }
            Ok(Some(Err(e))) => fail(Failure::Network(e.to_string())),
            Ok(None) => UpstreamEvent::End,
            Err(timeout) => fail(timeout),
        };
        let last = !matches!(event, UpstreamEvent::Bytes(_));
        jobs.extend(session.feed(job, event).await);
        if last {
            return jobs;
        }
        if !session.wants(job) {
            // Done with this body: read what is already on its way (after `[DONE]`, only
            // the end) so the runtime can reuse the connection, rather than cancel it.
            let _ = select(Box::pin(drain(&mut body)), delay(DRAIN_MS)).await;
            return jobs;
        }
    }
}

async fn drain(body: &mut worker::ByteStream) {
    while let Some(Ok(_)) = body.next().await {}
}

fn build(http: &crate::upstream::openai::HttpRequest) -> worker::Result<Request> {
    let headers = Headers::new();
    for (k, v) in &http.headers {
        headers.set(k, v)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(http.body.clone().into()));
    Request::new_with_init(&http.url, &init)
}
