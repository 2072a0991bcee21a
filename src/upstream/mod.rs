//! The upstream model, as data: the chat-completions request and its server-sent events.

pub mod openai;
pub mod sse;
