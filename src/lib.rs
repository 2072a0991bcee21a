//! Mia's server: a real-time AI emotional-support companion.
//!
//! The pure core (everything but `platform`) compiles and is tested natively; the
//! `platform` module is the thin Cloudflare Workers shell around it.

pub mod access;
pub mod age;
pub mod auth;
pub mod base64;
pub mod config;
pub mod conversation;
pub mod engineio;
pub mod evaluation;
pub mod http;
pub mod ids;
pub mod limits;
pub mod log;
pub mod mode;
pub mod normalize;
pub mod offline;
pub mod openai;
pub mod prompts;
pub mod rate_limit;
pub mod relay;
pub mod safety;
pub mod session;
pub mod socketio;
pub mod sse;
pub mod store;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod platform;

/// The server version reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
