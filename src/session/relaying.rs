//! The session core's side of the relay (see `relay.rs` for its decisions): asking for one,
//! its outcome, and the far end admitting a relayed connection.

use crate::conversation::events::{ClientError, ServerEvent};
use crate::conversation::store::Owner;
use crate::engine::Connection;
use crate::ids;
use crate::log::{Level, Record};
use crate::protocol::engineio::{Frame, Transport};
use crate::protocol::socketio;
use crate::session::relay::*;
use crate::session::{Conn, NsSocket, Output, Session, CLOSE_PROTOCOL, CLOSE_TOO_BIG};

/// The relay's side of the session core: asking for one, its outcome, and the far end.
impl Session {
    pub(crate) fn set_link(&mut self, sid: &str, link: Link) {
        if let Some(c) = self.conns.get_mut(sid) {
            c.link = link;
        }
        self.save_conn(sid);
    }

    /// Asks the shell for a relay carrying `packet` (the `join_session`) to `session_id`.
    pub(crate) fn start_relay(&mut self, sid: &str, session_id: String, packet: &socketio::Packet) {
        let Some(conn) = self.conns.get(sid) else { return };
        let Some(main) = conn.main() else { return };
        let identity = Identity {
            user_id: main.user_id.clone(),
            authenticated: main.authenticated,
            client_address: conn.client_address.clone(),
            expires_at: main.expires_at,
        };
        let first = crate::session::engine_frames(packet);
        self.set_link(
            sid,
            Link::Relay {
                session_id: session_id.clone(),
                state: RelayState::Opening { ack: packet.id },
            },
        );
        self.push(Output::Relay(RelayCommand::Open {
            sid: sid.to_string(),
            session_id: session_id.clone(),
            identity,
            first,
        }));
        self.log(
            Record::new(Level::Info, "relay_open")
                .with("sid", sid)
                .with("target", crate::log::tag(&session_id)),
        );
    }

    pub(crate) fn end_relay(&mut self, conn: &Conn) {
        if conn.relaying() {
            self.push(Output::Relay(RelayCommand::Close { sid: conn.sid.clone() }));
        }
    }

    /// The relay for `sid` is open: the target answers from now on.
    pub fn relay_opened(&mut self, now: u64, sid: &str) -> Vec<Output> {
        self.now = now;
        if let Some(Link::Relay { session_id, .. }) = self.conns.get(sid).map(|c| c.link.clone()) {
            self.set_link(
                sid,
                Link::Relay {
                    session_id,
                    state: RelayState::Open,
                },
            );
        }
        self.finish_outputs()
    }

    /// The relay for `sid` was refused, could not open, or closed. Frames the shell held
    /// for it go back through [`Session::frame`] afterwards, to be answered here.
    pub fn relay_failed(&mut self, now: u64, sid: &str, refusal: Refusal) -> Vec<Output> {
        self.now = now;
        let Some(Link::Relay { session_id, state }) = self.conns.get(sid).map(|c| c.link.clone()) else {
            return self.finish_outputs();
        };
        self.log(
            Record::new(Level::Info, "relay_failed")
                .with("sid", sid)
                .with("target", crate::log::tag(&session_id))
                .with("refusal", format!("{refusal:?}")),
        );
        let ack = match state {
            RelayState::Opening { ack } => ack,
            RelayState::Open | RelayState::Lost => {
                // Everything the target received is stored there; the socket may join again.
                self.set_link(
                    sid,
                    Link::Relay {
                        session_id,
                        state: RelayState::Lost,
                    },
                );
                if let Refusal::Closed(code @ (CLOSE_PROTOCOL | CLOSE_TOO_BIG)) = refusal {
                    self.close(sid, code, "protocol error");
                    return self.finish_outputs();
                }
                self.emit_to(sid, &ServerEvent::error(lost()));
                return self.finish_outputs();
            }
        };
        self.set_link(sid, Link::Unsettled);
        let result = match refusal {
            // The named session does not exist: this socket keeps its fresh one.
            Refusal::Unknown => self.settle(sid).map(|()| self.answer_join(sid)),
            Refusal::Forbidden => Err(ClientError::forbidden()),
            Refusal::TooMany => Err(ClientError::new(
                "TOO_MANY_CONNECTIONS",
                "Too many connections to this session".into(),
                true,
            )),
            Refusal::Failed | Refusal::Closed(_) => Err(ClientError::new(
                "SESSION_UNAVAILABLE",
                "This conversation could not be reached just now; please try again".into(),
                true,
            )),
        };
        self.answer(sid, "join_session", "/", ack, result);
        self.finish_outputs()
    }

    /// Lost every relay (the shell restarted, its relays with it).
    pub fn relays_lost(&mut self, now: u64) -> Vec<Output> {
        let sids: Vec<String> = self.conns.values().filter(|c| c.relaying()).map(|c| c.sid.clone()).collect();
        if sids.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for sid in sids {
            out.extend(self.relay_failed(now, &sid, Refusal::Failed));
        }
        out.extend(self.finish_outputs());
        out
    }

    /// A frame from the target for the client of `sid`: Socket.IO packets only.
    pub fn relayed(&mut self, now: u64, sid: &str, frame: Frame) -> Vec<Output> {
        self.now = now;
        if self.conns.get(sid).is_some_and(Conn::relaying) && forwarded(&frame) {
            self.send(sid, vec![frame]);
        }
        self.finish_outputs()
    }

    /// The far end of a relay from another object: admits `identity` through the same
    /// check as a direct connection, to a session that exists. Returns the connection.
    pub fn admit_relay(&mut self, now: u64, identity: &Identity) -> Result<(Conn, Vec<Output>), Refusal> {
        self.now = now;
        if self.cfg.conformance || self.meta().owner == Owner::Unclaimed {
            return Err(Refusal::Unknown);
        }
        if self.admit(&identity.user_id, identity.authenticated).is_err() {
            self.log(Record::new(Level::Info, "relay_refused").with("code", "FORBIDDEN"));
            return Err(Refusal::Forbidden);
        }
        if self.joined_count() >= self.cfg.max_sockets_per_session {
            return Err(Refusal::TooMany);
        }
        // The same claim as a direct connection's: a token holder takes an ownerless
        // session with no history for herself (and puts out whoever is on it).
        let claimed = self.claim(&identity.user_id, identity.authenticated);
        let conn = Conn {
            sid: format!("{}.{}", self.meta().session_id, ids::socket_id()),
            engine: Connection {
                opened_at: now,
                header_token: None,
                last_ping_at: now,
                awaiting_pong: None,
                transport: Transport::Websocket,
                client_address: identity.client_address.clone(),
                upgrading: false,
            },
            connected_once: true,
            sockets: vec![NsSocket {
                nsp: "/".into(),
                id: ids::socket_id(),
                user_id: identity.user_id.clone(),
                authenticated: identity.authenticated,
                expires_at: identity.expires_at,
            }],
            created_session: claimed,
            link: Link::Peer,
        };
        self.conns.insert(conn.sid.clone(), conn.clone());
        self.log(
            Record::new(Level::Info, "relay_admitted")
                .with("sid", conn.sid.clone())
                .with("authenticated", identity.authenticated),
        );
        Ok((conn, self.finish_outputs()))
    }
}
