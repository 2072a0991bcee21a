//! The Engine.IO connection layer, sans I/O: the handshake, ping/pong timers, the two
//! transports and the upgrade from long-polling to WebSocket. It knows nothing of
//! Socket.IO: a client frame comes back as a [`Received`] (a complete message for the
//! layer above, or what the engine did with it), and frames to send are data.
//!
//! [`Engine`] holds the settings and the rules; each connection's state is a
//! [`Connection`], kept by the layer above beside its own in one record (the WebSocket's
//! attachment survives hibernation as one value). [`polling::Polling`] holds what waits
//! for a long-polling client's next `GET`.

pub mod polling;

use serde::{Deserialize, Serialize};

use crate::protocol::engineio::{EngineError, Frame, Handshake, Packet, Transport};

/// One Engine.IO connection's state (its sid is the key it is kept under).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub opened_at: u64,
    /// The bearer token of the handshake: with `client_address`, who the sid belongs to.
    #[serde(default)]
    pub header_token: Option<String>,
    pub last_ping_at: u64,
    #[serde(default)]
    pub awaiting_pong: Option<u64>,
    #[serde(default)]
    pub transport: Transport,
    /// The client's address as the Worker saw it.
    #[serde(default)]
    pub client_address: Option<String>,
    /// A WebSocket has been accepted to take over this long-polling connection.
    #[serde(default)]
    pub upgrading: bool,
}

/// What a client frame amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A text message for the layer above (without Engine.IO's `4`).
    Message(String),
    /// A binary message for the layer above.
    Binary(Vec<u8>),
    /// Frames to send at once, each over the named transport (a ping's pong; the probe's
    /// `3probe` on the WebSocket and the noop that ends the pending poll).
    Answer(Vec<(Frame, Transport)>),
    /// The client answered a ping: the connection's state changed.
    Pong,
    /// The client's `5`: the connection now uses its WebSocket. What polling still holds
    /// goes out over it, in order ([`polling::Polling::upgraded`]).
    Upgraded,
    /// The client closed the connection.
    Close,
    /// Nothing to do (a noop).
    Nothing,
}

/// Why a client frame ends its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not an Engine.IO packet (or over `maxPayload`).
    Malformed(EngineError),
    /// A packet this side of the protocol never accepts here.
    Unexpected(&'static str),
}

/// What a connection's ping timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Send a ping (`2`); the connection's state changed.
    Ping,
    /// No pong within `pingTimeout`: close the connection.
    TimedOut,
}

/// What to do with a WebSocket that asks to take over a long-polling connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeDecision {
    /// Accept it: it is the connection's one upgrade.
    Accept,
    /// The connection already has its WebSocket (upgraded or upgrading): accept this one
    /// and close it at once, as Engine.IO does, and leave the connection alone.
    Duplicate,
    /// No such long-polling connection: Engine.IO's "Session ID unknown".
    Unknown,
}

/// The Engine.IO settings and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine {
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub max_payload: u64,
}

impl Engine {
    /// A new connection and its open packet (offering the upgrade over long-polling).
    pub fn open(
        &self,
        now: u64,
        sid: &str,
        transport: Transport,
        header_token: Option<String>,
        client_address: Option<String>,
    ) -> (Connection, Frame) {
        let handshake = Handshake {
            sid: sid.to_string(),
            upgrades: match transport {
                Transport::Polling => vec!["websocket".into()],
                Transport::Websocket => Vec::new(),
            },
            ping_interval: self.ping_interval_ms,
            ping_timeout: self.ping_timeout_ms,
            max_payload: self.max_payload,
        };
        let conn = Connection {
            opened_at: now,
            header_token,
            last_ping_at: now,
            awaiting_pong: None,
            transport,
            client_address,
            upgrading: false,
        };
        (conn, Packet::open(&handshake).encode())
    }

    /// A frame from the client of `conn`, received over `via`.
    pub fn handle_frame(&self, conn: &mut Connection, frame: &Frame, via: Transport) -> Result<Received, Refused> {
        let packet = Packet::decode(frame, self.max_payload as usize).map_err(Refused::Malformed)?;
        if via != conn.transport {
            return Self::handle_upgrade_packet(conn, packet, via);
        }
        Ok(match packet {
            Packet::Pong(_) => {
                conn.awaiting_pong = None;
                Received::Pong
            }
            Packet::Ping(data) => Received::Answer(vec![(Packet::Pong(data).encode(), conn.transport)]),
            Packet::Close => Received::Close,
            Packet::Noop | Packet::Upgrade(_) => Received::Nothing,
            Packet::Open(_) => return Err(Refused::Unexpected("client sent an open packet")),
            Packet::Message(text) => Received::Message(text),
            Packet::BinaryMessage(bytes) => Received::Binary(bytes),
        })
    }

    /// The upgrade from long-polling: `2probe` → `3probe` on the WebSocket (and a noop
    /// that ends the pending poll), then `5` switches the connection over.
    fn handle_upgrade_packet(conn: &mut Connection, packet: Packet, via: Transport) -> Result<Received, Refused> {
        if !(conn.transport == Transport::Polling && via == Transport::Websocket) {
            return Err(Refused::Unexpected("packet on a transport this socket left"));
        }
        match packet {
            Packet::Ping(data) if data == "probe" => Ok(Received::Answer(vec![
                (Packet::Pong(data).encode(), Transport::Websocket),
                (Packet::Noop.encode(), Transport::Polling),
            ])),
            Packet::Upgrade(_) => {
                conn.transport = Transport::Websocket;
                conn.upgrading = false;
                Ok(Received::Upgraded)
            }
            Packet::Noop => Ok(Received::Nothing),
            _ => Err(Refused::Unexpected("only the upgrade handshake may use the new transport")),
        }
    }

    /// A WebSocket asks to take over `conn` (`None`: no such connection).
    pub fn handle_upgrade(conn: Option<&mut Connection>) -> UpgradeDecision {
        match conn {
            None => UpgradeDecision::Unknown,
            Some(c) if c.transport != Transport::Polling || c.upgrading => UpgradeDecision::Duplicate,
            Some(c) => {
                c.upgrading = true;
                UpgradeDecision::Accept
            }
        }
    }

    /// The WebSocket of an upgrade that never switched over closed: the connection stays
    /// on long-polling and may try again.
    pub fn handle_upgrade_abandoned(conn: &mut Connection) {
        if conn.transport == Transport::Polling {
            conn.upgrading = false;
        }
    }

    /// The connection's ping timer at `now`: a ping due, a pong overdue, or nothing.
    pub fn poll_timer(&self, conn: &mut Connection, now: u64) -> Option<Timer> {
        match conn.awaiting_pong {
            Some(since) if now >= since + self.ping_timeout_ms => Some(Timer::TimedOut),
            None if now >= conn.last_ping_at + self.ping_interval_ms => {
                conn.awaiting_pong = Some(now);
                conn.last_ping_at = now;
                Some(Timer::Ping)
            }
            _ => None,
        }
    }

    /// When the connection's ping timer next needs [`Engine::poll_timer`].
    pub fn deadline(&self, conn: &Connection) -> u64 {
        match conn.awaiting_pong {
            Some(since) => since + self.ping_timeout_ms,
            None => conn.last_ping_at + self.ping_interval_ms,
        }
    }

    /// The ping sent by [`Timer::Ping`].
    pub fn ping() -> Frame {
        Packet::Ping(String::new()).encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENGINE: Engine = Engine {
        ping_interval_ms: 1_000,
        ping_timeout_ms: 500,
        max_payload: 100,
    };

    fn text(s: &str) -> Frame {
        Frame::Text(s.into())
    }

    #[test]
    fn the_open_packet_offers_the_upgrade_only_over_polling() {
        let (conn, open) = ENGINE.open(7, "s.1", Transport::Polling, None, None);
        assert_eq!(conn.last_ping_at, 7);
        let Frame::Text(open) = open else { panic!("text") };
        assert!(open.starts_with("0{\"sid\":\"s.1\",\"upgrades\":[\"websocket\"],\"pingInterval\":1000"));
        let (_, open) = ENGINE.open(7, "s.2", Transport::Websocket, None, None);
        assert!(matches!(open, Frame::Text(t) if t.contains("\"upgrades\":[]")));
    }

    #[test]
    fn messages_go_up_and_control_packets_stay_here() {
        let (mut c, _) = ENGINE.open(0, "s.1", Transport::Websocket, None, None);
        let ws = Transport::Websocket;
        assert_eq!(
            ENGINE.handle_frame(&mut c, &text("42[\"a\"]"), ws),
            Ok(Received::Message("2[\"a\"]".into()))
        );
        assert_eq!(
            ENGINE.handle_frame(&mut c, &Frame::Binary(vec![1]), ws),
            Ok(Received::Binary(vec![1]))
        );
        assert_eq!(
            ENGINE.handle_frame(&mut c, &text("2x"), ws),
            Ok(Received::Answer(vec![(text("3x"), ws)]))
        );
        assert_eq!(ENGINE.handle_frame(&mut c, &text("6"), ws), Ok(Received::Nothing));
        assert_eq!(ENGINE.handle_frame(&mut c, &text("1"), ws), Ok(Received::Close));
        assert_eq!(
            ENGINE.handle_frame(&mut c, &text("0{}"), ws),
            Err(Refused::Unexpected("client sent an open packet"))
        );
        assert!(matches!(ENGINE.handle_frame(&mut c, &text("9"), ws), Err(Refused::Malformed(_))));
        let big = "4".repeat(101);
        assert!(matches!(
            ENGINE.handle_frame(&mut c, &text(&big), ws),
            Err(Refused::Malformed(EngineError::TooLarge { .. }))
        ));
    }

    #[test]
    fn the_server_pings_and_times_out_a_silent_client() {
        let (mut c, _) = ENGINE.open(0, "s.1", Transport::Websocket, None, None);
        assert_eq!(ENGINE.deadline(&c), 1_000);
        assert_eq!(ENGINE.poll_timer(&mut c, 999), None);
        assert_eq!(ENGINE.poll_timer(&mut c, 1_000), Some(Timer::Ping));
        assert_eq!(ENGINE.deadline(&c), 1_500);
        assert_eq!(ENGINE.poll_timer(&mut c, 1_200), None, "one ping per interval");
        // A pong resets the timer: the next ping is an interval after the last one.
        assert_eq!(ENGINE.handle_frame(&mut c, &text("3"), Transport::Websocket), Ok(Received::Pong));
        assert_eq!(ENGINE.deadline(&c), 2_000);
        assert_eq!(ENGINE.poll_timer(&mut c, 2_000), Some(Timer::Ping));
        assert_eq!(ENGINE.poll_timer(&mut c, 2_499), None);
        assert_eq!(ENGINE.poll_timer(&mut c, 2_500), Some(Timer::TimedOut));
    }

    #[test]
    fn a_polling_connection_upgrades_once_with_the_probe_then_five() {
        let (mut c, _) = ENGINE.open(0, "s.1", Transport::Polling, None, None);
        let (poll, ws) = (Transport::Polling, Transport::Websocket);
        assert_eq!(Engine::handle_upgrade(None), UpgradeDecision::Unknown);
        assert_eq!(Engine::handle_upgrade(Some(&mut c)), UpgradeDecision::Accept);
        assert_eq!(Engine::handle_upgrade(Some(&mut c)), UpgradeDecision::Duplicate);
        // Abandoned before "5": polling carries on and may upgrade again.
        Engine::handle_upgrade_abandoned(&mut c);
        assert_eq!(Engine::handle_upgrade(Some(&mut c)), UpgradeDecision::Accept);
        // Only the handshake may use the WebSocket before the switch.
        assert_eq!(
            ENGINE.handle_frame(&mut c.clone(), &text("40"), ws),
            Err(Refused::Unexpected("only the upgrade handshake may use the new transport"))
        );
        assert_eq!(
            ENGINE.handle_frame(&mut c, &text("2probe"), ws),
            Ok(Received::Answer(vec![(text("3probe"), ws), (text("6"), poll)]))
        );
        assert_eq!(ENGINE.handle_frame(&mut c, &text("5"), ws), Ok(Received::Upgraded));
        assert_eq!((c.transport, c.upgrading), (ws, false));
        assert_eq!(Engine::handle_upgrade(Some(&mut c)), UpgradeDecision::Duplicate);
        // Polling is over for this sid.
        assert_eq!(
            ENGINE.handle_frame(&mut c, &text("3"), poll),
            Err(Refused::Unexpected("packet on a transport this socket left"))
        );
        // An abandoned WebSocket after the switch changes nothing.
        Engine::handle_upgrade_abandoned(&mut c);
        assert_eq!(c.transport, ws);
    }
}
