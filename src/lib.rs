//! Mia's server: a real-time AI emotional-support companion.
//!
//! The pure core (everything but `platform`) compiles and is tested natively; the
//! `platform` module is the thin Cloudflare Workers shell around it. Comments cite the
//! behaviour clients rely on as "CONTRACT §n": the sections of `docs/CONTRACT.md`.

pub mod auth;
pub mod config;
pub mod conversation;
pub mod engine;
pub mod evaluation;
pub mod http;
pub mod ids;
pub mod knockout;
pub mod log;
pub mod protocol;
pub mod rate_limit;
pub mod safety;
pub mod session;
pub mod time;
pub mod upstream;

#[cfg(target_arch = "wasm32")]
mod platform;

/// The server version reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
