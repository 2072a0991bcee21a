//! Privacy and bad input in the session core (issue 13): ownership at connect, sids bound
//! to their client, lone surrogates, attachments before CONNECT, token lifetime and expiry,
//! and the per-client model-call refusal. Frames in, outputs out.

use mia_server::auth;
use mia_server::config::Config;
use mia_server::conversation::store::{Message, Meta, Owner, Role};
use mia_server::protocol::engineio::{Frame, Transport};
use mia_server::session::{Output, Session, SidCheck};
use serde_json::{json, Value};
use std::collections::HashMap;

const SECRET: &str = "native-test-secret-0123456789abcdef";
const T0: u64 = 1_800_000_000_000;

struct H {
    s: Session,
    now: u64,
    sent: Vec<(String, Frame)>,
    closed: Vec<(String, u16)>,
    /// User messages stored.
    stored: usize,
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut all: HashMap<String, String> = [("OPENAI_API_KEY", "sk-test"), ("JWT_SECRET", SECRET)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|k| all.get(k).cloned())
}

fn message(content: &str) -> Message {
    Message {
        id: "msg_1".into(),
        role: Role::User,
        content: content.into(),
        ts: T0 - 1000,
        interrupted: false,
    }
}

impl H {
    fn new(pairs: &[(&str, &str)]) -> H {
        Self::with(pairs, None, Vec::new())
    }

    fn with(pairs: &[(&str, &str)], owner: Option<Owner>, history: Vec<Message>) -> H {
        let meta = owner.map(|owner| Meta {
            session_id: "session-1".into(),
            owner,
            age: None,
            mode: mia_server::conversation::mode::Mode::Greeting,
            tier: mia_server::safety::Tier::NONE,
            fundraising_left: 0,
            created_at: T0 - 5000,
            updated_at: T0 - 5000,
        });
        H {
            s: Session::restore(config(pairs), "session-1", meta, history, Vec::new(), T0),
            now: T0,
            sent: Vec::new(),
            closed: Vec::new(),
            stored: 0,
        }
    }

    fn take(&mut self, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Send { sid, frames, .. } => self.sent.extend(frames.into_iter().map(|f| (sid.clone(), f))),
                Output::Close { sid, code, .. } => self.closed.push((sid, code)),
                Output::Commit(writes) => {
                    use mia_server::conversation::store::Write;
                    // User messages stored: with the reply they are owed, or alone.
                    self.stored += writes
                        .iter()
                        .filter(|w| matches!(w, Write::Owed { .. }) || matches!(w, Write::Message(m) if m.role == Role::User))
                        .count();
                }
                _ => {}
            }
        }
    }

    /// Opens a connection from `address`.
    fn open_as(&mut self, address: &str) -> String {
        let (conn, out) = self.s.open_for(self.now, None, Transport::Websocket, false, Some(address.into()));
        self.take(out);
        conn.sid
    }

    fn frame(&mut self, sid: &str, f: Frame) {
        let out = self.s.frame(self.now, sid, f, Transport::Websocket);
        self.take(out);
    }

    fn text(&mut self, sid: &str, t: &str) {
        self.frame(sid, Frame::Text(t.into()));
    }

    /// Opens and sends CONNECT with `token` (None: anonymous).
    fn connect(&mut self, token: Option<&str>) -> String {
        let sid = self.open_as("203.0.113.1");
        let payload = token.map_or(json!({}), |t| json!({ "token": t }));
        self.text(&sid, &format!("40{payload}"));
        sid
    }

    /// The text frames sent to `sid`.
    fn texts(&self, sid: &str) -> Vec<String> {
        self.sent
            .iter()
            .filter(|(s, _)| s == sid)
            .filter_map(|(_, f)| if let Frame::Text(t) = f { Some(t.clone()) } else { None })
            .collect()
    }

    fn events(&self, sid: &str) -> Vec<(String, Value)> {
        self.texts(sid)
            .into_iter()
            .filter_map(|t| {
                let v: Value = serde_json::from_str(t.strip_prefix("42")?).ok()?;
                Some((v[0].as_str()?.to_string(), v[1].clone()))
            })
            .collect()
    }

    fn connect_error(&self, sid: &str) -> Option<Value> {
        self.texts(sid)
            .iter()
            .find_map(|t| t.strip_prefix("44").and_then(|j| serde_json::from_str(j).ok()))
    }

    fn connected(&self, sid: &str) -> bool {
        self.s.connection(sid).is_some_and(|c| c.main().is_some())
    }
}

fn token(user: &str, lifetime_secs: u64) -> String {
    auth::mint(SECRET, user, T0, lifetime_secs)
}

#[test]
fn fixation_a_token_holder_never_joins_an_ownerless_session_with_history() {
    let mut h = H::with(&[], Some(Owner::Nobody), vec![message("the attacker's opener")]);
    let victim = h.connect(Some(&token("victim", 3600)));
    assert_eq!(h.connect_error(&victim).unwrap()["data"]["code"], "FORBIDDEN");
    assert!(!h.connected(&victim));
    // Whoever holds the id still joins without a token (the contract's ownerless sessions).
    let holder = h.connect(None);
    assert!(h.connected(&holder));
}

#[test]
fn fixation_a_token_holder_claims_an_empty_ownerless_session_and_the_opener_is_put_out() {
    let mut h = H::new(&[]);
    let attacker = h.connect(None);
    assert_eq!(h.s.meta().owner, Owner::Nobody);
    let victim = h.connect(Some(&token("victim", 3600)));
    assert!(h.connected(&victim));
    assert_eq!(h.s.meta().owner, Owner::User("victim".into()));
    // The attacker was told why and disconnected before she could write anything.
    assert!(!h.connected(&attacker));
    let told = h.events(&attacker);
    assert_eq!(told.last().unwrap().1["code"], "FORBIDDEN");
    assert!(h.texts(&attacker).last().unwrap() == "41");
    h.text(&victim, r#"421["message",{"message":"a secret"}]"#);
    assert!(h
        .events(&attacker)
        .iter()
        .all(|(n, _)| n != "message_complete" && n != "message_chunk"));
    // And cannot come back, with or without a token of her own.
    let again = h.connect(None);
    assert_eq!(h.connect_error(&again).unwrap()["data"]["code"], "FORBIDDEN");
    let other = h.connect(Some(&token("attacker", 3600)));
    assert_eq!(h.connect_error(&other).unwrap()["data"]["code"], "FORBIDDEN");
}

#[test]
fn owned_sessions_admit_only_their_user() {
    let mut h = H::with(&[], Some(Owner::User("u1".into())), vec![message("hi")]);
    let mine = h.connect(Some(&token("u1", 3600)));
    assert!(h.connected(&mine));
    for t in [Some(token("u2", 3600)), None] {
        let sid = h.connect(t.as_deref());
        assert_eq!(h.connect_error(&sid).unwrap()["data"]["code"], "FORBIDDEN");
    }
}

#[test]
fn a_sid_answers_only_to_the_key_it_was_opened_with() {
    let mut h = H::new(&[]);
    let sid = h.open_as("203.0.113.7");
    assert_eq!(h.s.check_sid(&sid, Some("203.0.113.7"), None), SidCheck::Ok);
    assert_eq!(h.s.check_sid(&sid, Some("198.51.100.1"), None), SidCheck::Forbidden);
    assert_eq!(h.s.check_sid(&sid, None, None), SidCheck::Forbidden);
    assert_eq!(h.s.check_sid(&sid, Some("203.0.113.7"), Some("a-token")), SidCheck::Forbidden);
    assert_eq!(h.s.check_sid("session-1.unknown", Some("203.0.113.7"), None), SidCheck::Unknown);
    // Opened with a bearer token: the same address must bring the same token.
    let (conn, _) =
        h.s.open_for(h.now, Some("tok".into()), Transport::Polling, false, Some("203.0.113.7".into()));
    assert_eq!(h.s.check_sid(&conn.sid, Some("203.0.113.7"), Some("tok")), SidCheck::Ok);
    assert_eq!(h.s.check_sid(&conn.sid, Some("203.0.113.7"), None), SidCheck::Forbidden);
}

#[test]
fn a_lone_surrogate_in_a_message_is_answered() {
    let mut h = H::new(&[]);
    let sid = h.connect(None);
    // What JSON.stringify sends for "cut emoji \ud83d".
    h.text(&sid, r#"421["message",{"message":"cut emoji \ud83d"}]"#);
    assert!(h.closed.is_empty());
    let ack = h.texts(&sid).into_iter().find(|t| t.starts_with("431")).expect("acked");
    assert!(ack.contains(r#""ok":true"#), "{ack}");
    assert_eq!(h.stored, 1);
}

#[test]
fn binary_attachments_before_connect_close_the_socket() {
    let mut h = H::new(&[]);
    let sid = h.open_as("203.0.113.1");
    h.text(&sid, r#"451-["upload",{"_placeholder":true,"num":0}]"#);
    assert_eq!(h.closed, vec![(sid.clone(), 1002)]);
    assert!(h.s.connection(&sid).is_none());
}

#[test]
fn pending_attachments_over_max_payload_close_the_socket() {
    let mut h = H::new(&[("MAX_PAYLOAD", "10000")]);
    let sid = h.connect(None);
    h.text(
        &sid,
        r#"452-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    h.frame(&sid, Frame::Binary(vec![0; 6000]));
    assert!(h.closed.is_empty());
    h.frame(&sid, Frame::Binary(vec![0; 6000]));
    assert_eq!(h.closed, vec![(sid, 1002)]);
}

#[test]
fn tokens_living_longer_than_the_cap_are_invalid() {
    let mut h = H::new(&[("MAX_TOKEN_LIFETIME_SECONDS", "86400"), ("TOKEN_TTL_SECONDS", "3600")]);
    let sid = h.connect(Some(&token("u1", 2 * 86_400)));
    assert_eq!(h.connect_error(&sid).unwrap()["data"]["code"], "AUTH_INVALID");
    let sid = h.connect(Some(&token("u1", 86_400)));
    assert!(h.connected(&sid));
}

#[test]
fn a_socket_whose_token_expires_is_refused_and_disconnected() {
    let mut h = H::new(&[]);
    let sid = h.connect(Some(&token("u1", 60)));
    let other = h.connect(Some(&token("u1", 3600)));
    h.text(&sid, r#"421["join_session",{}]"#);
    assert_eq!(h.events(&sid).last().unwrap().0, "session_created");
    // Past exp and the leeway: the next event is refused, and the socket disconnected.
    h.now = T0 + (60 + auth::LEEWAY_SECS as u64) * 1000;
    h.text(&sid, r#"422["message",{"message":"still there?"}]"#);
    assert_eq!(h.events(&sid).last().unwrap().1["code"], "AUTH_EXPIRED");
    assert!(h.texts(&sid).iter().any(|t| t.starts_with("432") && t.contains("AUTH_EXPIRED")));
    assert_eq!(h.texts(&sid).last().unwrap(), "41");
    assert!(!h.connected(&sid));
    assert_eq!(h.stored, 0);
    // The other tab's token is still good: it is served, and the expired one hears nothing more.
    let before = h.texts(&sid).len();
    h.text(&other, r#"421["message",{"message":"hello"}]"#);
    assert_eq!(h.stored, 1);
    assert!(h.texts(&other).iter().any(|t| t.starts_with("431") && t.contains(r#""ok":true"#)));
    assert_eq!(h.texts(&sid).len(), before);
}

#[test]
fn an_expired_socket_hears_no_broadcast() {
    let mut h = H::new(&[]);
    let short = h.connect(Some(&token("u1", 60)));
    let long = h.connect(Some(&token("u1", 3600)));
    h.now = T0 + (61 + auth::LEEWAY_SECS as u64) * 1000;
    h.text(&long, r#"421["message",{"message":"I'm 12"}]"#);
    // The broadcast that followed put the expired socket out instead of reaching it.
    assert!(!h.connected(&short));
    assert!(h.events(&short).iter().all(|(n, p)| n == "error" && p["code"] == "AUTH_EXPIRED"));
}

#[test]
fn model_calls_over_the_client_limit_are_refused_without_storing() {
    let mut h = H::new(&[]);
    let sid = h.connect(None);
    let msg = Frame::Text(r#"427["message",{"message":"hello"}]"#.into());
    assert_eq!(
        h.s.model_call_client(&sid, &msg),
        Some(mia_server::session::access::client_key(Some("203.0.113.1")))
    );
    // Whitespace does not hide a message from the limiter.
    let spaced = Frame::Text(r#"42[ "message" , {"message":"hello"}]"#.into());
    assert!(h.s.model_call_client(&sid, &spaced).is_some());
    for other in [r#"42["join_session",{}]"#, "2", "3"] {
        assert!(h.s.model_call_client(&sid, &Frame::Text(other.into())).is_none(), "{other}");
    }
    let out = h.s.refuse_model_call(h.now, &sid, &msg, 12_000);
    h.take(out);
    let (name, payload) = h.events(&sid).last().unwrap().clone();
    assert_eq!(
        (name.as_str(), &payload["code"], &payload["retryAfterMs"]),
        ("error", &json!("RATE_LIMITED"), &json!(12_000))
    );
    assert!(h.texts(&sid).iter().any(|t| t.starts_with("437") && t.contains("RATE_LIMITED")));
    assert_eq!(h.stored, 0);
    // Off with the limit at 0.
    let mut off = H::new(&[("CLIENT_MODEL_CALLS_PER_MINUTE", "0")]);
    let sid = off.connect(None);
    assert!(off.s.model_call_client(&sid, &msg).is_none());
}

#[test]
fn a_relayed_join_goes_through_the_same_ownership_rule() {
    use mia_server::session::relay::{Identity, Refusal};
    let identity = |user: &str, authenticated: bool| Identity {
        user_id: user.into(),
        authenticated,
        client_address: Some("203.0.113.9".into()),
        expires_at: None,
    };
    // Fixation through join_session: an ownerless session with history refuses a token holder.
    let mut h = H::with(&[], Some(Owner::Nobody), vec![message("opener")]);
    assert_eq!(h.s.admit_relay(h.now, &identity("victim", true)).err(), Some(Refusal::Forbidden));
    assert!(h.s.admit_relay(h.now, &identity("anon_x", false)).is_ok());
    // On an empty one she becomes the owner and whoever opened it is put out.
    let mut h = H::new(&[]);
    let attacker = h.connect(None);
    let (_, out) = h.s.admit_relay(h.now, &identity("victim", true)).expect("admitted");
    h.take(out);
    assert_eq!(h.s.meta().owner, Owner::User("victim".into()));
    assert!(!h.connected(&attacker));
    assert_eq!(h.texts(&attacker).last().unwrap(), "41");
}

#[test]
fn a_claimed_session_keeps_its_owner_across_hibernation_before_any_message() {
    let mut h = H::new(&[]);
    let attacker = h.connect(None);
    let victim = h.connect(Some(&token("victim", 3600)));
    assert!(h.connected(&victim) && !h.connected(&attacker));
    // Nothing is stored yet: the owner comes back from the connections' attachments.
    let conns: Vec<_> = h.s.connections().cloned().collect();
    let mut woke = Session::restore(config(&[]), "session-1", None, Vec::new(), conns, h.now + 60_000);
    assert_eq!(woke.meta().owner, Owner::User("victim".into()));
    // The attacker's connection, still open, cannot connect again.
    let out = woke.frame(h.now + 60_000, &attacker, Frame::Text("40".into()), Transport::Websocket);
    let refused = out.iter().any(|o| matches!(o, Output::Send { frames, .. } if frames.iter().any(|f| matches!(f, Frame::Text(t) if t.starts_with("44") && t.contains("FORBIDDEN")))));
    assert!(refused);
}
