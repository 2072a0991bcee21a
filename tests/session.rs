//! The session state machine and message pipeline, driven natively with frames in
//! and outputs out: no Worker, no network, a scripted upstream.

use mia_server::config::Config;
use mia_server::conversation::{Failure, UpstreamCommand, UpstreamEvent, UpstreamJob, UpstreamRequest};
use mia_server::engineio::{Frame, Transport};
use mia_server::session::{Output, Session};
use mia_server::store::{Role, Write};
use serde_json::{json, Value};
use std::collections::HashMap;

struct Harness {
    session: Session,
    now: u64,
    sent: Vec<(String, Frame)>,
    closed: Vec<(String, u16)>,
    writes: Vec<Write>,
    jobs: Vec<UpstreamJob>,
    aborts: Vec<String>,
    moderations: Vec<String>,
    alarm: Option<u64>,
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

impl Harness {
    fn new(pairs: &[(&str, &str)]) -> Self {
        let mut all = vec![("OPENAI_API_KEY", "sk-test"), ("JWT_SECRET", "native-test-secret-0123456789abcdef")];
        all.extend_from_slice(pairs);
        Harness {
            session: Session::restore(config(&all), "session-1", None, Vec::new(), Vec::new(), 1_000),
            now: 1_000,
            sent: Vec::new(),
            closed: Vec::new(),
            writes: Vec::new(),
            jobs: Vec::new(),
            aborts: Vec::new(),
            moderations: Vec::new(),
            alarm: None,
        }
    }

    fn take(&mut self, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Send { sid, frames, .. } => self.sent.extend(frames.into_iter().map(|f| (sid.clone(), f))),
                Output::Upgraded { .. } => {}
                Output::Close { sid, code, .. } => self.closed.push((sid, code)),
                Output::Store(w) => self.writes.push(w),
                Output::Upstream(UpstreamCommand::Start(j)) => self.jobs.push(j),
                Output::Upstream(UpstreamCommand::Abort { reply_id }) => self.aborts.push(reply_id),
                Output::Alarm(at) => self.alarm = Some(at),
                Output::Upstream(UpstreamCommand::Moderate { message_id, .. }) => self.moderations.push(message_id),
                Output::SaveConn(_) | Output::Log(_) => {}
            }
        }
    }

    fn open(&mut self) -> String {
        let (conn, out) = self.session.open(self.now, None, Transport::Websocket);
        self.take(out);
        conn.sid
    }

    fn text(&mut self, sid: &str, s: &str) {
        let out = self.session.frame(self.now, sid, Frame::Text(s.to_string()), Transport::Websocket);
        self.take(out);
    }

    /// Opens a socket and connects it to "/".
    fn connected(&mut self) -> String {
        let sid = self.open();
        self.text(&sid, "40");
        sid
    }

    fn emit(&mut self, sid: &str, ack: u64, event: &str, payload: Value) {
        let frame = format!("42{ack}{}", json!([event, payload]));
        self.text(sid, &frame);
    }

    /// Socket.IO events sent to `sid`, as (name, payload).
    fn events(&self, sid: &str) -> Vec<(String, Value)> {
        self.sent
            .iter()
            .filter(|(s, _)| s == sid)
            .filter_map(|(_, f)| match f {
                Frame::Text(t) if t.starts_with("42") => {
                    let v: Value = serde_json::from_str(&t[2..]).ok()?;
                    Some((v[0].as_str()?.to_string(), v[1].clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn acks(&self, sid: &str) -> Vec<(u64, Value)> {
        self.sent
            .iter()
            .filter(|(s, _)| s == sid)
            .filter_map(|(_, f)| match f {
                Frame::Text(t) if t.starts_with("43") => {
                    let digits: String = t[2..].chars().take_while(char::is_ascii_digit).collect();
                    let v: Value = serde_json::from_str(&t[2 + digits.len()..]).ok()?;
                    Some((digits.parse().ok()?, v[0].clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn ack(&self, sid: &str, id: u64) -> Value {
        self.acks(sid)
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| v)
            .expect("ack sent")
    }

    fn upstream(&mut self, job: &UpstreamJob, event: UpstreamEvent) {
        let out = self.session.upstream(self.now, &job.reply_id, job.attempt, event);
        self.take(out);
    }

    fn sse(&mut self, job: &UpstreamJob, deltas: &[&str], done: bool) {
        self.upstream(
            job,
            UpstreamEvent::Status {
                code: 200,
                retry_after_ms: None,
            },
        );
        for d in deltas {
            let line = format!("data: {}\n\n", json!({"choices": [{"delta": {"content": d}}]}));
            self.upstream(job, UpstreamEvent::Bytes(line.into_bytes()));
        }
        if done {
            self.upstream(job, UpstreamEvent::Bytes(b"data: [DONE]\n\n".to_vec()));
        }
    }

    fn last_job(&mut self) -> UpstreamJob {
        self.jobs.pop().expect("an upstream attempt was requested")
    }

    fn stored_messages(&self) -> Vec<(Role, String, bool)> {
        let mut by_id: Vec<(String, (Role, String, bool))> = Vec::new();
        for w in &self.writes {
            if let Write::Message(m) = w {
                match by_id.iter_mut().find(|(id, _)| *id == m.id) {
                    Some((_, v)) => *v = (m.role, m.content.clone(), m.interrupted),
                    None => by_id.push((m.id.clone(), (m.role, m.content.clone(), m.interrupted))),
                }
            }
        }
        by_id.into_iter().map(|(_, v)| v).collect()
    }
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn open_connect_and_join() {
    let mut h = Harness::new(&[]);
    let sid = h.open();
    match &h.sent[0].1 {
        Frame::Text(t) => {
            let open: Value = serde_json::from_str(&t[1..]).unwrap();
            assert_eq!(open["sid"], sid.as_str());
            assert_eq!(open["pingInterval"], 25000);
        }
        other => panic!("{other:?}"),
    }
    h.text(&sid, "40");
    assert!(matches!(&h.sent[1].1, Frame::Text(t) if t.starts_with("40{\"sid\":")));
    h.emit(&sid, 1, "join_session", json!({"sessionId": "session-1"}));
    let events = h.events(&sid);
    assert_eq!(events[0].0, "session_created");
    assert_eq!(events[0].1["isNew"], true);
    assert_eq!(h.ack(&sid, 1), json!({"ok": true, "sessionId": "session-1"}));
}

#[test]
fn pings_and_timeouts_follow_the_clock() {
    let mut h = Harness::new(&[
        ("PING_INTERVAL_MS", "1000"),
        ("PING_TIMEOUT_MS", "500"),
        ("CONNECT_TIMEOUT_MS", "3000"),
    ]);
    let a = h.connected();
    let b = h.open(); // never sends CONNECT
    assert_eq!(h.alarm, Some(2_000));
    h.now = 2_000;
    let out = h.session.tick(h.now);
    h.take(out);
    assert!(h.sent.iter().any(|(s, f)| *s == a && *f == Frame::Text("2".into())));
    h.text(&a, "3");
    h.now = 2_600;
    let out = h.session.tick(h.now);
    h.take(out);
    // b did not answer its ping within 500 ms; a did.
    assert_eq!(h.closed.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), vec![b.as_str()]);
    h.now = 5_000;
    let out = h.session.tick(h.now);
    h.take(out);
    h.now = 5_600;
    let out = h.session.tick(h.now);
    h.take(out);
    assert!(h.closed.iter().any(|(s, _)| *s == a), "a stopped answering and was dropped");
}

#[test]
fn connect_timeout_closes_silent_sockets() {
    let mut h = Harness::new(&[("CONNECT_TIMEOUT_MS", "100")]);
    let sid = h.open();
    h.now += 100;
    let out = h.session.tick(h.now);
    h.take(out);
    assert_eq!(h.closed, vec![(sid, 1000)]);
}

#[test]
fn malformed_frames_close_the_socket_and_nothing_else() {
    for bad in ["", "9", "4", "4x", "42{}", "42[]", "40[]", "45-[\"a\"]", "0{}"] {
        let mut h = Harness::new(&[]);
        let good = h.connected();
        let sid = h.connected();
        h.text(&sid, bad);
        assert_eq!(h.closed.len(), 1, "{bad:?}");
        assert_eq!(h.closed[0].0, sid);
        h.emit(&good, 1, "join_session", json!({}));
        assert_eq!(h.ack(&good, 1)["ok"], true);
    }
    let mut h = Harness::new(&[("MAX_PAYLOAD", "1000")]);
    let sid = h.connected();
    h.text(&sid, &format!("42[\"message\",\"{}\"]", "x".repeat(1000)));
    assert_eq!(h.closed, vec![(sid, 1009)]);
}

#[test]
fn a_reply_streams_completes_and_is_stored() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hello"}));
    let ack = h.ack(&sid, 1);
    assert_eq!(ack["ok"], true);
    let job = h.last_job();
    let UpstreamRequest::Http(req) = &job.request else {
        panic!("http expected")
    };
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(body["messages"][1], json!({"role": "user", "content": "hello"}));
    h.sse(&job, &["Hi", " there"], true);
    let events = h.events(&sid);
    assert_eq!(names(&events), vec!["message_chunk", "message_chunk", "message_complete"]);
    assert_eq!(events[2].1["message"], "Hi there");
    assert_eq!(events[2].1["messageId"], ack["replyId"]);
    assert_eq!(
        h.stored_messages(),
        vec![(Role::User, "hello".into(), false), (Role::Assistant, "Hi there".into(), false)]
    );
}

#[test]
fn the_session_row_is_written_when_its_state_changes_not_for_every_message() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    let metas = |h: &Harness| {
        h.writes
            .iter()
            .filter_map(|w| if let Write::Meta(m) = w { Some(m.clone()) } else { None })
            .collect::<Vec<_>>()
    };
    let say = |h: &mut Harness, ack: u64, text: &str| {
        h.emit(&sid, ack, "message", json!({ "message": text }));
        let job = h.last_job();
        h.sse(&job, &["ok"], true);
    };
    say(&mut h, 1, "hello");
    let after_first = metas(&h).len();
    say(&mut h, 2, "how was your day");
    say(&mut h, 3, "mine was fine");
    assert_eq!(metas(&h).len(), after_first, "plain messages change nothing in the session row");
    assert_eq!(h.stored_messages().len(), 6, "every message and reply is still stored");

    h.now += 5_000;
    say(&mut h, 4, "I'm 12 years old");
    let written = metas(&h);
    assert_eq!(written.len(), after_first + 1, "a new age is written");
    assert_eq!(written.last().unwrap().age, Some(12));
    assert_eq!(written.last().unwrap().updated_at, h.now);
}

#[test]
fn retries_429_then_succeeds() {
    let mut h = Harness::new(&[("UPSTREAM_RETRY_BASE_MS", "100")]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hello"}));
    let first = h.last_job();
    h.upstream(
        &first,
        UpstreamEvent::Status {
            code: 429,
            retry_after_ms: None,
        },
    );
    let second = h.last_job();
    assert_eq!((second.attempt, second.delay_ms), (1, 100));
    // Late events from the first attempt are ignored.
    h.upstream(
        &first,
        UpstreamEvent::Bytes(b"data: {\"choices\":[{\"delta\":{\"content\":\"stale\"}}]}\n\n".to_vec()),
    );
    h.sse(&second, &["ok"], true);
    let events = h.events(&sid);
    assert_eq!(names(&events), vec!["message_chunk", "message_complete"]);
    assert_eq!(events[1].1["message"], "ok");
}

#[test]
fn three_500s_give_upstream_unavailable_and_keep_the_message() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hello"}));
    for attempt in 0..3 {
        let job = h.last_job();
        assert_eq!(job.attempt, attempt);
        h.upstream(
            &job,
            UpstreamEvent::Status {
                code: 500,
                retry_after_ms: None,
            },
        );
    }
    assert!(h.jobs.is_empty());
    let events = h.events(&sid);
    assert_eq!(names(&events), vec!["error"]);
    assert_eq!(events[0].1["code"], "UPSTREAM_UNAVAILABLE");
    assert_eq!(events[0].1["retryable"], true);
    assert_eq!(h.stored_messages(), vec![(Role::User, "hello".into(), false)]);
}

#[test]
fn a_failure_mid_stream_is_stored_as_interrupted() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hello"}));
    let job = h.last_job();
    h.sse(&job, &["partial "], false);
    h.upstream(&job, UpstreamEvent::Failed(Failure::Network("reset".into())));
    let events = h.events(&sid);
    assert_eq!(names(&events), vec!["message_chunk", "message_complete", "error"]);
    assert_eq!(events[1].1["interrupted"], true);
    assert_eq!(events[2].1["code"], "UPSTREAM_INTERRUPTED");
    assert_eq!(h.stored_messages()[1], (Role::Assistant, "partial ".into(), true));
    assert!(h.jobs.is_empty(), "no retry after the first chunk");
}

#[test]
fn a_slow_first_byte_is_retried_then_given_up() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hello"}));
    for _ in 0..3 {
        let job = h.last_job();
        assert_eq!(job.first_byte_timeout_ms, 20_000);
        assert_eq!(job.total_timeout_ms, 120_000);
        h.upstream(&job, UpstreamEvent::Failed(Failure::FirstByteTimeout));
    }
    assert_eq!(h.events(&sid)[0].1["code"], "UPSTREAM_UNAVAILABLE");
}

#[test]
fn queued_messages_run_in_order_and_the_queue_is_capped() {
    let mut h = Harness::new(&[("QUEUE_LIMIT", "2")]);
    let sid = h.connected();
    for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
        h.emit(&sid, i as u64, "message", json!({"message": m}));
    }
    assert_eq!(h.jobs.len(), 1);
    assert_eq!(h.ack(&sid, 3)["error"]["code"], "RATE_LIMITED");
    assert!(h.ack(&sid, 3)["error"]["message"].is_string());
    let job = h.last_job();
    h.sse(&job, &["reply a"], true);
    let next = h.last_job();
    let UpstreamRequest::Http(req) = &next.request else { panic!() };
    let body: Value = serde_json::from_str(&req.body).unwrap();
    let contents: Vec<&str> = body["messages"].as_array().unwrap()[1..]
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["a", "reply a", "b"]);
}

#[test]
fn rate_limit_answers_with_retry_after() {
    let mut h = Harness::new(&[("RATE_LIMIT_PER_MINUTE", "2")]);
    let sid = h.connected();
    for i in 0..3 {
        h.emit(&sid, i, "message", json!({"message": "hi"}));
        if let Some(job) = h.jobs.pop() {
            h.sse(&job, &["ok"], true);
        }
    }
    let refused = h.ack(&sid, 2);
    assert_eq!(refused["error"]["code"], "RATE_LIMITED");
    let err = h.events(&sid).into_iter().find(|(n, _)| n == "error").unwrap().1;
    assert_eq!(err["retryAfterMs"], 30_000);
    assert_eq!(err["retryable"], true);
}

#[test]
fn cancel_stops_and_stores_the_partial_reply() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hello"}));
    let job = h.last_job();
    h.sse(&job, &["so far"], false);
    h.emit(&sid, 2, "cancel", json!({}));
    assert_eq!(h.ack(&sid, 2)["cancelled"], true);
    assert_eq!(h.aborts, vec![job.reply_id.clone()]);
    assert_eq!(h.stored_messages()[1], (Role::Assistant, "so far".into(), true));
    // Bytes still in flight change nothing.
    h.sse(&job, &["more"], true);
    assert_eq!(h.events(&sid).iter().filter(|(n, _)| n == "message_complete").count(), 1);
}

#[test]
fn offline_companion_answers_without_a_key() {
    let mut h = Harness::new(&[("OPENAI_API_KEY", "")]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hi"}));
    let job = h.last_job();
    let UpstreamRequest::Offline { chunks, .. } = &job.request else {
        panic!("offline expected")
    };
    for c in chunks.clone() {
        h.upstream(&job, UpstreamEvent::Delta(c));
    }
    h.upstream(&job, UpstreamEvent::End);
    let complete = h.events(&sid).into_iter().find(|(n, _)| n == "message_complete").unwrap().1;
    assert!(complete["message"].as_str().unwrap().contains("Mia"));
}

#[test]
fn tier_three_alerts_first_and_always_carries_resources() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "i want to kill myself"}));
    let job = h.last_job();
    h.sse(&job, &["I'm so sorry you feel this way."], true);
    let events = h.events(&sid);
    assert_eq!(
        names(&events),
        vec!["safety_alert", "mode_changed", "message_chunk", "message_chunk", "message_complete"]
    );
    assert_eq!(events[0].1["tier"], 3);
    assert_eq!(events[1].1["mode"], "URGENCY");
    let reply = events[4].1["message"].as_str().unwrap();
    assert!(reply.contains("988") && reply.contains("741741") && reply.contains("911"));
    assert!(h.writes.iter().any(|w| matches!(w, Write::SafetyEvent(e) if e.tier == 3)));

    // When the model fails, the vetted crisis message is sent instead of an error.
    h.emit(&sid, 2, "message", json!({"message": "i still want to die"}));
    for _ in 0..3 {
        let job = h.last_job();
        h.upstream(
            &job,
            UpstreamEvent::Status {
                code: 503,
                retry_after_ms: None,
            },
        );
    }
    let last = h.events(&sid).into_iter().rev().find(|(n, _)| n == "message_complete").unwrap().1;
    assert!(last["message"].as_str().unwrap().contains("988"));
    assert!(!h.events(&sid).iter().any(|(n, _)| n == "error"));
}

#[test]
fn ownership_is_decided_by_the_first_join() {
    let secret = "native-test-secret-0123456789abcdef";
    let mut h = Harness::new(&[]);
    h.now = 1_800_000_000_000;
    let owner = mia_server::auth::mint(secret, "alice", h.now, 3600);
    let other = mia_server::auth::mint(secret, "mallory", h.now, 3600);
    let a = h.open();
    h.text(&a, &format!("40{}", json!({"token": owner})));
    assert!(h
        .sent
        .iter()
        .any(|(s, f)| *s == a && matches!(f, Frame::Text(t) if t.starts_with("40{"))));
    for (token, code) in [
        (Some(other), "FORBIDDEN"),
        (None, "FORBIDDEN"),
        (Some("garbage".to_string()), "AUTH_INVALID"),
    ] {
        let b = h.open();
        match token {
            Some(t) => h.text(&b, &format!("40{}", json!({"token": t}))),
            None => h.text(&b, "40"),
        }
        let refused = h.sent.iter().rev().find(|(s, _)| *s == b).unwrap();
        match &refused.1 {
            Frame::Text(t) => {
                let v: Value = serde_json::from_str(&t[2..]).unwrap();
                assert_eq!(v["data"]["code"], code);
            }
            f => panic!("{f:?}"),
        }
    }
    let expired = mia_server::auth::mint(secret, "alice", h.now - 7_200_000, 3600);
    let c = h.open();
    h.text(&c, &format!("40{}", json!({"token": expired})));
    assert!(matches!(&h.sent.last().unwrap().1, Frame::Text(t) if t.contains("AUTH_EXPIRED")));
}

#[test]
fn moderation_raises_to_tier_three_but_never_lowers() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "tonight is the night"}));
    let message_id = h.ack(&sid, 1)["messageId"].as_str().unwrap().to_string();
    assert_eq!(h.moderations, vec![message_id.clone()]);
    let job = h.last_job();
    h.sse(&job, &["Okay."], false);
    let out = h
        .session
        .moderation(h.now, &message_id, Ok(vec!["self-harm".into(), "self-harm/intent".into()]));
    h.take(out);
    h.upstream(&job, UpstreamEvent::Bytes(b"data: [DONE]\n\n".to_vec()));
    let events = h.events(&sid);
    assert_eq!(
        names(&events),
        vec!["message_chunk", "safety_alert", "mode_changed", "message_chunk", "message_complete"]
    );
    assert_eq!(events[1].1["tier"], 3);
    assert!(events[4].1["message"].as_str().unwrap().contains("988"));
    assert!(h
        .writes
        .iter()
        .any(|w| matches!(w, Write::SafetyEvent(e) if e.source == "moderation")));

    // Flags without intent, and failures, change nothing.
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.emit(&sid, 1, "message", json!({"message": "hello"}));
    let id = h.ack(&sid, 1)["messageId"].as_str().unwrap().to_string();
    for result in [Ok(vec!["violence".to_string()]), Err("timeout".to_string())] {
        let out = h.session.moderation(h.now, &id, result);
        h.take(out);
    }
    assert!(h.events(&sid).is_empty());
    assert_eq!(h.session.meta().tier, 1);
}

#[test]
fn long_polling_upgrades_to_websocket() {
    let mut h = Harness::new(&[]);
    let (conn, out) = h.session.open(h.now, None, Transport::Polling);
    let open = out.iter().find_map(|o| match o {
        Output::Send { frames, via, .. } => Some((frames[0].clone(), *via)),
        _ => None,
    });
    let Some((Frame::Text(t), Transport::Polling)) = open else {
        panic!("open packet over polling")
    };
    assert!(t.contains("\"upgrades\":[\"websocket\"]"));
    assert!(conn.sid.starts_with("session-1."), "the sid names its session");
    let sid = conn.sid;
    let via = |out: &[Output]| -> Vec<(String, Transport)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { frames, via, .. } => Some(frames.iter().map(move |f| (format!("{f:?}"), *via))),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let out = h.session.frame(h.now, &sid, Frame::Text("40".into()), Transport::Polling);
    assert_eq!(via(&out)[0].1, Transport::Polling);
    // The probe is answered on the WebSocket; a noop ends the pending poll.
    let out = h.session.frame(h.now, &sid, Frame::Text("2probe".into()), Transport::Websocket);
    assert_eq!(
        via(&out),
        vec![
            ("Text(\"3probe\")".to_string(), Transport::Websocket),
            ("Text(\"6\")".to_string(), Transport::Polling)
        ]
    );
    // Nothing but the handshake may use the new transport before the switch.
    let mut other = Harness::new(&[]);
    let (c2, _) = other.session.open(0, None, Transport::Polling);
    let out = other.session.frame(0, &c2.sid, Frame::Text("40".into()), Transport::Websocket);
    assert!(out.iter().any(|o| matches!(o, Output::Close { .. })));
    // "5" switches: an Upgraded output, then everything goes over the WebSocket.
    let out = h.session.frame(h.now, &sid, Frame::Text("5".into()), Transport::Websocket);
    assert!(out.iter().any(|o| matches!(o, Output::Upgraded { sid: s } if *s == sid)));
    let out = h
        .session
        .frame(h.now, &sid, Frame::Text("421[\"join_session\",{}]".into()), Transport::Websocket);
    assert!(via(&out).iter().all(|(_, v)| *v == Transport::Websocket));
    // A late packet over polling is refused.
    let out = h.session.frame(h.now, &sid, Frame::Text("3".into()), Transport::Polling);
    assert!(out.iter().any(|o| matches!(o, Output::Close { .. })));
}
