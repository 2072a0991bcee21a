//! Second opinions beside the reply (README "Second opinions"): the moderation endpoint
//! and the safety judge may raise a user message's tier after the local classifier.

use crate::conversation::mode::Mode;
use crate::conversation::prompts;
use crate::conversation::store::{Message, Write};
use crate::conversation::work::*;
use crate::conversation::{Conversation, Effect};
use crate::log::{Level, Record};
use crate::safety::Tier;
use crate::upstream::openai::{self, ChatMessage, JudgeVerdict};

/// A second opinion's verdict, whoever gave it.
struct Verdict {
    tier: Tier,
    categories: Vec<String>,
    /// What the stored safety event names as its rules.
    rules: Vec<String>,
    /// The `mode_changed` reason when it takes the session to URGENCY.
    why: String,
}

impl Verdict {
    fn moderation(flagged: Vec<String>) -> Verdict {
        let intent = flagged.iter().any(|c| c == "self-harm/intent" || c == "self-harm/instructions");
        Verdict {
            tier: if intent { Tier::CRISIS } else { Tier::NONE },
            categories: if intent { vec!["self_harm".into()] } else { Vec::new() },
            rules: flagged,
            why: "moderation: self-harm intent".into(),
        }
    }

    fn judge(v: JudgeVerdict) -> Verdict {
        let why = if v.categories.is_empty() {
            format!("safety judge: tier {}", v.tier)
        } else {
            format!("safety judge: {}", v.categories.join(", "))
        };
        Verdict {
            tier: Tier::clamped(v.tier),
            categories: v.categories,
            rules: vec!["judge".into()],
            why,
        }
    }
}

impl Conversation {
    /// With an OpenAI key: the moderation endpoint, and the safety judge when `SAFETY_MODEL`
    /// is set, asked about a user message whose rules tier is `tier`.
    pub(super) fn ask_second_opinions(&mut self, message_id: &str, text: &str, tier: Tier) {
        let Some(key) = &self.cfg.openai_api_key else { return };
        let mut asks = vec![OpinionRequest {
            message_id: message_id.to_string(),
            opinion: Opinion::Moderation,
            request: openai::moderation_request(&self.cfg.openai_base_url, key, text),
            timeout_ms: MODERATION_TIMEOUT_MS,
        }];
        if let Some(model) = &self.cfg.safety_model {
            asks.push(OpinionRequest {
                message_id: message_id.to_string(),
                opinion: Opinion::Judge,
                request: openai::judge_request(
                    &self.cfg.openai_base_url,
                    key,
                    model,
                    prompts::SAFETY_JUDGE,
                    &self.judge_context(message_id),
                    text,
                ),
                timeout_ms: self.cfg.judge_timeout_ms,
            });
        }
        if self.opinion_tiers.len() >= OPINION_TIERS_KEPT {
            self.opinion_tiers.pop_front();
        }
        self.opinion_tiers.push_back((message_id.to_string(), tier));
        for ask in asks {
            self.push(Effect::Upstream(UpstreamCommand::SecondOpinion(ask)));
        }
    }

    /// The last [`JUDGE_CONTEXT_MESSAGES`] messages before `message_id`, oldest first.
    fn judge_context(&self, message_id: &str) -> Vec<ChatMessage> {
        let before: Vec<&Message> = self.history.iter().take_while(|m| m.id != message_id).collect();
        before[before.len().saturating_sub(JUDGE_CONTEXT_MESSAGES)..]
            .iter()
            .map(|m| ChatMessage {
                role: m.role.as_str(),
                content: m.content.clone(),
            })
            .collect()
    }

    /// A second opinion on a user message. It may raise the message's tier (and so the
    /// session's), never lower anything; a failure, a timeout or a malformed answer is
    /// logged (codes and sizes only) and changes nothing.
    pub fn second_opinion(&mut self, now: u64, message_id: &str, opinion: Opinion, result: OpinionResult) {
        self.now = now;
        let body_bytes = match &result {
            OpinionResult::Answer { body, .. } => Some(body.len()),
            _ => None,
        };
        let verdict = match result {
            OpinionResult::Answer { status: 200..=299, body } => match opinion {
                Opinion::Moderation => openai::parse_moderation(&body).map(Verdict::moderation),
                Opinion::Judge => openai::parse_judge(&body).map(Verdict::judge),
            },
            OpinionResult::Answer { status, .. } => Err(format!("status {status}")),
            OpinionResult::Failed(e) => Err(format!("network: {}", e.chars().take(120).collect::<String>())),
            OpinionResult::Timeout => Err("timeout".into()),
        };
        let verdict = match verdict {
            Ok(v) => v,
            Err(error) => {
                let msg = match opinion {
                    Opinion::Moderation => "moderation_failed",
                    Opinion::Judge => "judge_failed",
                };
                let mut record = Record::new(Level::Warn, msg).with("messageId", message_id).with("error", error);
                if let Some(bytes) = body_bytes {
                    record = record.with("bodyBytes", bytes);
                }
                self.log(record);
                return;
            }
        };
        let raised = self.raise(message_id, opinion.as_str(), &verdict);
        self.log(
            Record::new(Level::Info, "second_opinion")
                .with("source", opinion.as_str())
                .with("messageId", message_id)
                .with("tier", verdict.tier)
                .with("categories", verdict.categories.join(","))
                .with("rules", verdict.rules.join(","))
                .with("raised", raised),
        );
    }

    /// The one place a second opinion raises a tier: only above what the message already
    /// has; `safety_alert` and a stored event; URGENCY at tier 3; and the reply to the
    /// message, streaming or waiting, carries the crisis resources when it completes.
    fn raise(&mut self, message_id: &str, source: &'static str, verdict: &Verdict) -> bool {
        let Some((_, known)) = self.opinion_tiers.iter_mut().find(|(id, _)| id == message_id) else {
            return false;
        };
        if verdict.tier <= *known {
            return false;
        }
        *known = verdict.tier;
        if let Some(r) = self.reply.as_mut().filter(|r| r.for_message == message_id) {
            r.message_tier = r.message_tier.max(verdict.tier);
        }
        if let Some(j) = self.queue.iter_mut().find(|j| j.user_message == message_id) {
            j.tier = j.tier.max(verdict.tier);
        }
        let before = (self.meta.tier, self.meta.mode);
        self.meta.tier = self.meta.tier.max(verdict.tier);
        self.alert(message_id, verdict.tier, verdict.categories.clone(), verdict.rules.clone(), source);
        if verdict.tier.is_crisis() && self.meta.mode != Mode::Urgency {
            let previous = self.meta.mode;
            self.meta.mode = Mode::Urgency;
            self.mode_changed(Mode::Urgency, previous, verdict.why.clone());
        }
        if (self.meta.tier, self.meta.mode) != before {
            self.meta.updated_at = self.now;
            self.push(Effect::Store(Write::Meta(self.meta.clone())));
        }
        true
    }
}
