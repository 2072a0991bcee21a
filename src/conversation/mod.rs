//! The message pipeline (CONTRACT §5): validate, rate-limit, store, classify, pick
//! the mode, then stream a reply from the model (or the offline companion) with
//! retries, timeouts, cancellation, a queue, and crisis resources guaranteed at tier 3.
//! Beside the reply, second opinions (the moderation endpoint, the safety judge) may
//! raise a message's tier after the rules (CONTRACT §6).

pub mod mode;
pub mod offline;
pub mod prompts;
pub mod store;

use serde_json::{json, Value};

use crate::ids;
use crate::log::{Level, Record};
use crate::safety::age;
use crate::safety::{self, Resource, Tier};
use crate::session::{ClientError, Output, Session, OPINION_TIERS_KEPT};
use crate::upstream::openai::{self, ChatMessage, HttpRequest, JudgeVerdict, StreamItem};
use crate::upstream::sse;
use mode::{Mode, ModeState};
use store::{Message, Pending, Role, SafetyEvent, Write};

/// Retries after the first attempt, for failures before the first chunk.
pub const MAX_RETRIES: u32 = 2;

/// How long the moderation endpoint may take before its answer is given up.
pub const MODERATION_TIMEOUT_MS: u64 = 10_000;

/// A streaming reply's text is saved with the first chunk at least this long after its first
/// chunk, then after the last save: a crash loses at most the text streamed in this time.
pub const PARTIAL_SAVE_MS: u64 = 500;

/// Earlier messages (user and assistant) the safety judge sees with the one it judges.
pub const JUDGE_CONTEXT_MESSAGES: usize = 6;

/// Who gives a second opinion on a user message, beside the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opinion {
    /// The moderation endpoint: `self-harm/intent` or `self-harm/instructions` → tier 3.
    Moderation,
    /// The safety judge: `SAFETY_MODEL` with the rubric in `prompts/safety-judge.md`.
    Judge,
}

impl Opinion {
    pub fn as_str(self) -> &'static str {
        match self {
            Opinion::Moderation => "moderation",
            Opinion::Judge => "judge",
        }
    }
}

/// A second opinion to ask for; its answer comes back through [`Session::second_opinion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpinionRequest {
    pub message_id: String,
    pub opinion: Opinion,
    pub request: HttpRequest,
    /// The shell gives up after this long and reports [`OpinionResult::Timeout`].
    pub timeout_ms: u64,
}

/// What the shell got for a second opinion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpinionResult {
    Answer { status: u16, body: String },
    Failed(String),
    Timeout,
}

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

/// A reply waiting its turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub user_message: String,
    pub reply_id: String,
    pub tier: Tier,
}

/// Where a reply comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamRequest {
    Http(HttpRequest),
    /// The offline companion: the shell feeds these back as deltas, `delay_ms` apart.
    Offline {
        chunks: Vec<String>,
        delay_ms: u64,
    },
}

/// One attempt at getting a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamJob {
    pub reply_id: String,
    pub attempt: u32,
    pub delay_ms: u64,
    pub request: UpstreamRequest,
    pub first_byte_timeout_ms: u64,
    pub total_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamCommand {
    Start(UpstreamJob),
    /// Stop reading this reply (cancelled).
    Abort {
        reply_id: String,
    },
    /// Ask for a second opinion about a user message, beside the reply.
    SecondOpinion(OpinionRequest),
}

/// What the shell saw of an upstream attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamEvent {
    Status { code: u16, retry_after_ms: Option<u64> },
    Bytes(Vec<u8>),
    Delta(String),
    End,
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Network(String),
    FirstByteTimeout,
    TotalTimeout,
}

/// The reply being streamed.
#[derive(Debug)]
pub struct Reply {
    pub id: String,
    pub for_message: String,
    pub text: String,
    pub index: u32,
    message_tier: Tier,
    attempt: u32,
    request: UpstreamRequest,
    sse: sse::Parser,
    finished: bool,
    pub(crate) started_at: u64,
    /// When the text was last saved, or its first chunk came (`None`: no chunk yet).
    saved_at: Option<u64>,
}

impl Reply {
    fn got_first(&self) -> bool {
        self.index > 0
    }
}

enum Problem {
    Status(u16, Option<u64>),
    Network(String),
    Timeout(&'static str),
    Stream(String),
}

impl Problem {
    fn retryable(&self) -> bool {
        match self {
            Problem::Status(code, _) => *code == 408 || *code == 429 || *code >= 500,
            Problem::Network(_) | Problem::Timeout(_) => true,
            Problem::Stream(_) => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Problem::Status(code, _) => format!("status {code}"),
            Problem::Network(e) => format!("network: {}", e.chars().take(120).collect::<String>()),
            Problem::Timeout(which) => format!("{which} timeout"),
            Problem::Stream(e) => format!("stream: {e}"),
        }
    }
}

/// What a tier-3 reply that does not name the crisis resources ends with.
fn resources_suffix(resources: &[Resource]) -> String {
    format!(
        "\n\nIf you need help right now, please reach out:\n{}",
        safety::resources_text(resources)
    )
}

fn crisis_fallback(resources: &[Resource]) -> String {
    format!(
        "I'm really glad you reached out, and I'm so sorry you're going through this. I'm having trouble answering right now, but you deserve support this very moment, and people are ready to help:\n{}\n\nIf you are in immediate danger, please call 911 or go to a trusted adult now. You are not alone.",
        safety::resources_text(resources)
    )
}

impl Session {
    pub(crate) fn on_message(&mut self, sid: &str, arg: &Value) -> Result<Value, ClientError> {
        let text = match arg {
            Value::String(s) => s.as_str(),
            Value::Object(o) => {
                if let Some(requested) = o.get("sessionId").and_then(Value::as_str) {
                    if requested != self.meta.session_id {
                        return Err(ClientError::new(
                            "SESSION_MISMATCH",
                            "This message names another session".into(),
                            false,
                        ));
                    }
                }
                match o.get("message").or_else(|| o.get("text")) {
                    Some(Value::String(s)) => s.as_str(),
                    _ => {
                        return Err(ClientError::new(
                            "INVALID_MESSAGE",
                            "The message must be a non-empty string in \"message\"".into(),
                            false,
                        ))
                    }
                }
            }
            _ => {
                return Err(ClientError::new(
                    "INVALID_MESSAGE",
                    "The message must be an object with a \"message\" string".into(),
                    false,
                ))
            }
        };
        if text.trim().is_empty() {
            return Err(ClientError::new("INVALID_MESSAGE", "The message is empty".into(), false));
        }
        let chars = text.chars().count();
        if chars > self.cfg.max_message_chars {
            return Err(ClientError::new(
                "MESSAGE_TOO_LONG",
                format!("The message is {chars} characters; the limit is {}", self.cfg.max_message_chars),
                false,
            ));
        }
        if self.reply.is_some() && self.queue.len() >= self.cfg.queue_limit {
            let mut e = ClientError::new(
                "RATE_LIMITED",
                "Too many messages are waiting for a reply; please wait a moment".into(),
                true,
            );
            e.retry_after_ms = Some(2000);
            self.log(
                Record::new(Level::Warn, "queue_full")
                    .with("sid", sid)
                    .with("queued", self.queue.len()),
            );
            return Err(e);
        }
        if let Err(wait) = self.bucket.take(self.now) {
            let mut e = ClientError::new(
                "RATE_LIMITED",
                "You're sending messages quickly; please slow down a little".into(),
                true,
            );
            e.retry_after_ms = Some(wait);
            self.log(Record::new(Level::Warn, "rate_limited").with("sid", sid).with("retryAfterMs", wait));
            return Err(e);
        }

        // 1. Store.
        let now = self.now;
        let user_message = Message {
            id: ids::message_id(),
            role: Role::User,
            content: text.to_string(),
            ts: now,
            interrupted: false,
        };
        // Owed its reply until that reply is stored: a restarted session answers it (`recover`).
        let reply_id = ids::message_id();
        self.push(Output::Store(Write::Owed {
            message: user_message.clone(),
            reply_id: reply_id.clone(),
        }));
        self.history.push(user_message.clone());
        self.last_active = now;

        // 2. Safety.
        let state_before = (self.meta.age, self.meta.mode, self.meta.tier, self.meta.fundraising_left);
        let assessment = self.context().classify(text);
        self.meta.tier = self.meta.tier.max(assessment.tier);
        if assessment.tier.alerts() {
            self.alert(
                &user_message.id,
                assessment.tier,
                assessment.categories.iter().map(|c| c.as_str().to_string()).collect(),
                assessment.rules.iter().map(|r| r.to_string()).collect(),
                "rules",
            );
        }

        // 3. Age, 4. mode.
        if let Some(a) = age::detect(text) {
            self.meta.age = Some(a);
        }
        let mut state = ModeState {
            mode: self.meta.mode,
            age: self.meta.age,
            tier: self.meta.tier,
            fundraising_left: self.meta.fundraising_left,
        };
        if let Some((mode, previous, reason)) = mode::next(&mut state, text) {
            self.emit_all(
                "mode_changed",
                json!({ "sessionId": self.meta.session_id, "mode": mode.as_str(), "previousMode": previous.as_str(), "reason": reason }),
            );
        }
        self.meta.mode = state.mode;
        self.meta.fundraising_left = state.fundraising_left;
        // The session's row changes only with its state; the message row already says when.
        if (self.meta.age, self.meta.mode, self.meta.tier, self.meta.fundraising_left) != state_before {
            self.meta.updated_at = now;
            self.push(Output::Store(Write::Meta(self.meta.clone())));
        }

        let job = Job {
            user_message: user_message.id.clone(),
            reply_id,
            tier: assessment.tier,
        };
        self.ask_second_opinions(&user_message.id, text, assessment.tier);
        let queued = self.reply.is_some();
        self.log(
            Record::new(Level::Info, "message_received")
                .with("sid", sid)
                .with("messageId", user_message.id.as_str())
                .with("chars", chars)
                .with("tier", assessment.tier)
                .with("rules", assessment.rules.join(","))
                .with("mode", self.meta.mode.as_str())
                .with("queued", queued),
        );
        let ack = json!({ "ok": true, "messageId": user_message.id, "replyId": job.reply_id, "queued": queued });
        if queued {
            self.queue.push_back(job);
        } else {
            self.start_reply(job);
        }
        Ok(ack)
    }

    pub(crate) fn on_cancel(&mut self, arg: &Value) -> Result<Value, ClientError> {
        let wanted = arg.get("messageId").and_then(Value::as_str);
        let matches = self
            .reply
            .as_ref()
            .is_some_and(|r| wanted.is_none_or(|w| w == r.id || w == r.for_message));
        if !matches {
            return Ok(json!({ "ok": true, "cancelled": false }));
        }
        let id = self.reply.as_ref().map(|r| r.id.clone()).unwrap_or_default();
        self.push(Output::Upstream(UpstreamCommand::Abort { reply_id: id.clone() }));
        self.log(Record::new(Level::Info, "reply_cancelled").with("replyId", id.as_str()));
        self.complete(true);
        Ok(json!({ "ok": true, "cancelled": true, "messageId": id }))
    }

    /// The prompt for a reply to `user_message`: system prompt + the last `HISTORY_LIMIT`
    /// messages, ending with it (exactly once). Messages still waiting in the queue were
    /// stored on arrival but are left out: the model answers one turn at a time.
    pub fn prompt_for(&self, user_message: &str) -> Vec<ChatMessage> {
        let waiting: Vec<&str> = self.queue.iter().map(|j| j.user_message.as_str()).collect();
        let mut turns: Vec<&Message> = self
            .history
            .iter()
            .filter(|m| m.id != user_message && !waiting.contains(&m.id.as_str()))
            .collect();
        turns.extend(self.history.iter().find(|m| m.id == user_message));
        let start = turns.len().saturating_sub(self.cfg.history_limit);
        let mut messages = vec![ChatMessage {
            role: "system",
            content: prompts::system_prompt(
                self.meta.mode,
                self.meta.age,
                self.meta.tier,
                &self.cfg.crisis_resources,
                &self.cfg.substance_resources,
            ),
        }];
        messages.extend(turns[start..].iter().map(|m| ChatMessage {
            role: m.role.as_str(),
            content: m.content.clone(),
        }));
        messages
    }

    fn start_reply(&mut self, job: Job) {
        let request = match &self.cfg.openai_api_key {
            Some(key) => UpstreamRequest::Http(openai::chat_request(
                &self.cfg.openai_base_url,
                key,
                &self.cfg.openai_model,
                &self.prompt_for(&job.user_message),
                self.cfg.workflow_id.as_deref(),
                &self.meta.session_id,
            )),
            None => {
                let turn = self.history.iter().filter(|m| m.role == Role::User).count() as u64;
                let text = offline::reply(
                    self.meta.mode,
                    job.tier,
                    turn,
                    &self.cfg.crisis_resources,
                    &self.cfg.substance_resources,
                );
                UpstreamRequest::Offline {
                    chunks: offline::chunks(&text),
                    delay_ms: self.cfg.offline_chunk_delay_ms,
                }
            }
        };
        self.reply = Some(Reply {
            id: job.reply_id,
            for_message: job.user_message,
            text: String::new(),
            index: 0,
            message_tier: job.tier,
            attempt: 0,
            request,
            sse: sse::Parser::new(),
            finished: false,
            started_at: self.now,
            saved_at: None,
        });
        self.request_attempt(0);
    }

    fn request_attempt(&mut self, delay_ms: u64) {
        let Some(r) = &self.reply else { return };
        let job = UpstreamJob {
            reply_id: r.id.clone(),
            attempt: r.attempt,
            delay_ms,
            request: r.request.clone(),
            first_byte_timeout_ms: self.cfg.first_byte_timeout_ms,
            total_timeout_ms: self.cfg.reply_timeout_ms,
        };
        self.push(Output::Upstream(UpstreamCommand::Start(job)));
    }

    /// The conversation's safety context, rebuilt from the stored history after a restart.
    fn context(&mut self) -> &mut safety::context::Context {
        let history = &self.history;
        self.context.get_or_insert_with(|| {
            // The earlier user messages in the window; the current one is the last in history.
            let earlier: Vec<&str> = history[..history.len().saturating_sub(1)]
                .iter()
                .rev()
                .filter(|m| m.role == Role::User)
                .take(safety::context::WINDOW - 1)
                .map(|m| m.content.as_str())
                .collect();
            safety::context::Context::from_scores(earlier.into_iter().rev().map(|t| safety::classify(t).scores))
        })
    }

    /// `safety_alert` for a message at tier ≥ 2, and its stored safety event (never the text).
    fn alert(&mut self, message_id: &str, tier: Tier, categories: Vec<String>, rules: Vec<String>, source: &'static str) {
        let resources = if tier.is_crisis() {
            &self.cfg.crisis_resources
        } else {
            &self.cfg.substance_resources
        };
        let payload = json!({
            "sessionId": self.meta.session_id,
            "tier": tier,
            "categories": categories,
            "resources": resources,
            "messageId": message_id,
        });
        self.emit_all("safety_alert", payload);
        self.push(Output::Store(Write::SafetyEvent(SafetyEvent {
            message_id: message_id.to_string(),
            tier,
            categories,
            rules,
            source,
            ts: self.now,
        })));
    }

    /// With an OpenAI key: the moderation endpoint, and the safety judge when `SAFETY_MODEL`
    /// is set, asked about a user message whose rules tier is `tier`.
    fn ask_second_opinions(&mut self, message_id: &str, text: &str, tier: Tier) {
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
            self.push(Output::Upstream(UpstreamCommand::SecondOpinion(ask)));
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
    pub fn second_opinion(&mut self, now: u64, message_id: &str, opinion: Opinion, result: OpinionResult) -> Vec<Output> {
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
                return self.finish_outputs();
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
        self.finish_outputs()
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
            self.emit_all(
                "mode_changed",
                json!({ "sessionId": self.meta.session_id, "mode": Mode::Urgency.as_str(), "previousMode": previous.as_str(), "reason": verdict.why }),
            );
        }
        if (self.meta.tier, self.meta.mode) != before {
            self.meta.updated_at = self.now;
            self.push(Output::Store(Write::Meta(self.meta.clone())));
        }
        true
    }

    /// Whether events for this attempt are still wanted (the shell stops reading otherwise).
    pub fn wants(&self, reply_id: &str, attempt: u32) -> bool {
        self.reply.as_ref().is_some_and(|r| r.id == reply_id && r.attempt == attempt)
    }

    /// What the shell saw of an upstream attempt.
    pub fn upstream(&mut self, now: u64, reply_id: &str, attempt: u32, event: UpstreamEvent) -> Vec<Output> {
        self.now = now;
        if self.wants(reply_id, attempt) {
            self.on_upstream(event);
        }
        self.finish_outputs()
    }

    fn on_upstream(&mut self, event: UpstreamEvent) {
        match event {
            UpstreamEvent::Status { code, retry_after_ms } => {
                if !(200..300).contains(&code) {
                    self.fail(Problem::Status(code, retry_after_ms));
                }
            }
            UpstreamEvent::Bytes(bytes) => {
                let parsed = self.reply.as_mut().map(|r| r.sse.feed(&bytes));
                match parsed {
                    Some(Ok(events)) => self.on_sse(events),
                    Some(Err(sse::LineTooLong)) => self.fail(Problem::Stream("line too long".into())),
                    None => {}
                }
            }
            UpstreamEvent::Delta(text) => self.chunk(text),
            UpstreamEvent::End => {
                let (events, offline) = match self.reply.as_mut() {
                    Some(r) => (r.sse.finish(), matches!(r.request, UpstreamRequest::Offline { .. })),
                    None => return,
                };
                self.on_sse(events);
                let Some(r) = &self.reply else { return };
                if offline || r.finished {
                    self.complete(false);
                } else if r.got_first() {
                    self.fail(Problem::Stream("the stream ended early".into()));
                } else {
                    self.fail(Problem::Network("empty response".into()));
                }
            }
            UpstreamEvent::Failed(Failure::Network(e)) => self.fail(Problem::Network(e)),
            UpstreamEvent::Failed(Failure::FirstByteTimeout) => self.fail(Problem::Timeout("first byte")),
            UpstreamEvent::Failed(Failure::TotalTimeout) => self.fail(Problem::Timeout("reply")),
        }
    }

    fn on_sse(&mut self, events: Vec<sse::Event>) {
        for event in events {
            if self.reply.is_none() {
                return;
            }
            match openai::parse_stream_data(&event.data) {
                StreamItem::Delta(text) => self.chunk(text),
                StreamItem::Finished => {
                    if let Some(r) = self.reply.as_mut() {
                        r.finished = true;
                    }
                }
                StreamItem::Done => {
                    self.complete(false);
                    return;
                }
                StreamItem::Error(e) => {
                    self.fail(Problem::Stream(e));
                    return;
                }
                StreamItem::Ignored => {}
            }
        }
    }

    fn chunk(&mut self, text: String) {
        let Some(r) = self.reply.as_mut() else { return };
        let payload = json!({ "sessionId": self.meta.session_id, "messageId": r.id, "chunk": text, "index": r.index });
        r.text.push_str(&text);
        r.index += 1;
        // The clock starts at the first chunk: a reply streamed within PARTIAL_SAVE_MS costs no save.
        let since = *r.saved_at.get_or_insert(self.now);
        let partial = (self.now >= since + PARTIAL_SAVE_MS).then(|| {
            r.saved_at = Some(self.now);
            Write::Partial {
                reply_id: r.id.clone(),
                text: r.text.clone(),
                ts: self.now,
            }
        });
        // Written in the same step as the chunk's frame, ahead of it.
        if let Some(w) = partial {
            self.push(Output::Store(w));
        }
        self.emit_all("message_chunk", payload);
    }

    fn fail(&mut self, problem: Problem) {
        let Some(r) = self.reply.as_ref() else { return };
        let (reply_id, message_tier, attempt) = (r.id.clone(), r.message_tier, r.attempt);
        if r.got_first() {
            self.log(
                Record::new(Level::Warn, "upstream_interrupted")
                    .with("replyId", reply_id.as_str())
                    .with("error", problem.describe()),
            );
            self.complete(true);
            self.emit_all(
                "error",
                ClientError::new(
                    "UPSTREAM_INTERRUPTED",
                    "Mia's reply was cut off; what arrived is saved. Please try again.".into(),
                    true,
                )
                .payload(),
            );
            return;
        }
        if problem.retryable() && attempt < MAX_RETRIES {
            let backoff = self.cfg.retry_base_ms.saturating_mul(1 << attempt);
            let delay = match problem {
                Problem::Status(_, Some(after)) => after.clamp(backoff, 10_000.max(backoff)),
                _ => backoff,
            };
            let Some(r) = self.reply.as_mut() else { return };
            r.attempt += 1;
            r.sse = sse::Parser::new();
            r.finished = false;
            let attempt = r.attempt;
            self.log(
                Record::new(Level::Warn, "upstream_retry")
                    .with("replyId", reply_id.as_str())
                    .with("attempt", attempt)
                    .with("delayMs", delay)
                    .with("error", problem.describe()),
            );
            self.request_attempt(delay);
            return;
        }
        self.log(
            Record::new(Level::Error, "upstream_failed")
                .with("replyId", reply_id.as_str())
                .with("error", problem.describe()),
        );
        if message_tier.is_crisis() {
            // Never leave a person at risk without help: send the vetted crisis message.
            let text = crisis_fallback(&self.cfg.crisis_resources);
            for piece in offline::chunks(&text) {
                self.chunk(piece);
            }
            self.complete(false);
            return;
        }
        let error = match problem {
            Problem::Status(429, _) => ClientError::new(
                "UPSTREAM_RATE_LIMITED",
                "Mia is very busy right now; please try again in a moment.".into(),
                true,
            ),
            Problem::Status(code, _) if (400..500).contains(&code) && code != 408 => ClientError::new(
                "UPSTREAM_UNAVAILABLE",
                "Mia can't reach her language model (it refused the request); your message is saved.".into(),
                false,
            ),
            _ => ClientError::new(
                "UPSTREAM_UNAVAILABLE",
                "Mia can't answer right now; your message is saved. Please try again.".into(),
                true,
            ),
        };
        self.reply = None;
        self.push(Output::Store(Write::Unowed { reply_id }));
        self.emit_all("error", error.payload());
        self.next_job();
    }

    /// Ends the current reply: crisis resources guaranteed at tier 3, `message_complete`, stored.
    fn complete(&mut self, interrupted: bool) {
        let needs_resources = self
            .reply
            .as_ref()
            .is_some_and(|r| r.message_tier.is_crisis() && !safety::mentions_resources(&r.text, &self.cfg.crisis_resources));
        if needs_resources {
            self.chunk(resources_suffix(&self.cfg.crisis_resources));
        }
        let Some(r) = self.reply.take() else { return };
        let mut payload = json!({
            "sessionId": self.meta.session_id,
            "messageId": r.id,
            "message": r.text,
            "mode": self.meta.mode.as_str(),
            "safetyTier": self.meta.tier,
        });
        if interrupted {
            payload["interrupted"] = json!(true);
        }
        self.emit_all("message_complete", payload);
        if !r.text.is_empty() {
            let stored = Message {
                id: r.id.clone(),
                role: Role::Assistant,
                content: r.text.clone(),
                ts: self.now,
                interrupted,
            };
            // Stored, the reply settles what its message was owed.
            self.push(Output::Store(Write::Message(stored.clone())));
            self.history.push(stored);
            self.last_active = self.now;
        } else {
            self.push(Output::Store(Write::Unowed { reply_id: r.id.clone() }));
        }
        self.log(
            Record::new(Level::Info, "reply_complete")
                .with("replyId", r.id.as_str())
                .with("chars", r.text.chars().count())
                .with("chunks", r.index)
                .with("interrupted", interrupted)
                .with("resourcesAdded", needs_resources)
                .with("ms", self.now.saturating_sub(r.started_at)),
        );
        self.trim_history();
        self.next_job();
    }

    fn next_job(&mut self) {
        if self.reply.is_none() {
            if let Some(job) = self.queue.pop_front() {
                self.start_reply(job);
            }
        }
    }

    fn trim_history(&mut self) {
        let keep = Session::history_to_load(&self.cfg);
        // Queued messages must stay reachable for their prompts.
        let oldest_needed = self
            .queue
            .front()
            .and_then(|j| self.history.iter().position(|m| m.id == j.user_message))
            .unwrap_or(usize::MAX);
        let excess = self
            .history
            .len()
            .saturating_sub(keep)
            .min(oldest_needed.saturating_sub(self.cfg.history_limit));
        if excess > 0 {
            self.history.drain(..excess);
        }
    }
}

impl Session {
    /// After a restart: finishes the replies still owed (`pending`, oldest first, as stored).
    /// A reply that had streamed text is stored as it was saved, marked `interrupted` (with
    /// the crisis resources added at tier 3), and not generated again: the child has read
    /// part of it. A message with no saved reply text is answered now, under the `replyId`
    /// its ack gave, so a rejoining client finds it in `session_created.streaming`.
    pub fn recover(&mut self, now: u64, pending: Vec<Pending>) -> Vec<Output> {
        self.now = now;
        for p in pending {
            let live = self.reply.as_ref().is_some_and(|r| r.id == p.reply_id) || self.queue.iter().any(|j| j.reply_id == p.reply_id);
            if live {
                continue;
            }
            if p.partial.is_empty() {
                self.log(
                    Record::new(Level::Warn, "reply_recovered")
                        .with("replyId", p.reply_id.as_str())
                        .with("tier", p.tier)
                        .with("action", "answer"),
                );
                self.queue.push_back(Job {
                    user_message: p.user_message,
                    reply_id: p.reply_id,
                    tier: p.tier,
                });
                continue;
            }
            let mut text = p.partial;
            let add_resources = p.tier.is_crisis() && !safety::mentions_resources(&text, &self.cfg.crisis_resources);
            if add_resources {
                text.push_str(&resources_suffix(&self.cfg.crisis_resources));
            }
            let stored = Message {
                id: p.reply_id.clone(),
                role: Role::Assistant,
                content: text,
                ts: now,
                interrupted: true,
            };
            self.log(
                Record::new(Level::Warn, "reply_recovered")
                    .with("replyId", p.reply_id.as_str())
                    .with("tier", p.tier)
                    .with("chars", stored.content.chars().count())
                    .with("action", "interrupted")
                    .with("resourcesAdded", add_resources),
            );
            self.emit_all(
                "message_complete",
                json!({
                    "sessionId": self.meta.session_id,
                    "messageId": stored.id,
                    "message": stored.content,
                    "mode": self.meta.mode.as_str(),
                    "safetyTier": self.meta.tier,
                    "interrupted": true,
                }),
            );
            self.push(Output::Store(Write::Message(stored.clone())));
            self.history.push(stored);
            self.last_active = now;
        }
        self.next_job();
        self.finish_outputs()
    }

    /// A transaction the shell could not write, even after retrying. Memory follows storage:
    /// a message it held leaves the history, the client is told with a retryable
    /// `STORAGE_FAILED` naming it, and an unsaved user message is not answered — except at
    /// tier 3, whose crisis reply is never withheld. An unsaved reply's saved text is removed
    /// and its message owed nothing (a restart must not bring it back as interrupted). Other writes (the session row, a
    /// safety event, a reply's saved text) are logged; the session row goes with the next write.
    pub fn storage_failed(&mut self, now: u64, writes: Vec<Write>, error: &str) -> Vec<Output> {
        self.now = now;
        let kinds: Vec<&str> = writes.iter().map(write_kind).collect();
        self.log(
            Record::new(Level::Error, "storage_failed")
                .with("writes", kinds.join(","))
                .with("error", error.chars().take(200).collect::<String>()),
        );
        for w in writes {
            match w {
                Write::Meta(_) => self.stored = false,
                Write::Message(m) | Write::Owed { message: m, .. } => {
                    self.history.retain(|h| h.id != m.id);
                    let text = match m.role {
                        Role::User => {
                            self.drop_reply_to(&m.id);
                            "Your message could not be saved, so Mia could not take it in; please send it again."
                        }
                        Role::Assistant => {
                            self.push(Output::Store(Write::Forget { reply_id: m.id.clone() }));
                            self.push(Output::Store(Write::Unowed { reply_id: m.id.clone() }));
                            "Mia's reply could not be saved and will not be in the history; please ask again."
                        }
                    };
                    let mut payload = ClientError::new("STORAGE_FAILED", text.into(), true).payload();
                    payload["messageId"] = json!(m.id);
                    self.emit_all("error", payload);
                }
                _ => {}
            }
        }
        self.finish_outputs()
    }

    /// Stops the reply owed to an unsaved user message (never at tier 3).
    fn drop_reply_to(&mut self, user_message: &str) {
        self.queue.retain(|j| j.user_message != user_message || j.tier.is_crisis());
        let current = self
            .reply
            .as_ref()
            .filter(|r| r.for_message == user_message && !r.message_tier.is_crisis())
            .map(|r| r.id.clone());
        if let Some(id) = current {
            self.push(Output::Upstream(UpstreamCommand::Abort { reply_id: id }));
            self.reply = None;
            self.next_job();
        }
    }
}

/// A write's kind, for logs (never its content).
fn write_kind(w: &Write) -> &'static str {
    match w {
        Write::Meta(_) => "meta",
        Write::Owed { .. } => "user_message",
        Write::Message(_) => "reply",
        Write::SafetyEvent(_) => "safety_event",
        Write::Partial { .. } => "partial",
        Write::Unowed { .. } => "unowed",
        Write::Forget { .. } => "forget",
    }
}
