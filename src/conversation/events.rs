//! What the server says to clients (README "Events"): one variant per server event, one
//! payload builder each, and the refusals answered as `error` events and failed acks.

use serde_json::{json, Value};

use crate::conversation::mode::Mode;
use crate::conversation::store::Message;
use crate::safety::{Resource, Tier};

/// A server → client event.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    SessionCreated(Box<SessionCreated>),
    MessageChunk {
        session_id: String,
        message_id: String,
        chunk: String,
        index: u32,
    },
    MessageComplete {
        session_id: String,
        message_id: String,
        message: String,
        mode: Mode,
        tier: Tier,
        interrupted: bool,
    },
    /// Tier 2 or 3, before any chunk of the reply.
    SafetyAlert {
        session_id: String,
        tier: Tier,
        categories: Vec<String>,
        resources: Vec<Resource>,
        message_id: String,
    },
    ModeChanged {
        session_id: String,
        mode: Mode,
        previous: Mode,
        reason: String,
    },
    /// A refusal, or a failure the client should know of; `message_id` names the message a
    /// `STORAGE_FAILED` could not store.
    Error {
        error: ClientError,
        message_id: Option<String>,
    },
}

/// `session_created`: the socket's view of the session when it joins.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCreated {
    pub session_id: String,
    pub user_id: String,
    pub age: Option<u8>,
    pub mode: Mode,
    pub tier: Tier,
    pub history: Vec<Message>,
    pub is_new: bool,
    /// The help resources of a tier-2 or tier-3 session, so a page shows its banner again.
    pub resources: Option<Vec<Resource>>,
    /// A reply still being generated: this socket receives its remaining chunks.
    pub streaming: Option<Streaming>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Streaming {
    pub message_id: String,
    pub in_reply_to: String,
    pub partial: String,
    pub next_index: u32,
}

impl ServerEvent {
    /// A plain `error` event.
    pub fn error(error: ClientError) -> ServerEvent {
        ServerEvent::Error { error, message_id: None }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::SessionCreated(_) => "session_created",
            ServerEvent::MessageChunk { .. } => "message_chunk",
            ServerEvent::MessageComplete { .. } => "message_complete",
            ServerEvent::SafetyAlert { .. } => "safety_alert",
            ServerEvent::ModeChanged { .. } => "mode_changed",
            ServerEvent::Error { .. } => "error",
        }
    }

    /// The event's payload as the client receives it.
    pub fn payload(&self) -> Value {
        match self {
            ServerEvent::SessionCreated(s) => {
                let history: Vec<Value> = s.history.iter().map(history_entry).collect();
                let mut v = json!({
                    "sessionId": s.session_id,
                    "userId": s.user_id,
                    "age": s.age,
                    "mode": s.mode.as_str(),
                    "safetyTier": s.tier,
                    "conversationHistory": history,
                    "isNew": s.is_new,
                });
                if let Some(resources) = &s.resources {
                    v["resources"] = json!(resources);
                }
                if let Some(r) = &s.streaming {
                    v["streaming"] =
                        json!({ "messageId": r.message_id, "inReplyTo": r.in_reply_to, "partial": r.partial, "nextIndex": r.next_index });
                }
                v
            }
            ServerEvent::MessageChunk {
                session_id,
                message_id,
                chunk,
                index,
            } => json!({ "sessionId": session_id, "messageId": message_id, "chunk": chunk, "index": index }),
            ServerEvent::MessageComplete {
                session_id,
                message_id,
                message,
                mode,
                tier,
                interrupted,
            } => {
                let mut v = json!({
                    "sessionId": session_id,
                    "messageId": message_id,
                    "message": message,
                    "mode": mode.as_str(),
                    "safetyTier": tier,
                });
                if *interrupted {
                    v["interrupted"] = json!(true);
                }
                v
            }
            ServerEvent::SafetyAlert {
                session_id,
                tier,
                categories,
                resources,
                message_id,
            } => json!({
                "sessionId": session_id,
                "tier": tier,
                "categories": categories,
                "resources": resources,
                "messageId": message_id,
            }),
            ServerEvent::ModeChanged {
                session_id,
                mode,
                previous,
                reason,
            } => json!({ "sessionId": session_id, "mode": mode.as_str(), "previousMode": previous.as_str(), "reason": reason }),
            ServerEvent::Error { error, message_id } => {
                let mut v = error.payload();
                if let Some(id) = message_id {
                    v["messageId"] = json!(id);
                }
                v
            }
        }
    }
}

/// One message of `conversationHistory`.
fn history_entry(m: &Message) -> Value {
    let mut v = json!({
        "id": m.id,
        "role": m.role.as_str(),
        "content": m.content,
        "timestamp": crate::time::iso8601(m.ts),
    });
    if m.interrupted {
        v["interrupted"] = json!(true);
    }
    v
}

/// A refusal answered to the client as an `error` event and a failed ack.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientError {
    pub code: &'static str,
    pub message: String,
    pub retryable: bool,
    pub retry_after_ms: Option<u64>,
}

impl ClientError {
    pub fn new(code: &'static str, message: String, retryable: bool) -> Self {
        ClientError {
            code,
            message,
            retryable,
            retry_after_ms: None,
        }
    }

    /// `RATE_LIMITED`: retryable after `ms`.
    pub fn rate_limited(message: &str, ms: u64) -> Self {
        ClientError {
            retry_after_ms: Some(ms),
            ..ClientError::new("RATE_LIMITED", message.into(), true)
        }
    }

    /// A session that belongs to someone else.
    pub fn forbidden() -> Self {
        ClientError::new("FORBIDDEN", "This session belongs to another user".into(), false)
    }

    /// An event naming a session this socket is not on.
    pub fn session_mismatch(message: &str) -> Self {
        ClientError::new("SESSION_MISMATCH", message.into(), false)
    }

    /// The `error` event's payload.
    pub fn payload(&self) -> Value {
        let mut v = json!({ "code": self.code, "message": self.message, "retryable": self.retryable });
        if let Some(ms) = self.retry_after_ms {
            v["retryAfterMs"] = json!(ms);
        }
        v
    }

    /// The ack of the event it refused.
    pub fn failed_ack(&self) -> Value {
        json!({ "ok": false, "error": { "code": self.code, "message": self.message } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::store::Role;

    #[test]
    fn optional_fields_appear_only_when_set() {
        let complete = |interrupted| ServerEvent::MessageComplete {
            session_id: "s".into(),
            message_id: "m".into(),
            message: "hi".into(),
            mode: Mode::Greeting,
            tier: Tier::NONE,
            interrupted,
        };
        assert_eq!(complete(false).payload().get("interrupted"), None);
        assert_eq!(complete(true).payload()["interrupted"], true);
        assert_eq!(complete(true).payload()["safetyTier"], 1);
        let error = ServerEvent::Error {
            error: ClientError::rate_limited("slow down", 2000),
            message_id: Some("m1".into()),
        };
        assert_eq!(
            error.payload(),
            json!({ "code": "RATE_LIMITED", "message": "slow down", "retryable": true, "retryAfterMs": 2000, "messageId": "m1" })
        );
        let created = ServerEvent::SessionCreated(Box::new(SessionCreated {
            session_id: "s".into(),
            user_id: "u".into(),
            age: None,
            mode: Mode::Greeting,
            tier: Tier::NONE,
            history: vec![Message {
                id: "m".into(),
                role: Role::User,
                content: "hi".into(),
                ts: 0,
                interrupted: false,
            }],
            is_new: false,
            resources: None,
            streaming: None,
        }));
        let v = created.payload();
        assert_eq!(v["age"], Value::Null);
        assert_eq!(v["conversationHistory"][0]["timestamp"], "1970-01-01T00:00:00.000Z");
        assert!(v.get("resources").is_none() && v.get("streaming").is_none());
    }
}
