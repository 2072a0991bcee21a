//! What the conversation hands out and hears back, as data: reply jobs, upstream attempts
//! and their events, second-opinion requests and results; and the reply in flight.

use crate::safety::{self, Resource, Tier};
use crate::upstream::openai::HttpRequest;
use crate::upstream::sse;

/// Retries after the first attempt, for failures before the first chunk.
pub const MAX_RETRIES: u32 = 2;

/// A streaming reply's text is saved with the first chunk at least this long after its first
/// chunk, then after the last save: a crash loses at most the text streamed in this time.
pub const PARTIAL_SAVE_MS: u64 = 500;

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
    pub(crate) message_tier: Tier,
    pub(crate) attempt: u32,
    pub(crate) request: UpstreamRequest,
    pub(crate) sse: sse::Parser,
    pub(crate) finished: bool,
    pub(crate) started_at: u64,
    /// When the text was last saved, or its first chunk came (`None`: no chunk yet).
    pub(crate) saved_at: Option<u64>,
}

/// How long the moderation endpoint may take before its answer is given up.
pub const MODERATION_TIMEOUT_MS: u64 = 10_000;

/// Earlier messages (user and assistant) the safety judge sees with the one it judges.
pub const JUDGE_CONTEXT_MESSAGES: usize = 6;

/// How many recent messages' tiers are kept for their second opinions (far more than can
/// be answered within the opinions' timeouts under the rate limit).
pub const OPINION_TIERS_KEPT: usize = 32;

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

/// A second opinion to ask for; its answer comes back through [`Conversation::second_opinion`].
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

/// What the conversation asks of the model: a reply attempt, its abort, or a second opinion.
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

/// What a tier-3 reply that does not name the crisis resources ends with.
pub(crate) fn resources_suffix(resources: &[Resource]) -> String {
    format!(
        "\n\nIf you need help right now, please reach out:\n{}",
        safety::resources_text(resources)
    )
}
