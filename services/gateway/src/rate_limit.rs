//! Per-user token buckets, kept per replica.
//!
//! A user connected to two replicas gets each replica's allowance; the limit guards each
//! replica's resources, and the chat service is sized for the sum.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

/// Buckets kept before full ones are forgotten (a full bucket carries no state).
const PRUNE_AT: usize = 50_000;

impl RateLimiter {
    /// `per_second == 0` disables the limit.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`; `false` when none is left.
    pub fn try_acquire(&self, user: Uuid) -> bool {
        self.try_acquire_at(user, Instant::now())
    }

    fn try_acquire_at(&self, user: Uuid, now: Instant) -> bool {
        if self.per_second == 0.0 {
            return true;
        }
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= PRUNE_AT {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.refilled).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(user).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "at most {} per second (burst {})",
            self.per_second, self.burst
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_steady_rate() {
        let limiter = RateLimiter::new(20, 40);
        let user = Uuid::new_v4();
        let t0 = Instant::now();
        for _ in 0..40 {
            assert!(limiter.try_acquire_at(user, t0));
        }
        assert!(!limiter.try_acquire_at(user, t0));
        // 50 ms later one token (20/s) has come back, and only one.
        let t1 = t0 + Duration::from_millis(50);
        assert!(limiter.try_acquire_at(user, t1));
        assert!(!limiter.try_acquire_at(user, t1));
        // Other users are unaffected.
        assert!(limiter.try_acquire_at(Uuid::new_v4(), t1));
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0, 0);
        let user = Uuid::new_v4();
        assert!((0..10_000).all(|_| limiter.try_acquire(user)));
    }
}
