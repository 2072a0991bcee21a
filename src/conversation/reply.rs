//! The reply: a prompt, one upstream attempt after another (retries with backoff,
//! timeouts), the stream parsed into chunks, cancellation, the queue, and the crisis
//! resources guaranteed at tier 3.

use crate::conversation::events::{ClientError, ServerEvent};
use crate::conversation::store::{Message, Role, Write};
use crate::conversation::work::*;
use crate::conversation::{offline, prompts, Conversation, Effect, To};
use crate::log::{Level, Record};
use crate::safety::{self, Resource};
use crate::upstream::openai::{self, ChatMessage, StreamItem};
use crate::upstream::sse;

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

fn crisis_fallback(resources: &[Resource]) -> String {
    format!(
        "I'm really glad you reached out, and I'm so sorry you're going through this. I'm having trouble answering right now, but you deserve support this very moment, and people are ready to help:\n{}\n\nIf you are in immediate danger, please call 911 or go to a trusted adult now. You are not alone.",
        safety::resources_text(resources)
    )
}

impl Conversation {
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

    pub(super) fn start_reply(&mut self, job: Job) {
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
        self.push(Effect::Upstream(UpstreamCommand::Start(job)));
    }

    /// Whether events for this attempt are still wanted (the shell stops reading otherwise).
    pub fn wants(&self, reply_id: &str, attempt: u32) -> bool {
        self.reply.as_ref().is_some_and(|r| r.id == reply_id && r.attempt == attempt)
    }

    /// What the shell saw of an upstream attempt.
    pub fn upstream(&mut self, now: u64, reply_id: &str, attempt: u32, event: UpstreamEvent) {
        self.now = now;
        if self.wants(reply_id, attempt) {
            self.on_upstream(event);
        }
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
        r.text.push_str(&text);
        let event = ServerEvent::MessageChunk {
            session_id: self.meta.session_id.clone(),
            message_id: r.id.clone(),
            chunk: text,
            index: r.index,
        };
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
            self.push(Effect::Store(w));
        }
        self.emit(To::All, event);
    }

    /// An attempt failed: after its first chunk the reply ends interrupted; before it, a
    /// retryable problem is tried again; otherwise the reply is given up.
    fn fail(&mut self, problem: Problem) {
        let Some(r) = self.reply.as_ref() else { return };
        if r.got_first() {
            self.interrupted(&problem);
        } else if problem.retryable() && r.attempt < MAX_RETRIES {
            self.retry(&problem);
        } else {
            self.give_up(problem);
        }
    }

    /// What arrived is stored and completed as `interrupted`, then `UPSTREAM_INTERRUPTED`.
    fn interrupted(&mut self, problem: &Problem) {
        let Some(r) = self.reply.as_ref() else { return };
        self.log(
            Record::new(Level::Warn, "upstream_interrupted")
                .with("replyId", r.id.as_str())
                .with("error", problem.describe()),
        );
        self.complete(true);
        let error = ClientError::new(
            "UPSTREAM_INTERRUPTED",
            "Mia's reply was cut off; what arrived is saved. Please try again.".into(),
            true,
        );
        self.emit(To::All, ServerEvent::error(error));
    }

    /// The next attempt, after an exponential backoff (or the upstream's `Retry-After`,
    /// within bounds).
    fn retry(&mut self, problem: &Problem) {
        let Some(r) = self.reply.as_mut() else { return };
        let backoff = self.cfg.retry_base_ms.saturating_mul(1 << r.attempt);
        let delay = match problem {
            Problem::Status(_, Some(after)) => (*after).clamp(backoff, 10_000.max(backoff)),
            _ => backoff,
        };
        r.attempt += 1;
        r.sse = sse::Parser::new();
        r.finished = false;
        let record = Record::new(Level::Warn, "upstream_retry")
            .with("replyId", r.id.as_str())
            .with("attempt", r.attempt)
            .with("delayMs", delay)
            .with("error", problem.describe());
        self.log(record);
        self.request_attempt(delay);
    }

    /// No reply: at tier 3 the vetted crisis message streams instead (never leave a person
    /// at risk without help); otherwise the message stays stored, owed nothing, and the
    /// sockets get `UPSTREAM_RATE_LIMITED` or `UPSTREAM_UNAVAILABLE`.
    fn give_up(&mut self, problem: Problem) {
        let Some(r) = self.reply.as_ref() else { return };
        let (reply_id, message_tier) = (r.id.clone(), r.message_tier);
        self.log(
            Record::new(Level::Error, "upstream_failed")
                .with("replyId", reply_id.as_str())
                .with("error", problem.describe()),
        );
        if message_tier.is_crisis() {
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
        self.push(Effect::Store(Write::Unowed { reply_id }));
        self.emit(To::All, ServerEvent::error(error));
        self.next_job();
    }

    /// Ends the current reply: crisis resources guaranteed at tier 3, `message_complete`, stored.
    pub(super) fn complete(&mut self, interrupted: bool) {
        let needs_resources = self
            .reply
            .as_ref()
            .is_some_and(|r| r.message_tier.is_crisis() && !safety::mentions_resources(&r.text, &self.cfg.crisis_resources));
        if needs_resources {
            self.chunk(resources_suffix(&self.cfg.crisis_resources));
        }
        let Some(r) = self.reply.take() else { return };
        self.message_complete(&r.id, &r.text, interrupted);
        if !r.text.is_empty() {
            let stored = Message {
                id: r.id.clone(),
                role: Role::Assistant,
                content: r.text.clone(),
                ts: self.now,
                interrupted,
            };
            // Stored, the reply settles what its message was owed.
            self.push(Effect::Store(Write::Message(stored.clone())));
            self.history.push(stored);
            self.last_active = self.now;
        } else {
            self.push(Effect::Store(Write::Unowed { reply_id: r.id.clone() }));
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

    pub(super) fn next_job(&mut self) {
        if self.reply.is_none() {
            if let Some(job) = self.queue.pop_front() {
                self.start_reply(job);
            }
        }
    }

    fn trim_history(&mut self) {
        let keep = Conversation::history_to_load(&self.cfg);
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

    /// Stops the reply owed to an unsaved user message (never at tier 3).
    pub(super) fn drop_reply_to(&mut self, user_message: &str) {
        self.queue.retain(|j| j.user_message != user_message || j.tier.is_crisis());
        let current = self
            .reply
            .as_ref()
            .filter(|r| r.for_message == user_message && !r.message_tier.is_crisis())
            .map(|r| r.id.clone());
        if let Some(id) = current {
            self.push(Effect::Upstream(UpstreamCommand::Abort { reply_id: id }));
            self.reply = None;
            self.next_job();
        }
    }
}
