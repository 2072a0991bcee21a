//! Structured logs: one JSON object per line. Records carry ids, codes, sizes and
//! timings only; callers never put message text, tokens or secrets in them.
//!
//! Session ids and Engine.IO sids are bearer secrets (knowing one is enough to rejoin a
//! session), so records never carry them in full: [`tag`] turns one into a short hash that
//! lets an operator follow one session through the logs and nothing more (CONTRACT §2, §10).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Keys whose values are ids that must never be logged in full.
const ID_KEYS: &[&str] = &["sessionId", "sid"];

/// Hex digits kept from the hash: 32 bits, few collisions across the sessions an operator
/// looks at together, and far too little to recover or guess a 128-bit id from.
const TAG_LEN: usize = 8;

/// The log form of a session id or sid: the first 8 hex digits of its SHA-256.
///
/// A hash rather than a prefix: sids are `<sessionId>.<random>`, so a prefix of a sid would be
/// a prefix of its session id, and a prefix of a client-chosen id could be most of it. The same
/// id always gives the same tag, so lines of one session (or socket) can be correlated.
pub fn tag(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().take(TAG_LEN / 2).map(|b| format!("{b:02x}")).collect();
    hex
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" | "trace" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" => Level::Error,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One log event before it gets its timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub level: Level,
    pub msg: &'static str,
    pub fields: Map<String, Value>,
}

impl Record {
    pub fn new(level: Level, msg: &'static str) -> Self {
        Record {
            level,
            msg,
            fields: Map::new(),
        }
    }

    /// A field. An id under `sessionId` or `sid` is logged only as its [`tag`], so no
    /// caller can log one in full by mistake.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        let mut value = value.into();
        if ID_KEYS.contains(&key) {
            if let Some(id) = value.as_str() {
                value = Value::from(tag(id));
            }
        }
        self.fields.insert(key.to_string(), value);
        self
    }

    /// The JSON line, with `ts` as ISO-8601.
    pub fn to_line(&self, now_ms: u64) -> String {
        let mut obj = Map::new();
        obj.insert("ts".into(), Value::from(crate::time::iso8601(now_ms)));
        obj.insert("level".into(), Value::from(self.level.as_str()));
        obj.insert("msg".into(), Value::from(self.msg));
        for (k, v) in &self.fields {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object() {
        let line = Record::new(Level::Warn, "rate_limited")
            .with("sessionId", "s1")
            .with("len", 12)
            .to_line(0);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["level"], "warn");
        assert_eq!(v["sessionId"], tag("s1"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn ids_are_logged_only_as_short_stable_tags() {
        let session = crate::ids::session_id();
        let sid = format!("{session}.{}", crate::ids::socket_id());
        let t = tag(&session);
        assert_eq!(t.len(), TAG_LEN);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(t, tag(&session), "the same id gives the same tag");
        assert_ne!(t, tag(&sid), "a sid and its session differ");
        assert_ne!(tag("abcdefgh"), tag("abcdefgi"));
        assert!(!session.contains(&t) && !sid.contains(&tag(&sid)));
        // Known value, so the tag stays the same across builds and platforms.
        assert_eq!(tag("abc"), "ba7816bf");

        let line = Record::new(Level::Info, "connected")
            .with("sid", sid.as_str())
            .with("sessionId", session.clone())
            .with("authenticated", false)
            .with("rules", "r1,r2")
            .to_line(0);
        assert!(!line.contains(&session), "{line}");
        assert!(!line.contains(&sid), "{line}");
        // Not even a tell-tale part of the id: no 6-character window of it survives.
        let windows: Vec<&str> = (0..=session.len() - 6).map(|i| &session[i..i + 6]).collect();
        assert!(windows.iter().all(|w| !line.contains(w)), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["sid"], tag(&sid));
        assert_eq!(v["sessionId"], t);
    }

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::Debug < Level::Error);
        assert_eq!(Level::parse("WARN"), Some(Level::Warn));
        assert_eq!(Level::parse("loud"), None);
    }
}
