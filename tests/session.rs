//! The session state machine and message pipeline, driven natively with frames in
//! and outputs out: no Worker, no network, a scripted upstream.

use mia_server::config::Config;
use mia_server::conversation::store::{Role, Write};
use mia_server::conversation::{
    Failure, Opinion, OpinionRequest, OpinionResult, UpstreamCommand, UpstreamEvent, UpstreamJob, UpstreamRequest,
};
use mia_server::log::{Level, Record};
use mia_server::protocol::engineio::{Frame, Transport};
use mia_server::safety::Tier;
use mia_server::session::relay::{Identity, Refusal, RelayCommand};
use mia_server::session::{Output, Session, UpgradeDecision};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The JWT secret of every test session's config.
const SECRET: &str = "native-test-secret-0123456789abcdef";

struct Harness {
    session: Session,
    now: u64,
    sent: Vec<(String, Frame)>,
    closed: Vec<(String, u16)>,
    writes: Vec<Write>,
    /// Each step's transaction, as the shell would write it.
    commits: Vec<Vec<Write>>,
    deleted: bool,
    jobs: Vec<UpstreamJob>,
    aborts: Vec<String>,
    opinions: Vec<OpinionRequest>,
    logs: Vec<Record>,
    alarm: Option<u64>,
    relays: Vec<RelayCommand>,
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

impl Harness {
    fn new(pairs: &[(&str, &str)]) -> Self {
        Self::restored(pairs, Vec::new())
    }

    /// A session restored from storage with this history (no stored row, no live sockets).
    fn restored(pairs: &[(&str, &str)], history: Vec<mia_server::conversation::store::Message>) -> Self {
        let mut all = vec![("OPENAI_API_KEY", "sk-test"), ("JWT_SECRET", SECRET)];
        all.extend_from_slice(pairs);
        Harness {
            session: Session::restore(config(&all), "session-1", None, history, Vec::new(), 1_000),
            now: 1_000,
            sent: Vec::new(),
            closed: Vec::new(),
            writes: Vec::new(),
            commits: Vec::new(),
            deleted: false,
            jobs: Vec::new(),
            aborts: Vec::new(),
            opinions: Vec::new(),
            logs: Vec::new(),
            alarm: None,
            relays: Vec::new(),
        }
    }

    fn take(&mut self, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Send { sid, frames, .. } => self.sent.extend(frames.into_iter().map(|f| (sid.clone(), f))),
                Output::Upgraded { .. } => {}
                Output::Close { sid, code, .. } => self.closed.push((sid, code)),
                Output::Store(w) => panic!("a write left the core outside a transaction: {w:?}"),
                Output::Commit(ws) => {
                    self.writes.extend(ws.iter().cloned());
                    self.commits.push(ws);
                }
                Output::DeleteAll => self.deleted = true,
                Output::Upstream(UpstreamCommand::Start(j)) => self.jobs.push(j),
                Output::Upstream(UpstreamCommand::Abort { reply_id }) => self.aborts.push(reply_id),
                Output::Alarm(at) => self.alarm = Some(at),
                Output::Upstream(UpstreamCommand::SecondOpinion(o)) => self.opinions.push(o),
                Output::Log(record) => self.logs.push(record),
                Output::SaveConn(_) => {}
                Output::Relay(r) => self.relays.push(r),
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

    /// Answers the second opinion `opinion` asked about `message_id`.
    fn opinion(&mut self, message_id: &str, opinion: Opinion, result: OpinionResult) {
        let out = self.session.second_opinion(self.now, message_id, opinion, result);
        self.take(out);
    }

    /// A 200 answer of the safety judge whose content is `content`.
    fn judge_says(&mut self, message_id: &str, content: &str) {
        let body = json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }] });
        self.opinion(
            message_id,
            Opinion::Judge,
            OpinionResult::Answer {
                status: 200,
                body: body.to_string(),
            },
        );
    }

    /// Sends `text` as a message (ack id `ack`) and returns its message id.
    fn say(&mut self, sid: &str, ack: u64, text: &str) -> String {
        self.emit(sid, ack, "message", json!({ "message": text }));
        self.ack(sid, ack)["messageId"].as_str().expect("accepted").to_string()
    }

    fn safety_events(&self) -> Vec<&mia_server::conversation::store::SafetyEvent> {
        self.writes
            .iter()
            .filter_map(|w| if let Write::SafetyEvent(e) = w { Some(e) } else { None })
            .collect()
    }

    fn last_job(&mut self) -> UpstreamJob {
        self.jobs.pop().expect("an upstream attempt was requested")
    }

    fn stored_messages(&self) -> Vec<(Role, String, bool)> {
        let mut by_id: Vec<(String, (Role, String, bool))> = Vec::new();
        for w in &self.writes {
            if let Write::Message(m) | Write::Owed { message: m, .. } = w {
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
    let secret = SECRET;
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
fn non_string_tokens_are_refused_not_anonymous() {
    let mut h = Harness::new(&[]);
    for payload in [
        json!({"token": 123}),
        json!({"token": {"userId": "admin"}}),
        json!({"token": true}),
        json!({"auth": {"token": 123}}),
    ] {
        let sid = h.open();
        h.text(&sid, &format!("40{payload}"));
        let last = h.sent.iter().rev().find(|(s, _)| *s == sid).unwrap();
        match &last.1 {
            Frame::Text(t) if t.starts_with("44") => {
                let v: Value = serde_json::from_str(&t[2..]).unwrap();
                assert_eq!(v["data"]["code"], "AUTH_INVALID", "{payload}");
            }
            f => panic!("{payload}: {f:?}"),
        }
    }
    // Nothing was claimed or stored: a later anonymous CONNECT still creates the session.
    assert!(h.writes.is_empty(), "{:?}", h.writes);
    let sid = h.open();
    h.text(&sid, r#"40{"token":null}"#);
    assert!(h
        .sent
        .iter()
        .any(|(s, f)| *s == sid && matches!(f, Frame::Text(t) if t.starts_with("40{"))));
}

fn moderation_answer(flagged: &[&str]) -> OpinionResult {
    let categories: serde_json::Map<String, Value> = ["self-harm", "self-harm/intent", "self-harm/instructions", "violence"]
        .iter()
        .map(|c| (c.to_string(), json!(flagged.contains(c))))
        .collect();
    OpinionResult::Answer {
        status: 200,
        body: json!({ "results": [{ "flagged": !flagged.is_empty(), "categories": categories }] }).to_string(),
    }
}

#[test]
fn moderation_raises_to_tier_three_but_never_lowers() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    let message_id = h.say(&sid, 1, "i know what i'm going to do now");
    // Without SAFETY_MODEL only moderation is asked, with its own timeout.
    assert_eq!(h.opinions.len(), 1);
    assert_eq!(h.opinions[0].message_id, message_id);
    assert_eq!(h.opinions[0].opinion, Opinion::Moderation);
    assert_eq!(h.opinions[0].timeout_ms, 10_000);
    let job = h.last_job();
    h.sse(&job, &["Okay."], false);
    h.opinion(
        &message_id,
        Opinion::Moderation,
        moderation_answer(&["self-harm", "self-harm/intent"]),
    );
    h.upstream(&job, UpstreamEvent::Bytes(b"data: [DONE]\n\n".to_vec()));
    let events = h.events(&sid);
    assert_eq!(
        names(&events),
        vec!["message_chunk", "safety_alert", "mode_changed", "message_chunk", "message_complete"]
    );
    assert_eq!(events[1].1["tier"], 3);
    assert!(events[4].1["message"].as_str().unwrap().contains("988"));
    assert!(h.safety_events().iter().any(|e| e.source == "moderation"));

    // Flags without intent, and failures, change nothing.
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    let id = h.say(&sid, 1, "hello");
    for result in [moderation_answer(&["violence"]), OpinionResult::Timeout] {
        h.opinion(&id, Opinion::Moderation, result);
    }
    assert!(h.events(&sid).is_empty());
    assert_eq!(h.session.meta().tier, 1);
}

const JUDGE: &[(&str, &str)] = &[("SAFETY_MODEL", "judge-model"), ("SAFETY_JUDGE_TIMEOUT_MS", "2500")];

fn judge_requests(h: &Harness) -> Vec<&OpinionRequest> {
    h.opinions.iter().filter(|o| o.opinion == Opinion::Judge).collect()
}

#[test]
fn the_judge_is_asked_beside_the_reply_with_the_recent_conversation() {
    let mut h = Harness::new(JUDGE);
    let sid = h.connected();
    for (i, text) in ["one", "two", "three", "four"].iter().enumerate() {
        h.say(&sid, i as u64, text);
        let job = h.last_job();
        h.sse(&job, &[&format!("reply {text}")], true);
    }
    let id = h.say(&sid, 9, "five");
    // The reply starts at once: the judge runs beside it, it is not waited for.
    assert!(!h.jobs.is_empty());
    let asked = judge_requests(&h);
    assert_eq!(asked.len(), 5, "one judgement per message");
    let ask = asked[4];
    assert_eq!((ask.message_id.as_str(), ask.timeout_ms), (id.as_str(), 2500));
    assert_eq!(ask.request.url, "https://api.openai.com/v1/chat/completions");
    let body: Value = serde_json::from_str(&ask.request.body).unwrap();
    assert_eq!(body["model"], "judge-model");
    assert_eq!(body["stream"], false);
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(body["messages"][0]["content"], mia_server::conversation::prompts::SAFETY_JUDGE);
    let user = body["messages"][1]["content"].as_str().unwrap();
    let input: Value = serde_json::from_str(&user[user.find('{').unwrap()..]).unwrap();
    assert_eq!(input["message"], "five");
    let context: Vec<(String, String)> = input["context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap().into(), m["content"].as_str().unwrap().into()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("user", "two"),
        ("assistant", "reply two"),
        ("user", "three"),
        ("assistant", "reply three"),
        ("user", "four"),
        ("assistant", "reply four"),
    ]
    .iter()
    .map(|(r, c)| (r.to_string(), c.to_string()))
    .collect();
    assert_eq!(context, expected, "the last six messages before it, oldest first, itself excluded");
    // The first message had no context.
    let first: Value = serde_json::from_str(&asked[0].request.body).unwrap();
    let user = first["messages"][1]["content"].as_str().unwrap();
    let input: Value = serde_json::from_str(&user[user.find('{').unwrap()..]).unwrap();
    assert_eq!(input["context"], json!([]));

    // No judge without a model, and no second opinion at all without a key.
    let mut off = Harness::new(&[("SAFETY_MODEL", "")]);
    let sid = off.connected();
    off.say(&sid, 1, "hello");
    assert!(judge_requests(&off).is_empty());
    let mut offline = Harness::new(&[("OPENAI_API_KEY", ""), ("SAFETY_MODEL", "judge-model")]);
    let sid = offline.connected();
    offline.say(&sid, 1, "hello");
    assert!(offline.opinions.is_empty());
}

#[test]
fn a_judge_raise_after_the_reply_started_alerts_switches_to_urgency_and_adds_the_resources() {
    let mut h = Harness::new(JUDGE);
    let sid = h.connected();
    let id = h.say(&sid, 1, "can we talk about something");
    let job = h.last_job();
    h.sse(&job, &["Of course."], false);
    assert_eq!(names(&h.events(&sid)), vec!["message_chunk"], "the rules saw nothing");
    // Fenced JSON is read as well.
    h.judge_says(
        &id,
        "```json\n{\"tier\": 3, \"categories\": [\"suicide\"], \"reason\": \"farewell\"}\n```",
    );
    h.upstream(&job, UpstreamEvent::Bytes(b"data: [DONE]\n\n".to_vec()));
    let events = h.events(&sid);
    assert_eq!(
        names(&events),
        vec!["message_chunk", "safety_alert", "mode_changed", "message_chunk", "message_complete"]
    );
    let alert = &events[1].1;
    assert_eq!(alert["tier"], 3);
    assert_eq!(alert["categories"], json!(["suicide"]));
    assert_eq!(alert["messageId"], id.as_str());
    assert!(alert["resources"].as_array().unwrap().iter().any(|r| r["phone"] == "988"));
    assert_eq!(events[2].1["mode"], "URGENCY");
    assert_eq!(events[2].1["previousMode"], "GREETING");
    assert!(events[2].1["reason"].as_str().unwrap().contains("judge"));
    let complete = &events[4].1;
    let reply = complete["message"].as_str().unwrap();
    assert!(reply.starts_with("Of course."));
    assert!(reply.contains("988") && reply.contains("741741"));
    assert_eq!(
        (complete["safetyTier"].clone(), complete["mode"].clone()),
        (json!(3), json!("URGENCY"))
    );
    let stored = h.safety_events();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].source, stored[0].tier), ("judge", Tier::CRISIS));
    assert_eq!(
        (stored[0].categories.clone(), stored[0].rules.clone()),
        (vec!["suicide".into()], vec!["judge".into()])
    );
    assert_eq!(stored[0].message_id, id);
    let meta = h
        .writes
        .iter()
        .rev()
        .find_map(|w| if let Write::Meta(m) = w { Some(m) } else { None });
    assert_eq!(meta.map(|m| (m.tier, m.mode.as_str())), Some((Tier::CRISIS, "URGENCY")));
    // Moderation agreeing later adds nothing: the message is tier 3 already.
    h.opinion(&id, Opinion::Moderation, moderation_answer(&["self-harm/intent"]));
    assert_eq!(h.events(&sid).len(), events.len());
    assert_eq!(h.safety_events().len(), 1);

    // A raise after the reply completed still alerts and switches the mode.
    let mut h = Harness::new(JUDGE);
    let sid = h.connected();
    let id = h.say(&sid, 1, "can we talk about something");
    let job = h.last_job();
    h.sse(&job, &["Sure."], true);
    h.judge_says(&id, r#"{"tier":3,"categories":["abuse"],"reason":"touching"}"#);
    assert_eq!(
        names(&h.events(&sid)),
        vec!["message_chunk", "message_complete", "safety_alert", "mode_changed"]
    );
    assert_eq!(h.session.meta().tier, 3);
}

#[test]
fn a_judge_raise_for_a_queued_message_reaches_its_own_reply() {
    let mut h = Harness::new(JUDGE);
    let sid = h.connected();
    h.say(&sid, 1, "hi");
    let second = h.say(&sid, 2, "ok whatever");
    assert_eq!(h.ack(&sid, 2)["queued"], true);
    h.judge_says(&second, r#"{"tier":3,"categories":["danger"],"reason":"sibling plan"}"#);
    let first_job = h.last_job();
    h.sse(&first_job, &["Hello!"], true);
    let first_reply = h.events(&sid).into_iter().find(|(n, _)| n == "message_complete").unwrap().1;
    assert_eq!(first_reply["message"], "Hello!", "the earlier reply is not changed");
    let job = h.last_job();
    let UpstreamRequest::Http(req) = &job.request else { panic!() };
    let body: Value = serde_json::from_str(&req.body).unwrap();
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Safety tier: 3") && system.contains("URGENCY"));
    h.sse(&job, &["I'm here."], true);
    let last = h.events(&sid).into_iter().rev().find(|(n, _)| n == "message_complete").unwrap().1;
    assert!(last["message"].as_str().unwrap().contains("988"));
}

#[test]
fn the_judge_raises_but_never_lowers() {
    // Tier 1 from the judge on a message the rules put at tier 3 changes nothing.
    let mut h = Harness::new(JUDGE);
    let sid = h.connected();
    let id = h.say(&sid, 1, "i want to kill myself");
    let before = h.events(&sid).len();
    h.judge_says(&id, r#"{"tier":1,"categories":[],"reason":"figure of speech"}"#);
    h.judge_says(&id, r#"{"tier":3,"categories":["suicide"],"reason":"intent"}"#);
    assert_eq!(h.events(&sid).len(), before, "no second alert for a tier the message has");
    assert_eq!(h.session.meta().tier, 3);
    let job = h.last_job();
    h.sse(&job, &["I hear you."], true);
    let complete = h.events(&sid).into_iter().find(|(n, _)| n == "message_complete").unwrap().1;
    assert!(complete["message"].as_str().unwrap().contains("988"));
    assert_eq!(h.safety_events().iter().filter(|e| e.source == "judge").count(), 0);

    // Tier 2: a substances alert with SAMHSA, no URGENCY, no crisis resources in the reply.
    let mut h = Harness::new(JUDGE);
    let sid = h.connected();
    let id = h.say(&sid, 1, "my dad was weird again last night");
    h.judge_says(&id, r#"{"tier":2,"categories":["substances"],"reason":"parent drinking"}"#);
    let events = h.events(&sid);
    assert_eq!(names(&events), vec!["safety_alert"]);
    assert_eq!(events[0].1["tier"], 2);
    assert_eq!(events[0].1["resources"][0]["phone"], "1-800-662-4357");
    assert_eq!(h.session.meta().tier, 2);
    // A later tier 3 for the same message raises it again; a tier 2 after that does not.
    h.judge_says(&id, r#"{"tier":3,"categories":["abuse"],"reason":"hit"}"#);
    h.judge_says(&id, r#"{"tier":2,"categories":["substances"],"reason":"drinking"}"#);
    assert_eq!(names(&h.events(&sid)), vec!["safety_alert", "safety_alert", "mode_changed"]);

    // A session already at tier 3 and in URGENCY: a tier-2 raise for a later message alerts
    // for that message and lowers nothing.
    let mut h = Harness::new(JUDGE);
    let sid = h.connected();
    h.say(&sid, 1, "i want to die");
    let job = h.last_job();
    h.sse(&job, &["ok"], true);
    let id = h.say(&sid, 2, "can we talk about my weekend");
    let before = h.events(&sid).len();
    h.judge_says(&id, r#"{"tier":2,"categories":["substances"],"reason":"drugs"}"#);
    let events = h.events(&sid);
    assert_eq!(names(&events[before..]), vec!["safety_alert"]);
    assert_eq!((h.session.meta().tier, h.session.meta().mode.as_str()), (Tier::CRISIS, "URGENCY"));
}

#[test]
fn judge_failures_change_nothing_and_log_no_text() {
    let text = "pineapple is the secret nobody may log";
    let malformed = [
        "not json",
        r#"{"tier":0,"categories":[]}"#,
        r#"{"tier":4,"categories":["suicide"]}"#,
        r#"{"tier":"3","categories":["suicide"]}"#,
        r#"{"tier":3,"categories":"suicide"}"#,
        r#"{"tier":3,"categories":["violence"]}"#,
        r#"{"categories":["suicide"]}"#,
    ];
    let mut results: Vec<OpinionResult> = malformed
        .iter()
        .map(|content| OpinionResult::Answer {
            status: 200,
            body: json!({ "choices": [{ "message": { "role": "assistant", "content": content } }] }).to_string(),
        })
        .collect();
    results.extend([
        OpinionResult::Answer {
            status: 200,
            body: "<html>gateway</html>".into(),
        },
        OpinionResult::Answer {
            status: 500,
            body: r#"{"error":{"message":"boom"}}"#.into(),
        },
        OpinionResult::Failed("connection reset".into()),
        OpinionResult::Timeout,
    ]);
    for result in results {
        let mut h = Harness::new(JUDGE);
        let sid = h.connected();
        let id = h.say(&sid, 1, text);
        let job = h.last_job();
        h.sse(&job, &["Tell me more."], false);
        h.opinion(&id, Opinion::Judge, result.clone());
        h.upstream(&job, UpstreamEvent::Bytes(b"data: [DONE]\n\n".to_vec()));
        let events = h.events(&sid);
        assert_eq!(names(&events), vec!["message_chunk", "message_complete"], "{result:?}");
        assert_eq!(events[1].1["message"], "Tell me more.");
        assert_eq!((h.session.meta().tier, h.session.meta().mode.as_str()), (Tier::NONE, "GREETING"));
        assert!(h.safety_events().is_empty());
        let failed: Vec<&Record> = h.logs.iter().filter(|r| r.msg == "judge_failed").collect();
        assert_eq!(failed.len(), 1, "{result:?}");
        assert_eq!(failed[0].level, Level::Warn);
        assert_eq!(failed[0].fields["messageId"], id.as_str());
        for record in &h.logs {
            assert!(!record.to_line(0).contains(text), "{record:?}");
        }
    }
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

/// A long-polling connection takes one WebSocket: another one, while the first is upgrading
/// or after it switched, is a duplicate; an abandoned upgrade lets the connection try again.
#[test]
fn a_polling_connection_has_one_websocket() {
    let mut h = Harness::new(&[]);
    let (conn, _) = h.session.open(h.now, None, Transport::Polling);
    let sid = conn.sid;
    assert_eq!(h.session.upgrade(h.now, "session-1.nope").0, UpgradeDecision::Unknown);
    assert_eq!(h.session.upgrade(h.now, &sid).0, UpgradeDecision::Accept);
    assert_eq!(h.session.upgrade(h.now, &sid).0, UpgradeDecision::Duplicate, "while upgrading");
    // The first WebSocket closes before "5": polling carries on and may upgrade again.
    let out = h.session.upgrade_abandoned(h.now, &sid);
    h.take(out);
    assert!(h.closed.is_empty());
    assert_eq!(h.session.connection(&sid).unwrap().transport, Transport::Polling);
    assert_eq!(h.session.upgrade(h.now, &sid).0, UpgradeDecision::Accept);
    let out = h.session.frame(h.now, &sid, Frame::Text("2probe".into()), Transport::Websocket);
    h.take(out);
    let out = h.session.frame(h.now, &sid, Frame::Text("5".into()), Transport::Websocket);
    h.take(out);
    assert_eq!(h.session.upgrade(h.now, &sid).0, UpgradeDecision::Duplicate, "after the switch");
    // A WebSocket connection has nothing to upgrade.
    let ws = h.open();
    assert_eq!(h.session.upgrade(h.now, &ws).0, UpgradeDecision::Duplicate);
    assert!(h.closed.is_empty(), "refusing a duplicate closes nothing that works");
}

/// The alarm is always set in the future: an alarm that fires a moment early re-arms for
/// its deadline, and one that fires late still asks for a time after now.
#[test]
fn the_alarm_is_never_set_in_the_past() {
    let mut h = Harness::new(&[
        ("PING_INTERVAL_MS", "1000"),
        ("PING_TIMEOUT_MS", "500"),
        ("CONNECT_TIMEOUT_MS", "3000"),
    ]);
    let sid = h.connected();
    assert_eq!(h.alarm, Some(2_000));
    // Early: nothing is due yet; the deadline stands.
    h.now = 1_999;
    let out = h.session.tick(h.now);
    h.take(out);
    assert_eq!(h.alarm, Some(2_000));
    // Late by a second: the ping goes out and the timeout counts from it.
    h.now = 3_000;
    let out = h.session.tick(h.now);
    h.take(out);
    assert!(h.sent.iter().any(|(s, f)| *s == sid && *f == Frame::Text("2".into())));
    assert_eq!(h.alarm, Some(3_500));
    // A frame handled after the deadline passed (the alarm not yet run) asks for now + 1.
    h.now = 3_600;
    h.text(&sid, "6");
    assert_eq!(h.alarm, Some(3_601));
    let out = h.session.tick(h.now);
    h.take(out);
    assert_eq!(h.closed, vec![(sid, 1000)]);
}

/// Danger that builds over a conversation raises the tier at the message that tips it,
/// and the window is rebuilt from the stored history when the session is restored.
#[test]
fn context_raises_the_tier_across_messages_and_survives_a_restore() {
    let build = [
        "i'm so tired of all of it",
        "i feel like i'm just taking up space",
        // Leans toward suicide without reaching its threshold alone.
        "i don't think i can keep doing this",
    ];
    /// A fresh session that says each line and gets each reply; the harness and the socket id.
    fn conversation(lines: &[&str]) -> (Harness, String) {
        let mut h = Harness::new(&[]);
        let sid = h.connected();
        for (i, text) in lines.iter().enumerate() {
            h.say(&sid, i as u64 + 1, text);
            let job = h.last_job();
            h.sse(&job, &["ok"], true);
        }
        (h, sid)
    }
    // One session that sees all three.
    let (h, sid) = conversation(&build);
    let alerts: Vec<Value> = h
        .events(&sid)
        .into_iter()
        .filter(|(n, _)| n == "safety_alert")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(alerts.len(), 1, "one alert, at the message that tips it");
    assert_eq!(alerts[0]["tier"], 3);
    assert!(h.safety_events().iter().any(|e| e.rules.iter().any(|r| r == "context.suicide")));

    // A session restored with the first two messages stored sees the same at the third.
    let stored: Vec<mia_server::conversation::store::Message> = build[..2]
        .iter()
        .enumerate()
        .map(|(i, text)| mia_server::conversation::store::Message {
            id: format!("m{i}"),
            role: Role::User,
            content: text.to_string(),
            ts: 1_000 + i as u64,
            interrupted: false,
        })
        .collect();
    let mut r = Harness::restored(&[], stored);
    let sid = r.connected();
    r.emit(&sid, 1, "message", json!({ "message": build[2] }));
    let alert = r.events(&sid).into_iter().find(|(n, _)| n == "safety_alert").map(|(_, p)| p);
    assert_eq!(alert.expect("the restored context tips it")["tier"], 3);

    // Without the earlier messages the last one alone raises nothing, and without the first
    // the other two do not reach it either: the whole build counts.
    for lines in [&build[2..], &build[1..]] {
        let (h, sid) = conversation(lines);
        assert!(!h.events(&sid).iter().any(|(n, _)| n == "safety_alert"), "{lines:?}");
    }
}

// ---- The original's join_session flow: relays between sessions (CONTRACT §2) ----

impl Harness {
    /// Opens a connection whose session id the Worker minted (no `query.sessionId`).
    fn open_minted(&mut self) -> String {
        let (conn, out) = self
            .session
            .open_for(self.now, None, Transport::Websocket, true, Some("203.0.113.7".into()));
        self.take(out);
        conn.sid
    }

    fn token(&self, user: &str) -> String {
        mia_server::auth::mint(SECRET, user, self.now, 3600)
    }

    fn relay_failed(&mut self, sid: &str, refusal: Refusal) {
        let out = self.session.relay_failed(self.now, sid, refusal);
        self.take(out);
    }

    /// The target session's object: claimed by `owner` (a token user) with one exchange.
    fn target(owner: Option<&str>) -> Harness {
        let mut t = Harness::new(&[]);
        t.now = 1_800_000_000_000;
        let sid = t.open();
        match owner {
            Some(user) => {
                let token = t.token(user);
                t.text(&sid, &format!("40{}", json!({ "token": token })));
            }
            None => t.text(&sid, "40"),
        }
        t.say(&sid, 1, "hello mia");
        let job = t.last_job();
        t.sse(&job, &["hi ", "there"], true);
        t.text(&sid, "41");
        let out = t.session.closed(t.now, &sid);
        t.take(out);
        t.sent.clear();
        t
    }
}

fn relay_frames(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Text(t) => t.clone(),
            Frame::Binary(b) => format!("<{} bytes>", b.len()),
        })
        .collect()
}

#[test]
fn a_minted_connection_joining_a_stored_id_is_relayed_and_stores_nothing_here() {
    let mut h = Harness::new(&[]);
    h.now = 1_800_000_000_000;
    let sid = h.open_minted();
    let token = h.token("alice");
    h.text(&sid, &format!("40{}", json!({ "token": token })));
    assert!(h.writes.is_empty(), "a connection that may join elsewhere claims nothing yet");
    h.emit(&sid, 7, "join_session", json!({ "sessionId": "stored-session-42" }));
    match h.relays.as_slice() {
        [RelayCommand::Open {
            sid: s,
            session_id,
            identity,
            first,
        }] => {
            assert_eq!((s.as_str(), session_id.as_str()), (sid.as_str(), "stored-session-42"));
            assert_eq!(
                identity,
                &Identity {
                    user_id: "alice".into(),
                    authenticated: true,
                    client_address: Some("203.0.113.7".into()),
                    // The token's exp (an hour) and leeway: the target puts the socket out then.
                    expires_at: Some(1_800_000_000_000 + 3_600_000 + 30_000),
                }
            );
            // The join itself travels, ack id and all, so the target answers it.
            assert_eq!(
                relay_frames(first),
                vec![format!("427{}", json!(["join_session", { "sessionId": "stored-session-42" }]))]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        h.events(&sid).is_empty() && h.acks(&sid).is_empty(),
        "the target answers, not this object"
    );
    // Everything Socket.IO goes through the relay undecoded; Engine.IO stays here.
    h.emit(&sid, 8, "message", json!({ "sessionId": "stored-session-42", "message": "hi" }));
    h.text(&sid, "3");
    match h.relays.last() {
        Some(RelayCommand::Send { frames, .. }) => assert!(relay_frames(frames)[0].starts_with("428[\"message\"")),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.relays.len(), 2, "the pong is not forwarded");
    let out = h.session.relay_opened(h.now, &sid);
    h.take(out);
    let out = h.session.relayed(
        h.now,
        &sid,
        Frame::Text("42[\"session_created\",{\"sessionId\":\"stored-session-42\"}]".into()),
    );
    h.take(out);
    let out = h.session.relayed(h.now, &sid, Frame::Text("0{\"sid\":\"forged\"}".into()));
    h.take(out);
    assert_eq!(names(&h.events(&sid)), vec!["session_created"]);
    assert!(
        !h.sent.iter().any(|(_, f)| matches!(f, Frame::Text(t) if t.contains("forged"))),
        "only Socket.IO packets come back"
    );
    assert!(
        h.jobs.is_empty() && h.writes.is_empty(),
        "this object stored nothing for its own id"
    );
    let out = h.session.closed(h.now, &sid);
    h.take(out);
    assert!(matches!(h.relays.last(), Some(RelayCommand::Close { sid: s }) if *s == sid));
}

#[test]
fn an_unknown_id_keeps_the_fresh_minted_session() {
    let mut h = Harness::new(&[]);
    let sid = h.open_minted();
    h.text(&sid, "40");
    h.emit(&sid, 1, "join_session", json!({ "sessionId": "nobody-has-this-id" }));
    h.emit(&sid, 2, "message", json!({ "message": "queued while the relay opened" }));
    assert_eq!(h.relays.len(), 2);
    h.relay_failed(&sid, Refusal::Unknown);
    let created = h.events(&sid).into_iter().find(|(n, _)| n == "session_created").unwrap().1;
    assert_eq!(
        (created["sessionId"].clone(), created["isNew"].clone()),
        (json!("session-1"), json!(true))
    );
    assert_eq!(h.ack(&sid, 1), json!({ "ok": true, "sessionId": "session-1" }));
    assert_eq!(
        h.session.meta().owner,
        mia_server::conversation::store::Owner::Nobody,
        "now the session is claimed"
    );
    assert!(h.writes.is_empty(), "and stored with its first message, not before");
    // The frames held while the relay opened come back to this object (the shell replays them).
    h.text(
        &sid,
        &format!("422{}", json!(["message", { "message": "queued while the relay opened" }])),
    );
    assert_eq!(h.ack(&sid, 2)["ok"], true);
    assert!(
        matches!(h.commits[0].first(), Some(Write::Meta(_))),
        "stored with its first message"
    );
    // Settled: another id is a mismatch now.
    h.emit(&sid, 3, "join_session", json!({ "sessionId": "stored-session-42" }));
    assert_eq!(h.ack(&sid, 3)["error"]["code"], "SESSION_MISMATCH");
    assert_eq!(h.relays.len(), 2, "no second relay");
}

#[test]
fn join_with_null_or_nothing_keeps_the_own_session_and_settles_it() {
    for payload in [json!({ "sessionId": null }), json!({}), json!({ "sessionId": "short" })] {
        let mut h = Harness::new(&[]);
        let sid = h.open_minted();
        h.text(&sid, "40");
        h.emit(&sid, 1, "join_session", payload.clone());
        assert_eq!(h.ack(&sid, 1), json!({ "ok": true, "sessionId": "session-1" }), "{payload}");
        assert!(h.relays.is_empty());
        h.emit(&sid, 2, "join_session", json!({ "sessionId": "stored-session-42" }));
        assert_eq!(h.ack(&sid, 2)["error"]["code"], "SESSION_MISMATCH");
        h.emit(&sid, 3, "message", json!({ "sessionId": "stored-session-42", "message": "hi" }));
        assert_eq!(h.ack(&sid, 3)["error"]["code"], "SESSION_MISMATCH");
    }
    // A first message to its own session settles it too.
    let mut h = Harness::new(&[]);
    let sid = h.open_minted();
    h.text(&sid, "40");
    h.say(&sid, 1, "hello");
    h.emit(&sid, 2, "join_session", json!({ "sessionId": "stored-session-42" }));
    assert_eq!(h.ack(&sid, 2)["error"]["code"], "SESSION_MISMATCH");
}

#[test]
fn a_refused_or_failed_relay_is_answered_and_the_socket_may_try_again() {
    let mut h = Harness::new(&[]);
    let sid = h.open_minted();
    h.text(&sid, "40");
    for (ack, refusal, code, retryable) in [
        (1, Refusal::Forbidden, "FORBIDDEN", false),
        (2, Refusal::TooMany, "TOO_MANY_CONNECTIONS", true),
        (3, Refusal::Failed, "SESSION_UNAVAILABLE", true),
    ] {
        h.emit(&sid, ack, "join_session", json!({ "sessionId": "stored-session-42" }));
        h.relay_failed(&sid, refusal);
        assert_eq!(h.ack(&sid, ack)["error"]["code"], code);
        let error = h.events(&sid).into_iter().rev().find(|(n, _)| n == "error").unwrap().1;
        assert_eq!((error["code"].clone(), error["retryable"].clone()), (json!(code), json!(retryable)));
    }
    assert!(h.writes.is_empty());
    assert_eq!(h.relays.iter().filter(|r| matches!(r, RelayCommand::Open { .. })).count(), 3);
}

#[test]
fn a_relay_lost_after_opening_errors_retryably_until_the_socket_joins_again() {
    let mut h = Harness::new(&[]);
    let sid = h.open_minted();
    h.text(&sid, "40");
    h.emit(&sid, 1, "join_session", json!({ "sessionId": "stored-session-42" }));
    let out = h.session.relay_opened(h.now, &sid);
    h.take(out);
    h.relay_failed(&sid, Refusal::Failed);
    let error = h.events(&sid).into_iter().find(|(n, _)| n == "error").unwrap().1;
    assert_eq!(
        (error["code"].clone(), error["retryable"].clone()),
        (json!("SESSION_UNAVAILABLE"), json!(true))
    );
    h.emit(&sid, 2, "message", json!({ "message": "anyone there?" }));
    assert_eq!(h.ack(&sid, 2)["error"]["code"], "SESSION_UNAVAILABLE", "never silently dropped");
    h.emit(&sid, 3, "join_session", json!({ "sessionId": "another-session-9" }));
    assert_eq!(h.ack(&sid, 3)["error"]["code"], "SESSION_MISMATCH");
    h.emit(&sid, 4, "join_session", json!({ "sessionId": "stored-session-42" }));
    assert!(matches!(h.relays.last(), Some(RelayCommand::Open { session_id, .. }) if session_id == "stored-session-42"));
    assert!(h.writes.is_empty() && h.jobs.is_empty());
    // A protocol violation the target closed the relay for closes the client's connection.
    let out = h.session.relay_opened(h.now, &sid);
    h.take(out);
    h.relay_failed(&sid, Refusal::Closed(1002));
    assert_eq!(h.closed, vec![(sid.clone(), 1002)]);
    assert!(
        matches!(h.relays.last(), Some(RelayCommand::Open { .. })),
        "its relay had already ended"
    );
    let sid = h.open_minted();
    h.text(&sid, "40");
    h.emit(&sid, 1, "join_session", json!({ "sessionId": "stored-session-42" }));
    let out = h.session.relay_opened(h.now, &sid);
    h.take(out);
    h.relay_failed(&sid, Refusal::Closed(1000));
    assert!(
        h.session.connection(&sid).is_some(),
        "a plain close keeps the client, with an error"
    );
    // A restarted object has no relays: the core hears so for every remembered one.
    h.emit(&sid, 2, "join_session", json!({}));
    assert!(matches!(h.relays.last(), Some(RelayCommand::Open { session_id, .. }) if session_id == "stored-session-42"));
    let out = h.session.relays_lost(h.now);
    h.take(out);
    assert_eq!(h.ack(&sid, 2)["error"]["code"], "SESSION_UNAVAILABLE");
    let errors = h.events(&sid).into_iter().filter(|(n, _)| n == "error").count();
    assert_eq!(errors, 2);
}

#[test]
fn the_target_admits_relays_through_the_ownership_check() {
    // Nothing stored: unknown, and nothing is written.
    let mut fresh = Harness::new(&[]);
    let id = |user: &str, authenticated| Identity {
        user_id: user.into(),
        authenticated,
        client_address: None,
        expires_at: None,
    };
    assert_eq!(
        fresh.session.admit_relay(fresh.now, &id("alice", true)).err(),
        Some(Refusal::Unknown)
    );
    assert!(fresh.writes.is_empty());

    let mut t = Harness::target(Some("alice"));
    assert_eq!(t.session.admit_relay(t.now, &id("mallory", true)).err(), Some(Refusal::Forbidden));
    assert_eq!(t.session.admit_relay(t.now, &id("alice", false)).err(), Some(Refusal::Forbidden));
    let (peer, out) = t.session.admit_relay(t.now, &id("alice", true)).expect("the owner is admitted");
    t.take(out);
    let peer = peer.sid;
    // The forwarded join is answered like a direct one: history and all.
    t.emit(&peer, 7, "join_session", json!({ "sessionId": "session-1" }));
    let created = t.events(&peer).into_iter().find(|(n, _)| n == "session_created").unwrap().1;
    assert_eq!(created["userId"], "alice");
    assert_eq!(created["isNew"], false);
    let history: Vec<&str> = created["conversationHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(history, vec!["hello mia", "hi there"]);
    assert_eq!(t.ack(&peer, 7)["ok"], true);
    // Ids are still checked there.
    t.emit(&peer, 8, "join_session", json!({ "sessionId": "another-session-9" }));
    assert_eq!(t.ack(&peer, 8)["error"]["code"], "SESSION_MISMATCH");
    t.emit(&peer, 9, "message", json!({ "sessionId": "another-session-9", "message": "hi" }));
    assert_eq!(t.ack(&peer, 9)["error"]["code"], "SESSION_MISMATCH");
    // A second (direct) tab and the relayed one see the same stream; the relay is never pinged.
    let tab = t.open();
    t.text(&tab, &format!("40{}", json!({ "token": t.token("alice") })));
    t.say(&tab, 1, "second message");
    let job = t.last_job();
    t.sse(&job, &["one"], true);
    for sid in [&peer, &tab] {
        assert!(t.events(sid).iter().any(|(n, p)| n == "message_complete" && p["message"] == "one"));
    }
    t.now += 10 * 60_000;
    let out = t.session.tick(t.now);
    t.take(out);
    assert!(!t.sent.iter().any(|(s, f)| *s == peer && *f == Frame::Text("2".into())));
    assert!(!t.closed.iter().any(|(s, _)| *s == peer), "its liveness is the relay's own");

    // An ownerless session admits anyone, as a direct connection would.
    let mut open = Harness::target(None);
    assert!(open.session.admit_relay(open.now, &id("anon_x", false)).is_ok());
    // No more than MAX_SOCKETS_PER_SESSION.
    let mut full = Harness::target(None);
    let cap = 20;
    for _ in 0..cap {
        let _ = full.session.admit_relay(full.now, &id("anon_x", false));
    }
    assert_eq!(
        full.session.admit_relay(full.now, &id("anon_x", false)).err(),
        Some(Refusal::TooMany)
    );
}

#[test]
fn a_reply_still_streaming_reaches_a_relayed_join() {
    let mut t = Harness::target(None);
    let tab = t.open();
    t.text(&tab, "40");
    t.say(&tab, 1, "tell me a story");
    let job = t.last_job();
    t.sse(&job, &["once "], false);
    let (peer, out) = t
        .session
        .admit_relay(
            t.now,
            &Identity {
                user_id: "anon_y".into(),
                authenticated: false,
                client_address: None,
                expires_at: None,
            },
        )
        .unwrap();
    t.take(out);
    t.emit(&peer.sid, 2, "join_session", json!({}));
    let created = t.events(&peer.sid).into_iter().find(|(n, _)| n == "session_created").unwrap().1;
    assert_eq!(created["streaming"]["partial"], "once ");
    t.sse(&job, &["upon"], true);
    let chunks: Vec<Value> = t
        .events(&peer.sid)
        .into_iter()
        .filter(|(n, _)| n == "message_chunk")
        .map(|(_, p)| p["chunk"].clone())
        .collect();
    assert_eq!(chunks, vec![json!("upon")]);
    // A cancel through the relay stops the reply as a direct one would.
    t.say(&tab, 3, "another");
    t.emit(&peer.sid, 4, "cancel", json!({}));
    assert_eq!(t.ack(&peer.sid, 4)["cancelled"], true);
}

// ---- durability: transactions, crash recovery, storage failures, retention ----

use mia_server::conversation::mode::Mode;
use mia_server::conversation::store::{Message, Meta, Owner, Pending};
use mia_server::conversation::PARTIAL_SAVE_MS;

impl Harness {
    /// A session restarted on this storage: its row, history and the replies still owed.
    fn from_storage(pairs: &[(&str, &str)], meta: Meta, history: Vec<Message>, pending: Vec<Pending>) -> Self {
        let mut h = Self::restored(pairs, Vec::new());
        let cfg = h.session_config(pairs);
        h.session = Session::restore(cfg, "session-1", Some(meta), history, Vec::new(), h.now);
        let out = h.session.recover(h.now, pending);
        h.take(out);
        h
    }

    fn session_config(&self, pairs: &[(&str, &str)]) -> Config {
        let mut all = vec![("OPENAI_API_KEY", "sk-test"), ("JWT_SECRET", SECRET)];
        all.extend_from_slice(pairs);
        config(&all)
    }

    /// `session_created` for a new socket.
    fn rejoin(&mut self) -> (String, Value) {
        let sid = self.connected();
        self.emit(&sid, 900, "join_session", json!({}));
        let created = self
            .events(&sid)
            .into_iter()
            .find(|(n, _)| n == "session_created")
            .expect("joined")
            .1;
        (sid, created)
    }

    fn fail_last_commit(&mut self) {
        let commit = self.commits.last().expect("a commit").clone();
        let out = self
            .session
            .storage_failed(self.now, commit, "string or blob too big: SQLITE_TOOBIG");
        self.take(out);
    }
}

fn stored_meta() -> Meta {
    Meta {
        session_id: "session-1".into(),
        owner: Owner::Nobody,
        age: None,
        mode: Mode::Greeting,
        tier: Tier::NONE,
        fundraising_left: 0,
        created_at: 500,
        updated_at: 500,
    }
}

fn user(id: &str, text: &str, ts: u64) -> Message {
    Message {
        id: id.into(),
        role: Role::User,
        content: text.into(),
        ts,
        interrupted: false,
    }
}

fn owed(reply_id: &str, user_message: &str, tier: u8, partial: &str) -> Pending {
    Pending {
        reply_id: reply_id.into(),
        user_message: user_message.into(),
        tier: Tier::clamped(tier),
        partial: partial.into(),
    }
}

fn kinds(commit: &[Write]) -> Vec<&'static str> {
    commit
        .iter()
        .map(|w| match w {
            Write::Meta(_) => "meta",
            Write::Owed { .. } => "user",
            Write::Message(_) => "reply",
            Write::SafetyEvent(_) => "safety",
            Write::Partial { .. } => "partial",
            Write::Unowed { .. } => "unowed",
            Write::Forget { .. } => "forget",
        })
        .collect()
}

#[test]
fn nothing_is_stored_for_a_session_until_its_first_message() {
    let mut h = Harness::new(&[]);
    let silent = h.open();
    let (sid, created) = h.rejoin();
    assert_eq!(created["isNew"], true);
    h.emit(&sid, 2, "message", json!({ "message": "   " }));
    h.emit(&sid, 3, "cancel", json!({}));
    h.now += 50_000;
    let out = h.session.tick(h.now);
    h.take(out);
    assert!(h.closed.iter().any(|(s, _)| *s == silent), "the silent socket timed out");
    assert!(
        h.commits.is_empty(),
        "a connection, a join, a refused message and a timeout store nothing"
    );
    assert!(!h.session.is_stored());

    h.say(&sid, 4, "hello");
    assert_eq!(h.commits.len(), 1);
    assert_eq!(
        kinds(&h.commits[0]),
        ["meta", "user"],
        "the session row comes with the first message"
    );
    let Write::Meta(m) = &h.commits[0][0] else { unreachable!() };
    assert_eq!(m.owner, Owner::Nobody);
}

/// A session whose socket connected with alice's token and has sent no message yet.
fn claimed_by_alice_unstored() -> (Harness, String) {
    let mut h = Harness::new(&[]);
    h.now = 1_800_000_000_000;
    let alice = h.token("alice");
    let a = h.open();
    h.text(&a, &format!("40{}", json!({ "token": alice })));
    (h, a)
}

#[test]
fn the_owner_of_an_unstored_session_outlives_hibernation() {
    let (h, a) = claimed_by_alice_unstored();
    let conn = h.session.connection(&a).unwrap().clone();
    // The object is evicted with nothing stored; the socket's attachment remains.
    let cfg = h.session_config(&[]);
    let again = Session::restore(cfg, "session-1", None, Vec::new(), vec![conn], h.now);
    assert_eq!(again.meta().owner, Owner::User("alice".into()));
}

#[test]
fn a_relay_to_an_unstored_claimed_session_is_decided_alike_before_and_after_hibernation() {
    // The target's shell asks admit_relay alone, whether or not its object was evicted.
    let (mut h, a) = claimed_by_alice_unstored();
    let id = |user: &str| Identity {
        user_id: user.into(),
        authenticated: true,
        client_address: None,
        expires_at: None,
    };
    let conn = h.session.connection(&a).unwrap().clone();
    let mut woke = Session::restore(h.session_config(&[]), "session-1", None, Vec::new(), vec![conn], h.now);
    for session in [&mut h.session, &mut woke] {
        assert_eq!(session.admit_relay(h.now, &id("mallory")).err(), Some(Refusal::Forbidden));
        assert!(session.admit_relay(h.now, &id("alice")).is_ok());
        assert!(!session.is_stored());
    }
}

#[test]
fn each_step_is_one_transaction_and_a_reply_is_saved_as_it_streams() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    h.say(&sid, 1, "I want to kill myself");
    assert_eq!(
        h.commits.len(),
        1,
        "the message, its safety event, the session row and the reply owed: one transaction"
    );
    assert_eq!(kinds(&h.commits[0]), ["user", "safety", "meta"]);
    let job = h.last_job();
    h.upstream(
        &job,
        UpstreamEvent::Status {
            code: 200,
            retry_after_ms: None,
        },
    );
    // A chunk every 100 ms: saved once PARTIAL_SAVE_MS has passed since the first, then the last save.
    let mut saved_at = Vec::new();
    for i in 0..12u64 {
        let before = h.commits.len();
        let line = format!("data: {}\n\n", json!({"choices": [{"delta": {"content": format!("w{i} ")}}]}));
        h.upstream(&job, UpstreamEvent::Bytes(line.into_bytes()));
        if h.commits.len() > before {
            let Some(Write::Partial { text, reply_id, .. }) = h.commits.last().unwrap().first() else {
                panic!("a partial save expected")
            };
            assert_eq!(*reply_id, job.reply_id);
            assert_eq!(text.split(' ').filter(|w| !w.is_empty()).count() as u64, i + 1);
            assert!(text.ends_with(&format!("w{i} ")));
            saved_at.push(i * 100);
        }
        h.now += 100;
    }
    assert_eq!(saved_at, [500, 1000]);
    assert!(saved_at.windows(2).all(|w| w[1] - w[0] >= PARTIAL_SAVE_MS));
    // The crisis resources come as a last chunk, due for a save: the reply's own write replaces it.
    h.now += 400;
    let before = h.commits.len();
    h.upstream(&job, UpstreamEvent::Bytes(b"data: [DONE]\n\n".to_vec()));
    let Some(Write::Message(reply)) = h.commits.last().unwrap().first() else {
        panic!()
    };
    assert!(reply.content.contains("988"));
    assert_eq!(h.commits.len(), before + 1, "the reply is one transaction");
    assert_eq!(kinds(h.commits.last().unwrap()), ["reply"], "with no partial save beside it");
    // Per message: 1 transaction on arrival, 1 for the reply, and one per 500 ms of streaming.
    assert_eq!(h.commits.len(), 1 + 2 + 1);

    // A reply streamed within 500 ms: two transactions for the message and its reply, no more.
    let before = h.commits.len();
    h.say(&sid, 2, "thank you");
    let job = h.last_job();
    h.sse(&job, &["You're ", "welcome", "."], true);
    assert_eq!(h.commits.len(), before + 2);
}

#[test]
fn a_restart_stores_the_interrupted_reply_and_answers_what_was_owed() {
    let history = vec![
        user("m1", "my dog ran away", 600),
        user("m2", "are you there?", 700),
        user("m3", "I want to kill myself", 800),
    ];
    let pending = vec![
        owed("r1", "m1", 1, "Oh no, I'm so"),
        owed("r2", "m2", 1, ""),
        owed("r3", "m3", 3, ""),
    ];
    let mut h = Harness::from_storage(&[], stored_meta(), history, pending);
    // The cut reply is stored as it was saved, interrupted, in one transaction with its row cleared.
    assert_eq!(kinds(&h.commits[0]), ["reply"]);
    let Write::Message(cut) = &h.commits[0][0] else { unreachable!() };
    assert_eq!(
        (cut.id.as_str(), cut.content.as_str(), cut.interrupted),
        ("r1", "Oh no, I'm so", true)
    );
    // The next owed message is answered now, under the reply id its ack gave.
    let job = h.last_job();
    assert_eq!(job.reply_id, "r2");
    let UpstreamRequest::Http(req) = &job.request else { panic!() };
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["messages"].as_array().unwrap().last().unwrap()["content"], "are you there?");

    // A client that rejoins sees the interrupted reply and the one being generated.
    let (sid, created) = h.rejoin();
    let shown = created["conversationHistory"].as_array().unwrap();
    let last = shown.last().unwrap();
    assert_eq!((last["id"].as_str(), last["interrupted"].as_bool()), (Some("r1"), Some(true)));
    assert_eq!(created["streaming"]["messageId"], "r2");
    assert_eq!(created["streaming"]["inReplyTo"], "m2");

    h.sse(&job, &["I'm here."], true);
    let complete = h.events(&sid).into_iter().find(|(n, _)| n == "message_complete").unwrap().1;
    assert_eq!(complete["messageId"], "r2");
    // The tier-3 message gets its crisis reply even when the model fails.
    let job = h.last_job();
    assert_eq!(job.reply_id, "r3");
    for attempt in 0..3 {
        let job = if attempt == 0 { job.clone() } else { h.last_job() };
        h.upstream(
            &job,
            UpstreamEvent::Status {
                code: 503,
                retry_after_ms: None,
            },
        );
    }
    let crisis = h
        .events(&sid)
        .into_iter()
        .find(|(n, p)| n == "message_complete" && p["messageId"] == "r3")
        .unwrap()
        .1;
    assert!(crisis["message"].as_str().unwrap().contains("988"));
    assert_eq!(
        h.stored_messages().iter().map(|(r, _, i)| (*r, *i)).collect::<Vec<_>>(),
        [(Role::Assistant, true), (Role::Assistant, false), (Role::Assistant, false)]
    );
}

#[test]
fn a_tier_three_reply_cut_by_a_restart_is_stored_with_the_crisis_resources() {
    let history = vec![user("m1", "I want to kill myself", 600)];
    let h = Harness::from_storage(
        &[],
        stored_meta(),
        history,
        vec![owed("r1", "m1", 3, "I'm really glad you told me")],
    );
    let Write::Message(cut) = &h.commits[0][0] else { panic!() };
    assert!(cut.interrupted);
    assert!(cut.content.starts_with("I'm really glad you told me"));
    assert!(cut.content.contains("988"), "{}", cut.content);
    assert!(h.jobs.is_empty(), "an interrupted reply is not generated again");
}

#[test]
fn a_judge_raise_is_stored_where_a_restart_finds_the_tier_of_the_reply_owed() {
    let mut h = Harness::new(&[("SAFETY_MODEL", "judge")]);
    let sid = h.connected();
    h.say(&sid, 1, "hi");
    let second = h.say(&sid, 2, "everything is pointless");
    h.judge_says(&second, r#"{"tier":3,"categories":["suicide"],"reason":"hopeless"}"#);
    // `store::LOAD_OWED` gives a reply owed the highest tier among its message's safety events.
    let highest = h
        .safety_events()
        .into_iter()
        .filter(|e| e.message_id == second)
        .map(|e| e.tier)
        .max();
    assert_eq!(highest, Some(Tier::CRISIS));
    assert!(mia_server::conversation::store::LOAD_OWED.contains("max(e.tier)"));
}

#[test]
fn a_failed_transaction_is_told_to_the_client_and_memory_follows_storage() {
    let mut h = Harness::new(&[]);
    let sid = h.connected();
    // The user message cannot be stored: it is not answered, and the client is told.
    let lost = h.say(&sid, 1, "hello");
    let job = h.last_job();
    h.fail_last_commit();
    let error = h.events(&sid).into_iter().rfind(|(n, _)| n == "error").unwrap().1;
    assert_eq!(error["code"], "STORAGE_FAILED");
    assert_eq!(error["retryable"], true);
    assert_eq!(error["messageId"], lost.as_str());
    assert_eq!(h.aborts, vec![job.reply_id.clone()]);
    assert!(!h.session.wants(&job.reply_id, job.attempt));
    let (_, created) = h.rejoin();
    assert_eq!(created["conversationHistory"], json!([]));

    // The next message carries the session row again, since the first one was lost.
    h.say(&sid, 2, "hello again");
    assert_eq!(kinds(h.commits.last().unwrap()), ["meta", "user"]);
    // A reply that cannot be stored leaves memory too, and nothing stays owed.
    let job = h.last_job();
    h.sse(&job, &["Hi!"], true);
    h.fail_last_commit();
    let error = h.events(&sid).into_iter().rfind(|(n, _)| n == "error").unwrap().1;
    assert_eq!(
        (error["code"].as_str(), error["messageId"].as_str()),
        (Some("STORAGE_FAILED"), Some(job.reply_id.as_str()))
    );
    assert_eq!(kinds(h.commits.last().unwrap()), ["forget", "unowed"]);
    let (_, created) = h.rejoin();
    let shown: Vec<&str> = created["conversationHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["hello again"]);

    // At tier 3 the crisis reply goes on even when the message could not be stored.
    h.say(&sid, 3, "I want to kill myself");
    let job = h.last_job();
    h.fail_last_commit();
    assert!(h.session.wants(&job.reply_id, job.attempt));
}

#[test]
fn an_idle_session_deletes_itself_after_the_retention_time() {
    let day = 24 * 3600 * 1000;
    let mut h = Harness::new(&[("SESSION_RETENTION_DAYS", "2")]);
    let sid = h.connected();
    h.say(&sid, 1, "hello");
    let job = h.last_job();
    h.sse(&job, &["Hi"], true);
    let last = h.now;
    h.now = last + 1_000;
    let out = h.session.closed(h.now, &sid);
    h.take(out);
    assert!(!h.deleted);
    // Closed: the alarm is the expiry, counted from the last message.
    assert_eq!(h.alarm, Some(last + 2 * day));
    let out = h.session.tick(last + 2 * day - 1);
    assert!(!out.iter().any(|o| matches!(o, Output::DeleteAll)));
    h.now = last + 2 * day;
    let out = h.session.tick(h.now);
    h.take(out.clone());
    assert!(h.deleted, "storage and alarm are deleted");
    assert!(!out.iter().any(|o| matches!(o, Output::Alarm(_) | Output::Commit(_))));
    let (_, created) = h.rejoin();
    assert_eq!(created["conversationHistory"], json!([]));
    assert_eq!(created["isNew"], true);

    // While a socket is connected, its timers drive the alarm and nothing expires; once it
    // closes past the expiry, the session goes at once.
    let mut busy = Harness::new(&[("SESSION_RETENTION_DAYS", "2")]);
    let sid = busy.connected();
    busy.say(&sid, 1, "hello");
    let job = busy.last_job();
    busy.sse(&job, &["Hi"], true);
    busy.now += 3 * day;
    let out = busy.session.tick(busy.now);
    assert!(!out.iter().any(|o| matches!(o, Output::DeleteAll)));
    let out = busy.session.closed(busy.now, &sid);
    busy.take(out);
    assert_eq!(busy.alarm, Some(busy.now + 1));
    let out = busy.session.tick(busy.now + 1);
    assert!(out.iter().any(|o| matches!(o, Output::DeleteAll)));

    // A session with nothing stored sets no expiry alarm at all.
    let mut idle = Harness::new(&[("SESSION_RETENTION_DAYS", "2")]);
    let sid = idle.connected();
    idle.alarm = None;
    let out = idle.session.closed(idle.now, &sid);
    idle.take(out);
    assert_eq!(idle.alarm, None);
}

#[test]
fn a_restored_session_expires_from_its_stored_last_message() {
    let day = 24 * 3600 * 1000;
    let history = vec![user("m1", "hello", 10 * day)];
    let mut h = Harness::from_storage(&[("SESSION_RETENTION_DAYS", "30")], stored_meta(), history, Vec::new());
    h.now = 40 * day - 1;
    let out = h.session.tick(h.now);
    assert!(!out.iter().any(|o| matches!(o, Output::DeleteAll)));
    assert!(out.iter().any(|o| matches!(o, Output::Alarm(at) if *at == 40 * day)));
    let out = h.session.tick(40 * day);
    assert!(out.iter().any(|o| matches!(o, Output::DeleteAll)));
}

#[test]
fn a_reply_owed_with_nobody_connected_sets_an_alarm_past_its_last_possible_moment() {
    let mut h = Harness::new(&[("UPSTREAM_FIRST_BYTE_TIMEOUT_MS", "1000"), ("UPSTREAM_TIMEOUT_MS", "4000")]);
    let sid = h.connected();
    let started = h.now;
    h.say(&sid, 1, "tell me about owls");
    let out = h.session.closed(h.now + 10, &sid);
    h.take(out);
    // Had the object restarted meanwhile, this wake-up restores it and finishes the reply.
    assert_eq!(h.alarm, Some(started + 1000 + 4000 + mia_server::conversation::RECOVERY_GRACE_MS));
    let job = h.last_job();
    h.sse(&job, &["Owls hunt at night."], true);
    // Answered: the alarm is the expiry again.
    assert_eq!(h.alarm, Some(h.now + 30 * 24 * 3600 * 1000));
}
