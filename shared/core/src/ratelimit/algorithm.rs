//! The three limiting algorithms as pure state transitions on integers.
//!
//! Each exists twice: here, for the in-process limiter, and in the Redis
//! script (`shared/platform/src/ratelimit/decide.lua`), and a test drives both
//! with the same requests and clocks and requires the same decisions. So the
//! arithmetic is integer-only and every product stays below 2^53, where Lua's
//! doubles are still exact (the policy loader enforces the bounds).

use serde::{Deserialize, Serialize};

/// How a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Two fixed windows, the previous one weighted by how much of it still
    /// overlaps the sliding window. Smooth, two counters, the default.
    /// Worst case: it assumes the previous window's requests were spread
    /// evenly, so a burst at the end of one window and another at the end of
    /// the next are both admitted: up to `2 × limit − 1` within one window's
    /// length (a property test bounds it, another reaches it).
    SlidingWindow,
    /// Generic cell rate algorithm: one timestamp, requests spaced evenly
    /// with a burst of the whole limit.
    Gcra,
    /// One counter per calendar window; cheap, but allows a double burst
    /// across a boundary.
    FixedWindow,
}

impl Algorithm {
    /// The code the Redis script dispatches on.
    pub fn code(self) -> &'static str {
        match self {
            Self::SlidingWindow => "s",
            Self::Gcra => "g",
            Self::FixedWindow => "f",
        }
    }
}

/// A limit over a window, after the caller's tier multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub limit: u64,
    pub window_ms: u64,
}

impl Quota {
    /// GCRA's emission interval in microseconds, rounded up so that the
    /// rounding never admits more than the limit.
    pub fn interval_us(self) -> u64 {
        (self.window_ms * 1000).div_ceil(self.limit)
    }
}

/// One key's stored state: the same fields the Redis script stores
/// ([`RuleState::encode`]).
/// `w` is the index of the current window (`now / window`), `a` the cost of
/// every attempt in it, allowed or not (abuse detection), `c` and `p` the
/// allowed cost of the current and previous window (window algorithms), `t`
/// the theoretical arrival time in microseconds (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleState {
    pub w: u64,
    pub a: u64,
    pub c: u64,
    pub p: u64,
    pub t: u64,
}

impl RuleState {
    /// The stored form the script reads and writes: five little-endian
    /// doubles (Lua's numbers, `struct.pack('<ddddd', ...)`), exact for
    /// every integer below 2^53.
    pub fn encode(&self) -> [u8; 40] {
        let mut bytes = [0; 40];
        for (chunk, field) in bytes.chunks_exact_mut(8).zip([self.w, self.a, self.c, self.p, self.t]) {
            chunk.copy_from_slice(&(field as f64).to_le_bytes());
        }
        bytes
    }

    /// A stored state; `None` for anything else.
    pub fn decode(stored: &[u8]) -> Option<Self> {
        let bytes: &[u8; 40] = stored.try_into().ok()?;
        let mut fields = bytes.chunks_exact(8).map(|chunk| {
            let value = f64::from_le_bytes(chunk.try_into().unwrap_or_default());
            (value >= 0.0 && value.fract() == 0.0 && value < 9_007_199_254_740_992.0).then_some(value as u64)
        });
        let mut next = || fields.next().flatten();
        Some(Self { w: next()?, a: next()?, c: next()?, p: next()?, t: next()? })
    }

    /// Moves the state to the window `now` falls in without charging
    /// anything: an equivalent state, so it may be stored on a denial too.
    pub fn roll(&mut self, algorithm: Algorithm, now_ms: u64, quota: Quota) {
        let index = now_ms / quota.window_ms;
        // A clock behind the one that wrote the state (another instance's)
        // stays in the later window rather than wiping it.
        if index <= self.w {
            return;
        }
        self.p = if algorithm == Algorithm::SlidingWindow && self.w + 1 == index { self.c } else { 0 };
        self.c = 0;
        self.a = 0;
        self.w = index;
    }

    /// Time into the current window; 0 for a clock behind it.
    fn elapsed(&self, now_ms: u64, window: u64) -> u64 {
        now_ms.saturating_sub(self.w * window)
    }

    /// Whether `cost` fits now. Call on a rolled state; changes nothing.
    pub fn admits(&self, algorithm: Algorithm, now_ms: u64, quota: Quota, cost: u64) -> bool {
        let Quota { limit, window_ms: window } = quota;
        match algorithm {
            Algorithm::FixedWindow => self.c + cost <= limit,
            Algorithm::SlidingWindow => {
                let elapsed = self.elapsed(now_ms, window);
                self.p * (window - elapsed) + (self.c + cost) * window <= limit * window
            }
            Algorithm::Gcra => {
                let now_us = now_ms * 1000;
                let interval = quota.interval_us();
                self.t.max(now_us) + cost * interval - now_us <= limit * interval
            }
        }
    }

    /// Charges `cost`. Call on a rolled state that admits it.
    pub fn charge(&mut self, algorithm: Algorithm, now_ms: u64, quota: Quota, cost: u64) {
        match algorithm {
            Algorithm::FixedWindow | Algorithm::SlidingWindow => self.c += cost,
            Algorithm::Gcra => self.t = self.t.max(now_ms * 1000) + cost * quota.interval_us(),
        }
    }

    /// Gives back a charge made in window `charged_in` (cluster mode refunds
    /// the rules of one slot when another slot denied the request).
    pub fn refund(&mut self, algorithm: Algorithm, quota: Quota, cost: u64, charged_in: u64) {
        match algorithm {
            Algorithm::FixedWindow | Algorithm::SlidingWindow if self.w == charged_in => {
                self.c = self.c.saturating_sub(cost);
            }
            Algorithm::FixedWindow | Algorithm::SlidingWindow => {}
            Algorithm::Gcra => self.t = self.t.saturating_sub(cost * quota.interval_us()),
        }
    }

    /// What is left for the next request of `cost`, read from a rolled state.
    pub fn usage(&self, algorithm: Algorithm, now_ms: u64, quota: Quota, cost: u64) -> Usage {
        let Quota { limit, window_ms: window } = quota;
        let elapsed = self.elapsed(now_ms, window);
        match algorithm {
            Algorithm::FixedWindow => Usage {
                remaining: limit.saturating_sub(self.c),
                reset_ms: window - elapsed,
                retry_after_ms: if self.c + cost <= limit { 0 } else { window - elapsed },
            },
            Algorithm::SlidingWindow => {
                let used = self.p * (window - elapsed) + self.c * window;
                Usage {
                    remaining: (limit * window).saturating_sub(used) / window,
                    reset_ms: window - elapsed,
                    retry_after_ms: self.sliding_retry_after(now_ms, quota, cost),
                }
            }
            Algorithm::Gcra => {
                let now_us = now_ms * 1000;
                let interval = quota.interval_us();
                let backlog = self.t.saturating_sub(now_us);
                let wait = (backlog + cost * interval).saturating_sub(limit * interval);
                Usage {
                    remaining: (limit * interval).saturating_sub(backlog) / interval,
                    reset_ms: backlog.div_ceil(1000),
                    retry_after_ms: wait.div_ceil(1000),
                }
            }
        }
    }

    /// The shortest wait after which `cost` fits, if nothing else is
    /// charged meanwhile: the previous window's weight decays linearly, so
    /// solve `p * (window - e) <= room * window` for the elapsed time `e`,
    /// in this window or, when this window's own count is the obstacle, in
    /// the next (where this window's count becomes `p`).
    fn sliding_retry_after(&self, now_ms: u64, quota: Quota, cost: u64) -> u64 {
        let Quota { limit, window_ms: window } = quota;
        let elapsed = self.elapsed(now_ms, window);
        // The earliest elapsed time in a window with `prev` behind it and
        // `room` free for this request, or None if it never comes.
        let earliest = |prev: u64, room: u64| -> Option<u64> {
            if prev == 0 {
                return Some(0);
            }
            Some(window.saturating_sub(room * window / prev))
        };
        if self.c + cost <= limit {
            let room = limit - self.c - cost;
            if let Some(at) = earliest(self.p, room)
                && at < window
            {
                return at.saturating_sub(elapsed);
            }
        }
        let at = earliest(self.c, limit.saturating_sub(cost)).unwrap_or(0);
        window - elapsed + at
    }
}

/// What a client is told about one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Requests of cost 1 that would still be admitted now.
    pub remaining: u64,
    /// Until the window ends (window algorithms) or the burst is whole again (GCRA).
    pub reset_ms: u64,
    /// Until a request of the rule's cost would be admitted; 0 when it would be now.
    pub retry_after_ms: u64,
}

#[cfg(test)]
mod tests;
