//! Long-polling, sans I/O: the frames waiting for each connection's next `GET`, whether a
//! `GET` is held, and what each request is answered. The shell keeps only the pending
//! HTTP responses and the timers, and asks here what to do with them.

use std::collections::HashMap;

use super::Connection;
use crate::protocol::engineio::{decode_payload, encode_payload, EngineError, Frame, Packet, Transport};

/// How long the noop that ends a poll during an upgrade waits for the client's `5`: as
/// from Engine.IO's own server, so a client that switches at once finds its poll refused.
pub const UPGRADE_NOOP_DELAY_MS: u64 = 100;

#[derive(Debug, Default)]
struct Outbox {
    frames: Vec<Frame>,
    /// A `GET` is waiting for frames.
    held: bool,
}

/// The long-polling connections' outboxes, by sid.
#[derive(Debug)]
pub struct Polling {
    outboxes: HashMap<String, Outbox>,
    /// How long a `GET` is held with nothing to send. Pings release a poll every
    /// `pingInterval`; this only guards against a lost wake-up.
    hold_ms: u64,
}

/// What a `GET` does first ([`Polling::handle_get`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Get {
    /// No such long-polling connection: Engine.IO's "Session ID unknown".
    Unknown,
    /// A second `GET` while one is held: Engine.IO closes the connection (the layer above
    /// is told) and answers 400 "Bad request". The held one is released ([`Polling::release`]).
    Twice,
    /// Nothing to send yet: hold the request until woken or until `until`, then [`Polling::release`].
    Hold { until: u64 },
    /// Frames are waiting: [`Polling::release`] at once.
    Ready,
}

/// How a `GET` is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with this payload.
    Payload(String),
    /// Engine.IO's 400 "Bad request": the sid belongs to its WebSocket now.
    BadRequest,
    /// Only the probe's noop: answer at `until` with [`Polling::settle`] and these frames,
    /// when the client may have switched meanwhile.
    Later { until: u64, frames: Vec<Frame> },
}

fn only_noops(frames: &[Frame]) -> bool {
    let noop = Packet::Noop.encode();
    frames.iter().all(|f| *f == noop)
}

impl Polling {
    pub fn new(ping_interval_ms: u64, ping_timeout_ms: u64) -> Polling {
        Polling {
            outboxes: HashMap::new(),
            hold_ms: 2 * ping_interval_ms + ping_timeout_ms,
        }
    }

    /// A long-polling connection opened.
    pub fn opened(&mut self, sid: &str) {
        self.outboxes.insert(sid.to_string(), Outbox::default());
    }

    /// Whether `sid` is a long-polling connection (not closed, not upgraded).
    pub fn has(&self, sid: &str) -> bool {
        self.outboxes.contains_key(sid)
    }

    /// Everything waiting, as one payload (the handshake's answer).
    pub fn take_payload(&mut self, sid: &str) -> String {
        let frames = self.outboxes.get_mut(sid).map(|o| std::mem::take(&mut o.frames));
        encode_payload(&frames.unwrap_or_default())
    }

    /// Whether a `POST` for `sid` is taken (`conn`: the connection, if the layer above
    /// knows it); if not, Engine.IO's "Session ID unknown".
    pub fn accepts_post(&self, sid: &str, conn: Option<&Connection>) -> bool {
        self.has(sid) && conn.is_some()
    }

    /// A `POST`'s frames, in order, for the layer above. An error (not a payload, or over
    /// `maxPayload`) closes the connection with Engine.IO's 400 "Bad request".
    pub fn decode_post(body: &[u8], max_payload: u64) -> Result<Vec<Frame>, EngineError> {
        decode_payload(&String::from_utf8_lossy(body), max_payload as usize)
    }

    /// Frames for the client; returns whether a held `GET` is to be woken now.
    pub fn queue(&mut self, sid: &str, frames: Vec<Frame>) -> bool {
        match self.outboxes.get_mut(sid) {
            Some(o) => {
                o.frames.extend(frames);
                std::mem::take(&mut o.held)
            }
            None => false,
        }
    }

    /// A `GET` for `sid` arrived at `now`.
    pub fn handle_get(&mut self, now: u64, sid: &str) -> Get {
        match self.outboxes.get_mut(sid) {
            None => Get::Unknown,
            Some(o) if o.held => {
                self.outboxes.remove(sid);
                Get::Twice
            }
            Some(o) if o.frames.is_empty() => {
                o.held = true;
                Get::Hold { until: now + self.hold_ms }
            }
            Some(_) => Get::Ready,
        }
    }

    /// Answers a `GET` that was ready, woken or timed out; `conn` is the connection now.
    pub fn release(&mut self, now: u64, sid: &str, conn: Option<&Connection>) -> Answer {
        let frames = match self.outboxes.get_mut(sid) {
            Some(o) => {
                o.held = false;
                std::mem::take(&mut o.frames)
            }
            None => Vec::new(),
        };
        // The probe's noop releases the poll so that the client can pause polling; it goes
        // out a moment later, so a client that sends "5" at once has switched by then.
        if !frames.is_empty() && only_noops(&frames) && conn.is_some_and(|c| c.upgrading) {
            return Answer::Later {
                until: now + UPGRADE_NOOP_DELAY_MS,
                frames,
            };
        }
        Self::settle(frames, conn)
    }

    /// The answer of a `GET` with these frames taken for it.
    pub fn settle(frames: Vec<Frame>, conn: Option<&Connection>) -> Answer {
        // A poll still held when the connection switched to its WebSocket came after the
        // probe released the last legitimate one: the sid is the WebSocket's now.
        if only_noops(&frames) && conn.is_some_and(|c| c.transport == Transport::Websocket) {
            return Answer::BadRequest;
        }
        if frames.is_empty() {
            return Answer::Payload(encode_payload(&[Packet::Noop.encode()]));
        }
        Answer::Payload(encode_payload(&frames))
    }

    /// The connection moved to its WebSocket: what polling still held, in order, to send
    /// over it (noops were only for polling), and whether a held `GET` is to be woken.
    pub fn upgraded(&mut self, sid: &str) -> (Vec<Frame>, bool) {
        match self.outboxes.remove(sid) {
            Some(o) => {
                let noop = Packet::Noop.encode();
                (o.frames.into_iter().filter(|f| *f != noop).collect(), o.held)
            }
            None => (Vec::new(), false),
        }
    }

    /// The connection closed (or is refused): its outbox goes, and a held `GET` is to be
    /// woken (returned) to end with a noop; the next `GET` is unknown.
    pub fn closed(&mut self, sid: &str) -> bool {
        self.outboxes.remove(sid).is_some_and(|o| o.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;

    const ENGINE: Engine = Engine {
        ping_interval_ms: 1_000,
        ping_timeout_ms: 500,
        max_payload: 1_000,
    };

    fn text(s: &str) -> Frame {
        Frame::Text(s.into())
    }

    fn payload(frames: &[&str]) -> Answer {
        Answer::Payload(frames.join("\u{1e}"))
    }

    /// A long-polling connection as the shell opens it: the open packet waits in its outbox.
    fn opened() -> (Polling, Connection) {
        let mut polling = Polling::new(ENGINE.ping_interval_ms, ENGINE.ping_timeout_ms);
        let (conn, open) = ENGINE.open(0, SID, Transport::Polling, None, None);
        polling.opened(SID);
        assert!(!polling.queue(SID, vec![open]), "no poll to wake");
        assert!(polling.take_payload(SID).starts_with("0{\"sid\":\"s.1\""));
        (polling, conn)
    }

    const SID: &str = "s.1";

    #[test]
    fn frames_wait_for_the_next_poll_in_order() {
        let (mut p, c) = opened();
        assert!(!p.queue(SID, vec![text("40"), Frame::Binary(vec![1, 2])]));
        assert!(!p.queue(SID, vec![text("42[\"a\"]")]));
        assert_eq!(p.handle_get(10, SID), Get::Ready);
        assert_eq!(p.release(10, SID, Some(&c)), payload(&["40", "bAQI=", "42[\"a\"]"]));
        assert_eq!(p.handle_get(10, "s.unknown"), Get::Unknown);
    }

    #[test]
    fn a_post_carries_frames_of_a_known_polling_connection() {
        let (p, c) = opened();
        assert!(p.accepts_post(SID, Some(&c)));
        assert!(!p.accepts_post("s.unknown", Some(&c)));
        assert!(!p.accepts_post(SID, None), "the layer above forgot it");
        assert_eq!(
            Polling::decode_post("40\u{1e}bAQI=".as_bytes(), 100),
            Ok(vec![text("40"), Frame::Binary(vec![1, 2])])
        );
        assert_eq!(Polling::decode_post(b"", 100), Err(EngineError::Empty));
        assert!(matches!(Polling::decode_post(b"4xxxx", 3), Err(EngineError::TooLarge { .. })));
    }

    #[test]
    fn an_empty_poll_is_held_until_frames_arrive_or_its_timeout() {
        let (mut p, c) = opened();
        // Held for two ping intervals and a ping timeout: a ping would have released it.
        assert_eq!(p.handle_get(10, SID), Get::Hold { until: 2_510 });
        assert!(p.queue(SID, vec![text("2")]), "frames wake the held poll");
        assert!(!p.queue(SID, vec![text("42[\"b\"]")]), "once");
        assert_eq!(p.release(20, SID, Some(&c)), payload(&["2", "42[\"b\"]"]));
        // Timed out with nothing to send: a noop.
        assert_eq!(p.handle_get(30, SID), Get::Hold { until: 2_530 });
        assert_eq!(p.release(2_530, SID, Some(&c)), payload(&["6"]));
        assert_eq!(p.handle_get(2_540, SID), Get::Hold { until: 5_040 }, "not held any more");
    }

    #[test]
    fn a_second_poll_while_one_is_held_closes_the_connection() {
        let (mut p, _) = opened();
        assert!(matches!(p.handle_get(10, SID), Get::Hold { .. }));
        assert_eq!(p.handle_get(11, SID), Get::Twice);
        // The held one ends with a noop once the connection is gone; later ones are unknown.
        assert_eq!(p.release(12, SID, None), payload(&["6"]));
        assert_eq!(p.handle_get(13, SID), Get::Unknown);
        assert!(!p.has(SID));
    }

    #[test]
    fn a_woken_poll_that_has_not_answered_yet_does_not_count_as_held() {
        let (mut p, c) = opened();
        assert!(matches!(p.handle_get(10, SID), Get::Hold { .. }));
        assert!(p.queue(SID, vec![text("2")]));
        // A new poll before the woken one answered takes the frames; the woken one gets a noop.
        assert_eq!(p.handle_get(11, SID), Get::Ready);
        assert_eq!(p.release(11, SID, Some(&c)), payload(&["2"]));
        assert_eq!(p.release(12, SID, Some(&c)), payload(&["6"]));
    }

    #[test]
    fn the_probes_noop_releases_the_poll_a_moment_later() {
        let (mut p, mut c) = opened();
        assert_eq!(Engine::handle_upgrade(Some(&mut c)), crate::engine::UpgradeDecision::Accept);
        assert!(matches!(p.handle_get(10, SID), Get::Hold { .. }));
        let Ok(crate::engine::Received::Answer(answer)) = ENGINE.handle_frame(&mut c, &text("2probe"), Transport::Websocket) else {
            panic!("the probe is answered")
        };
        let noop: Vec<Frame> = answer
            .into_iter()
            .filter(|(_, via)| *via == Transport::Polling)
            .map(|(f, _)| f)
            .collect();
        assert!(p.queue(SID, noop), "the noop wakes the poll");
        let Answer::Later { until, frames } = p.release(20, SID, Some(&c)) else {
            panic!("the noop waits")
        };
        assert_eq!(until, 20 + UPGRADE_NOOP_DELAY_MS);
        // The client has not switched yet: the poll ends with the noop.
        assert_eq!(Polling::settle(frames.clone(), Some(&c)), payload(&["6"]));
        // It switched meanwhile: that poll is refused, the sid is the WebSocket's.
        let mut switched = c.clone();
        assert_eq!(
            ENGINE.handle_frame(&mut switched, &text("5"), Transport::Websocket),
            Ok(crate::engine::Received::Upgraded)
        );
        assert_eq!(Polling::settle(frames, Some(&switched)), Answer::BadRequest);
    }

    #[test]
    fn frames_held_at_the_switch_go_over_the_websocket_without_noops() {
        let (mut p, mut c) = opened();
        Engine::handle_upgrade(Some(&mut c));
        assert!(!p.queue(SID, vec![text("6"), text("42[\"x\"]"), text("6"), text("42[\"y\"]")]));
        ENGINE.handle_frame(&mut c, &text("5"), Transport::Websocket).unwrap();
        assert_eq!(p.upgraded(SID), (vec![text("42[\"x\"]"), text("42[\"y\"]")], false));
        // Nothing more is queued for polling, and the sid is no longer a polling one.
        assert!(!p.queue(SID, vec![text("42[\"z\"]")]));
        assert!(!p.has(SID));
        assert_eq!(p.handle_get(30, SID), Get::Unknown);
    }

    #[test]
    fn a_poll_held_at_the_switch_is_refused() {
        let (mut p, mut c) = opened();
        Engine::handle_upgrade(Some(&mut c));
        assert!(matches!(p.handle_get(10, SID), Get::Hold { .. }));
        ENGINE.handle_frame(&mut c, &text("5"), Transport::Websocket).unwrap();
        assert_eq!(p.upgraded(SID), (Vec::new(), true), "the held poll is woken");
        assert_eq!(p.release(11, SID, Some(&c)), Answer::BadRequest);
    }

    #[test]
    fn a_close_during_an_upgrade_ends_the_held_poll_with_a_noop() {
        let (mut p, mut c) = opened();
        Engine::handle_upgrade(Some(&mut c));
        assert!(matches!(p.handle_get(10, SID), Get::Hold { .. }));
        assert!(p.closed(SID), "the held poll is woken");
        assert!(!p.closed(SID));
        // The layer above forgot the connection: a noop, then Engine.IO's unknown sid.
        assert_eq!(p.release(11, SID, None), payload(&["6"]));
        assert_eq!(p.handle_get(12, SID), Get::Unknown);
    }
}
