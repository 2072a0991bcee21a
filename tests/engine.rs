//! The Engine.IO layer under the session, driven natively as the Durable Object's shell
//! drives it: the session's outputs for long-polling go into [`Polling`], whose answers
//! the shell would send; WebSocket frames are collected.

use mia_server::config::Config;
use mia_server::engine::polling::{Answer, Get, Polling};
use mia_server::protocol::engineio::{Frame, Transport};
use mia_server::session::{Output, Session, UpgradeDecision};
use std::collections::HashMap;

struct Shell {
    session: Session,
    polling: Polling,
    now: u64,
    /// Frames sent over WebSockets, by sid.
    ws: Vec<(String, Frame)>,
    /// Held polls the shell was told to wake.
    woken: Vec<String>,
    closed: Vec<String>,
}

impl Shell {
    fn new() -> Shell {
        let pairs: HashMap<String, String> = [("PING_INTERVAL_MS", "1000"), ("PING_TIMEOUT_MS", "500")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cfg = Config::from_lookup(|k| pairs.get(k).cloned());
        Shell {
            polling: Polling::new(cfg.ping_interval_ms, cfg.ping_timeout_ms),
            session: Session::restore(cfg, "session-1", None, Vec::new(), Vec::new(), 1_000),
            now: 1_000,
            ws: Vec::new(),
            woken: Vec::new(),
            closed: Vec::new(),
        }
    }

    /// What `platform/durable.rs` does with the outputs that concern the transports.
    fn apply(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send {
                    sid,
                    frames,
                    via: Transport::Websocket,
                } => self.ws.extend(frames.into_iter().map(|f| (sid.clone(), f))),
                Output::Send {
                    sid,
                    frames,
                    via: Transport::Polling,
                } => {
                    let wake = self.polling.queue(&sid, frames);
                    if wake {
                        self.woken.push(sid);
                    }
                }
                Output::Upgraded { sid } => {
                    let (frames, wake) = self.polling.upgraded(&sid);
                    self.ws.extend(frames.into_iter().map(|f| (sid.clone(), f)));
                    if wake {
                        self.woken.push(sid);
                    }
                }
                Output::Close { sid, .. } => {
                    if self.polling.closed(&sid) {
                        self.woken.push(sid.clone());
                    }
                    self.closed.push(sid);
                }
                _ => {}
            }
        }
    }

    /// The polling handshake: returns the sid and the first payload.
    fn open(&mut self) -> (String, String) {
        let (conn, out) = self.session.open(self.now, None, Transport::Polling);
        self.polling.opened(&conn.sid);
        self.apply(out);
        let payload = self.polling.take_payload(&conn.sid);
        (conn.sid, payload)
    }

    fn post(&mut self, sid: &str, text: &str) {
        let out = self.session.frame(self.now, sid, Frame::Text(text.into()), Transport::Polling);
        self.apply(out);
    }

    fn ws_frame(&mut self, sid: &str, text: &str) {
        let out = self.session.frame(self.now, sid, Frame::Text(text.into()), Transport::Websocket);
        self.apply(out);
    }

    /// Answers a poll that was ready or woken (a `Later` is answered after its delay).
    fn answer(&mut self, sid: &str) -> Answer {
        let answer = self.polling.release(self.now, sid, self.session.connection(sid).map(|c| &c.engine));
        match answer {
            Answer::Later { until, frames } => {
                self.now = until;
                Polling::settle(frames, self.session.connection(sid).map(|c| &c.engine))
            }
            answer => answer,
        }
    }

    fn ws_texts(&self, sid: &str) -> Vec<String> {
        self.ws
            .iter()
            .filter(|(s, _)| s == sid)
            .filter_map(|(_, f)| match f {
                Frame::Text(t) => Some(t.clone()),
                Frame::Binary(_) => None,
            })
            .collect()
    }
}

#[test]
fn the_handshake_and_the_connects_answer_go_out_over_polling() {
    let mut s = Shell::new();
    let (sid, open) = s.open();
    assert!(open.starts_with(&format!("0{{\"sid\":\"{sid}\",\"upgrades\":[\"websocket\"]")));
    assert_eq!(s.polling.handle_get(s.now, &sid), Get::Hold { until: s.now + 2_500 });
    s.post(&sid, "40");
    assert_eq!(s.woken, vec![sid.clone()], "the CONNECT's answer releases the poll");
    let Answer::Payload(body) = s.answer(&sid) else {
        panic!("a payload")
    };
    assert!(body.starts_with("40{\"sid\":"), "{body}");
}

#[test]
fn frames_held_when_the_websocket_takes_over_go_over_it_in_order() {
    let mut s = Shell::new();
    let (sid, _) = s.open();
    s.post(&sid, "40");
    assert!(matches!(s.answer(&sid), Answer::Payload(_)));
    assert_eq!(s.session.upgrade(s.now, &sid).0, UpgradeDecision::Accept);
    // The client polls, then probes: the probe's noop releases that poll a moment later.
    assert!(matches!(s.polling.handle_get(s.now, &sid), Get::Hold { .. }));
    s.ws_frame(&sid, "2probe");
    assert_eq!(s.ws_texts(&sid), vec!["3probe"]);
    assert_eq!(s.woken, vec![sid.clone()]);
    assert_eq!(s.answer(&sid), Answer::Payload("6".into()), "not switched within the delay");
    // Still on polling, it joins; the answer waits in the outbox behind a second probe noop.
    s.ws_frame(&sid, "2probe");
    s.post(&sid, "420[\"join_session\",{}]");
    s.ws_frame(&sid, "5");
    let texts = s.ws_texts(&sid);
    assert_eq!(texts[1], "3probe");
    assert!(texts[2].starts_with("42[\"session_created\""), "{texts:?}");
    assert!(texts[3].starts_with("430[{\"ok\":true"), "{texts:?}");
    assert_eq!(texts.len(), 4, "the noop stays behind: {texts:?}");
    // Everything now goes over the WebSocket; the sid is no longer a polling one.
    s.ws_frame(&sid, "421[\"join_session\",{}]");
    assert!(s.ws_texts(&sid)[4].starts_with("42[\"session_created\""));
    assert_eq!(s.polling.handle_get(s.now, &sid), Get::Unknown);
}

#[test]
fn a_poll_held_when_the_client_switches_is_refused() {
    let mut s = Shell::new();
    let (sid, _) = s.open();
    s.session.upgrade(s.now, &sid);
    assert!(matches!(s.polling.handle_get(s.now, &sid), Get::Hold { .. }));
    s.ws_frame(&sid, "2probe");
    // The client sends "5" before the probe's noop went out.
    s.ws_frame(&sid, "5");
    assert_eq!(s.answer(&sid), Answer::BadRequest);
}

#[test]
fn a_second_poll_closes_the_connection_and_ends_the_held_one() {
    let mut s = Shell::new();
    let (sid, _) = s.open();
    assert!(matches!(s.polling.handle_get(s.now, &sid), Get::Hold { .. }));
    assert_eq!(s.polling.handle_get(s.now, &sid), Get::Twice);
    // The shell closes the connection in the core (as a misbehaving one), answers 400.
    let out = s.session.closed(s.now, &sid);
    s.apply(out);
    assert!(s.session.connection(&sid).is_none());
    assert_eq!(s.answer(&sid), Answer::Payload("6".into()), "the held poll ends with a noop");
    assert_eq!(s.polling.handle_get(s.now, &sid), Get::Unknown);
}

#[test]
fn a_close_during_an_upgrade_ends_the_held_poll() {
    let mut s = Shell::new();
    let (sid, _) = s.open();
    s.session.upgrade(s.now, &sid);
    assert!(matches!(s.polling.handle_get(s.now, &sid), Get::Hold { .. }));
    // The client closes over polling while its WebSocket is still probing.
    s.post(&sid, "1");
    assert_eq!(s.closed, vec![sid.clone()]);
    assert_eq!(s.woken, vec![sid.clone()]);
    assert_eq!(s.answer(&sid), Answer::Payload("6".into()));
    assert_eq!(s.polling.handle_get(s.now, &sid), Get::Unknown);
}

#[test]
fn a_websocket_that_closes_before_the_switch_leaves_polling_alone() {
    let mut s = Shell::new();
    let (sid, _) = s.open();
    s.session.upgrade(s.now, &sid);
    let out = s.session.websocket_closed(s.now, &sid);
    s.apply(out);
    assert_eq!(s.session.connection(&sid).map(|c| c.transport), Some(Transport::Polling));
    assert_eq!(s.session.upgrade(s.now, &sid).0, UpgradeDecision::Accept, "it may try again");
    s.ws_frame(&sid, "2probe");
    s.ws_frame(&sid, "5");
    // After the switch, the WebSocket's close ends the connection.
    let out = s.session.websocket_closed(s.now, &sid);
    s.apply(out);
    assert!(s.session.connection(&sid).is_none());
}

#[test]
fn the_poll_hold_ends_with_a_noop_and_pings_release_it_before() {
    let mut s = Shell::new();
    let (sid, _) = s.open();
    s.post(&sid, "40");
    s.answer(&sid);
    let Get::Hold { until } = s.polling.handle_get(s.now, &sid) else {
        panic!("held")
    };
    assert_eq!(until, s.now + 2 * 1_000 + 500);
    // The ping at pingInterval releases it long before.
    s.now += 1_000;
    let out = s.session.tick(s.now);
    s.apply(out);
    assert_eq!(s.woken, vec![sid.clone()]);
    assert_eq!(s.answer(&sid), Answer::Payload("2".into()));
    // A hold that times out (a lost wake-up) ends with a noop.
    let Get::Hold { until } = s.polling.handle_get(s.now, &sid) else {
        panic!("held")
    };
    s.now = until;
    assert_eq!(s.answer(&sid), Answer::Payload("6".into()));
}

/// A connection's saved state (the WebSocket's attachment) brings its Engine.IO half back
/// after hibernation: the transport it upgraded to and its ping timer.
#[test]
fn an_upgraded_connection_survives_hibernation_from_its_attachment() {
    let mut s = Shell::new();
    let (sid, _) = s.open();
    s.post(&sid, "40");
    s.session.upgrade(s.now, &sid);
    s.ws_frame(&sid, "2probe");
    let out = s.session.frame(s.now, &sid, Frame::Text("5".into()), Transport::Websocket);
    let saved = out
        .into_iter()
        .rev()
        .find_map(|o| match o {
            Output::SaveConn(conn) => Some(conn),
            _ => None,
        })
        .expect("the switch is saved");
    let attachment = serde_json::to_string(&saved).unwrap();
    let conn = serde_json::from_str(&attachment).unwrap();
    let cfg = Config::from_lookup(|k| (k == "PING_INTERVAL_MS").then(|| "1000".to_string()));
    let mut woke = Session::restore(cfg, "session-1", None, Vec::new(), vec![conn], s.now);
    assert_eq!(
        woke.connection(&sid).map(|c| (c.transport, c.upgrading)),
        Some((Transport::Websocket, false))
    );
    // Its ping is due an interval after the connection opened, over the WebSocket.
    let out = woke.tick(s.now + 1_000);
    assert!(out.iter().any(|o| matches!(o,
        Output::Send { sid: to, frames, via: Transport::Websocket } if *to == sid && frames == &vec![Frame::Text("2".into())])));
}

/// A WebSocket still connected across the deploy of the Engine.IO layer carries its
/// attachment as saved before it, with the Engine.IO fields beside the rest (no `engine`):
/// the connection comes back from it, instead of being dropped as unreadable (its client
/// would then get no answer and no ping until its own ping timeout).
#[test]
fn an_attachment_saved_before_the_engine_layer_still_restores_its_connection() {
    let saved = serde_json::json!({
        "sid": "session-1.abc",
        "opened_at": 1_000,
        "header_token": null,
        "last_ping_at": 1_000,
        "awaiting_pong": null,
        "connected_once": true,
        "sockets": [{ "nsp": "/", "id": "s1", "user_id": "anon_1", "authenticated": false, "expires_at": null }],
        "created_session": true,
        "transport": "websocket",
        "link": { "kind": "own" },
        "client_address": "203.0.113.1",
        "upgrading": false
    });
    let conn: mia_server::session::Conn = serde_json::from_value(saved).expect("the old attachment reads");
    assert_eq!(
        (conn.transport, conn.opened_at, conn.client_address.as_deref()),
        (Transport::Websocket, 1_000, Some("203.0.113.1"))
    );
    let cfg = Config::from_lookup(|k| (k == "PING_INTERVAL_MS").then(|| "1000".to_string()));
    let mut woke = Session::restore(cfg, "session-1", None, Vec::new(), vec![conn.clone()], 1_500);
    assert!(woke.connection("session-1.abc").is_some_and(|c| c.main().is_some()));
    let out = woke.tick(2_000);
    assert!(out.iter().any(|o| matches!(o,
        Output::Send { sid, frames, via: Transport::Websocket } if sid == "session-1.abc" && frames == &vec![Frame::Text("2".into())])));
    // Saved again, it takes the current layout, which reads back the same.
    let again = serde_json::to_value(&conn).unwrap();
    assert!(again.get("engine").is_some());
    assert_eq!(serde_json::from_value::<mia_server::session::Conn>(again).unwrap(), conn);
}
