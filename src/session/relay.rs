//! The original's `join_session` flow (CONTRACT §2), sans I/O: a connection the Worker
//! routed to a freshly minted session may join a stored one, and the Durable Object that
//! took it relays its Socket.IO packets to that session's Durable Object.
//!
//! Engine.IO (pings, long-polling, the upgrade) stays with the first object; Engine.IO
//! message frames travel unchanged over an internal WebSocket, which opens with the
//! connection's verified identity. The target admits it through the same ownership check
//! as a direct connection (`Session::admit_relay`, in `relaying.rs`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conversation::events::ClientError;
use crate::ids;
use crate::protocol::engineio::Frame;

/// Where a connection's Socket.IO packets go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Link {
    /// To this session (a connection that named its session in the query, or one that
    /// settled on its own minted session).
    #[default]
    Own,
    /// The Worker minted this session for the connection: its first `join_session` may
    /// name a stored session instead. Nothing is stored for the minted id meanwhile.
    Unsettled,
    /// Relayed to another session's Durable Object: while opening or open, every Socket.IO
    /// frame is forwarded undecoded (the target answers `join_session` and checks ids).
    Relay { session_id: String, state: RelayState },
    /// This connection is the far end of another object's relay: no Engine.IO timers here.
    Peer,
}

/// The life of a relay, as the connection's core sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RelayState {
    /// Asked for; `ack` is the id of the `join_session` that asked, answered if it fails.
    Opening {
        ack: Option<u64>,
    },
    Open,
    /// The relay closed or failed: events get a retryable error until the socket joins again.
    Lost,
}

/// What the shell must do about a connection's relay.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayCommand {
    /// Open a relay for `sid` to `session_id`'s object with this identity, then send
    /// `first` (the `join_session` that asked) and whatever was sent meanwhile.
    Open {
        sid: String,
        session_id: String,
        identity: Identity,
        first: Vec<Frame>,
    },
    /// Client frames for the relay, in order (held while it opens).
    Send { sid: String, frames: Vec<Frame> },
    /// The connection ended: close its relay.
    Close { sid: String },
}

/// What a `join_session` (or the session id a `message` names) means for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinDecision {
    /// Answer from this session.
    Local,
    /// A settled connection named another session.
    Mismatch,
    /// Open a relay to this session.
    Relay(String),
    /// The relay to this (same) session was lost: open it again.
    Reopen(String),
}

/// Decides a `join_session {sessionId}` on a connection linked as `link`.
pub fn decide_join(own: &str, link: &Link, requested: Option<&str>) -> JoinDecision {
    match (link, requested) {
        // Packets of an opening or open relay are forwarded undecoded; only a lost one asks.
        (Link::Relay { session_id, .. }, None) => JoinDecision::Reopen(session_id.clone()),
        (Link::Relay { session_id, .. }, Some(id)) if id == session_id => JoinDecision::Reopen(id.to_string()),
        (Link::Relay { .. }, Some(_)) => JoinDecision::Mismatch,
        (_, None) => JoinDecision::Local,
        (_, Some(id)) if id == own => JoinDecision::Local,
        // Any id that is not a valid one cannot be stored: a fresh (this) session.
        (Link::Unsettled, Some(id)) if ids::valid_session_id(id) => JoinDecision::Relay(id.to_string()),
        (Link::Unsettled, Some(_)) => JoinDecision::Local,
        (Link::Own | Link::Peer, Some(_)) => JoinDecision::Mismatch,
    }
}

/// The session id a `join_session` or `message` payload names (`null`/absent: none).
pub fn named_session(arg: &Value) -> Option<&str> {
    arg.get("sessionId").and_then(Value::as_str)
}

/// Whether a frame from the client goes through the relay (Socket.IO packets do; Engine.IO's
/// own packets stay with this object).
pub fn forwarded(frame: &Frame) -> bool {
    match frame {
        Frame::Binary(_) => true,
        Frame::Text(t) => t.starts_with('4'),
    }
}

/// Why the named session did not take a relay. Travels as the relay request's HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such session (nothing stored, nobody connected has claimed it): the connection
    /// keeps its fresh one.
    Unknown,
    /// It belongs to someone else.
    Forbidden,
    /// It has `MAX_SOCKETS_PER_SESSION` sockets.
    TooMany,
    /// The relay could not be opened, or closed (network, a restarted object).
    Failed,
    /// The target closed an open relay with this WebSocket code (a protocol violation
    /// there closes the client's connection too, as it would a direct one).
    Closed(u16),
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::Unknown => 404,
            Refusal::Forbidden => 403,
            Refusal::TooMany => 429,
            Refusal::Failed | Refusal::Closed(_) => 503,
        }
    }

    pub fn from_status(status: u16) -> Refusal {
        match status {
            404 => Refusal::Unknown,
            403 => Refusal::Forbidden,
            429 => Refusal::TooMany,
            _ => Refusal::Failed,
        }
    }
}

/// The connection's verified identity, carried from the object that checked its token to
/// the object it joins. Only Durable Objects build these requests: the Worker refuses any
/// outside request that carries one of these headers ([`crate::http::check_internal_headers`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub authenticated: bool,
    /// The client's address as the Worker saw it (`CF-Connecting-IP`), if known.
    pub client_address: Option<String>,
    /// When the connection's token stops being served (ms), so the target puts the socket
    /// out then as a direct connection's would be.
    pub expires_at: Option<u64>,
}

/// Prefix of every header that only this server's own objects may set.
pub const INTERNAL_HEADER_PREFIX: &str = "x-mia-";
pub const USER_HEADER: &str = "X-Mia-User-Id";
pub const AUTHENTICATED_HEADER: &str = "X-Mia-Authenticated";
pub const ADDRESS_HEADER: &str = "X-Mia-Client-Address";
pub const EXPIRES_HEADER: &str = "X-Mia-Expires-At";

impl Identity {
    /// As relay request headers.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            (USER_HEADER, self.user_id.clone()),
            (AUTHENTICATED_HEADER, if self.authenticated { "1" } else { "0" }.to_string()),
        ];
        if let Some(a) = &self.client_address {
            h.push((ADDRESS_HEADER, a.clone()));
        }
        if let Some(at) = self.expires_at {
            h.push((EXPIRES_HEADER, at.to_string()));
        }
        h
    }

    /// From relay request headers; `None` when the user header is missing.
    pub fn from_headers(get: impl Fn(&str) -> Option<String>) -> Option<Identity> {
        Some(Identity {
            user_id: get(USER_HEADER).filter(|u| !u.is_empty())?,
            authenticated: get(AUTHENTICATED_HEADER).as_deref() == Some("1"),
            client_address: get(ADDRESS_HEADER),
            expires_at: get(EXPIRES_HEADER).and_then(|v| v.parse().ok()),
        })
    }
}

/// The answer to events on a socket whose relay closed, until it joins again.
pub(crate) fn lost() -> ClientError {
    ClientError::new(
        "SESSION_UNAVAILABLE",
        "The connection to this conversation was interrupted; join it again".into(),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWN: &str = "own-session-0001";
    const STORED: &str = "stored-session-01";

    #[test]
    fn an_unsettled_connection_relays_to_a_stored_id_and_keeps_its_own_otherwise() {
        let u = Link::Unsettled;
        assert_eq!(decide_join(OWN, &u, Some(STORED)), JoinDecision::Relay(STORED.into()));
        assert_eq!(decide_join(OWN, &u, None), JoinDecision::Local);
        assert_eq!(decide_join(OWN, &u, Some(OWN)), JoinDecision::Local);
        // Not a storable id: a fresh session (this one), as for an unknown id.
        assert_eq!(decide_join(OWN, &u, Some("x")), JoinDecision::Local);
    }

    #[test]
    fn a_settled_or_relayed_connection_names_only_its_session() {
        assert_eq!(decide_join(OWN, &Link::Own, Some(STORED)), JoinDecision::Mismatch);
        assert_eq!(decide_join(OWN, &Link::Own, Some(OWN)), JoinDecision::Local);
        let lost = Link::Relay {
            session_id: STORED.into(),
            state: RelayState::Lost,
        };
        assert_eq!(decide_join(OWN, &lost, Some(STORED)), JoinDecision::Reopen(STORED.into()));
        assert_eq!(decide_join(OWN, &lost, None), JoinDecision::Reopen(STORED.into()));
        assert_eq!(decide_join(OWN, &lost, Some(OWN)), JoinDecision::Mismatch);
        assert_eq!(decide_join(OWN, &lost, Some("another-session")), JoinDecision::Mismatch);
    }

    #[test]
    fn only_socketio_packets_cross_the_relay() {
        assert!(forwarded(&Frame::Text("42[\"message\",{}]".into())));
        assert!(forwarded(&Frame::Binary(vec![1, 2])));
        assert!(!forwarded(&Frame::Text("3".into())));
        assert!(!forwarded(&Frame::Text("2probe".into())));
        assert_eq!(named_session(&json!({ "sessionId": null })), None);
        assert_eq!(named_session(&json!({})), None);
        assert_eq!(named_session(&json!({ "sessionId": "abc" })), Some("abc"));
    }

    #[test]
    fn identity_and_refusals_round_trip_through_http() {
        let id = Identity {
            user_id: "u1".into(),
            authenticated: true,
            client_address: Some("203.0.113.9".into()),
            expires_at: Some(1_800_000_000_000),
        };
        let headers = id.headers();
        let get = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        assert_eq!(Identity::from_headers(get), Some(id));
        assert_eq!(Identity::from_headers(|_| None), None);
        for r in [Refusal::Unknown, Refusal::Forbidden, Refusal::TooMany, Refusal::Failed] {
            assert_eq!(Refusal::from_status(r.status()), r);
        }
        assert_eq!(Refusal::from_status(500), Refusal::Failed);
        for (name, _) in headers {
            assert!(name.to_ascii_lowercase().starts_with(INTERNAL_HEADER_PREFIX));
        }
    }
}
