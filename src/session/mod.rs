//! The session state machine, sans I/O: Engine.IO frames, timer ticks and upstream
//! events go in; frames, closes, storage writes, upstream requests, alarms and log
//! records come out. One `Session` per Durable Object; it can be rebuilt at any time
//! from storage and the sockets' attachments (hibernation).
//!
//! A `Session` holds the connections and their Socket.IO sockets, and the session's
//! [`Conversation`]: it hands the conversation its events (`message`, `cancel`,
//! `join_session`) and carries out what it decides (events to every joined socket or to
//! one, writes as one transaction per step, upstream commands, logs).

pub mod access;
mod conformance;
pub mod limits;
pub mod relay;
mod relaying;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

use crate::auth;
use crate::config::Config;
use crate::conversation::events::{ClientError, ServerEvent};
use crate::conversation::store::{Message, Meta, Owner, Pending, Write};
use crate::conversation::{Conversation, Effect, Opinion, OpinionResult, To, UpstreamCommand, UpstreamEvent};
use crate::engine::{self as engine_io, Connection, Engine, Received, Refused};
use crate::ids;
use crate::log::{Level, Record};
use crate::protocol::engineio::{self, EngineError, Frame, Transport};
use crate::protocol::socketio::{self, Decoder, PacketType, ProtocolError};
use access::{Admission, Visitor};
use relay::{JoinDecision, Link, RelayCommand, RelayState};

pub use crate::engine::UpgradeDecision;

/// A Socket.IO socket on one namespace of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsSocket {
    pub nsp: String,
    pub id: String,
    pub user_id: String,
    /// Whether the user id comes from a verified token.
    pub authenticated: bool,
    /// When the token stops being served (ms): the socket's next event is refused with
    /// `AUTH_EXPIRED` and the socket disconnected.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

/// Per-connection state; the shell keeps it in the WebSocket's attachment. The Engine.IO
/// half is [`Connection`] (read through `Deref`); the rest is this layer's. Saved with the
/// Engine.IO half under `engine`; read back from that, or from the layout saved before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SavedConn")]
pub struct Conn {
    pub sid: String,
    pub engine: Connection,
    #[serde(default)]
    pub connected_once: bool,
    #[serde(default)]
    pub sockets: Vec<NsSocket>,
    /// This connection's CONNECT created the session.
    #[serde(default)]
    pub created_session: bool,
    /// Where its Socket.IO packets go (its own session, or a relay; see [`crate::session::relay`]).
    #[serde(default)]
    pub link: Link,
}

/// A [`Conn`] as an attachment holds it: the Engine.IO half under `engine`, or beside the
/// rest, as attachments were saved before the Engine.IO layer (a WebSocket still connected
/// across that deploy carries one; unreadable, its connection would be dropped unanswered).
#[derive(Deserialize)]
struct SavedConn {
    sid: String,
    #[serde(default)]
    engine: Option<Connection>,
    #[serde(default)]
    connected_once: bool,
    #[serde(default)]
    sockets: Vec<NsSocket>,
    #[serde(default)]
    created_session: bool,
    #[serde(default)]
    link: Link,
    /// The earlier layout's Engine.IO fields.
    #[serde(flatten)]
    flat: Option<Connection>,
}

impl TryFrom<SavedConn> for Conn {
    type Error = &'static str;

    fn try_from(s: SavedConn) -> Result<Conn, &'static str> {
        Ok(Conn {
            sid: s.sid,
            engine: s.engine.or(s.flat).ok_or("missing field `engine`")?,
            connected_once: s.connected_once,
            sockets: s.sockets,
            created_session: s.created_session,
            link: s.link,
        })
    }
}

impl std::ops::Deref for Conn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.engine
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.engine
    }
}

/// Whether a request naming a sid may act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidCheck {
    Ok,
    /// No such connection: Engine.IO's "Session ID unknown".
    Unknown,
    /// The connection exists but the request does not come from its client: "Forbidden".
    Forbidden,
}

impl Conn {
    pub fn main(&self) -> Option<&NsSocket> {
        self.sockets.iter().find(|s| s.nsp == "/")
    }

    /// Whether its packets are relayed to another session (opening or open).
    pub fn relaying(&self) -> bool {
        matches!(
            self.link,
            Link::Relay {
                state: RelayState::Opening { .. } | RelayState::Open,
                ..
            }
        )
    }

    /// Whether this session's own events reach it.
    fn joined_here(&self) -> bool {
        self.main().is_some() && !matches!(self.link, Link::Relay { .. })
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Frames for a connection, over the named transport (they differ only while upgrading).
    Send {
        sid: String,
        frames: Vec<Frame>,
        via: Transport,
    },
    /// A long-polling connection moved to its WebSocket: flush what polling still holds
    /// over the WebSocket, in order, and end the pending poll.
    Upgraded {
        sid: String,
    },
    Close {
        sid: String,
        code: u16,
        reason: String,
    },
    /// Store this connection state in the socket's attachment.
    SaveConn(Conn),
    /// One write, as the core produces it. A step's writes leave the core together as one
    /// [`Output::Commit`]; the shell never sees this variant from [`Session`].
    Store(Write),
    /// These writes, in order, as one storage transaction, ahead of the step's frames. If it
    /// still fails after the shell's retries, the shell reports it with [`Session::storage_failed`].
    Commit(Vec<Write>),
    /// The session expired (`SESSION_RETENTION_DAYS`): delete all its storage and its alarm.
    DeleteAll,
    Upstream(UpstreamCommand),
    Relay(RelayCommand),
    /// Wake the session (a Durable Object alarm) at this time.
    Alarm(u64),
    Log(Record),
}

/// Why a client frame was refused.
#[derive(Debug)]
enum FrameError {
    Engine(EngineError),
    Socket(ProtocolError),
    Unexpected(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Engine(e) => e.fmt(f),
            FrameError::Socket(e) => e.fmt(f),
            FrameError::Unexpected(s) => f.write_str(s),
        }
    }
}

/// Who a Socket.IO CONNECT comes from, once its token (if any) is verified.
pub(crate) struct Caller {
    pub user_id: String,
    /// Whether the user id comes from a verified token.
    pub authenticated: bool,
    /// When the token expires (ms).
    pub expires_at: Option<u64>,
}

impl Caller {
    /// No token: a fresh anonymous user id.
    pub fn anonymous() -> Caller {
        Caller {
            user_id: ids::anonymous_user(),
            authenticated: false,
            expires_at: None,
        }
    }
}

/// WebSocket close code for a protocol violation.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// WebSocket close code for a frame over maxPayload.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// WebSocket close code for a normal close (timeouts, client close).
pub const CLOSE_NORMAL: u16 = 1000;

/// Compiles the classifiers' rules (safety, age, mode) ahead of the first message: a
/// one-off cost per isolate that otherwise lands mid-conversation.
pub fn prepare_classifiers() {
    crate::safety::prepare();
    crate::safety::age::prepare();
    crate::conversation::mode::prepare();
}

pub struct Session {
    pub(crate) cfg: Config,
    /// The conversation: everything of the session that is not a connection.
    conv: Conversation,
    pub(crate) conns: BTreeMap<String, Conn>,
    decoders: HashMap<String, Decoder>,
    pub(crate) now: u64,
    out: Vec<Output>,
}

impl Session {
    /// Rebuilds a session from storage (`meta` is `None` for a new one) and live connections.
    /// Replies still owed are picked up by [`Session::recover`].
    pub fn restore(cfg: Config, session_id: &str, meta: Option<Meta>, history: Vec<Message>, conns: Vec<Conn>, now: u64) -> Session {
        // Nothing is stored before the first message: a connection that claimed the
        // session says who owns it (its attachment outlives hibernation).
        let owner = conns
            .iter()
            .filter(|c| c.created_session)
            .find_map(|c| c.main())
            .map(|s| {
                access::first_owner(Visitor {
                    user_id: &s.user_id,
                    authenticated: s.authenticated,
                })
            })
            .unwrap_or(Owner::Unclaimed);
        Session {
            conv: Conversation::restore(cfg.clone(), session_id, meta, history, owner, now),
            cfg,
            conns: conns.into_iter().map(|c| (c.sid.clone(), c)).collect(),
            decoders: HashMap::new(),
            now,
            out: Vec::new(),
        }
    }

    pub fn meta(&self) -> &Meta {
        self.conv.meta()
    }

    fn session_id(&self) -> &str {
        self.conv.session_id()
    }

    /// Runs one input through the conversation and carries out what it decided.
    fn converse<T>(&mut self, f: impl FnOnce(&mut Conversation) -> T) -> T {
        let answer = f(&mut self.conv);
        for effect in self.conv.poll_effects() {
            match effect {
                Effect::Emit(To::All, event) => self.emit_all(&event),
                Effect::Emit(To::Socket(sid), event) => self.emit_to(&sid, &event),
                Effect::Store(w) => self.out.push(Output::Store(w)),
                Effect::Upstream(c) => self.out.push(Output::Upstream(c)),
                Effect::Log(record) => self.log(record),
            }
        }
        answer
    }

    pub fn connections(&self) -> impl Iterator<Item = &Conn> {
        self.conns.values()
    }

    pub fn connection(&self, sid: &str) -> Option<&Conn> {
        self.conns.get(sid)
    }

    pub(crate) fn finish_outputs(&mut self) -> Vec<Output> {
        let mut writes = Vec::new();
        let mut out = Vec::with_capacity(self.out.len() + 2);
        for o in std::mem::take(&mut self.out) {
            match o {
                Output::Store(w) => writes.push(w),
                other => out.push(other),
            }
        }
        if !writes.is_empty() {
            out.insert(0, Output::Commit(self.conv.commit(writes)));
        }
        if let Some(at) = self.next_deadline() {
            // Never at or before now: an alarm set for the past from inside the alarm handler
            // may be dropped by the runtime (workerd#6866), and the timers would stop.
            out.push(Output::Alarm(at.max(self.now + 1)));
        }
        out
    }

    pub(crate) fn log(&mut self, record: Record) {
        if record.level >= self.cfg.log_level {
            let record = record.with("sessionId", self.session_id().to_string());
            self.out.push(Output::Log(record));
        }
    }

    /// Whether anything of this session is stored.
    pub fn is_stored(&self) -> bool {
        self.conv.is_stored()
    }

    pub(crate) fn push(&mut self, output: Output) {
        self.out.push(output);
    }

    pub(crate) fn save_conn(&mut self, sid: &str) {
        if let Some(c) = self.conns.get(sid) {
            self.out.push(Output::SaveConn(c.clone()));
        }
    }

    // ---- Engine.IO layer ----

    /// The Engine.IO layer's settings and rules ([`crate::engine`]).
    fn engine(&self) -> Engine {
        Engine {
            ping_interval_ms: self.cfg.ping_interval_ms,
            ping_timeout_ms: self.cfg.ping_timeout_ms,
            max_payload: self.cfg.max_payload,
        }
    }

    /// A new connection: sends the open packet. Returns the connection to attach.
    /// Its sid starts with the session id, so a stateless router can find the session.
    pub fn open(&mut self, now: u64, header_token: Option<String>, transport: Transport) -> (Conn, Vec<Output>) {
        self.open_for(now, header_token, transport, false, None)
    }

    /// [`Session::open`] for a connection whose session id the Worker `minted` (it named
    /// none), which may then join a stored session with `join_session` (CONTRACT §2).
    pub fn open_for(
        &mut self,
        now: u64,
        header_token: Option<String>,
        transport: Transport,
        minted: bool,
        client_address: Option<String>,
    ) -> (Conn, Vec<Output>) {
        self.now = now;
        let sid = format!("{}.{}", self.session_id(), ids::socket_id());
        let (engine, open) = self.engine().open(now, &sid, transport, header_token, client_address);
        let conn = Conn {
            sid,
            engine,
            connected_once: false,
            sockets: Vec::new(),
            created_session: false,
            link: if minted && !self.cfg.conformance {
                Link::Unsettled
            } else {
                Link::Own
            },
        };
        self.conns.insert(conn.sid.clone(), conn.clone());
        self.send(&conn.sid, vec![open]);
        self.log(
            Record::new(Level::Debug, "socket_open")
                .with("sid", conn.sid.clone())
                .with("sockets", self.conns.len()),
        );
        (conn, self.finish_outputs())
    }

    /// Whether a polling request or upgrade naming `sid` comes from the client that opened
    /// it: the same address (`CF-Connecting-IP`) and bearer token as its handshake
    /// ([`access::connection_key`]).
    pub fn check_sid(&self, sid: &str, client_address: Option<&str>, header_token: Option<&str>) -> SidCheck {
        match self.conns.get(sid) {
            None => SidCheck::Unknown,
            Some(c) => {
                let opened = access::connection_key(c.client_address.as_deref(), c.header_token.as_deref());
                let asking = access::connection_key(client_address, header_token);
                if auth::constant_time_eq(opened.as_bytes(), asking.as_bytes()) {
                    SidCheck::Ok
                } else {
                    SidCheck::Forbidden
                }
            }
        }
    }

    /// A frame from a client, received over `via`.
    pub fn frame(&mut self, now: u64, sid: &str, frame: Frame, via: Transport) -> Vec<Output> {
        self.now = now;
        if !self.conns.contains_key(sid) {
            return self.finish_outputs();
        }
        if let Err(e) = self.on_frame(sid, frame, via) {
            let code = match e {
                FrameError::Engine(EngineError::TooLarge { .. }) => CLOSE_TOO_BIG,
                _ => CLOSE_PROTOCOL,
            };
            self.log(
                Record::new(Level::Warn, "malformed_frame")
                    .with("sid", sid)
                    .with("error", e.to_string()),
            );
            self.close(sid, code, "protocol error");
        }
        self.finish_outputs()
    }

    /// A WebSocket asks to take over the long-polling connection `sid`.
    pub fn upgrade(&mut self, now: u64, sid: &str) -> (UpgradeDecision, Vec<Output>) {
        self.now = now;
        let decision = Engine::handle_upgrade(self.conns.get_mut(sid).map(|c| &mut c.engine));
        match decision {
            UpgradeDecision::Accept => self.save_conn(sid),
            UpgradeDecision::Duplicate => self.log(Record::new(Level::Debug, "duplicate_upgrade").with("sid", sid)),
            UpgradeDecision::Unknown => {}
        }
        (decision, self.finish_outputs())
    }

    /// The WebSocket of an upgrade that never switched over closed: the connection stays on
    /// long-polling and may try again.
    pub fn upgrade_abandoned(&mut self, now: u64, sid: &str) -> Vec<Output> {
        self.now = now;
        if let Some(c) = self.conns.get_mut(sid) {
            Engine::handle_upgrade_abandoned(c);
        }
        self.finish_outputs()
    }

    /// A connection's WebSocket closed: the connection ends ([`Session::closed`]), unless it
    /// was the WebSocket of an upgrade that never switched over: then polling carries on
    /// ([`Session::upgrade_abandoned`]).
    pub fn websocket_closed(&mut self, now: u64, sid: &str) -> Vec<Output> {
        if self.conns.get(sid).is_some_and(|c| c.transport == Transport::Websocket) {
            self.closed(now, sid)
        } else {
            self.upgrade_abandoned(now, sid)
        }
    }

    /// The WebSocket closed (by the client or the network).
    pub fn closed(&mut self, now: u64, sid: &str) -> Vec<Output> {
        self.now = now;
        if let Some(conn) = self.conns.remove(sid) {
            self.decoders.remove(sid);
            self.end_relay(&conn);
            self.log(
                Record::new(Level::Debug, "socket_closed")
                    .with("sid", sid)
                    .with("sockets", self.conns.len()),
            );
        }
        self.finish_outputs()
    }

    /// Timers: pings, ping timeouts, connect timeouts.
    pub fn tick(&mut self, now: u64) -> Vec<Output> {
        self.now = now;
        let sids: Vec<String> = self.conns.keys().cloned().collect();
        for sid in sids {
            let c = &self.conns[&sid];
            // A relay's far end: its Engine.IO timers run in the object that holds the client.
            if c.link == Link::Peer {
                continue;
            }
            if !c.connected_once && now >= c.opened_at + self.cfg.connect_timeout_ms {
                self.log(Record::new(Level::Info, "connect_timeout").with("sid", sid.as_str()));
                self.close(&sid, CLOSE_NORMAL, "connect timeout");
                continue;
            }
            let engine = self.engine();
            let c = self.conns.get_mut(&sid).expect("present");
            match engine.poll_timer(c, now) {
                Some(engine_io::Timer::TimedOut) => {
                    self.log(Record::new(Level::Info, "ping_timeout").with("sid", sid.as_str()));
                    self.close(&sid, CLOSE_NORMAL, "ping timeout");
                }
                Some(engine_io::Timer::Ping) => {
                    self.send(&sid, vec![Engine::ping()]);
                    self.save_conn(&sid);
                }
                None => {}
            }
        }
        let connected = !self.conns.is_empty();
        if self.conv.retention_deadline(connected).is_some_and(|at| now >= at) {
            // Deletes the session: storage and alarm (by the shell), and its state here.
            self.converse(|c| c.expire(now));
            self.out.retain(|o| !matches!(o, Output::Store(_)));
            self.out.push(Output::DeleteAll);
        }
        self.finish_outputs()
    }

    fn next_deadline(&self) -> Option<u64> {
        self.conns
            .values()
            .filter(|c| c.link != Link::Peer)
            .map(|c| {
                let ping = self.engine().deadline(c);
                if c.connected_once {
                    ping
                } else {
                    ping.min(c.opened_at + self.cfg.connect_timeout_ms)
                }
            })
            .chain(self.conv.watchdog(self.now))
            .chain(self.conv.retention_deadline(!self.conns.is_empty()))
            .min()
    }

    pub(crate) fn close(&mut self, sid: &str, code: u16, reason: &str) {
        if let Some(conn) = self.conns.remove(sid) {
            self.decoders.remove(sid);
            self.end_relay(&conn);
            self.out.push(Output::Close {
                sid: sid.to_string(),
                code,
                reason: reason.to_string(),
            });
        }
    }

    /// Frames on the connection's current transport.
    pub(crate) fn send(&mut self, sid: &str, frames: Vec<Frame>) {
        let via = self.conns.get(sid).map(|c| c.transport).unwrap_or_default();
        self.out.push(Output::Send {
            sid: sid.to_string(),
            frames,
            via,
        });
    }

    /// A client frame through the Engine.IO layer; its messages go up to Socket.IO (or
    /// through the connection's relay).
    fn on_frame(&mut self, sid: &str, frame: Frame, via: Transport) -> Result<(), FrameError> {
        let engine = self.engine();
        let Some(conn) = self.conns.get_mut(sid) else { return Ok(()) };
        let received = engine.handle_frame(conn, &frame, via).map_err(|e| match e {
            Refused::Malformed(e) => FrameError::Engine(e),
            Refused::Unexpected(why) => FrameError::Unexpected(why),
        })?;
        let relaying = conn.relaying();
        match received {
            Received::Pong => self.save_conn(sid),
            Received::Answer(frames) => {
                for (frame, via) in frames {
                    self.out.push(Output::Send {
                        sid: sid.to_string(),
                        frames: vec![frame],
                        via,
                    });
                }
            }
            Received::Upgraded => {
                self.out.push(Output::Upgraded { sid: sid.to_string() });
                self.save_conn(sid);
                self.log(Record::new(Level::Debug, "upgraded").with("sid", sid));
            }
            Received::Close => self.close(sid, CLOSE_NORMAL, "client close"),
            Received::Nothing => {}
            Received::Message(text) if relaying => self.relay_message(sid, engineio::Packet::Message(text)),
            Received::Binary(bytes) if relaying => self.relay_message(sid, engineio::Packet::BinaryMessage(bytes)),
            Received::Message(text) => {
                // Attachments are held only for a connected socket, and only up to maxPayload.
                let connected = self.conns.get(sid).is_some_and(|c| !c.sockets.is_empty());
                if !connected && (text.starts_with('5') || text.starts_with('6')) {
                    return Err(FrameError::Unexpected("binary packet before CONNECT"));
                }
                if let Some(p) = self.decoder(sid).feed_text(&text).map_err(FrameError::Socket)? {
                    self.on_packet(sid, p)?;
                }
            }
            Received::Binary(bytes) => {
                if let Some(p) = self.decoder(sid).feed_binary(bytes).map_err(FrameError::Socket)? {
                    self.on_packet(sid, p)?;
                }
            }
        }
        Ok(())
    }

    /// A message of a relayed connection goes to the far end as it came.
    fn relay_message(&mut self, sid: &str, message: engineio::Packet) {
        if self.conns.get(sid).and_then(Conn::main).is_some_and(|s| self.is_expired(s)) {
            // Its token expired: the relay ends, and the socket is put out here.
            self.out.push(Output::Relay(RelayCommand::Close { sid: sid.to_string() }));
            self.set_link(sid, Link::Own);
            self.put_out(sid, "/", expired_error(), None);
            return;
        }
        self.out.push(Output::Relay(RelayCommand::Send {
            sid: sid.to_string(),
            frames: vec![message.encode()],
        }));
    }

    /// The connection's Socket.IO decoder, holding attachments up to `maxPayload`.
    fn decoder(&mut self, sid: &str) -> &mut Decoder {
        let limit = self.cfg.max_payload as usize;
        self.decoders.entry(sid.to_string()).or_insert_with(|| Decoder::with_limit(limit))
    }

    // ---- Socket.IO layer ----

    fn on_packet(&mut self, sid: &str, packet: socketio::Packet) -> Result<(), FrameError> {
        match packet.kind {
            PacketType::Connect => {
                self.on_connect(sid, &packet);
                Ok(())
            }
            PacketType::Disconnect => {
                if let Some(c) = self.conns.get_mut(sid) {
                    c.sockets.retain(|s| s.nsp != packet.nsp);
                }
                self.save_conn(sid);
                Ok(())
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let joined = self.conns.get(sid).is_some_and(|c| c.sockets.iter().any(|s| s.nsp == packet.nsp));
                if joined {
                    self.on_event(sid, packet);
                } else {
                    self.log(Record::new(Level::Debug, "event_before_connect").with("sid", sid));
                }
                Ok(())
            }
            // Acks from clients answer nothing we asked for.
            PacketType::Ack | PacketType::BinaryAck => Ok(()),
            PacketType::ConnectError => Err(FrameError::Unexpected("client sent CONNECT_ERROR")),
        }
    }

    pub(crate) fn send_packet(&mut self, sid: &str, packet: &socketio::Packet) {
        self.send(sid, engine_frames(packet));
    }

    fn connect_error(&mut self, sid: &str, nsp: &str, message: &str, code: Option<&str>) {
        let mut data = json!({ "message": message });
        if let Some(code) = code {
            data["data"] = json!({ "code": code });
        }
        self.send_packet(sid, &socketio::Packet::new(PacketType::ConnectError, nsp, Some(data)));
        self.log(
            Record::new(Level::Info, "connect_refused")
                .with("sid", sid)
                .with("nsp", nsp)
                .with("code", code.unwrap_or("INVALID_NAMESPACE")),
        );
    }

    /// A Socket.IO CONNECT: to "/" only, within `MAX_SOCKETS_PER_SESSION`, with a valid token
    /// or none, by someone the session admits.
    fn on_connect(&mut self, sid: &str, packet: &socketio::Packet) {
        if self.cfg.conformance {
            return self.conformance_connect(sid, packet);
        }
        if packet.nsp != "/" {
            return self.connect_error(sid, &packet.nsp, "Invalid namespace", None);
        }
        // No such connection, or connected already.
        if self.conns.get(sid).is_none_or(|c| c.main().is_some()) {
            return;
        }
        let caller = self.room_for_socket().and_then(|()| self.caller(sid, packet.data.as_ref()));
        match caller {
            Ok(caller) => {
                self.enter(sid, "/", caller);
            }
            Err(e) => self.connect_error(sid, "/", &e.message, Some(e.code)),
        }
    }

    /// `TOO_MANY_CONNECTIONS` when the session has its `MAX_SOCKETS_PER_SESSION` sockets.
    pub(crate) fn room_for_socket(&self) -> Result<(), ClientError> {
        if self.joined_count() >= self.cfg.max_sockets_per_session {
            return Err(ClientError::new(
                "TOO_MANY_CONNECTIONS",
                "Too many connections to this session".into(),
                false,
            ));
        }
        Ok(())
    }

    /// Who a CONNECT comes from: the token of its payload (`auth: { token }`), else of the
    /// upgrade's `Authorization` header, verified; no token is an anonymous user.
    fn caller(&self, sid: &str, payload: Option<&Value>) -> Result<Caller, ClientError> {
        let refused = |e: auth::TokenError| ClientError::new(e.code(), e.message(), false);
        let header = self.conns.get(sid).and_then(|c| c.header_token.clone());
        let token = auth::connect_token(payload.unwrap_or(&json!({})))
            .map_err(refused)?
            .map(str::to_string)
            .or(header);
        let Some(token) = token else {
            return Ok(Caller::anonymous());
        };
        let verified = match &self.cfg.jwt_secret {
            Some(secret) => auth::verify(secret, &token, self.now, self.cfg.max_token_lifetime_secs),
            None => Err(auth::TokenError::Invalid("this server has no JWT_SECRET and cannot verify tokens")),
        };
        let v = verified.map_err(refused)?;
        Ok(Caller {
            user_id: v.user_id,
            authenticated: true,
            expires_at: Some(v.expires_at_ms),
        })
    }

    /// Connects `caller`'s socket on `nsp`: on "/" through the session's access check (and
    /// its claim, unless the connection may still join another session). Returns whether
    /// it connected.
    pub(crate) fn enter(&mut self, sid: &str, nsp: &str, caller: Caller) -> bool {
        let mut created = false;
        if nsp == "/" {
            if let Err(e) = self.admit(&caller.user_id, caller.authenticated) {
                self.connect_error(sid, nsp, &e.message, Some(e.code));
                return false;
            }
            // A connection that may still join a stored session claims nothing yet.
            if self.conns.get(sid).is_some_and(|c| c.link != Link::Unsettled) {
                created = self.claim(&caller.user_id, caller.authenticated);
            }
        }
        let socket = NsSocket {
            nsp: nsp.to_string(),
            id: ids::socket_id(),
            user_id: caller.user_id,
            authenticated: caller.authenticated,
            expires_at: caller.expires_at,
        };
        let reply = socketio::Packet::new(PacketType::Connect, nsp, Some(json!({ "sid": socket.id })));
        let Some(conn) = self.conns.get_mut(sid) else { return false };
        conn.connected_once = true;
        conn.created_session |= created;
        conn.sockets.push(socket);
        self.send_packet(sid, &reply);
        self.log(
            Record::new(Level::Info, "connected")
                .with("sid", sid)
                .with("nsp", nsp)
                .with("authenticated", caller.authenticated)
                .with("created", created),
        );
        self.save_conn(sid);
        true
    }

    /// Sockets on "/" that receive this session's events.
    pub(crate) fn joined_count(&self) -> usize {
        self.conns.values().filter(|c| c.joined_here()).count()
    }

    /// Whether this user may join the session (CONTRACT §2): the one check for a direct
    /// connection and a relayed `join_session` alike.
    /// The rule itself is [`access::admit`].
    pub(crate) fn admit(&self, user_id: &str, authenticated: bool) -> Result<(), ClientError> {
        match self.admission(user_id, authenticated) {
            Admission::Refuse => Err(ClientError::forbidden()),
            Admission::Join | Admission::Claim(_) => Ok(()),
        }
    }

    fn admission(&self, user_id: &str, authenticated: bool) -> Admission {
        let visitor = Visitor { user_id, authenticated };
        access::admit(&self.meta().owner, self.conv.has_history(), visitor)
    }

    /// The first join claims an unclaimed session for its user (or for nobody, without a
    /// token); a token holder claims an ownerless one that has no history yet, and the sockets
    /// already on it are put out. Returns whether it claimed: the claiming connection then
    /// holds the owner until the first message stores it (see [`Session::restore`]).
    pub(crate) fn claim(&mut self, user_id: &str, authenticated: bool) -> bool {
        let Admission::Claim(owner) = self.admission(user_id, authenticated) else {
            return false;
        };
        let now = self.now;
        self.conv.claim(now, owner);
        // Sockets already joined that are not the new owner's must not read what she writes
        // (an ownerless session's opener; after a restart, anyone whose socket outlived it).
        if matches!(self.meta().owner, Owner::User(_)) {
            self.put_out_all_but(user_id, "FORBIDDEN", "This conversation now belongs to a signed-in user");
        }
        true
    }

    /// An unsettled connection uses its own (minted) session after all: admit and claim.
    pub(crate) fn settle(&mut self, sid: &str) -> Result<(), ClientError> {
        let Some(conn) = self.conns.get(sid) else { return Ok(()) };
        if conn.link != Link::Unsettled {
            return Ok(());
        }
        let (user_id, authenticated) = conn.main().map(|s| (s.user_id.clone(), s.authenticated)).unwrap_or_default();
        self.admit(&user_id, authenticated)?;
        let created = self.claim(&user_id, authenticated);
        let conn = self.conns.get_mut(sid).expect("checked above");
        conn.link = Link::Own;
        conn.created_session |= created;
        self.save_conn(sid);
        Ok(())
    }

    fn on_event(&mut self, sid: &str, packet: socketio::Packet) {
        let expired = self
            .conns
            .get(sid)
            .and_then(|c| c.sockets.iter().find(|s| s.nsp == packet.nsp))
            .is_some_and(|s| self.is_expired(s));
        if expired {
            self.put_out(sid, &packet.nsp, expired_error(), packet.id);
            return;
        }
        if self.cfg.conformance {
            return self.conformance_event(sid, &packet);
        }
        let name = packet.event_name().unwrap_or_default().to_string();
        let arg = packet.event_args().first().cloned().unwrap_or(Value::Null);
        let link = self.conns.get(sid).map(|c| c.link.clone()).unwrap_or_default();
        if name == "join_session" {
            if let JoinDecision::Relay(target) | JoinDecision::Reopen(target) =
                relay::decide_join(self.session_id(), &link, relay::named_session(&arg))
            {
                return self.start_relay(sid, target, &packet);
            }
        }
        let result = match name.as_str() {
            "join_session" => self.on_join(sid, &arg),
            "message" | "cancel" if matches!(link, Link::Relay { .. }) => Err(relay::lost()),
            "message" => {
                // An unsettled socket that writes to its own session settles there.
                let own = relay::named_session(&arg).is_none_or(|id| id == self.session_id());
                if own {
                    self.settle(sid).and_then(|()| self.message(sid, &arg))
                } else {
                    self.message(sid, &arg)
                }
            }
            "cancel" => {
                let now = self.now;
                self.converse(|c| c.cancel(now, &arg))
            }
            _ => Err(ClientError::new(
                "UNKNOWN_EVENT",
                format!("Unknown event \"{}\"", name.chars().take(64).collect::<String>()),
                false,
            )),
        };
        self.answer(sid, &name, &packet.nsp, packet.id, result);
    }

    /// Answers an event: an `error` event when it failed, and its ack if it asked for one.
    pub(crate) fn answer(&mut self, sid: &str, name: &str, nsp: &str, ack: Option<u64>, result: Result<Value, ClientError>) {
        let answer = match result {
            Ok(v) => v,
            Err(e) => {
                if name != "join_session" && name != "message" && name != "cancel" {
                    self.log(Record::new(Level::Debug, "unknown_event").with("sid", sid));
                } else {
                    self.emit_to(sid, &ServerEvent::error(e.clone()));
                }
                e.failed_ack()
            }
        };
        if let Some(id) = ack {
            self.send_packet(sid, &socketio::Packet::ack(nsp, id, vec![answer]));
        }
    }

    fn on_join(&mut self, sid: &str, arg: &Value) -> Result<Value, ClientError> {
        let link = self.conns.get(sid).map(|c| c.link.clone()).unwrap_or_default();
        match relay::decide_join(self.session_id(), &link, relay::named_session(arg)) {
            JoinDecision::Local => {}
            _ => {
                return Err(ClientError::session_mismatch(
                    "This connection belongs to another session; reconnect with that sessionId in the query",
                ))
            }
        }
        self.settle(sid)?;
        Ok(self.answer_join(sid))
    }

    /// `session_created` for the socket; returns its ack.
    pub(crate) fn answer_join(&mut self, sid: &str) -> Value {
        let conn = &self.conns[sid];
        let user_id = conn.main().map(|s| s.user_id.clone()).unwrap_or_default();
        let created = conn.created_session;
        let now = self.now;
        self.converse(|c| c.join(now, sid, &user_id, created))
    }

    /// A `message` event from a joined socket, through the conversation.
    fn message(&mut self, sid: &str, arg: &Value) -> Result<Value, ClientError> {
        let now = self.now;
        self.converse(|c| c.message(now, sid, arg))
    }

    // ---- emitting ----

    pub(crate) fn emit_to(&mut self, sid: &str, event: &ServerEvent) {
        self.send_packet(sid, &socketio::Packet::event("/", event.name(), vec![event.payload()]));
    }

    /// Sends an event to every socket joined to this session (a socket whose token has
    /// expired is disconnected instead).
    pub(crate) fn emit_all(&mut self, event: &ServerEvent) {
        self.expire_sockets();
        let packet = socketio::Packet::event("/", event.name(), vec![event.payload()]);
        let sids: Vec<String> = self.conns.values().filter(|c| c.joined_here()).map(|c| c.sid.clone()).collect();
        for sid in sids {
            self.send_packet(&sid, &packet);
        }
    }
}

impl Session {
    fn is_expired(&self, socket: &NsSocket) -> bool {
        socket.expires_at.is_some_and(|at| self.now >= at)
    }

    /// Disconnects the sockets whose token has expired.
    fn expire_sockets(&mut self) {
        let expired: Vec<(String, String)> = self
            .conns
            .values()
            .flat_map(|c| {
                c.sockets
                    .iter()
                    .filter(|s| self.is_expired(s))
                    .map(|s| (c.sid.clone(), s.nsp.clone()))
            })
            .collect();
        for (sid, nsp) in expired {
            self.put_out(&sid, &nsp, expired_error(), None);
        }
    }

    /// Ends one Socket.IO socket: an `error` event saying why (and a failed ack for the
    /// event `ack` that found it out), then a DISCONNECT packet (socket.io-client's "io server
    /// disconnect": it does not reconnect by itself). The Engine.IO connection stays until
    /// the client closes it.
    fn put_out(&mut self, sid: &str, nsp: &str, why: ClientError, ack: Option<u64>) {
        let Some(conn) = self.conns.get_mut(sid) else { return };
        let before = conn.sockets.len();
        conn.sockets.retain(|s| s.nsp != nsp);
        if conn.sockets.len() == before {
            return;
        }
        self.send_packet(sid, &socketio::Packet::event(nsp, "error", vec![why.payload()]));
        if let Some(id) = ack {
            self.send_packet(sid, &socketio::Packet::ack(nsp, id, vec![why.failed_ack()]));
        }
        self.send_packet(sid, &socketio::Packet::new(PacketType::Disconnect, nsp, None));
        self.log(Record::new(Level::Info, "socket_put_out").with("sid", sid).with("code", why.code));
        self.save_conn(sid);
    }

    /// Puts out every joined socket that is not `owner`'s verified token.
    fn put_out_all_but(&mut self, owner: &str, code: &'static str, message: &str) {
        let others: Vec<String> = self
            .conns
            .values()
            .filter(|c| c.joined_here() && c.main().is_some_and(|s| !(s.authenticated && s.user_id == owner)))
            .map(|c| c.sid.clone())
            .collect();
        for sid in others {
            self.put_out(&sid, "/", ClientError::new(code, message.to_string(), false), None);
        }
    }
}

impl Session {
    /// The client key to count against the per-client model-call limit when `frame` is a
    /// `message` event from a joined socket that will ask the model for a reply; `None` for
    /// everything else (and when the limit is off or the offline companion answers).
    pub fn model_call_client(&self, sid: &str, frame: &Frame) -> Option<String> {
        if self.cfg.conformance || self.cfg.openai_api_key.is_none() || self.cfg.client_model_calls_per_minute == 0 {
            return None;
        }
        if self.decoders.get(sid).is_some_and(Decoder::is_waiting) {
            return None;
        }
        let conn = self.conns.get(sid)?;
        // A relayed connection's messages are counted where they are answered.
        if conn.main().is_none() || conn.relaying() {
            return None;
        }
        let packet = message_event(frame)?;
        (packet.nsp == "/").then(|| access::client_key(conn.client_address.as_deref()))
    }

    /// Answers a `message` event over the per-client limit: `error` `RATE_LIMITED` with
    /// `retryAfterMs` and a failed ack; nothing is stored and no reply starts.
    pub fn refuse_model_call(&mut self, now: u64, sid: &str, frame: &Frame, retry_after_ms: u64) -> Vec<Output> {
        self.now = now;
        if let Some(packet) = message_event(frame) {
            let e = ClientError::rate_limited(
                "Too many messages from your network right now; please wait a moment",
                retry_after_ms,
            );
            self.answer(sid, "message", &packet.nsp, packet.id, Err(e));
            self.log(
                Record::new(Level::Warn, "client_rate_limited")
                    .with("sid", sid)
                    .with("retryAfterMs", retry_after_ms),
            );
        }
        self.finish_outputs()
    }
}

/// The conversation's inputs from the shell: upstream replies, second opinions, recovery
/// after a restart, and storage failures. Each returns what the shell must do.
impl Session {
    /// Whether events for this attempt are still wanted (the shell stops reading otherwise).
    pub fn wants(&self, reply_id: &str, attempt: u32) -> bool {
        self.conv.wants(reply_id, attempt)
    }

    /// What the shell saw of an upstream attempt.
    pub fn upstream(&mut self, now: u64, reply_id: &str, attempt: u32, event: UpstreamEvent) -> Vec<Output> {
        self.now = now;
        self.converse(|c| c.upstream(now, reply_id, attempt, event));
        self.finish_outputs()
    }

    /// A second opinion on a user message (see [`Conversation::second_opinion`]).
    pub fn second_opinion(&mut self, now: u64, message_id: &str, opinion: Opinion, result: OpinionResult) -> Vec<Output> {
        self.now = now;
        self.converse(|c| c.second_opinion(now, message_id, opinion, result));
        self.finish_outputs()
    }

    /// After a restart: finishes the replies still owed (see [`Conversation::recover`]).
    pub fn recover(&mut self, now: u64, pending: Vec<Pending>) -> Vec<Output> {
        self.now = now;
        self.converse(|c| c.recover(now, pending));
        self.finish_outputs()
    }

    /// A transaction the shell could not write, even after retrying (see
    /// [`Conversation::storage_failed`]).
    pub fn storage_failed(&mut self, now: u64, writes: Vec<Write>, error: &str) -> Vec<Output> {
        self.now = now;
        self.converse(|c| c.storage_failed(now, writes, error));
        self.finish_outputs()
    }

    /// The prompt the model gets for a reply to `user_message`.
    pub fn prompt_for(&self, user_message: &str) -> Vec<crate::upstream::openai::ChatMessage> {
        self.conv.prompt_for(user_message)
    }
}

/// A Socket.IO packet as the Engine.IO message frames that carry it.
pub(crate) fn engine_frames(packet: &socketio::Packet) -> Vec<Frame> {
    packet
        .encode()
        .into_iter()
        .map(|f| match f {
            Frame::Text(t) => engineio::Packet::Message(t).encode(),
            Frame::Binary(b) => engineio::Packet::BinaryMessage(b).encode(),
        })
        .collect()
}

/// The Socket.IO `message` event a frame carries, if it is one.
fn message_event(frame: &Frame) -> Option<socketio::Packet> {
    let Frame::Text(text) = frame else { return None };
    let (packet, attachments) = socketio::decode_text(text.strip_prefix('4')?).ok()?;
    (attachments == 0 && packet.event_name() == Some("message")).then_some(packet)
}

fn expired_error() -> ClientError {
    ClientError::new("AUTH_EXPIRED", "Your sign-in has expired; reconnect with a new token".into(), false)
}
