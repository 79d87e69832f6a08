//! In-process state: the limiter that decides while Redis cannot, and the
//! cache of known blocks that spares Redis the calls of a blocked caller.

use std::collections::HashMap;
use std::sync::Mutex;

use tessera_core::ratelimit::{RuleState, Verdict, decide};

use super::plan::Plan;

/// Past this many keys, states whose windows have all passed are swept.
const SWEEP_AT: usize = 10_000;

/// The same algorithms on this instance's own counters.
#[derive(Default)]
pub(super) struct LocalLimiter {
    states: Mutex<HashMap<String, (RuleState, u64)>>,
}

impl LocalLimiter {
    /// Decides `plan` as the Redis script would, on this instance's counters.
    pub fn decide(&self, plan: &Plan<'_>, now_ms: u64) -> (Verdict, Vec<RuleState>) {
        let mut states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if states.len() > SWEEP_AT {
            states.retain(|_, (_, expires)| *expires > now_ms);
        }
        let mut current: Vec<RuleState> =
            plan.rules.iter().map(|r| states.get(&r.key).map(|(s, _)| *s).unwrap_or_default()).collect();
        let charges: Vec<_> = plan.rules.iter().map(|r| r.charge).collect();
        let verdict = decide(&mut current, &charges, now_ms);
        for (planned, state) in plan.rules.iter().zip(&current) {
            states.insert(planned.key.clone(), (*state, now_ms + 2 * planned.charge.quota.window_ms));
        }
        (verdict, current)
    }
}

/// Blocks this instance knows of, by block key: until when the block
/// lasts, and until when it is trusted without asking Redis (ms).
#[derive(Default)]
pub(super) struct BlockCache {
    until: Mutex<HashMap<String, Remembered>>,
}

#[derive(Clone, Copy)]
struct Remembered {
    block_ends: u64,
    trusted_until: u64,
}

impl BlockCache {
    /// The time left on the first remembered block among `keys`, with its index.
    pub fn find<'k>(&self, keys: impl Iterator<Item = &'k str>, now_ms: u64) -> Option<(usize, u64)> {
        let until = self.until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if until.is_empty() {
            return None;
        }
        keys.enumerate().find_map(|(index, key)| {
            let remembered = until.get(key).filter(|remembered| remembered.trusted_until > now_ms)?;
            Some((index, remembered.block_ends.saturating_sub(now_ms)))
        })
    }

    /// Remembers a block ending at `block_ends` for at most `trust_ms`;
    /// lapsed ones are dropped here, not on the request path.
    pub fn remember(&self, key: &str, now_ms: u64, block_ends: u64, trust_ms: u64) {
        let remembered = Remembered { block_ends, trusted_until: block_ends.min(now_ms + trust_ms) };
        let mut until = self.until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        until.retain(|_, kept| kept.trusted_until > now_ms);
        until.insert(key.to_owned(), remembered);
    }

    pub fn forget(&self, key: &str) {
        self.until.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(key);
    }
}
