//! Whether Redis decides, or this instance does: a small circuit breaker.
//!
//! A Redis failure or a call over the time budget switches to in-process
//! decisions; while switched, one request at a time probes Redis again, no
//! more often than the probe interval, and the first answer switches back.
//! Each switch is logged once and counted as a metric.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(super) struct RedisHealth {
    degraded: AtomicBool,
    next_probe_ms: AtomicU64,
    probe_interval_ms: u64,
}

impl RedisHealth {
    pub fn new(probe_interval_ms: u64) -> Self {
        Self { degraded: AtomicBool::new(false), next_probe_ms: AtomicU64::new(0), probe_interval_ms }
    }

    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    /// Whether this request should ask Redis: always when healthy; when
    /// degraded, only the one request that claims the due probe.
    pub fn should_ask(&self, now_ms: u64) -> bool {
        if !self.is_degraded() {
            return true;
        }
        let due = self.next_probe_ms.load(Ordering::Acquire);
        now_ms >= due
            && self
                .next_probe_ms
                .compare_exchange(due, now_ms + self.probe_interval_ms, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    pub fn answered(&self) {
        if self.degraded.swap(false, Ordering::AcqRel) {
            tracing::info!("rate limits: Redis answers again; it decides from now on");
            metrics::counter!("ratelimit_redis_recovered").increment(1);
        }
    }

    pub fn failed(&self, now_ms: u64, reason: &dyn std::fmt::Display) {
        self.next_probe_ms.store(now_ms + self.probe_interval_ms, Ordering::Release);
        if !self.degraded.swap(true, Ordering::AcqRel) {
            tracing::warn!(%reason, "rate limits: Redis is unreachable or slow; deciding in process");
            metrics::counter!("ratelimit_redis_fallbacks").increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degraded_limiter_lets_one_request_probe_per_interval() {
        let health = RedisHealth::new(1_000);
        assert!(health.should_ask(0));
        health.failed(10, &"refused");
        assert!(health.is_degraded());
        assert!(!health.should_ask(500), "no probe before the interval");
        assert!(health.should_ask(1_010), "the first request after it probes");
        assert!(!health.should_ask(1_011), "and only that one");
        health.answered();
        assert!(!health.is_degraded());
        assert!(health.should_ask(1_012));
    }
}
