//! Limits per client address (CONTRACT §3 `RATE_LIMITED`): new connections and model replies,
//! counted in one place for every session (the shell keeps one limiter Durable Object per
//! address, so the counts hold across sessions).

use crate::config::Config;
use crate::rate_limit::TokenBucket;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An Engine.IO handshake: a new connection, to a new session or an existing one.
    Session,
    /// A reply from the model (an upstream call).
    ModelCall,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::ModelCall => "model",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "session" => Some(Kind::Session),
            "model" => Some(Kind::ModelCall),
            _ => None,
        }
    }

    /// The configured rate; 0 = no limit.
    pub fn per_minute(self, cfg: &Config) -> u32 {
        match self {
            Kind::Session => cfg.client_sessions_per_minute,
            Kind::ModelCall => cfg.client_model_calls_per_minute,
        }
    }
}

/// One client address's counters: token buckets of `per_minute`, bursts up to the same.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    sessions: Option<TokenBucket>,
    model_calls: Option<TokenBucket>,
}

impl ClientLimits {
    pub fn new(cfg: &Config, now: u64) -> Self {
        let bucket = |n: u32| (n > 0).then(|| TokenBucket::new(n, now));
        ClientLimits {
            sessions: bucket(cfg.client_sessions_per_minute),
            model_calls: bucket(cfg.client_model_calls_per_minute),
        }
    }

    /// Counts one `kind`, or says in how many milliseconds one will be allowed.
    pub fn take(&mut self, kind: Kind, now: u64) -> Result<(), u64> {
        let bucket = match kind {
            Kind::Session => &mut self.sessions,
            Kind::ModelCall => &mut self.model_calls,
        };
        bucket.as_mut().map_or(Ok(()), |b| b.take(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config as cfg;

    #[test]
    fn each_kind_has_its_own_budget() {
        let c = cfg(&[("CLIENT_SESSIONS_PER_MINUTE", "2"), ("CLIENT_MODEL_CALLS_PER_MINUTE", "3")]);
        let mut l = ClientLimits::new(&c, 0);
        assert_eq!((l.take(Kind::Session, 0), l.take(Kind::Session, 0)), (Ok(()), Ok(())));
        assert_eq!(l.take(Kind::Session, 0), Err(30_000));
        for _ in 0..3 {
            assert_eq!(l.take(Kind::ModelCall, 0), Ok(()));
        }
        assert_eq!(l.take(Kind::ModelCall, 0), Err(20_000));
        assert_eq!(l.take(Kind::Session, 30_000), Ok(()));
    }

    #[test]
    fn zero_means_no_limit_and_defaults_are_generous() {
        let mut l = ClientLimits::new(&cfg(&[("CLIENT_SESSIONS_PER_MINUTE", "0")]), 0);
        for _ in 0..10_000 {
            assert_eq!(l.take(Kind::Session, 0), Ok(()));
        }
        let d = Config::default();
        assert_eq!((d.client_sessions_per_minute, d.client_model_calls_per_minute), (60, 120));
        assert_eq!(Kind::parse(Kind::ModelCall.as_str()), Some(Kind::ModelCall));
    }
}
