//! Structured logs: one JSON object per line. Records carry ids, codes, sizes and
//! timings only; callers never put message text, tokens or secrets in them.

use serde_json::{Map, Value};

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

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_string(), value.into());
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
        assert_eq!(v["sessionId"], "s1");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::Debug < Level::Error);
        assert_eq!(Level::parse("WARN"), Some(Level::Warn));
        assert_eq!(Level::parse("loud"), None);
    }
}
