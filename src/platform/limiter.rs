//! The per-client-address limiter: one small Durable Object per address key, so the counts
//! of new connections and model calls hold across every session's Durable Object. In
//! memory only (an evicted limiter starts full again); the decisions are `crate::session::limits`.

use std::cell::RefCell;
use worker::{durable_object, DurableObject, Env, Headers, Request, RequestInit, Response, Result, State};

use super::{config_from_env, now_ms};
use crate::config::Config;
use crate::log::{Level, Record};
use crate::session::limits::{ClientLimits, Kind};

const BINDING: &str = "MIA_LIMITER";
const KIND_HEADER: &str = "X-Mia-Limit";

/// Counts one `kind` for `client` (an [`crate::session::access::client_key`]): `Some(retry_after_ms)`
/// when over the limit. A limiter that cannot be reached lets the request through (logged):
/// the limits guard cost, and must not take the service down with them.
pub(super) async fn take(env: &Env, cfg: &Config, client: &str, kind: Kind) -> Option<u64> {
    if kind.per_minute(cfg) == 0 {
        return None;
    }
    let asked = async {
        let stub = env.durable_object(BINDING)?.id_from_name(client)?.get_stub()?;
        let headers = Headers::new();
        headers.set(KIND_HEADER, kind.as_str())?;
        let mut init = RequestInit::new();
        init.with_headers(headers);
        let req = Request::new_with_init("https://limiter.mia/take", &init)?;
        let mut res = stub.fetch_with_request(req).await?;
        let body: serde_json::Value = res.json().await?;
        Ok::<_, worker::Error>(body.get("retryAfterMs").and_then(serde_json::Value::as_u64))
    };
    match asked.await {
        Ok(retry) => retry,
        Err(e) => {
            if cfg.log_level <= Level::Error {
                let record = Record::new(Level::Error, "limiter_failed").with("error", e.to_string());
                worker::console_log!("{}", record.to_line(now_ms()));
            }
            None
        }
    }
}

#[durable_object]
pub struct MiaLimiter {
    cfg: Config,
    limits: RefCell<Option<ClientLimits>>,
}

impl DurableObject for MiaLimiter {
    fn new(_state: State, env: Env) -> Self {
        MiaLimiter {
            cfg: config_from_env(&env),
            limits: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let Some(kind) = req.headers().get(KIND_HEADER)?.as_deref().and_then(Kind::parse) else {
            return Response::error("Not found", 404);
        };
        let now = now_ms();
        let mut limits = self.limits.borrow_mut();
        let result = limits.get_or_insert_with(|| ClientLimits::new(&self.cfg, now)).take(kind, now);
        let body = match result {
            Ok(()) => serde_json::json!({ "ok": true }),
            Err(retry) => serde_json::json!({ "ok": false, "retryAfterMs": retry }),
        };
        Response::from_json(&body)
    }
}
