//! Configuration from environment variables (wrangler vars, `.dev.vars`, secrets).

use serde_json::{Map, Value};

use crate::log::Level;
use crate::safety::{Resource, Tier};

/// Every setting the server reads, parsed and defaulted.
#[derive(Debug, Clone)]
pub struct Config {
    pub openai_api_key: Option<String>,
    pub openai_base_url: String,
    pub openai_model: String,
    /// The safety judge's chat model; `None` (empty `SAFETY_MODEL`) turns the judge off.
    pub safety_model: Option<String>,
    /// How long the safety judge may take before its verdict is given up.
    pub judge_timeout_ms: u64,
    pub workflow_id: Option<String>,
    pub jwt_secret: Option<String>,
    pub auth_api_key: Option<String>,
    pub production: bool,
    pub allowed_origins: Vec<String>,
    pub log_level: Level,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub max_payload: u64,
    pub max_message_chars: usize,
    pub history_limit: usize,
    pub rate_limit_per_minute: u32,
    pub queue_limit: usize,
    pub max_sockets_per_session: usize,
    pub first_byte_timeout_ms: u64,
    pub reply_timeout_ms: u64,
    pub retry_base_ms: u64,
    pub token_ttl_secs: u64,
    /// The longest token lifetime accepted on connect (never below `token_ttl_secs`).
    pub max_token_lifetime_secs: u64,
    /// New connections (Engine.IO handshakes) per client address per minute; 0 = no limit.
    pub client_sessions_per_minute: u32,
    /// Replies from the model per client address per minute; 0 = no limit.
    pub client_model_calls_per_minute: u32,
    pub offline_chunk_delay_ms: u64,
    /// A session with no message for this long deletes itself (`SESSION_RETENTION_DAYS`).
    pub retention_ms: u64,
    pub crisis_resources: Vec<Resource>,
    pub substance_resources: Vec<Resource>,
    /// Behave as the official Socket.IO protocol test suite expects.
    pub conformance: bool,
    /// Accept WebSockets with the Hibernation API (off under the conformance switch: the
    /// runtime holds a hibernatable socket that never sent a frame open for seconds after
    /// the server closes it, and the suite's silent sockets wait for that close).
    pub hibernate_websockets: bool,
    /// Problems found while parsing: `(check name, what is wrong)`; no secret values.
    pub problems: Vec<(String, String)>,
}

/// The names of every variable, for `.env.example` and the docs.
pub const VARIABLES: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "SAFETY_MODEL",
    "SAFETY_JUDGE_TIMEOUT_MS",
    "MIA_WORKFLOW_ID",
    "JWT_SECRET",
    "AUTH_API_KEY",
    "PORT",
    "NODE_ENV",
    "ALLOWED_ORIGINS",
    "LOG_LEVEL",
    "PING_INTERVAL_MS",
    "PING_TIMEOUT_MS",
    "CONNECT_TIMEOUT_MS",
    "MAX_PAYLOAD",
    "MAX_MESSAGE_CHARS",
    "HISTORY_LIMIT",
    "RATE_LIMIT_PER_MINUTE",
    "QUEUE_LIMIT",
    "MAX_SOCKETS_PER_SESSION",
    "UPSTREAM_FIRST_BYTE_TIMEOUT_MS",
    "UPSTREAM_TIMEOUT_MS",
    "UPSTREAM_RETRY_BASE_MS",
    "TOKEN_TTL_SECONDS",
    "MAX_TOKEN_LIFETIME_SECONDS",
    "CLIENT_SESSIONS_PER_MINUTE",
    "CLIENT_MODEL_CALLS_PER_MINUTE",
    "OFFLINE_CHUNK_DELAY_MS",
    "SESSION_RETENTION_DAYS",
    "CRISIS_RESOURCES",
    "SOCKETIO_CONFORMANCE",
];

const DAY_MS: u64 = 24 * 3600 * 1000;
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Days (fractions allowed: tests use seconds' worth) as whole milliseconds, at least 1.
fn parse_days(raw: &str) -> Option<u64> {
    let days: f64 = raw.parse().ok()?;
    (days.is_finite() && days > 0.0 && days <= f64::from(MAX_RETENTION_DAYS)).then(|| ((days * DAY_MS as f64).round() as u64).max(1))
}

/// The shortest `JWT_SECRET` accepted in production.
pub const MIN_SECRET_BYTES: usize = 32;

impl Default for Config {
    fn default() -> Self {
        Config::from_lookup(|_| None)
    }
}

impl Config {
    /// Builds the configuration from a variable lookup; bad values fall back to defaults
    /// and are reported in `problems`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Config {
        let mut v = Vars { get, problems: Vec::new() };
        let conformance = matches!(v.text("SOCKETIO_CONFORMANCE").as_deref(), Some("1" | "true" | "yes"));
        // Production unless development is asked for by name: a deployment that forgets
        // NODE_ENV (or misspells it) keeps the strict origin and secret checks.
        let production = v.text("NODE_ENV").as_deref() != Some("development");
        let (ping, pong, connect) = if conformance { (300, 200, 1000) } else { (25_000, 20_000, 45_000) };
        let token_ttl_secs = v.num("TOKEN_TTL_SECONDS", 7 * 24 * 3600, 60, 366 * 24 * 3600);
        let (crisis_resources, substance_resources) = v.resources();
        Config {
            openai_api_key: v.text("OPENAI_API_KEY"),
            openai_base_url: v
                .text("OPENAI_BASE_URL")
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .to_string(),
            openai_model: v.text("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o".into()),
            safety_model: v.text("SAFETY_MODEL"),
            judge_timeout_ms: v.num("SAFETY_JUDGE_TIMEOUT_MS", 8_000, 100, 120_000),
            workflow_id: v.text("MIA_WORKFLOW_ID"),
            jwt_secret: v.jwt_secret(production),
            auth_api_key: v.text("AUTH_API_KEY"),
            production,
            allowed_origins: v.allowed_origins(production),
            log_level: v.log_level(),
            ping_interval_ms: v.num("PING_INTERVAL_MS", ping, 50, 3_600_000),
            ping_timeout_ms: v.num("PING_TIMEOUT_MS", pong, 50, 3_600_000),
            connect_timeout_ms: v.num("CONNECT_TIMEOUT_MS", connect, 50, 3_600_000),
            max_payload: v.num("MAX_PAYLOAD", 1_000_000, 1_000, 100_000_000),
            max_message_chars: v.num("MAX_MESSAGE_CHARS", 4000, 1, 4_000_000) as usize,
            history_limit: v.num("HISTORY_LIMIT", 20, 1, 500) as usize,
            rate_limit_per_minute: v.num("RATE_LIMIT_PER_MINUTE", 20, 1, 100_000) as u32,
            queue_limit: v.num("QUEUE_LIMIT", 5, 0, 1000) as usize,
            max_sockets_per_session: v.num("MAX_SOCKETS_PER_SESSION", 10, 1, 10_000) as usize,
            first_byte_timeout_ms: v.num("UPSTREAM_FIRST_BYTE_TIMEOUT_MS", 20_000, 10, 600_000),
            reply_timeout_ms: v.num("UPSTREAM_TIMEOUT_MS", 120_000, 10, 3_600_000),
            retry_base_ms: v.num("UPSTREAM_RETRY_BASE_MS", 500, 0, 60_000),
            token_ttl_secs,
            // Tokens this server mints always verify; the original's were 24 h.
            max_token_lifetime_secs: v
                .num("MAX_TOKEN_LIFETIME_SECONDS", 30 * 24 * 3600, 3600, 366 * 24 * 3600)
                .max(token_ttl_secs),
            client_sessions_per_minute: v.num("CLIENT_SESSIONS_PER_MINUTE", 60, 0, 1_000_000) as u32,
            client_model_calls_per_minute: v.num("CLIENT_MODEL_CALLS_PER_MINUTE", 120, 0, 1_000_000) as u32,
            offline_chunk_delay_ms: v.num("OFFLINE_CHUNK_DELAY_MS", 30, 0, 10_000),
            retention_ms: v.retention_ms(),
            crisis_resources,
            substance_resources,
            conformance,
            hibernate_websockets: !conformance,
            problems: v.problems,
        }
    }

    /// The help resources shown at `tier`: the crisis lines at 3, substance-use help at 2.
    pub fn resources_for(&self, tier: Tier) -> Option<&[Resource]> {
        if tier.is_crisis() {
            Some(&self.crisis_resources)
        } else if tier.alerts() {
            Some(&self.substance_resources)
        } else {
            None
        }
    }

    /// Whether a browser `Origin` may call the server. Requests without one are allowed.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(o) => {
                let o = o.trim_end_matches('/');
                self.allowed_origins.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(o))
            }
        }
    }

    /// The `checks` object of `/health`: names and states, never values.
    pub fn health_checks(&self) -> (bool, Map<String, Value>) {
        let mut checks = Map::new();
        checks.insert(
            "jwtSecret".into(),
            Value::from(if self.jwt_secret.is_some() { "ok" } else { "missing" }),
        );
        checks.insert(
            "openai".into(),
            Value::from(if self.openai_api_key.is_some() {
                "configured"
            } else {
                "offline companion"
            }),
        );
        checks.insert(
            "safetyJudge".into(),
            Value::from(match (&self.openai_api_key, &self.safety_model) {
                (Some(_), Some(_)) => "on",
                (None, Some(_)) => "off: SAFETY_MODEL needs OPENAI_API_KEY",
                (_, None) => "off",
            }),
        );
        checks.insert(
            "authApiKey".into(),
            Value::from(if self.auth_api_key.is_some() { "ok" } else { "missing" }),
        );
        let mut degraded = self.jwt_secret.is_none();
        for (name, problem) in &self.problems {
            if name == "jwtSecret" {
                checks.insert(name.clone(), Value::from(problem.clone()));
            } else {
                degraded = true;
                checks.insert(name.clone(), Value::from(problem.clone()));
            }
        }
        (degraded, checks)
    }
}

/// The variables as [`Config::from_lookup`] reads them: trimmed, empty as unset, and each
/// value that cannot be used noted in `problems` (never the value itself).
struct Vars<F> {
    get: F,
    problems: Vec<(String, String)>,
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn text(&self, name: &str) -> Option<String> {
        (self.get)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn problem(&mut self, name: &str, what: String) {
        self.problems.push((name.to_string(), what));
    }

    /// A whole number from `min` to `max`, else `default`.
    fn num(&mut self, name: &str, default: u64, min: u64, max: u64) -> u64 {
        let Some(raw) = self.text(name) else { return default };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.problem(name, format!("expected a whole number from {min} to {max}; using {default}"));
                default
            }
        }
    }

    fn retention_ms(&mut self) -> u64 {
        let default = DEFAULT_RETENTION_DAYS as u64 * DAY_MS;
        let Some(raw) = self.text("SESSION_RETENTION_DAYS") else {
            return default;
        };
        parse_days(&raw).unwrap_or_else(|| {
            self.problem(
                "SESSION_RETENTION_DAYS",
                format!("expected a number of days above 0 and at most {MAX_RETENTION_DAYS}; using {DEFAULT_RETENTION_DAYS}"),
            );
            default
        })
    }

    fn log_level(&mut self) -> Level {
        let Some(raw) = self.text("LOG_LEVEL") else { return Level::Info };
        Level::parse(&raw).unwrap_or_else(|| {
            self.problem("LOG_LEVEL", "expected debug, info, warn or error; using info".into());
            Level::Info
        })
    }

    /// `ALLOWED_ORIGINS`; `*` (the default in development) is refused in production.
    fn allowed_origins(&mut self, production: bool) -> Vec<String> {
        let mut origins: Vec<String> = match self.text("ALLOWED_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            None if production => Vec::new(),
            None => vec!["*".into()],
        };
        if production && origins.iter().any(|o| o == "*") {
            self.problem("allowedOrigins", "\"*\" is not allowed in production; ignored".into());
            origins.retain(|o| o != "*");
        }
        origins
    }

    /// `JWT_SECRET`, refused in production when shorter than [`MIN_SECRET_BYTES`].
    fn jwt_secret(&mut self, production: bool) -> Option<String> {
        match self.text("JWT_SECRET") {
            None => {
                self.problem("jwtSecret", "missing".into());
                None
            }
            Some(s) if production && s.len() < MIN_SECRET_BYTES => {
                self.problem("jwtSecret", format!("shorter than {MIN_SECRET_BYTES} bytes; refused in production"));
                None
            }
            Some(s) => Some(s),
        }
    }

    /// `CRISIS_RESOURCES`, else the US defaults: (crisis, substance-use help).
    fn resources(&mut self) -> (Vec<Resource>, Vec<Resource>) {
        let defaults = || {
            (
                crate::safety::default_crisis_resources(),
                crate::safety::default_substance_resources(),
            )
        };
        let Some(raw) = self.text("CRISIS_RESOURCES") else {
            return defaults();
        };
        parse_resources(&raw).unwrap_or_else(|e| {
            self.problem("CRISIS_RESOURCES", format!("{e}; using the US defaults"));
            defaults()
        })
    }
}

/// `CRISIS_RESOURCES`: `{"crisis":[…],"substance":[…]}` of `{name, phone?, text?, url?}`.
fn parse_resources(raw: &str) -> Result<(Vec<Resource>, Vec<Resource>), String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        crisis: Vec<Resource>,
        #[serde(default)]
        substance: Vec<Resource>,
    }
    let parsed: Raw = serde_json::from_str(raw).map_err(|e| format!("invalid JSON: {e}"))?;
    if parsed.crisis.is_empty() {
        return Err("\"crisis\" must list at least one resource".into());
    }
    Ok((parsed.crisis, parsed.substance))
}

/// A configuration from these variables only (unit tests).
#[cfg(test)]
pub(crate) fn test_config(pairs: &[(&str, &str)]) -> Config {
    let map: std::collections::HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config as cfg;

    #[test]
    fn env_example_lists_every_variable() {
        let example = include_str!("../.env.example");
        for name in VARIABLES {
            assert!(
                example
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}=")) || l.starts_with(&format!("# {name}="))),
                "{name} is missing from .env.example"
            );
        }
    }

    /// `npm run dev` copies `.env.example` to `.dev.vars`, whose values win over defaults:
    /// pinned timers there would silently override the conformance switch's.
    #[test]
    fn env_example_leaves_the_timers_to_their_defaults() {
        let example = include_str!("../.env.example");
        let lookup = |name: &str| {
            example
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .map(str::to_string)
        };
        let dev = Config::from_lookup(|name| {
            if name == "SOCKETIO_CONFORMANCE" {
                Some("1".into())
            } else {
                lookup(name)
            }
        });
        assert_eq!(
            (dev.ping_interval_ms, dev.ping_timeout_ms, dev.connect_timeout_ms),
            (300, 200, 1000)
        );
        assert!(!dev.hibernate_websockets);
        let dev = Config::from_lookup(lookup);
        assert_eq!(
            (dev.ping_interval_ms, dev.ping_timeout_ms, dev.connect_timeout_ms),
            (25_000, 20_000, 45_000)
        );
        assert!(dev.hibernate_websockets);
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = cfg(&[]);
        assert_eq!((c.ping_interval_ms, c.ping_timeout_ms, c.max_payload), (25_000, 20_000, 1_000_000));
        assert_eq!(c.connect_timeout_ms, 45_000);
        assert_eq!(c.max_message_chars, 4000);
        assert_eq!(c.history_limit, 20);
        assert_eq!(c.queue_limit, 5);
        assert_eq!(c.openai_model, "gpt-4o");
        assert_eq!(c.openai_base_url, "https://api.openai.com/v1");
        // Production by default: no browser origin until ALLOWED_ORIGINS names it.
        assert!(c.production);
        assert!(!c.origin_allowed(Some("http://anything.example")));
        assert!(c.origin_allowed(None));
        let dev = cfg(&[("NODE_ENV", "development")]);
        assert!(dev.origin_allowed(Some("http://anything.example")));
        let (degraded, checks) = c.health_checks();
        assert!(degraded);
        assert_eq!(checks["jwtSecret"], "missing");
    }

    #[test]
    fn retention_is_thirty_days_unless_set_and_takes_fractions() {
        assert_eq!(cfg(&[]).retention_ms, 30 * 24 * 3600 * 1000);
        assert_eq!(cfg(&[("SESSION_RETENTION_DAYS", "7")]).retention_ms, 7 * 24 * 3600 * 1000);
        // A test's tiny retention: 0.0001 day = 8.64 s.
        assert_eq!(cfg(&[("SESSION_RETENTION_DAYS", "0.0001")]).retention_ms, 8_640);
        for bad in ["0", "-1", "never", "99999", "NaN"] {
            let c = cfg(&[("SESSION_RETENTION_DAYS", bad)]);
            assert_eq!(c.retention_ms, 30 * 24 * 3600 * 1000, "{bad}");
            assert!(c.problems.iter().any(|(n, _)| n == "SESSION_RETENTION_DAYS"), "{bad}");
        }
    }

    #[test]
    fn bad_numbers_fall_back_and_are_reported() {
        let c = cfg(&[("PING_INTERVAL_MS", "soon"), ("JWT_SECRET", "s3cret")]);
        assert_eq!(c.ping_interval_ms, 25_000);
        let (degraded, checks) = c.health_checks();
        assert!(degraded);
        assert!(checks["PING_INTERVAL_MS"].as_str().unwrap().contains("whole number"));
        assert!(!serde_json::to_string(&checks).unwrap().contains("s3cret"));
    }

    #[test]
    fn production_refuses_wildcards_and_short_secrets() {
        let c = cfg(&[
            ("NODE_ENV", "production"),
            ("ALLOWED_ORIGINS", "*, https://mia.example/"),
            ("JWT_SECRET", "short"),
        ]);
        assert!(c.jwt_secret.is_none());
        assert!(c.origin_allowed(Some("https://mia.example")));
        assert!(!c.origin_allowed(Some("https://evil.example")));
        assert!(c.origin_allowed(None));
    }

    #[test]
    fn production_is_the_default_and_development_must_be_named() {
        for env in [None, Some("production"), Some("staging"), Some("")] {
            let mut pairs = vec![("JWT_SECRET", "short")];
            if let Some(e) = env {
                pairs.push(("NODE_ENV", e));
            }
            let c = cfg(&pairs);
            assert!(c.production, "{env:?}");
            assert!(c.allowed_origins.is_empty(), "{env:?}");
            assert!(c.jwt_secret.is_none(), "{env:?}");
        }
        let dev = cfg(&[("NODE_ENV", "development"), ("JWT_SECRET", "short")]);
        assert!(!dev.production);
        assert_eq!(dev.allowed_origins, vec!["*".to_string()]);
        assert_eq!(dev.jwt_secret.as_deref(), Some("short"));
    }

    #[test]
    fn conformance_switch_shortens_timers() {
        let c = cfg(&[("SOCKETIO_CONFORMANCE", "1")]);
        assert!(c.conformance);
        assert_eq!((c.ping_interval_ms, c.ping_timeout_ms, c.connect_timeout_ms), (300, 200, 1000));
    }

    #[test]
    fn the_safety_judge_needs_a_model_and_a_key() {
        let off = cfg(&[("OPENAI_API_KEY", "sk-secret-value")]);
        assert_eq!(off.safety_model, None);
        assert_eq!(off.judge_timeout_ms, 8_000);
        assert_eq!(off.health_checks().1["safetyJudge"], "off");
        let on = cfg(&[
            ("OPENAI_API_KEY", "sk-secret-value"),
            ("SAFETY_MODEL", " gpt-4o-mini "),
            ("SAFETY_JUDGE_TIMEOUT_MS", "2500"),
        ]);
        assert_eq!(on.safety_model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(on.judge_timeout_ms, 2_500);
        let (_, checks) = on.health_checks();
        assert_eq!(checks["safetyJudge"], "on");
        assert!(!serde_json::to_string(&checks).unwrap().contains("sk-secret-value"));
        let keyless = cfg(&[("SAFETY_MODEL", "gpt-4o-mini"), ("SAFETY_JUDGE_TIMEOUT_MS", "0")]);
        assert!(keyless.health_checks().1["safetyJudge"].as_str().unwrap().starts_with("off"));
        assert_eq!(keyless.judge_timeout_ms, 8_000);
        assert!(keyless.health_checks().1["SAFETY_JUDGE_TIMEOUT_MS"].is_string());
    }

    #[test]
    fn resources_are_configurable() {
        let c = cfg(&[("CRISIS_RESOURCES", r#"{"crisis":[{"name":"Samaritans","phone":"116 123"}]}"#)]);
        assert_eq!(c.crisis_resources[0].name, "Samaritans");
        let bad = cfg(&[("CRISIS_RESOURCES", r#"{"crisis":[]}"#)]);
        assert_eq!(bad.crisis_resources, crate::safety::default_crisis_resources());
        assert!(bad.health_checks().0);
    }
}
