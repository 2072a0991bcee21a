//! The server the official Socket.IO protocol test suite expects (`SOCKETIO_CONFORMANCE`,
//! see `scripts/conformance.mjs`): a second namespace, echo handlers and the CONNECT
//! payload echoed back. Reached only when the switch is on; Mia's own events are off then.

use serde_json::json;

use crate::protocol::socketio;
use crate::session::{Caller, Session};

/// The suite's extra namespace, beside "/".
pub const NAMESPACE: &str = "/custom";

impl Session {
    /// CONNECT under the suite: "/" or [`NAMESPACE`], always anonymous (the suite sends
    /// arbitrary auth payloads), each answered with an `auth` event echoing the payload.
    pub(super) fn conformance_connect(&mut self, sid: &str, packet: &socketio::Packet) {
        let nsp = packet.nsp.as_str();
        if nsp != "/" && nsp != NAMESPACE {
            return self.connect_error(sid, nsp, "Invalid namespace", None);
        }
        // No such connection, or a socket on this namespace already.
        if self.conns.get(sid).is_none_or(|c| c.sockets.iter().any(|s| s.nsp == nsp)) {
            return;
        }
        if nsp == "/" {
            if let Err(e) = self.room_for_socket() {
                return self.connect_error(sid, nsp, &e.message, Some(e.code));
            }
        }
        if self.enter(sid, nsp, Caller::anonymous()) {
            let payload = packet.data.clone().unwrap_or_else(|| json!({}));
            self.send_packet(sid, &socketio::Packet::event(nsp, "auth", vec![payload]));
        }
    }

    /// Events under the suite: `message` comes back as `message-back`, `message-with-ack`
    /// as its ack, attachments included; anything else is ignored.
    pub(super) fn conformance_event(&mut self, sid: &str, packet: &socketio::Packet) {
        let reply = match packet.event_name() {
            Some("message") => Some(socketio::Packet::event(&packet.nsp, "message-back", packet.event_args().to_vec())),
            Some("message-with-ack") => packet
                .id
                .map(|id| socketio::Packet::ack(&packet.nsp, id, packet.event_args().to_vec())),
            _ => None,
        };
        if let Some(mut reply) = reply {
            reply.attachments = packet.attachments.clone();
            self.send_packet(sid, &reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::protocol::engineio::{Frame, Transport};
    use crate::session::Output;

    fn sent(out: &[Output]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { frames, .. } => Some(frames.clone()),
                _ => None,
            })
            .flatten()
            .filter_map(|f| match f {
                Frame::Text(t) => Some(t),
                Frame::Binary(_) => None,
            })
            .collect()
    }

    fn session(conformance: bool) -> Session {
        let cfg = Config::from_lookup(|k| (conformance && k == "SOCKETIO_CONFORMANCE").then(|| "1".to_string()));
        Session::restore(cfg, "session-1", None, Vec::new(), Vec::new(), 1_000)
    }

    #[test]
    fn the_suite_gets_its_namespace_and_echoes_only_with_the_switch_on() {
        let mut s = session(true);
        let (conn, _) = s.open(1_000, None, Transport::Websocket);
        let out = s.frame(
            1_000,
            &conn.sid,
            Frame::Text("40/custom,{\"token\":\"abc\"}".into()),
            Transport::Websocket,
        );
        let texts = sent(&out);
        assert!(texts[0].starts_with("40/custom,{\"sid\""), "{texts:?}");
        assert_eq!(texts[1], "42/custom,[\"auth\",{\"token\":\"abc\"}]");
        let out = s.frame(
            1_000,
            &conn.sid,
            Frame::Text("42/custom,[\"message\",1,\"two\"]".into()),
            Transport::Websocket,
        );
        assert_eq!(sent(&out), vec!["42/custom,[\"message-back\",1,\"two\"]".to_string()]);
        let out = s.frame(
            1_000,
            &conn.sid,
            Frame::Text("42/custom,7[\"message-with-ack\",{\"a\":1}]".into()),
            Transport::Websocket,
        );
        assert_eq!(sent(&out), vec!["43/custom,7[{\"a\":1}]".to_string()]);

        let mut s = session(false);
        let (conn, _) = s.open(1_000, None, Transport::Websocket);
        let out = s.frame(1_000, &conn.sid, Frame::Text("40/custom,".into()), Transport::Websocket);
        assert_eq!(sent(&out), vec!["44/custom,{\"message\":\"Invalid namespace\"}".to_string()]);
    }
}
