//! The conversation on its own, without sockets: messages in, effects out (events
//! addressed to the session's sockets or to one, writes, upstream commands).

use mia_server::config::Config;
use mia_server::conversation::events::ServerEvent;
use mia_server::conversation::store::{Owner, Write};
use mia_server::conversation::{Conversation, Effect, To, UpstreamCommand, UpstreamEvent, UpstreamRequest};
use mia_server::safety::Tier;
use serde_json::json;

/// A new conversation with the offline companion (no OpenAI key).
fn conversation() -> Conversation {
    Conversation::restore(Config::from_lookup(|_| None), "session-1", None, Vec::new(), Owner::Nobody, 1_000)
}

fn position(effects: &[Effect], f: impl Fn(&Effect) -> bool) -> Option<usize> {
    effects.iter().position(f)
}

#[test]
fn a_crisis_message_alerts_every_socket_before_its_reply_starts() {
    let mut c = conversation();
    let ack = c.message(2_000, "sid-1", &json!({ "message": "i want to kill myself" })).unwrap();
    assert_eq!((ack["ok"].clone(), ack["queued"].clone()), (json!(true), json!(false)));
    let effects = c.poll_effects();
    let stored = position(&effects, |e| matches!(e, Effect::Store(Write::Owed { .. }))).expect("the message is stored");
    let alert = position(&effects, |e| {
        matches!(e, Effect::Emit(To::All, ServerEvent::SafetyAlert { tier, resources, .. }) if *tier == Tier::CRISIS && !resources.is_empty())
    })
    .expect("a tier-3 alert with resources, to every socket");
    let urgency = position(&effects, |e| matches!(e, Effect::Emit(To::All, ServerEvent::ModeChanged { .. }))).expect("URGENCY");
    let start = position(&effects, |e| matches!(e, Effect::Upstream(UpstreamCommand::Start(_)))).expect("the reply starts");
    assert!(stored < alert && alert < urgency && urgency < start, "{effects:#?}");
    assert_eq!(c.meta().tier, Tier::CRISIS);

    // The offline companion's chunks come back as deltas; the reply carries the crisis lines.
    let Some(Effect::Upstream(UpstreamCommand::Start(job))) = effects.get(start) else {
        unreachable!()
    };
    let UpstreamRequest::Offline { chunks, .. } = &job.request else {
        panic!("offline companion")
    };
    for chunk in chunks {
        c.upstream(2_100, &job.reply_id, job.attempt, UpstreamEvent::Delta(chunk.clone()));
    }
    c.upstream(2_200, &job.reply_id, job.attempt, UpstreamEvent::End);
    let effects = c.poll_effects();
    let complete = effects.iter().find_map(|e| match e {
        Effect::Emit(To::All, ServerEvent::MessageComplete { message, tier, .. }) => Some((message.clone(), *tier)),
        _ => None,
    });
    let (text, tier) = complete.expect("message_complete");
    assert!(text.contains("988"), "{text}");
    assert_eq!(tier, Tier::CRISIS);
}

#[test]
fn a_refused_message_stores_nothing_and_decides_nothing() {
    let mut c = conversation();
    for (arg, code) in [
        (json!({ "message": "   " }), "INVALID_MESSAGE"),
        (json!({ "text": 5 }), "INVALID_MESSAGE"),
        (json!({ "message": "x".repeat(4001) }), "MESSAGE_TOO_LONG"),
        (json!({ "sessionId": "another-session", "message": "hi" }), "SESSION_MISMATCH"),
    ] {
        let e = c.message(2_000, "sid-1", &arg).unwrap_err();
        assert_eq!(e.code, code, "{arg}");
        assert!(c.poll_effects().is_empty(), "{arg}");
    }
    assert!(!c.has_history());
}

#[test]
fn a_join_answers_the_asking_socket_with_the_history_and_the_help_banner() {
    let mut c = conversation();
    c.message(
        2_000,
        "sid-1",
        &json!({ "message": "i tried vaping at a party and now i smoke weed every day" }),
    )
    .unwrap();
    c.poll_effects();
    let ack = c.join(3_000, "sid-2", "anon_2", false);
    assert_eq!(ack, json!({ "ok": true, "sessionId": "session-1" }));
    let effects = c.poll_effects();
    let created = effects.iter().find_map(|e| match e {
        Effect::Emit(To::Socket(sid), event @ ServerEvent::SessionCreated(_)) if sid == "sid-2" => Some(event.payload()),
        _ => None,
    });
    let created = created.expect("session_created to the joining socket only");
    assert!(c.meta().tier.alerts(), "the message reads as substance use");
    assert_eq!(created["safetyTier"], json!(c.meta().tier));
    assert_eq!(created["conversationHistory"][0]["role"], "user");
    assert!(created["resources"][0]["name"].is_string(), "{created}");
    assert_eq!(created["streaming"]["nextIndex"], 0, "the reply is still being generated");
}
