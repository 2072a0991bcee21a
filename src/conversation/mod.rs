//! The conversation (README "The message pipeline"): a session's history, its reply in
//! flight and queue, its safety state, mode and age, sans I/O. Inputs carry time; what
//! it decides comes back as [`Effect`]s (events for the session's sockets, storage
//! writes, upstream requests, logs) that the Socket.IO layer routes. Of sockets it knows
//! only the id an event came from, to address its answer (`To::Socket`) and its logs.
//!
//! A message goes: [`Conversation::message`] (validate, admit, store, classify, alert,
//! age and mode, second opinions, ack) → [`reply`] (the model's stream as
//! `message_chunk`s, then `message_complete`) → stored. [`opinions`] may raise its tier later.

pub mod events;
pub mod mode;
pub mod offline;
pub mod opinions;
pub mod prompts;
pub mod reply;
pub mod store;
pub mod work;

use serde_json::{json, Value};
use std::collections::VecDeque;

use crate::config::Config;
use crate::ids;
use crate::log::{Level, Record};
use crate::rate_limit::TokenBucket;
use crate::safety::age;
use crate::safety::{self, Assessment, Tier};
use events::{ClientError, ServerEvent, SessionCreated, Streaming};
use mode::{Mode, ModeState};
use store::{Message, Meta, Owner, Pending, Role, SafetyEvent, Write};

pub use work::{
    Failure, Job, Opinion, OpinionRequest, OpinionResult, Reply, UpstreamCommand, UpstreamEvent, UpstreamJob, UpstreamRequest,
    JUDGE_CONTEXT_MESSAGES, MAX_RETRIES, MODERATION_TIMEOUT_MS, OPINION_TIERS_KEPT, PARTIAL_SAVE_MS,
};

/// How many stored messages a session keeps in memory and shows on join.
pub const HISTORY_SHOWN: usize = 50;

/// How long after a reply's last possible moment (first byte + whole-reply timeouts) the
/// session wakes to finish it, had the object restarted meanwhile.
pub const RECOVERY_GRACE_MS: u64 = 5_000;

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum To {
    /// Every socket joined to the session.
    All,
    /// One connection (by Engine.IO sid): the one that asked.
    Socket(String),
}

/// What the conversation decided, in order, for the layer above to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Emit(To, ServerEvent),
    /// One write; a step's writes are stored together, as one transaction (see
    /// [`Conversation::commit`]).
    Store(Write),
    Upstream(UpstreamCommand),
    Log(Record),
}

/// One session's conversation and everything it owns.
pub struct Conversation {
    cfg: Config,
    meta: Meta,
    history: Vec<Message>,
    reply: Option<Reply>,
    queue: VecDeque<Job>,
    /// Recent user messages whose second opinions may still arrive, with the tier each
    /// has so far (the rules', or a raise's): a second opinion counts only above it.
    opinion_tiers: VecDeque<(String, Tier)>,
    bucket: TokenBucket,
    /// Recent messages' safety scores; `None` until the first message after a restore.
    context: Option<safety::context::Context>,
    /// Whether the session's row is stored: nothing is, until its first message.
    stored: bool,
    /// The last message (or reply) stored: retention counts from here.
    last_active: u64,
    now: u64,
    effects: Vec<Effect>,
}

/// What a message changes of the session's row.
type RowState = (Option<u8>, Mode, Tier, u8);

impl Conversation {
    /// Rebuilds a conversation from storage (`meta` is `None` for a new one, which then
    /// belongs to `owner`). Replies still owed are picked up by [`Conversation::recover`].
    pub fn restore(cfg: Config, session_id: &str, meta: Option<Meta>, history: Vec<Message>, owner: Owner, now: u64) -> Conversation {
        let stored = meta.is_some();
        let meta = meta.unwrap_or_else(|| Meta {
            session_id: session_id.to_string(),
            owner,
            age: None,
            mode: Mode::Greeting,
            tier: Tier::NONE,
            fundraising_left: 0,
            created_at: now,
            updated_at: now,
        });
        let last_active = history
            .iter()
            .map(|m| m.ts)
            .chain([meta.created_at, meta.updated_at])
            .max()
            .unwrap_or(now);
        let bucket = TokenBucket::new(cfg.rate_limit_per_minute, now);
        Conversation {
            cfg,
            meta,
            history,
            reply: None,
            queue: VecDeque::new(),
            opinion_tiers: VecDeque::new(),
            bucket,
            context: None,
            stored,
            last_active,
            now,
            effects: Vec::new(),
        }
    }

    /// How many messages to load from storage for `restore`.
    pub fn history_to_load(cfg: &Config) -> usize {
        cfg.history_limit.max(HISTORY_SHOWN)
    }

    /// What was decided since the last call, in order.
    pub fn poll_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn session_id(&self) -> &str {
        &self.meta.session_id
    }

    pub fn has_history(&self) -> bool {
        !self.history.is_empty()
    }

    /// Whether anything of this session is stored.
    pub fn is_stored(&self) -> bool {
        self.stored
    }

    /// Gives the session to `owner` (the access rule is the caller's). Stored with the
    /// first message: a connection alone stores nothing.
    pub fn claim(&mut self, now: u64, owner: Owner) {
        if self.meta.owner == Owner::Unclaimed {
            self.meta.created_at = now;
        }
        self.meta.owner = owner;
        self.meta.updated_at = now;
    }

    /// One step's writes as one transaction: the session's row goes with its first write
    /// (the first message), and a reply's text saved twice keeps only the last save.
    pub fn commit(&mut self, mut writes: Vec<Write>) -> Vec<Write> {
        if !self.stored && !writes.iter().any(|w| matches!(w, Write::Meta(_))) {
            writes.insert(0, Write::Meta(self.meta.clone()));
        }
        self.stored = true;
        coalesce(writes)
    }

    /// When a reply owed must have ended: if the object restarted meanwhile, this wake-up
    /// restores it and finishes the work (see `recover`).
    pub fn watchdog(&self, now: u64) -> Option<u64> {
        self.reply
            .as_ref()
            .map(|r| r.started_at + self.cfg.first_byte_timeout_ms + self.cfg.reply_timeout_ms + RECOVERY_GRACE_MS)
            .filter(|at| *at > now)
    }

    /// When an idle, stored session expires: `SESSION_RETENTION_DAYS` after its last message.
    /// Never while a socket is `connected` or a reply is owed (the alarm then serves them).
    pub fn retention_deadline(&self, connected: bool) -> Option<u64> {
        let idle = self.stored && !connected && self.reply.is_none() && self.queue.is_empty();
        idle.then(|| self.last_active.saturating_add(self.cfg.retention_ms))
    }

    /// Forgets the session (its storage is deleted by the caller): a fresh, unstored one.
    pub fn expire(&mut self, now: u64) {
        self.now = now;
        self.log(
            Record::new(Level::Info, "session_expired")
                .with("idleMs", now.saturating_sub(self.last_active))
                .with("messages", self.history.len()),
        );
        let fresh = Conversation::restore(self.cfg.clone(), &self.meta.session_id, None, Vec::new(), Owner::Unclaimed, now);
        self.meta = fresh.meta;
        self.last_active = fresh.last_active;
        self.history.clear();
        self.opinion_tiers.clear();
        self.context = None;
        self.stored = false;
        self.effects.retain(|e| !matches!(e, Effect::Store(_)));
    }

    /// `session_created` for the socket `sid` of `user_id` (`created`: its connection claimed
    /// the session); returns the join's ack.
    pub fn join(&mut self, now: u64, sid: &str, user_id: &str, created: bool) -> Value {
        self.now = now;
        let start = self.history.len().saturating_sub(HISTORY_SHOWN);
        let event = SessionCreated {
            session_id: self.meta.session_id.clone(),
            user_id: user_id.to_string(),
            age: self.meta.age,
            mode: self.meta.mode,
            tier: self.meta.tier,
            history: self.history[start..].to_vec(),
            is_new: created && self.history.is_empty(),
            resources: self.cfg.resources_for(self.meta.tier).map(<[_]>::to_vec),
            streaming: self.reply.as_ref().map(|r| Streaming {
                message_id: r.id.clone(),
                in_reply_to: r.for_message.clone(),
                partial: r.text.clone(),
                next_index: r.index,
            }),
        };
        self.emit(To::Socket(sid.to_string()), ServerEvent::SessionCreated(Box::new(event)));
        self.log(
            Record::new(Level::Info, "session_joined")
                .with("sid", sid)
                .with("messages", self.history.len()),
        );
        json!({ "ok": true, "sessionId": self.meta.session_id })
    }

    fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    fn emit(&mut self, to: To, event: ServerEvent) {
        self.effects.push(Effect::Emit(to, event));
    }

    fn log(&mut self, record: Record) {
        self.effects.push(Effect::Log(record));
    }

    /// What a message changes of the session's row, before and after it.
    fn row_state(&self) -> RowState {
        (self.meta.age, self.meta.mode, self.meta.tier, self.meta.fundraising_left)
    }
}

/// The message pipeline, one named step each.
impl Conversation {
    /// A `message` event from socket `sid`: returns its ack, or why it was refused (nothing
    /// is stored then).
    pub fn message(&mut self, now: u64, sid: &str, arg: &Value) -> Result<Value, ClientError> {
        self.now = now;
        let text = self.validate(arg)?;
        self.admit(sid)?;
        let (user_message, reply_id) = self.store_user_message(text);
        let before = self.row_state();
        let assessment = self.classify(text);
        if assessment.tier.alerts() {
            let categories = assessment.categories.iter().map(|c| c.as_str().to_string()).collect();
            let rules = assessment.rules.iter().map(|r| r.to_string()).collect();
            self.alert(&user_message, assessment.tier, categories, rules, "rules");
        }
        self.age_and_mode(text);
        self.store_row_if_changed(before);
        self.ask_second_opinions(&user_message, text, assessment.tier);
        let job = Job {
            user_message,
            reply_id,
            tier: assessment.tier,
        };
        Ok(self.take_turn(sid, job, text.chars().count(), &assessment))
    }

    /// The message's text: a non-empty string within `MAX_MESSAGE_CHARS`, for this session.
    fn validate<'a>(&self, arg: &'a Value) -> Result<&'a str, ClientError> {
        let invalid = |why: &str| ClientError::new("INVALID_MESSAGE", why.into(), false);
        let text = match arg {
            Value::String(s) => s.as_str(),
            Value::Object(o) => {
                if o.get("sessionId")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id != self.meta.session_id)
                {
                    return Err(ClientError::session_mismatch("This message names another session"));
                }
                match o.get("message").or_else(|| o.get("text")) {
                    Some(Value::String(s)) => s.as_str(),
                    _ => return Err(invalid("The message must be a non-empty string in \"message\"")),
                }
            }
            _ => return Err(invalid("The message must be an object with a \"message\" string")),
        };
        if text.trim().is_empty() {
            return Err(invalid("The message is empty"));
        }
        let chars = text.chars().count();
        if chars > self.cfg.max_message_chars {
            return Err(ClientError::new(
                "MESSAGE_TOO_LONG",
                format!("The message is {chars} characters; the limit is {}", self.cfg.max_message_chars),
                false,
            ));
        }
        Ok(text)
    }

    /// Room in the queue (`QUEUE_LIMIT` waiting behind a reply) and in the rate bucket.
    fn admit(&mut self, sid: &str) -> Result<(), ClientError> {
        if self.reply.is_some() && self.queue.len() >= self.cfg.queue_limit {
            self.log(
                Record::new(Level::Warn, "queue_full")
                    .with("sid", sid)
                    .with("queued", self.queue.len()),
            );
            return Err(ClientError::rate_limited(
                "Too many messages are waiting for a reply; please wait a moment",
                2000,
            ));
        }
        if let Err(wait) = self.bucket.take(self.now) {
            self.log(Record::new(Level::Warn, "rate_limited").with("sid", sid).with("retryAfterMs", wait));
            return Err(ClientError::rate_limited(
                "You're sending messages quickly; please slow down a little",
                wait,
            ));
        }
        Ok(())
    }

    /// Stores the user message, owed its reply until that reply is stored (a restarted
    /// session answers it: `recover`). Returns its id and its reply's.
    fn store_user_message(&mut self, text: &str) -> (String, String) {
        let message = Message {
            id: ids::message_id(),
            role: Role::User,
            content: text.to_string(),
            ts: self.now,
            interrupted: false,
        };
        let reply_id = ids::message_id();
        self.push(Effect::Store(Write::Owed {
            message: message.clone(),
            reply_id: reply_id.clone(),
        }));
        let id = message.id.clone();
        self.history.push(message);
        self.last_active = self.now;
        (id, reply_id)
    }

    /// The message's safety tier in its context; the session's is the highest seen.
    fn classify(&mut self, text: &str) -> Assessment {
        if crate::knockout::off(crate::knockout::Part::Classify) {
            return Assessment {
                tier: Tier::NONE,
                categories: Vec::new(),
                rules: Vec::new(),
                scores: Default::default(),
            };
        }
        let assessment = self.context().classify(text);
        self.meta.tier = self.meta.tier.max(assessment.tier);
        assessment
    }

    /// The age the message states, and the mode after it (`mode_changed` when it changes).
    fn age_and_mode(&mut self, text: &str) {
        if crate::knockout::off(crate::knockout::Part::Classify) {
            return;
        }
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
            self.mode_changed(mode, previous, reason.to_string());
        }
        self.meta.mode = state.mode;
        self.meta.fundraising_left = state.fundraising_left;
    }

    /// The session's row changes only with its state; the message row already says when.
    fn store_row_if_changed(&mut self, before: RowState) {
        if self.row_state() != before {
            self.meta.updated_at = self.now;
            self.push(Effect::Store(Write::Meta(self.meta.clone())));
        }
    }

    /// The reply starts now, or waits behind the one streaming; returns the message's ack.
    fn take_turn(&mut self, sid: &str, job: Job, chars: usize, assessment: &Assessment) -> Value {
        let queued = self.reply.is_some();
        self.log(
            Record::new(Level::Info, "message_received")
                .with("sid", sid)
                .with("messageId", job.user_message.as_str())
                .with("chars", chars)
                .with("tier", assessment.tier)
                .with("rules", assessment.rules.join(","))
                .with("mode", self.meta.mode.as_str())
                .with("queued", queued),
        );
        let ack = json!({ "ok": true, "messageId": job.user_message, "replyId": job.reply_id, "queued": queued });
        if queued {
            self.queue.push_back(job);
        } else {
            self.start_reply(job);
        }
        ack
    }

    /// `message_complete` to every socket.
    fn message_complete(&mut self, message_id: &str, text: &str, interrupted: bool) {
        let event = ServerEvent::MessageComplete {
            session_id: self.meta.session_id.clone(),
            message_id: message_id.to_string(),
            message: text.to_string(),
            mode: self.meta.mode,
            tier: self.meta.tier,
            interrupted,
        };
        self.emit(To::All, event);
    }

    /// `mode_changed` to every socket.
    fn mode_changed(&mut self, mode: Mode, previous: Mode, reason: String) {
        let event = ServerEvent::ModeChanged {
            session_id: self.meta.session_id.clone(),
            mode,
            previous,
            reason,
        };
        self.emit(To::All, event);
    }

    /// A `cancel` event: stops the reply being streamed (what arrived is stored, marked
    /// `interrupted`); returns its ack.
    pub fn cancel(&mut self, now: u64, arg: &Value) -> Result<Value, ClientError> {
        self.now = now;
        let wanted = arg.get("messageId").and_then(Value::as_str);
        let matches = self
            .reply
            .as_ref()
            .is_some_and(|r| wanted.is_none_or(|w| w == r.id || w == r.for_message));
        if !matches {
            return Ok(json!({ "ok": true, "cancelled": false }));
        }
        let id = self.reply.as_ref().map(|r| r.id.clone()).unwrap_or_default();
        self.push(Effect::Upstream(UpstreamCommand::Abort { reply_id: id.clone() }));
        self.log(Record::new(Level::Info, "reply_cancelled").with("replyId", id.as_str()));
        self.complete(true);
        Ok(json!({ "ok": true, "cancelled": true, "messageId": id }))
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
        let event = ServerEvent::SafetyAlert {
            session_id: self.meta.session_id.clone(),
            tier,
            categories: categories.clone(),
            resources: self.cfg.resources_for(tier).unwrap_or_default().to_vec(),
            message_id: message_id.to_string(),
        };
        self.emit(To::All, event);
        self.push(Effect::Store(Write::SafetyEvent(SafetyEvent {
            message_id: message_id.to_string(),
            tier,
            categories,
            rules,
            source,
            ts: self.now,
        })));
    }
}

impl Conversation {
    /// After a restart: finishes the replies still owed (`pending`, oldest first, as stored).
    /// A reply that had streamed text is stored as it was saved, marked `interrupted` (with
    /// the crisis resources added at tier 3), and not generated again: the child has read
    /// part of it. A message with no saved reply text is answered now, under the `replyId`
    /// its ack gave, so a rejoining client finds it in `session_created.streaming`.
    pub fn recover(&mut self, now: u64, pending: Vec<Pending>) {
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
                text.push_str(&work::resources_suffix(&self.cfg.crisis_resources));
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
            self.message_complete(&stored.id, &stored.content, true);
            self.push(Effect::Store(Write::Message(stored.clone())));
            self.history.push(stored);
            self.last_active = now;
        }
        self.next_job();
    }

    /// A transaction the shell could not write, even after retrying. Memory follows storage:
    /// a message it held leaves the history, the client is told with a retryable
    /// `STORAGE_FAILED` naming it, and an unsaved user message is not answered — except at
    /// tier 3, whose crisis reply is never withheld. An unsaved reply's saved text is removed
    /// and its message owed nothing (a restart must not bring it back as interrupted). Other writes (the session row, a
    /// safety event, a reply's saved text) are logged; the session row goes with the next write.
    pub fn storage_failed(&mut self, now: u64, writes: Vec<Write>, error: &str) {
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
                            self.push(Effect::Store(Write::Forget { reply_id: m.id.clone() }));
                            self.push(Effect::Store(Write::Unowed { reply_id: m.id.clone() }));
                            "Mia's reply could not be saved and will not be in the history; please ask again."
                        }
                    };
                    let event = ServerEvent::Error {
                        error: ClientError::new("STORAGE_FAILED", text.into(), true),
                        message_id: Some(m.id),
                    };
                    self.emit(To::All, event);
                }
                _ => {}
            }
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
/// One transaction's writes: a reply's text saved twice in one step keeps only the last
/// save, and none at all when the reply itself is stored (or given up) in the same step.
fn coalesce(writes: Vec<Write>) -> Vec<Write> {
    let done: Vec<String> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Message(m) => Some(m.id.clone()),
            Write::Unowed { reply_id } => Some(reply_id.clone()),
            _ => None,
        })
        .collect();
    let mut out: Vec<Write> = Vec::with_capacity(writes.len());
    for w in writes.into_iter().rev() {
        if let Write::Partial { reply_id, .. } = &w {
            let later = out.iter().any(|o| matches!(o, Write::Partial { reply_id: r, .. } if r == reply_id));
            if later || done.contains(reply_id) {
                continue;
            }
        }
        out.push(w);
    }
    out.reverse();
    out
}
