use proptest::prelude::*;

use super::*;

const ALGORITHMS: [Algorithm; 3] = [Algorithm::SlidingWindow, Algorithm::Gcra, Algorithm::FixedWindow];

/// Offers a unit request at each time (ascending) to one key; returns the
/// times that were admitted.
fn admitted_times(algorithm: Algorithm, quota: Quota, times: &[u64]) -> Vec<u64> {
    let mut state = RuleState::default();
    times
        .iter()
        .copied()
        .filter(|&now| {
            state.roll(algorithm, now, quota);
            let admits = state.admits(algorithm, now, quota, 1);
            if admits {
                state.charge(algorithm, now, quota, 1);
            }
            admits
        })
        .collect()
}

/// The most admissions in any half-open interval of `length` ms.
fn busiest(admitted: &[u64], length: u64) -> usize {
    admitted
        .iter()
        .enumerate()
        .map(|(i, &start)| admitted[i..].iter().take_while(|&&t| t < start + length).count())
        .max()
        .unwrap_or(0)
}

fn ascending_times() -> impl Strategy<Value = Vec<u64>> {
    (1_000_000u64..2_000_000, prop::collection::vec(0u64..400, 1..300)).prop_map(|(start, gaps)| {
        gaps.iter()
            .scan(start, |now, gap| {
                *now += gap;
                Some(*now)
            })
            .collect()
    })
}

fn quota() -> impl Strategy<Value = Quota> {
    (1u64..20, prop::sample::select(vec![100u64, 1_000, 1_500, 60_000]))
        .prop_map(|(limit, window_ms)| Quota { limit, window_ms })
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(ALGORITHMS.to_vec())
}

proptest! {
    #[test]
    fn a_fixed_window_admits_at_most_the_limit_in_each_calendar_window(quota in quota(), times in ascending_times()) {
        let admitted = admitted_times(Algorithm::FixedWindow, quota, &times);
        for window in admitted.iter().map(|t| t / quota.window_ms) {
            let count = admitted.iter().filter(|t| *t / quota.window_ms == window).count() as u64;
            prop_assert!(count <= quota.limit);
        }
    }

    /// The sliding-window counter's documented worst case: it assumes the
    /// previous window's requests were spread evenly, so requests bunched at
    /// its end are under-weighted, and a true sliding interval can hold up to
    /// `2 * limit - 1` (see the next test for a sequence that reaches it).
    #[test]
    fn a_sliding_window_admits_under_twice_the_limit_in_any_interval(quota in quota(), times in ascending_times()) {
        let admitted = admitted_times(Algorithm::SlidingWindow, quota, &times);
        prop_assert!((busiest(&admitted, quota.window_ms) as u64) < 2 * quota.limit);
    }

    /// GCRA's bound: a full burst, plus what the emission interval refills
    /// within the interval.
    #[test]
    fn gcra_admits_a_burst_plus_the_refill_in_any_interval(quota in quota(), times in ascending_times()) {
        let admitted = admitted_times(Algorithm::Gcra, quota, &times);
        let refill = (quota.window_ms * 1000).div_ceil(quota.interval_us());
        prop_assert!(busiest(&admitted, quota.window_ms) as u64 <= quota.limit + refill);
    }

    #[test]
    fn every_algorithm_admits_a_whole_burst_from_a_fresh_key(algorithm in algorithm(), quota in quota(), start in 1_000_000u64..2_000_000) {
        let burst = vec![start; quota.limit as usize + 3];
        let admitted = admitted_times(algorithm, quota, &burst);
        // The sliding window may start with the previous window's weight; a fresh key has none.
        prop_assert_eq!(admitted.len() as u64, quota.limit);
    }

    /// `retry_after` is the exact wait: admitted then, denied a millisecond sooner.
    #[test]
    fn retry_after_is_the_shortest_wait(algorithm in algorithm(), quota in quota(), times in ascending_times(), cost in 1u64..4, probe in 0u64..3_000) {
        let cost = cost.min(quota.limit);
        let mut state = RuleState::default();
        for &now in &times {
            state.roll(algorithm, now, quota);
            if state.admits(algorithm, now, quota, 1) {
                state.charge(algorithm, now, quota, 1);
            }
        }
        let now = times.last().unwrap() + probe;
        let at = |time: u64| {
            let mut rolled = state;
            rolled.roll(algorithm, time, quota);
            rolled
        };
        let wait = at(now).usage(algorithm, now, quota, cost).retry_after_ms;
        prop_assert!(at(now + wait).admits(algorithm, now + wait, quota, cost), "not admitted after {wait} ms");
        if wait > 0 {
            let sooner = now + wait - 1;
            prop_assert!(!at(sooner).admits(algorithm, sooner, quota, cost), "admitted before {wait} ms");
        }
    }

    /// `remaining` is how many unit requests fit now, no more, no fewer.
    #[test]
    fn remaining_is_what_still_fits(algorithm in algorithm(), quota in quota(), times in ascending_times(), probe in 0u64..3_000) {
        let admitted = admitted_times(algorithm, quota, &times);
        let mut state = RuleState::default();
        for &now in &admitted {
            state.roll(algorithm, now, quota);
            state.charge(algorithm, now, quota, 1);
        }
        let now = times.last().unwrap() + probe;
        state.roll(algorithm, now, quota);
        let remaining = state.usage(algorithm, now, quota, 1).remaining;
        prop_assert!(remaining == 0 || state.admits(algorithm, now, quota, remaining));
        prop_assert!(!state.admits(algorithm, now, quota, remaining + 1));
    }
}

#[test]
fn the_sliding_window_worst_case_is_reached_by_bursts_either_side_of_a_boundary() {
    // GIVEN 60 a minute, and 60 requests in the last millisecond of a window
    let quota = Quota { limit: 60, window_ms: 60_000 };
    let boundary = 1_000 * 60_000;
    let mut times = vec![boundary - 1; 60];
    // WHEN another 60 come 59,999 ms later, in the next window
    times.extend(vec![boundary + 59_998; 60]);
    let admitted = admitted_times(Algorithm::SlidingWindow, quota, &times);
    // THEN 119 are admitted within one minute: 2 * limit - 1, the bound
    assert_eq!(admitted.len(), 119);
    assert_eq!(busiest(&admitted, quota.window_ms), 119);
}

#[test]
fn a_clock_behind_the_stored_window_does_not_wipe_it() {
    let quota = Quota { limit: 2, window_ms: 1_000 };
    let mut state = RuleState::default();
    for now in [5_000, 5_001] {
        state.roll(Algorithm::FixedWindow, now, quota);
        state.charge(Algorithm::FixedWindow, now, quota, 1);
    }
    // Another instance's clock, 2 ms behind, still sees the window full.
    state.roll(Algorithm::FixedWindow, 4_999, quota);
    assert!(!state.admits(Algorithm::FixedWindow, 4_999, quota, 1));
}

#[test]
fn a_refund_gives_back_exactly_the_charge() {
    let quota = Quota { limit: 3, window_ms: 1_000 };
    for algorithm in ALGORITHMS {
        let mut state = RuleState::default();
        state.roll(algorithm, 5_000, quota);
        let before = state;
        state.charge(algorithm, 5_000, quota, 2);
        state.refund(algorithm, quota, 2, 5);
        assert_eq!(state.c, before.c, "{algorithm:?}");
        assert!(state.t <= 5_000_000, "{algorithm:?}");
    }
}

#[test]
fn a_state_reads_back_as_stored_and_nothing_else_reads_as_one() {
    let state = RuleState { w: 900_000_000, a: 7, c: 5, p: 3, t: 1_800_000_000_123_456 };
    assert_eq!(RuleState::decode(&state.encode()), Some(state));
    let mut negative = state.encode();
    negative[..8].copy_from_slice(&(-1.0f64).to_le_bytes());
    let mut fraction = state.encode();
    fraction[8..16].copy_from_slice(&(0.5f64).to_le_bytes());
    for bad in [&b""[..], &state.encode()[..39], b"1 2 3 4 5", &negative, &fraction] {
        assert_eq!(RuleState::decode(bad), None, "{bad:?}");
    }
}
