//! The per-session Durable Object: WebSocket Hibernation API, SQLite storage and
//! alarms around [`crate::session::Session`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use worker::{
    durable_object, AbortController, DurableObject, Env, Headers, Method, Request, RequestInit, Response, Result, ScheduledTime,
    SqlStorage, SqlStorageValue, State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

use super::{config_from_env, now_ms, upstream};
use crate::auth;
use crate::config::Config;
use crate::conversation::{UpstreamCommand, UpstreamEvent, UpstreamJob};
use crate::engineio::Frame;
use crate::log::{Level, Record};
use crate::openai::HttpRequest;
use crate::session::{Conn, Output, Session};
use crate::store::{self, Message, MessageRow, Meta, MetaRow, SqlValue, Write};

/// Upstream work the core asked for.
#[derive(Default)]
pub(super) struct Work {
    pub jobs: Vec<UpstreamJob>,
    pub moderations: Vec<(String, HttpRequest)>,
}

impl Work {
    pub fn extend(&mut self, other: Work) {
        self.jobs.extend(other.jobs);
        self.moderations.extend(other.moderations);
    }
}

const BINDING: &str = "MIA_SESSION";
const SESSION_HEADER: &str = "X-Mia-Session-Id";

/// Hands a WebSocket upgrade to the session's Durable Object.
pub(super) async fn forward(env: &Env, req: &Request, session_id: &str) -> Result<Response> {
    let stub = env.durable_object(BINDING)?.id_from_name(session_id)?.get_stub()?;
    let headers = Headers::new();
    for name in [
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Authorization",
    ] {
        if let Some(v) = req.headers().get(name)? {
            headers.set(name, &v)?;
        }
    }
    headers.set(SESSION_HEADER, session_id)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let inner = Request::new_with_init("https://session.mia/socket.io/", &init)?;
    stub.fetch_with_request(inner).await
}

#[durable_object]
pub struct MiaSession {
    state: State,
    sql: SqlStorage,
    cfg: Config,
    core: RefCell<Option<Session>>,
    aborts: RefCell<HashMap<String, AbortController>>,
    alarm_at: Cell<Option<u64>>,
    /// WebSockets by socket id, filled as they are met (the runtime's own lookup costs a JS array per call).
    sockets: RefCell<HashMap<String, WebSocket>>,
}

fn bind(values: Vec<SqlValue>) -> Vec<SqlStorageValue> {
    values
        .into_iter()
        .map(|v| match v {
            SqlValue::Null => SqlStorageValue::Null,
            SqlValue::Int(n) => SqlStorageValue::Integer(n),
            SqlValue::Text(s) => SqlStorageValue::String(s),
        })
        .collect()
}

impl MiaSession {
    fn log(&self, record: Record) {
        if record.level >= self.cfg.log_level {
            worker::console_log!("{}", record.to_line(now_ms()));
        }
    }

    /// Builds the core from storage and the live sockets, once per wake-up.
    fn ensure_loaded(&self, session_id: Option<&str>) -> Result<()> {
        if self.core.borrow().is_some() {
            return Ok(());
        }
        for statement in store::SCHEMA {
            self.sql.exec(statement, None)?;
        }
        let meta: Option<Meta> = self
            .sql
            .exec(store::LOAD_META, None)?
            .to_array::<MetaRow>()?
            .into_iter()
            .next()
            .map(Into::into);
        let limit = Session::history_to_load(&self.cfg) as i64;
        let mut history: Vec<Message> = self
            .sql
            .exec(store::LOAD_MESSAGES, vec![SqlStorageValue::Integer(limit)])?
            .to_array::<MessageRow>()?
            .into_iter()
            .map(Into::into)
            .collect();
        history.reverse();
        let conns: Vec<Conn> = self
            .state
            .get_websockets()
            .iter()
            .filter_map(|ws| ws.deserialize_attachment::<Conn>().ok().flatten())
            .collect();
        let id = match (&meta, session_id) {
            (Some(m), _) => m.session_id.clone(),
            (None, Some(id)) => id.to_string(),
            (None, None) => return Err(worker::Error::RustError("session has no id yet".into())),
        };
        let is_new = meta.is_none();
        let session = Session::restore(self.cfg.clone(), &id, meta, history, conns, now_ms());
        if is_new {
            self.write(&Write::Meta(session.meta().clone()));
        }
        *self.core.borrow_mut() = Some(session);
        Ok(())
    }

    fn write(&self, w: &Write) {
        let (sql, values) = w.sql();
        if let Err(e) = self.sql.exec(sql, bind(values)) {
            self.log(Record::new(Level::Error, "storage_write_failed").with("error", e.to_string()));
        }
    }

    fn with_core<T>(&self, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.core.borrow_mut().as_mut().map(f)
    }

    fn socket(&self, sid: &str) -> Option<WebSocket> {
        if let Some(ws) = self.sockets.borrow().get(sid) {
            return Some(ws.clone());
        }
        let ws = self.state.get_websockets_with_tag(sid).into_iter().next()?;
        self.sockets.borrow_mut().insert(sid.to_string(), ws.clone());
        Some(ws)
    }

    /// Carries out the core's outputs; returns the upstream work to run.
    async fn apply(&self, outputs: Vec<Output>) -> Work {
        let mut work = Work::default();
        let mut alarm = None;
        for output in outputs {
            match output {
                Output::Send { sid, frames } => {
                    if let Some(ws) = self.socket(&sid) {
                        for frame in frames {
                            let sent = match frame {
                                Frame::Text(t) => ws.send_with_str(t),
                                Frame::Binary(b) => ws.send_with_bytes(b),
                            };
                            if sent.is_err() {
                                break;
                            }
                        }
                    }
                }
                Output::Close { sid, code, reason } => {
                    let cached = self.sockets.borrow_mut().remove(&sid);
                    if let Some(ws) = cached.or_else(|| self.state.get_websockets_with_tag(&sid).into_iter().next()) {
                        let _ = ws.close(Some(code), Some(reason));
                    }
                }
                Output::SaveConn(conn) => {
                    if let Some(ws) = self.socket(&conn.sid) {
                        let _ = ws.serialize_attachment(&conn);
                    }
                }
                Output::Store(w) => self.write(&w),
                Output::Upstream(UpstreamCommand::Start(job)) => work.jobs.push(job),
                Output::Upstream(UpstreamCommand::Moderate { message_id, request }) => work.moderations.push((message_id, request)),
                Output::Upstream(UpstreamCommand::Abort { reply_id }) => {
                    if let Some(c) = self.aborts.borrow_mut().remove(&reply_id) {
                        c.abort();
                    }
                }
                Output::Alarm(at) => alarm = Some(at),
                Output::Log(record) => self.log(record),
            }
        }
        if let Some(at) = alarm {
            if self.alarm_at.get() != Some(at) {
                self.alarm_at.set(Some(at));
                if let Err(e) = self
                    .state
                    .storage()
                    .set_alarm(ScheduledTime::new(worker::js_sys::Date::new(&(at as f64).into())))
                    .await
                {
                    self.log(Record::new(Level::Error, "alarm_failed").with("error", e.to_string()));
                }
            }
        }
        work
    }

    /// Runs upstream attempts (and the replies queued behind them) to the end, with
    /// moderation checks beside them.
    async fn run(&self, work: Work) {
        let moderations = futures::future::join_all(work.moderations.into_iter().map(|(id, req)| self.moderate(id, req)));
        futures::join!(self.pump(work.jobs), moderations);
    }

    async fn pump(&self, mut jobs: Vec<UpstreamJob>) {
        while let Some(job) = jobs.pop() {
            let more = upstream::run(self, job).await;
            jobs.extend(more.jobs);
            for (id, req) in more.moderations {
                self.moderate(id, req).await;
            }
        }
    }

    async fn moderate(&self, message_id: String, request: HttpRequest) {
        let result = upstream::moderate(&request).await;
        let outputs = self.with_core(|c| c.moderation(now_ms(), &message_id, result)).unwrap_or_default();
        let work = self.apply(outputs).await;
        Box::pin(self.run(work)).await;
    }

    pub(super) fn wants(&self, job: &UpstreamJob) -> bool {
        self.core.borrow().as_ref().is_some_and(|c| c.wants(&job.reply_id, job.attempt))
    }

    pub(super) async fn feed(&self, job: &UpstreamJob, event: UpstreamEvent) -> Work {
        let outputs = self
            .with_core(|c| c.upstream(now_ms(), &job.reply_id, job.attempt, event))
            .unwrap_or_default();
        self.apply(outputs).await
    }

    pub(super) fn register_abort(&self, reply_id: &str, controller: AbortController) {
        self.aborts.borrow_mut().insert(reply_id.to_string(), controller);
    }

    pub(super) fn forget_abort(&self, reply_id: &str) {
        self.aborts.borrow_mut().remove(reply_id);
    }

    fn sid_of(&self, ws: &WebSocket) -> Option<String> {
        self.state.get_tags(ws).into_iter().next()
    }
}

impl DurableObject for MiaSession {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        MiaSession {
            state,
            sql,
            cfg: config_from_env(&env),
            core: RefCell::new(None),
            aborts: RefCell::new(HashMap::new()),
            alarm_at: Cell::new(None),
            sockets: RefCell::new(HashMap::new()),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let Some(session_id) = req.headers().get(SESSION_HEADER)? else {
            return Response::error("Not found", 404);
        };
        self.ensure_loaded(Some(&session_id))?;
        let header_token = req
            .headers()
            .get("Authorization")?
            .as_deref()
            .and_then(auth::bearer)
            .map(str::to_string);
        let pair = WebSocketPair::new()?;
        let (conn, outputs) = self.with_core(|c| c.open(now_ms(), header_token)).expect("loaded above");
        self.state.accept_websocket_with_tags(&pair.server, &[conn.sid.as_str()]);
        pair.server.serialize_attachment(&conn)?;
        self.apply(outputs).await;
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        self.ensure_loaded(None)?;
        let Some(sid) = self.sid_of(&ws) else {
            return Ok(());
        };
        let frame = match message {
            WebSocketIncomingMessage::String(s) => Frame::Text(s),
            WebSocketIncomingMessage::Binary(b) => Frame::Binary(b),
        };
        let outputs = self.with_core(|c| c.frame(now_ms(), &sid, frame)).unwrap_or_default();
        let work = self.apply(outputs).await;
        self.run(work).await;
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        self.ensure_loaded(None)?;
        if let Some(sid) = self.sid_of(&ws) {
            self.sockets.borrow_mut().remove(&sid);
            let outputs = self.with_core(|c| c.closed(now_ms(), &sid)).unwrap_or_default();
            self.apply(outputs).await;
        }
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.ensure_loaded(None)?;
        if let Some(sid) = self.sid_of(&ws) {
            self.sockets.borrow_mut().remove(&sid);
            let outputs = self.with_core(|c| c.closed(now_ms(), &sid)).unwrap_or_default();
            self.apply(outputs).await;
        }
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        self.ensure_loaded(None)?;
        let outputs = self.with_core(|c| c.tick(now_ms())).unwrap_or_default();
        let work = self.apply(outputs).await;
        self.run(work).await;
        Response::ok("")
    }
}
