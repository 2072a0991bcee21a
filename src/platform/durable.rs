//! The per-session Durable Object: WebSocket Hibernation API, the pending long-polling
//! requests, SQLite storage and alarms around [`crate::session::Session`]. What a request,
//! a frame or a closed WebSocket means is the core's to say (the session, and
//! [`crate::engine::polling::Polling`] for long-polling); this file carries it out.

use futures::channel::oneshot;
use futures::future::{select, Either};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;
use worker::{
    durable_object, AbortController, Delay, DurableObject, Env, Headers, Method, Request, RequestInit, Response, Result, ScheduledTime,
    SqlStorage, SqlStorageValue, State, WebSocket, WebSocketIncomingMessage, WebSocketPair, WebsocketEvent,
};

use super::{config_from_env, frame_of, limiter, now_ms, relay, send_frames, upstream, Work, BINDING, SESSION_HEADER, TARGET_HEADER};
use crate::auth;
use crate::config::Config;
use crate::conversation::store::{self, Message, MessageRow, Meta, MetaRow, Pending, PendingRow, SqlValue, Write};
use crate::conversation::{Conversation, Opinion, OpinionRequest, OpinionResult, UpstreamCommand, UpstreamEvent, UpstreamJob};
use crate::engine::polling::{Answer, Get, Polling};
use crate::http::{self, EngineTarget};
use crate::knockout::{off, Part};
use crate::log::{Level, Record};
use crate::protocol::engineio::{Frame, Transport};
use crate::session::limits::Kind;
use crate::session::relay::{Identity, Refusal};
use crate::session::{Conn, Output, Session, SidCheck, UpgradeDecision};
use worker::js_sys;
use worker::wasm_bindgen::{closure::Closure, JsCast, JsValue};

/// Attempts at one transaction before the core is told that it failed.
const COMMIT_ATTEMPTS: u32 = 3;

#[derive(serde::Deserialize)]
struct Count {
    n: f64,
}

#[derive(serde::Deserialize)]
struct Version {
    version: f64,
}

/// A JavaScript exception's message.
fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| "unknown storage error".into())
}

const SID_HEADER: &str = "X-Mia-Sid";
/// Set by the Worker when it minted the session id (the request named none).
const MINTED_HEADER: &str = "X-Mia-Minted";

/// Hands a `/socket.io/` request to the session's Durable Object.
pub(super) async fn forward(env: &Env, req: &mut Request, session_id: &str, target: &EngineTarget, minted: bool) -> Result<Response> {
    let stub = env.durable_object(BINDING)?.id_from_name(session_id)?.get_stub()?;
    let headers = Headers::new();
    for name in [
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Authorization",
        "Origin",
        "Content-Type",
    ] {
        if let Some(v) = req.headers().get(name)? {
            headers.set(name, &v)?;
        }
    }
    if let Some(address) = req.headers().get("CF-Connecting-IP")? {
        headers.set(crate::session::relay::ADDRESS_HEADER, &address)?;
    }
    if minted {
        headers.set(MINTED_HEADER, "1")?;
    }
    headers.set(SESSION_HEADER, session_id)?;
    let (kind, sid) = match target {
        EngineTarget::WebSocket => ("websocket", None),
        EngineTarget::Upgrade { sid } => ("upgrade", Some(sid)),
        EngineTarget::PollOpen => ("poll-open", None),
        EngineTarget::Poll { sid } => ("poll", Some(sid)),
    };
    headers.set(TARGET_HEADER, kind)?;
    if let Some(sid) = sid {
        headers.set(SID_HEADER, sid)?;
    }
    let mut init = RequestInit::new();
    init.with_headers(headers);
    if req.method() == Method::Post {
        init.with_method(Method::Post).with_body(Some(req.bytes().await?.into()));
    } else {
        init.with_method(Method::Get);
    }
    let inner = Request::new_with_init("https://session.mia/socket.io/", &init)?;
    stub.fetch_with_request(inner).await
}

/// Lets client frames through one at a time, in arrival order, across the awaits of the
/// per-client limiter (which would otherwise let a later message overtake an earlier one).
#[derive(Default)]
struct Gate {
    busy: Cell<bool>,
    waiting: RefCell<std::collections::VecDeque<oneshot::Sender<()>>>,
}

struct Turn<'a>(&'a Gate);

impl Gate {
    async fn enter(&self) -> Turn<'_> {
        if self.busy.replace(true) {
            let (tx, rx) = oneshot::channel();
            self.waiting.borrow_mut().push_back(tx);
            let _ = rx.await;
        }
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // Hand the turn to the next waiter still there; none: the gate is free.
        loop {
            let next = self.0.waiting.borrow_mut().pop_front();
            match next {
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    self.0.busy.set(false);
                    return;
                }
            }
        }
    }
}

#[durable_object]
pub struct MiaSession {
    inner: Rc<Inner>,
}

struct Inner {
    /// This object, for the tasks it spawns (relays).
    me: Weak<Inner>,
    env: Env,
    state: State,
    sql: SqlStorage,
    cfg: Config,
    core: RefCell<Option<Session>>,
    aborts: RefCell<HashMap<String, AbortController>>,
    alarm_at: Cell<Option<u64>>,
    /// Whether this object's tables exist (they are made by its first write).
    schema_ready: Cell<bool>,
    /// WebSockets by socket id, filled as they are met (the runtime's own lookup costs a JS array per call).
    sockets: RefCell<HashMap<String, WebSocket>>,
    /// Long-polling's outboxes and rules ([`crate::engine::polling`]).
    polling: RefCell<Polling>,
    /// The `GET`s held until there is something to send, by sid.
    held_polls: RefCell<HashMap<String, oneshot::Sender<()>>>,
    /// Relays of this object's connections to other sessions' objects.
    relays: relay::Relays,
    /// Outputs of the core's start-up, applied by [`Inner::load`].
    started: RefCell<Vec<Output>>,
    /// Client frames one at a time, in order.
    gate: Gate,
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

fn delay(ms: u64) -> Delay {
    Delay::from(Duration::from_millis(ms))
}

impl Inner {
    /// [`Inner::ensure_loaded`], then what the core asked for on starting; the replies a
    /// restart left owed run on beside whatever woke the object.
    async fn load(&self, session_id: Option<&str>) -> Result<()> {
        self.ensure_loaded(session_id)?;
        let started = std::mem::take(&mut *self.started.borrow_mut());
        if !started.is_empty() {
            let work = self.apply(started).await;
            self.run_beside(work);
        }
        Ok(())
    }

    fn log(&self, record: Record) {
        if record.level >= self.cfg.log_level {
            worker::console_log!("{}", record.to_line(now_ms()));
        }
    }

    /// Builds the core from storage and the live sockets, once per wake-up; what it asks for
    /// on starting (lost relays, replies a restart left owed: `Session::recover`) waits in
    /// `started`. An object that has stored nothing stays so: reading creates no table.
    fn ensure_loaded(&self, session_id: Option<&str>) -> Result<()> {
        if self.core.borrow().is_some() {
            return Ok(());
        }
        let has_tables = self
            .sql
            .exec(store::HAS_TABLES, None)?
            .to_array::<Count>()?
            .first()
            .is_some_and(|c| c.n > 0.0);
        let (meta, history, pending) = if has_tables {
            self.ensure_schema()?;
            let meta: Option<Meta> = self
                .sql
                .exec(store::LOAD_META, None)?
                .to_array::<MetaRow>()?
                .into_iter()
                .next()
                .map(Into::into);
            let limit = Conversation::history_to_load(&self.cfg) as i64;
            let mut history: Vec<Message> = self
                .sql
                .exec(store::LOAD_MESSAGES, vec![SqlStorageValue::Integer(limit)])?
                .to_array::<MessageRow>()?
                .into_iter()
                .map(Into::into)
                .collect();
            history.reverse();
            let pending: Vec<Pending> = self
                .sql
                .exec(store::LOAD_OWED, None)?
                .to_array::<PendingRow>()?
                .into_iter()
                .map(Into::into)
                .collect();
            (meta, history, pending)
        } else {
            (None, Vec::new(), Vec::new())
        };
        let conns: Vec<Conn> = self
            .state
            .get_websockets()
            .iter()
            .filter_map(|ws| ws.deserialize_attachment::<Conn>().ok().flatten())
            .collect();
        // Nothing is stored for a session until its first message: its id is also in its sids.
        let from_sids = conns.iter().find_map(|c| http::session_of_sid(&c.sid).map(str::to_string));
        let id = match (&meta, session_id, from_sids) {
            (Some(m), _, _) => m.session_id.clone(),
            (None, Some(id), _) => id.to_string(),
            (None, None, Some(id)) => id,
            (None, None, None) => return Err(worker::Error::RustError("session has no id yet".into())),
        };
        let mut session = Session::restore(self.cfg.clone(), &id, meta, history, conns, now_ms());
        // Relays live in memory only: any the attachments remember ended with the last instance.
        let mut started = session.relays_lost(now_ms());
        // Replies a restart left owed are finished now.
        if !pending.is_empty() {
            started.extend(session.recover(now_ms(), pending));
        }
        *self.started.borrow_mut() = started;
        *self.core.borrow_mut() = Some(session);
        Ok(())
    }

    /// Creates (or migrates) the tables, once per wake-up, before the first write.
    fn ensure_schema(&self) -> Result<()> {
        if !self.schema_ready.get() {
            // A current database needs one read; a new one (no tables: an error) its tables.
            let mut version = self
                .sql
                .exec(store::LOAD_VERSION, None)
                .and_then(|c| c.to_array::<Version>())
                .ok()
                .and_then(|v| v.first().map(|v| v.version as i64))
                .unwrap_or(0);
            let (from, mut statements) = (version, 0);
            if version < 1 {
                for statement in store::SCHEMA {
                    self.sql.exec(statement, None)?;
                }
                statements += store::SCHEMA.len();
                version = 1;
            }
            for migration in store::migrations_after(version) {
                statements += migration.len();
                let migration = migration.iter().map(|q| (*q, Vec::new())).collect();
                self.transaction(migration).map_err(worker::Error::RustError)?;
            }
            if statements > 0 {
                self.log(
                    Record::new(Level::Debug, "storage_schema")
                        .with("from", from)
                        .with("statements", statements),
                );
            }
            self.schema_ready.set(true);
        }
        Ok(())
    }

    /// Writes one step's writes as one transaction, retried up to [`COMMIT_ATTEMPTS`] times.
    fn commit(&self, writes: &[Write]) -> std::result::Result<(), String> {
        if off(Part::Storage) {
            return Ok(());
        }
        if off(Part::PartialSaves) && writes.iter().any(|w| matches!(w, Write::Partial { .. })) {
            let kept: Vec<Write> = writes.iter().filter(|w| !matches!(w, Write::Partial { .. })).cloned().collect();
            return if kept.is_empty() { Ok(()) } else { self.commit(&kept) };
        }
        let mut error = String::new();
        for attempt in 1..=COMMIT_ATTEMPTS {
            let statements = writes
                .iter()
                .map(|w| {
                    let (q, v) = w.sql();
                    (q, bind(v))
                })
                .collect();
            match self
                .ensure_schema()
                .map_err(|e| e.to_string())
                .and_then(|()| self.transaction(statements))
            {
                Ok(()) => {
                    self.log(
                        Record::new(Level::Debug, "storage_commit")
                            .with("statements", writes.len())
                            .with("attempt", attempt),
                    );
                    return Ok(());
                }
                Err(e) => {
                    self.log(
                        Record::new(Level::Warn, "storage_retry")
                            .with("attempt", attempt)
                            .with("error", e.chars().take(200).collect::<String>()),
                    );
                    error = e;
                }
            }
        }
        Err(error)
    }

    /// `transactionSync`: every statement or none. One statement needs no transaction.
    fn transaction(&self, mut statements: Vec<(&'static str, Vec<SqlStorageValue>)>) -> std::result::Result<(), String> {
        if statements.len() == 1 {
            let (q, v) = statements.remove(0);
            return self.sql.exec(q, v).map(|_| ()).map_err(|e| e.to_string());
        }
        let sql = self.sql.clone();
        let body = Closure::once(move || -> std::result::Result<JsValue, JsValue> {
            for (q, v) in statements {
                sql.exec(q, v).map_err(|e| JsValue::from_str(&e.to_string()))?;
            }
            Ok(JsValue::UNDEFINED)
        });
        let storage = self.state.storage();
        let raw: &JsValue = storage.as_raw().as_ref();
        let run: js_sys::Function = js_sys::Reflect::get(raw, &"transactionSync".into())
            .map_err(js_error)?
            .dyn_into()
            .map_err(js_error)?;
        run.call1(raw, body.as_ref().unchecked_ref()).map(|_| ()).map_err(js_error)
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

    fn send_ws(&self, sid: &str, frames: Vec<Frame>) {
        if let Some(ws) = self.socket(sid) {
            let _ = send_frames(&ws, frames);
        }
    }

    /// Carries out the core's outputs; returns the upstream work to run.
    async fn apply(&self, outputs: Vec<Output>) -> Work {
        let mut work = Work::default();
        let mut alarm = None;
        let mut failed = Vec::new();
        let mut delete = false;
        for output in outputs {
            match output {
                Output::Send {
                    sid,
                    frames,
                    via: Transport::Websocket,
                } => self.send_ws(&sid, frames),
                Output::Send {
                    sid,
                    frames,
                    via: Transport::Polling,
                } => {
                    if self.polling.borrow_mut().queue(&sid, frames) {
                        self.wake_poll(&sid);
                    }
                }
                Output::Upgraded { sid } => {
                    // What polling still held goes first, over the WebSocket, in order.
                    let (frames, wake) = self.polling.borrow_mut().upgraded(&sid);
                    self.send_ws(&sid, frames);
                    if wake {
                        self.wake_poll(&sid);
                    }
                }
                Output::Close { sid, code, reason } => {
                    if self.polling.borrow_mut().closed(&sid) {
                        self.wake_poll(&sid);
                    }
                    let cached = self.sockets.borrow_mut().remove(&sid);
                    if let Some(ws) = cached.or_else(|| self.state.get_websockets_with_tag(&sid).into_iter().next()) {
                        let _ = ws.close(Some(code), Some(reason));
                    }
                }
                Output::SaveConn(conn) if self.cfg.hibernate_websockets => {
                    if let Some(ws) = self.socket(&conn.sid) {
                        let _ = ws.serialize_attachment(&conn);
                    }
                }
                // Without hibernation the object stays in memory, and the core with it.
                Output::SaveConn(_) => {}
                Output::Commit(writes) => {
                    if let Err(e) = self.commit(&writes) {
                        failed.push((writes, e));
                    }
                }
                Output::Store(w) => {
                    if let Err(e) = self.commit(std::slice::from_ref(&w)) {
                        failed.push((vec![w], e));
                    }
                }
                Output::DeleteAll => delete = true,
                Output::Relay(command) => self.relays.command(self, command),
                Output::Upstream(UpstreamCommand::Start(job)) => work.jobs.push(job),
                Output::Upstream(UpstreamCommand::SecondOpinion(ask)) => work.opinions.push(ask),
                Output::Upstream(UpstreamCommand::Abort { reply_id }) => {
                    if let Some(c) = self.aborts.borrow_mut().remove(&reply_id) {
                        c.abort();
                    }
                }
                Output::Alarm(at) => alarm = Some(at),
                Output::Log(record) => self.log(record),
            }
        }
        if delete {
            let storage = self.state.storage();
            if let Err(e) = storage.delete_all().await {
                self.log(Record::new(Level::Error, "delete_failed").with("error", e.to_string()));
            }
            let _ = storage.delete_alarm().await;
            self.schema_ready.set(false);
            self.alarm_at.set(None);
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
        // A transaction that could not be written goes back to the core, which tells the
        // clients and brings its memory in line with storage.
        for (writes, error) in failed {
            let outputs = self.with_core(|c| c.storage_failed(now_ms(), writes, &error)).unwrap_or_default();
            work.extend(Box::pin(self.apply(outputs)).await);
        }
        work
    }

    /// Runs `work` in a task of its own, so that the caller can answer at once.
    fn run_beside(&self, work: Work) {
        if work.jobs.is_empty() && work.opinions.is_empty() {
            return;
        }
        if let Some(me) = self.me.upgrade() {
            worker::wasm_bindgen_futures::spawn_local(async move { me.run(work).await });
        }
    }

    /// Runs upstream attempts (and the replies queued behind them) to the end, with
    /// second opinions (moderation, the safety judge) beside them.
    async fn run(&self, work: Work) {
        let opinions = futures::future::join_all(work.opinions.into_iter().map(|ask| self.second_opinion(ask)));
        futures::join!(self.pump(work.jobs), opinions);
    }

    async fn pump(&self, mut jobs: Vec<UpstreamJob>) {
        while let Some(job) = jobs.pop() {
            let more = upstream::run(self, job).await;
            jobs.extend(more.jobs);
            for ask in more.opinions {
                self.second_opinion(ask).await;
            }
        }
    }

    async fn second_opinion(&self, ask: OpinionRequest) {
        let result = if off(Part::Moderation) && ask.opinion == Opinion::Moderation {
            OpinionResult::Answer {
                status: 200,
                body: r#"{"results":[{"flagged":false,"categories":{}}]}"#.into(),
            }
        } else {
            upstream::second_opinion(&ask.request, ask.timeout_ms).await
        };
        let outputs = self
            .with_core(|c| c.second_opinion(now_ms(), &ask.message_id, ask.opinion, result))
            .unwrap_or_default();
        let work = self.apply(outputs).await;
        Box::pin(self.run(work)).await;
    }

    fn sid_of(&self, ws: &WebSocket) -> Option<String> {
        self.state.get_tags(ws).into_iter().next()
    }

    /// The core's state of a connection, if it has one.
    fn connection(&self, sid: &str) -> Option<Conn> {
        self.core.borrow().as_ref().and_then(|c| c.connection(sid).cloned())
    }

    /// Answers the `GET` held for `sid` (it asks the core what to send).
    fn wake_poll(&self, sid: &str) {
        if let Some(tx) = self.held_polls.borrow_mut().remove(sid) {
            let _ = tx.send(());
        }
    }

    /// Ends a misbehaving long-polling connection with Engine.IO's 400.
    async fn refuse_polling(&self, sid: &str, origin: Option<&str>) -> Result<Response> {
        let outputs = self.with_core(|c| c.closed(now_ms(), sid)).unwrap_or_default();
        self.apply(outputs).await;
        self.polling.borrow_mut().closed(sid);
        // A held poll (a second GET) ends with a noop.
        self.wake_poll(sid);
        self.engine_error(http::engineio_bad_request(), origin)
    }

    fn polling_reply(&self, status: u16, body: String, origin: Option<&str>) -> Result<Response> {
        let headers = Headers::new();
        headers.set("Content-Type", "text/plain; charset=UTF-8")?;
        headers.set("Cache-Control", "no-store")?;
        for (k, v) in http::cors_headers(&self.cfg, origin) {
            headers.set(k, &v)?;
        }
        Ok(Response::ok(body)?.with_status(status).with_headers(headers))
    }

    fn engine_error(&self, reply: http::Reply, origin: Option<&str>) -> Result<Response> {
        self.polling_reply(reply.status, reply.body.to_string(), origin)
    }

    /// Whether the Worker minted the session id, and the client's address.
    fn origin_of(req: &Request) -> Result<(bool, Option<String>)> {
        Ok((
            req.headers().get(MINTED_HEADER)?.is_some(),
            req.headers().get(crate::session::relay::ADDRESS_HEADER)?,
        ))
    }

    fn header_token(req: &Request) -> Result<Option<String>> {
        Ok(req
            .headers()
            .get("Authorization")?
            .as_deref()
            .and_then(auth::bearer)
            .map(str::to_string))
    }

    /// Whether a request naming `sid` comes from the client that opened it (its address and
    /// bearer token); `Err` is Engine.IO's answer.
    fn check_sid(&self, req: &Request, sid: &str, origin: Option<&str>) -> Result<std::result::Result<(), Response>> {
        let token = Self::header_token(req)?;
        let (_, address) = Self::origin_of(req)?;
        let check = self
            .core
            .borrow()
            .as_ref()
            .map_or(SidCheck::Unknown, |c| c.check_sid(sid, address.as_deref(), token.as_deref()));
        Ok(match check {
            SidCheck::Ok => Ok(()),
            SidCheck::Unknown => Err(self.engine_error(http::engineio_unknown_sid(), origin)?),
            SidCheck::Forbidden => {
                self.log(Record::new(Level::Warn, "sid_forbidden").with("sid", sid));
                Err(self.engine_error(http::engineio_forbidden(), origin)?)
            }
        })
    }

    /// Feeds one client frame to the core, after the per-client model-call limit when it is
    /// a message the model will answer; returns the upstream work it started.
    async fn client_frame(&self, sid: &str, frame: Frame, via: Transport) -> Work {
        let _turn = self.gate.enter().await;
        self.limited_frame(sid, frame, via).await
    }

    /// The frames a relay held while it opened, answered here after it failed: in one
    /// turn, each through the same limit as any client frame.
    async fn held_frames(&self, sid: &str, frames: Vec<Frame>) -> Work {
        let _turn = self.gate.enter().await;
        let mut work = Work::default();
        for frame in frames {
            let Some(via) = self.connection(sid).map(|c| c.transport) else {
                break;
            };
            work.extend(self.limited_frame(sid, frame, via).await);
        }
        work
    }

    /// [`Inner::client_frame`] within the caller's turn.
    async fn limited_frame(&self, sid: &str, frame: Frame, via: Transport) -> Work {
        let client = self.core.borrow().as_ref().and_then(|c| c.model_call_client(sid, &frame));
        if let Some(client) = client {
            if let Some(retry) = limiter::take(&self.env, &self.cfg, &client, Kind::ModelCall).await {
                let outputs = self
                    .with_core(|c| c.refuse_model_call(now_ms(), sid, &frame, retry))
                    .unwrap_or_default();
                return self.apply(outputs).await;
            }
        }
        let outputs = self.with_core(|c| c.frame(now_ms(), sid, frame, via)).unwrap_or_default();
        self.apply(outputs).await
    }

    /// Accepts a connection's WebSocket: hibernatable (the runtime delivers its events to
    /// the `websocket_*` handlers, even after an eviction), or, when hibernation is off, held
    /// in memory with its events read here.
    fn accept(self: &Rc<Self>, ws: &WebSocket, conn: &Conn) -> Result<()> {
        if self.cfg.hibernate_websockets {
            self.state.accept_websocket_with_tags(ws, &[conn.sid.as_str()]);
            ws.serialize_attachment(conn)?;
        } else {
            ws.accept()?;
            let (inner, ws, sid) = (Rc::clone(self), ws.clone(), conn.sid.clone());
            worker::wasm_bindgen_futures::spawn_local(async move {
                let Ok(mut events) = ws.events() else { return };
                while let Some(event) = futures::StreamExt::next(&mut events).await {
                    let frame = match event {
                        Ok(WebsocketEvent::Message(m)) => match frame_of(&m) {
                            Some(frame) => frame,
                            None => continue,
                        },
                        Ok(WebsocketEvent::Close(_)) | Err(_) => break,
                    };
                    inner.client_frames(&sid, vec![frame], Transport::Websocket).await;
                }
                let _ = inner.ws_closed(&sid).await;
            });
        }
        self.sockets.borrow_mut().insert(conn.sid.clone(), ws.clone());
        Ok(())
    }

    /// The target side of a relay ([`relay`]): admits it to this session, or answers why
    /// not (as its status).
    async fn accept_relay(self: &Rc<Self>, req: &Request, session_id: &str) -> Result<Response> {
        let refuse = |refusal: Refusal| Response::error(format!("{refusal:?}"), refusal.status());
        let Some(identity) = Identity::from_headers(|name| req.headers().get(name).ok().flatten()) else {
            return Response::error("Bad relay", 400);
        };
        // Loading creates nothing; a session nobody has claimed is unknown to `admit_relay`.
        self.load(Some(session_id)).await?;
        let (conn, outputs) = match self.with_core(|c| c.admit_relay(now_ms(), &identity)).expect("loaded") {
            Ok(admitted) => admitted,
            Err(refusal) => return refuse(refusal),
        };
        let pair = WebSocketPair::new()?;
        self.accept(&pair.server, &conn)?;
        self.apply(outputs).await;
        Response::from_websocket(pair.client)
    }

    async fn open_websocket(self: &Rc<Self>, req: &Request) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        let token = Self::header_token(req)?;
        let (minted, address) = Self::origin_of(req)?;
        let (conn, outputs) = self
            .with_core(|c| c.open_for(now_ms(), token, Transport::Websocket, minted, address))
            .expect("loaded");
        self.accept(&pair.server, &conn)?;
        self.apply(outputs).await;
        Response::from_websocket(pair.client)
    }

    /// The WebSocket that will take over a long-polling connection.
    async fn upgrade(self: &Rc<Self>, req: &Request, sid: &str, origin: Option<&str>) -> Result<Response> {
        if let Err(refused) = self.check_sid(req, sid, origin)? {
            return Ok(refused);
        }
        let (decision, outputs) = self.with_core(|c| c.upgrade(now_ms(), sid)).expect("loaded");
        self.apply(outputs).await;
        let pair = WebSocketPair::new()?;
        match decision {
            UpgradeDecision::Unknown => return self.engine_error(http::engineio_unknown_sid(), origin),
            UpgradeDecision::Duplicate => {
                // Not this connection's WebSocket: accepted only to be closed, never tagged.
                pair.server.accept()?;
                pair.server.close(Some(crate::session::CLOSE_PROTOCOL), Some("already upgraded"))?;
            }
            UpgradeDecision::Accept => {
                let conn = self.connection(sid).expect("accepted upgrades have a connection");
                self.accept(&pair.server, &conn)?;
            }
        }
        Response::from_websocket(pair.client)
    }

    /// Client frames from either transport, in order; the replies they start run on
    /// beside. Both transports return as soon as the frames' own answers (acks, alerts,
    /// errors) are out: a poll's POST must be answered "ok" before its reply ends (the
    /// client posts its pongs and next messages after it), and a WebSocket's next frame (a
    /// `cancel`) is read without waiting for the reply. Chunk order is the reply's own:
    /// one task streams each reply, and the core queues replies.
    async fn client_frames(&self, sid: &str, frames: Vec<Frame>, via: Transport) {
        let mut work = Work::default();
        for frame in frames {
            work.extend(self.client_frame(sid, frame, via).await);
        }
        self.run_beside(work);
    }

    /// A connection's WebSocket closed.
    async fn ws_closed(&self, sid: &str) -> Result<()> {
        self.load(None).await?;
        self.sockets.borrow_mut().remove(sid);
        let outputs = self.with_core(|c| c.websocket_closed(now_ms(), sid));
        self.apply(outputs.unwrap_or_default()).await;
        Ok(())
    }

    async fn poll_open(&self, req: &Request, origin: Option<&str>) -> Result<Response> {
        let token = Self::header_token(req)?;
        let (minted, address) = Self::origin_of(req)?;
        let (conn, outputs) = self
            .with_core(|c| c.open_for(now_ms(), token, Transport::Polling, minted, address))
            .expect("loaded");
        self.polling.borrow_mut().opened(&conn.sid);
        self.apply(outputs).await;
        let payload = self.polling.borrow_mut().take_payload(&conn.sid);
        self.polling_reply(200, payload, origin)
    }

    /// A long-poll: answered as soon as something is waiting, or with a noop after a while;
    /// the rules are [`Polling`]'s, the shell holds the request and the timers.
    async fn poll_get(&self, req: &Request, sid: &str, origin: Option<&str>) -> Result<Response> {
        if let Err(refused) = self.check_sid(req, sid, origin)? {
            return Ok(refused);
        }
        let start = self.polling.borrow_mut().handle_get(now_ms(), sid);
        match start {
            Get::Unknown => return self.engine_error(http::engineio_unknown_sid(), origin),
            // Two polls at once: Engine.IO closes the connection.
            Get::Twice => return self.refuse_polling(sid, origin).await,
            Get::Hold { until } => {
                let (tx, rx) = oneshot::channel();
                self.held_polls.borrow_mut().insert(sid.to_string(), tx);
                if let Either::Right(_) = select(rx, delay(until.saturating_sub(now_ms()))).await {
                    // Not woken: the waiter left is this request's.
                    self.held_polls.borrow_mut().remove(sid);
                }
            }
            Get::Ready => {}
        }
        let answer = self
            .polling
            .borrow_mut()
            .release(now_ms(), sid, self.connection(sid).as_ref().map(|c| &c.engine));
        let answer = match answer {
            Answer::Later { until, frames } => {
                delay(until.saturating_sub(now_ms())).await;
                Polling::settle(frames, self.connection(sid).as_ref().map(|c| &c.engine))
            }
            answer => answer,
        };
        match answer {
            Answer::Payload(body) => self.polling_reply(200, body, origin),
            Answer::BadRequest => self.engine_error(http::engineio_bad_request(), origin),
            Answer::Later { .. } => unreachable!("settled above"),
        }
    }

    /// Packets posted by a long-polling client. The replies they start run on after "ok".
    async fn poll_post(&self, sid: &str, mut req: Request, origin: Option<&str>) -> Result<Response> {
        let conn = self.connection(sid);
        if !self.polling.borrow().accepts_post(sid, conn.as_ref().map(|c| &c.engine)) {
            return self.engine_error(http::engineio_unknown_sid(), origin);
        }
        if let Err(refused) = self.check_sid(&req, sid, origin)? {
            return Ok(refused);
        }
        let body = req.bytes().await.unwrap_or_default();
        let frames = match Polling::decode_post(&body, self.cfg.max_payload) {
            Ok(frames) => frames,
            Err(e) => {
                self.log(
                    Record::new(Level::Warn, "malformed_payload")
                        .with("sid", sid)
                        .with("error", e.to_string()),
                );
                return self.refuse_polling(sid, origin).await;
            }
        };
        self.client_frames(sid, frames, Transport::Polling).await;
        self.polling_reply(200, "ok".into(), origin)
    }
}

/// What a relay asks of this object.
impl relay::Host for Inner {
    fn me(&self) -> Option<Rc<Inner>> {
        self.me.upgrade()
    }

    fn env(&self) -> &Env {
        &self.env
    }

    fn relays(&self) -> &relay::Relays {
        &self.relays
    }

    fn log(&self, record: Record) {
        Inner::log(self, record)
    }

    async fn relay_opened(&self, sid: &str) {
        let outputs = self.with_core(|c| c.relay_opened(now_ms(), sid)).unwrap_or_default();
        self.apply(outputs).await;
    }

    async fn relayed(&self, sid: &str, frame: Frame) {
        let outputs = self.with_core(|c| c.relayed(now_ms(), sid, frame)).unwrap_or_default();
        self.apply(outputs).await;
    }

    async fn relay_failed(&self, sid: &str, refusal: Refusal, held: Vec<Frame>) {
        let outputs = self.with_core(|c| c.relay_failed(now_ms(), sid, refusal)).unwrap_or_default();
        let mut work = self.apply(outputs).await;
        work.extend(self.held_frames(sid, held).await);
        self.run(work).await;
    }
}

/// What an upstream attempt asks of the session that started it.
impl upstream::Caller for Inner {
    fn wants(&self, job: &UpstreamJob) -> bool {
        self.core.borrow().as_ref().is_some_and(|c| c.wants(&job.reply_id, job.attempt))
    }

    async fn feed(&self, job: &UpstreamJob, event: UpstreamEvent) -> Work {
        let outputs = self
            .with_core(|c| c.upstream(now_ms(), &job.reply_id, job.attempt, event))
            .unwrap_or_default();
        self.apply(outputs).await
    }

    fn register_abort(&self, reply_id: &str, controller: AbortController) {
        self.aborts.borrow_mut().insert(reply_id.to_string(), controller);
    }

    fn forget_abort(&self, reply_id: &str) {
        self.aborts.borrow_mut().remove(reply_id);
    }
}

impl DurableObject for MiaSession {
    fn new(state: State, env: Env) -> Self {
        // At connect, before any reply is streaming in this isolate.
        crate::session::prepare_classifiers();
        let sql = state.storage().sql();
        let cfg = config_from_env(&env);
        #[cfg(feature = "knockout")]
        if let Err(e) = crate::knockout::set_from(&env.var("MIA_KNOCKOUT").map(|v| v.to_string()).unwrap_or_default()) {
            worker::console_log!("{e}");
        }
        let polling = RefCell::new(Polling::new(cfg.ping_interval_ms, cfg.ping_timeout_ms));
        MiaSession {
            inner: Rc::new_cyclic(|me| Inner {
                me: me.clone(),
                env,
                state,
                sql,
                cfg,
                core: RefCell::new(None),
                aborts: RefCell::new(HashMap::new()),
                alarm_at: Cell::new(None),
                schema_ready: Cell::new(false),
                sockets: RefCell::new(HashMap::new()),
                polling,
                held_polls: RefCell::new(HashMap::new()),
                relays: relay::Relays::default(),
                started: RefCell::new(Vec::new()),
                gate: Gate::default(),
            }),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let inner = &self.inner;
        let Some(session_id) = req.headers().get(SESSION_HEADER)? else {
            return Response::error("Not found", 404);
        };
        if req.headers().get(TARGET_HEADER)?.as_deref() == Some(relay::TARGET) {
            return inner.accept_relay(&req, &session_id).await;
        }
        inner.load(Some(&session_id)).await?;
        let origin = req.headers().get("Origin")?;
        let sid = req.headers().get(SID_HEADER)?.unwrap_or_default();
        match req.headers().get(TARGET_HEADER)?.as_deref() {
            Some("upgrade") => inner.upgrade(&req, &sid, origin.as_deref()).await,
            Some("poll-open") => inner.poll_open(&req, origin.as_deref()).await,
            Some("poll") if req.method() == Method::Post => inner.poll_post(&sid, req, origin.as_deref()).await,
            Some("poll") => inner.poll_get(&req, &sid, origin.as_deref()).await,
            _ => inner.open_websocket(&req).await,
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let inner = &self.inner;
        inner.load(None).await?;
        let Some(sid) = inner.sid_of(&ws) else { return Ok(()) };
        let frame = match message {
            WebSocketIncomingMessage::String(s) => Frame::Text(s),
            WebSocketIncomingMessage::Binary(b) => Frame::Binary(b),
        };
        inner.client_frames(&sid, vec![frame], Transport::Websocket).await;
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        self.closed(&ws).await?;
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.closed(&ws).await
    }

    async fn alarm(&self) -> Result<Response> {
        let inner = &self.inner;
        inner.alarm_at.set(None);
        if let Err(e) = inner.load(None).await {
            // An object with nothing stored and no connection has nothing to wake for (after
            // `deleteAll`, or an alarm left from a connection that stored nothing).
            if inner.state.get_websockets().is_empty() {
                inner.log(Record::new(Level::Debug, "alarm_idle").with("error", e.to_string()));
                return Response::ok("");
            }
            return Err(e);
        }
        let outputs = inner.with_core(|c| c.tick(now_ms())).unwrap_or_default();
        let work = inner.apply(outputs).await;
        inner.run(work).await;
        Response::ok("")
    }
}

impl MiaSession {
    async fn closed(&self, ws: &WebSocket) -> Result<()> {
        let inner = &self.inner;
        inner.load(None).await?;
        match inner.sid_of(ws) {
            Some(sid) => inner.ws_closed(&sid).await,
            None => Ok(()),
        }
    }
}
