//! Token bucket: `per_minute` messages a minute, with bursts up to the same number.

#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    capacity: f64,
    tokens: f64,
    per_ms: f64,
    last: u64,
}

impl TokenBucket {
    pub fn new(per_minute: u32, now: u64) -> Self {
        let capacity = f64::from(per_minute.max(1));
        TokenBucket {
            capacity,
            tokens: capacity,
            per_ms: capacity / 60_000.0,
            last: now,
        }
    }

    fn refill(&mut self, now: u64) {
        let elapsed = now.saturating_sub(self.last) as f64;
        self.tokens = (self.tokens + elapsed * self.per_ms).min(self.capacity);
        self.last = self.last.max(now);
    }

    /// Takes one token, or says in how many milliseconds one will be there.
    pub fn take(&mut self, now: u64) -> Result<(), u64> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / self.per_ms).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_waits_then_refills() {
        let mut b = TokenBucket::new(3, 0);
        assert!(b.take(0).is_ok() && b.take(0).is_ok() && b.take(0).is_ok());
        assert_eq!(b.take(0), Err(20_000));
        assert_eq!(b.take(10_000), Err(10_000));
        assert!(b.take(20_000).is_ok());
        assert!(b.take(20_000).is_err());
    }
}
