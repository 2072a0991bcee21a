//! The Cloudflare Workers shell: moves requests, WebSocket frames, storage rows,
//! timers and upstream bytes between the platform and the pure core. No decisions here.

mod durable;
mod limiter;
mod relay;
mod upstream;

use std::sync::OnceLock;
use worker::{event, Context, Env, Headers, MessageEvent, Request, Response, Result, WebSocket};

use crate::config::Config;
use crate::conversation::{OpinionRequest, UpstreamJob};
use crate::http::{self, EngineTarget, Route};
use crate::log::{Level, Record};
use crate::protocol::engineio::Frame;

/// Upstream work the core asked for.
#[derive(Default)]
pub(crate) struct Work {
    pub jobs: Vec<UpstreamJob>,
    pub opinions: Vec<OpinionRequest>,
}

impl Work {
    pub fn extend(&mut self, other: Work) {
        self.jobs.extend(other.jobs);
        self.opinions.extend(other.opinions);
    }
}

/// The Durable Object binding of the sessions, and the headers of the Worker's requests to them.
const BINDING: &str = "MIA_SESSION";
const SESSION_HEADER: &str = "X-Mia-Session-Id";
const TARGET_HEADER: &str = "X-Mia-Target";

static STARTED_MS: OnceLock<u64> = OnceLock::new();

/// `Date.now()`: one call into JS, where `worker::Date::now()` makes a `Date` object and asks it.
pub(crate) fn now_ms() -> u64 {
    worker::js_sys::Date::now() as u64
}

/// Sends frames over a WebSocket in order, stopping at the first that fails.
fn send_frames(ws: &WebSocket, frames: Vec<Frame>) -> Result<()> {
    for frame in frames {
        match frame {
            Frame::Text(t) => ws.send_with_str(t)?,
            Frame::Binary(b) => ws.send_with_bytes(b)?,
        }
    }
    Ok(())
}

/// A received WebSocket message as a frame (`None` for one that is neither text nor bytes).
fn frame_of(message: &MessageEvent) -> Option<Frame> {
    match (message.text(), message.bytes()) {
        (Some(t), _) => Some(Frame::Text(t)),
        (None, Some(b)) => Some(Frame::Binary(b)),
        (None, None) => None,
    }
}

pub(crate) fn config_from_env(env: &Env) -> Config {
    Config::from_lookup(|name| {
        env.var(name)
            .ok()
            .map(|v| v.to_string())
            .or_else(|| env.secret(name).ok().map(|s| s.to_string()))
    })
}

fn json_reply(reply: http::Reply, extra: &[(&'static str, String)]) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    headers.set("Cache-Control", "no-store")?;
    for (k, v) in extra {
        headers.set(k, v)?;
    }
    Ok(Response::from_json(&reply.body)?.with_status(reply.status).with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let cfg = config_from_env(&env);
    // The raw method: `worker::Method` turns any method it does not know (PROPFIND…) into GET.
    let (method, path) = (req.inner().method(), req.path());
    let response = route(req, &env, &cfg).await?;
    let status = response.status_code();
    let level = match status {
        500.. => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Debug,
    };
    if level >= cfg.log_level && status != 101 {
        let record = Record::new(level, "http")
            .with("method", method)
            .with("path", path)
            .with("status", status);
        worker::console_log!("{}", record.to_line(now_ms()));
    }
    Ok(response)
}

async fn route(mut req: Request, env: &Env, cfg: &Config) -> Result<Response> {
    let now = now_ms();
    let started = *STARTED_MS.get_or_init(|| now);
    let origin = req.headers().get("Origin")?;
    let cors = http::cors_headers(cfg, origin.as_deref());
    let url = req.url()?;
    let names: Vec<String> = req.headers().keys().collect();
    if let Err(reply) = http::check_internal_headers(names.iter().map(String::as_str)) {
        return json_reply(reply, &cors);
    }
    let route = match http::route(&req.inner().method(), url.path(), url.query().unwrap_or("")) {
        Ok(route) => route,
        Err(reply) => return json_reply(reply, &cors),
    };
    let origin_ok = cfg.origin_allowed(origin.as_deref());
    match route {
        Route::Preflight if origin_ok => {
            let headers = Headers::new();
            for (k, v) in &cors {
                headers.set(k, v)?;
            }
            Ok(Response::empty()?.with_status(204).with_headers(headers))
        }
        Route::Health => json_reply(http::health(cfg, now, started), &cors),
        _ if !origin_ok => json_reply(http::forbidden_origin(), &[]),
        Route::Token => {
            let body = req.bytes().await.unwrap_or_default();
            let auth = req.headers().get("Authorization")?;
            json_reply(http::token(cfg, now, &body, auth.as_deref()), &cors)
        }
        Route::SocketIo { session_id, target } => {
            let websocket = matches!(target, EngineTarget::WebSocket | EngineTarget::Upgrade { .. });
            let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
            if websocket && !upgrade.eq_ignore_ascii_case("websocket") {
                return json_reply(http::engineio_bad_request(), &cors);
            }
            if let Err(reply) = http::check_authorization(req.headers().get("Authorization")?.as_deref()) {
                return json_reply(reply, &cors);
            }
            if matches!(target, EngineTarget::WebSocket | EngineTarget::PollOpen) {
                // Set by Cloudflare's edge (and by wrangler dev) for every request.
                let address = req.headers().get("CF-Connecting-IP")?;
                let client = crate::session::access::client_key(address.as_deref());
                if let Some(retry) = limiter::take(env, cfg, &client, crate::session::limits::Kind::Session).await {
                    let mut headers = cors.clone();
                    headers.push(("Retry-After", retry.div_ceil(1000).to_string()));
                    return json_reply(http::client_rate_limited(retry), &headers);
                }
            }
            let minted = http::session_minted(url.query().unwrap_or(""));
            durable::forward(env, &mut req, &session_id, &target, minted).await
        }
        Route::Asset | Route::Preflight => json_reply(http::not_found(), &cors),
    }
}
