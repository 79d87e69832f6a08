//! Deciding every rule of one request at once: the request is charged to all
//! of them or to none, so a denial never consumes from the rules that would
//! have allowed it. The Redis script does exactly this, atomically.

use super::algorithm::{Algorithm, Quota, RuleState};

/// One rule as it applies to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub algorithm: Algorithm,
    pub quota: Quota,
    pub cost: u64,
    /// Attempts (allowed or not) within one window beyond which the subject
    /// is an abuser to block; `None` for rules that never block (global).
    pub abuse_threshold: Option<u64>,
}

/// The outcome for every rule, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// Whether each rule alone would have admitted the request.
    pub admitted: Vec<bool>,
    /// Whether each rule's attempts went past its abuse threshold.
    pub abusive: Vec<bool>,
}

/// Decides and updates `states` (one per charge). Attempts are counted on
/// every request, allowed or not; the quota only when all rules admit it.
pub fn decide(states: &mut [RuleState], charges: &[Charge], now_ms: u64) -> Verdict {
    debug_assert_eq!(states.len(), charges.len());
    let admitted: Vec<bool> = states
        .iter_mut()
        .zip(charges)
        .map(|(state, charge)| {
            state.roll(charge.algorithm, now_ms, charge.quota);
            state.admits(charge.algorithm, now_ms, charge.quota, charge.cost)
        })
        .collect();
    let allowed = admitted.iter().all(|&admits| admits);
    let abusive = states
        .iter_mut()
        .zip(charges)
        .map(|(state, charge)| {
            state.a += charge.cost;
            if allowed {
                state.charge(charge.algorithm, now_ms, charge.quota, charge.cost);
            }
            charge.abuse_threshold.is_some_and(|threshold| state.a > threshold)
        })
        .collect();
    Verdict { allowed, admitted, abusive }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(limit: u64, cost: u64) -> Charge {
        Charge {
            algorithm: Algorithm::FixedWindow,
            quota: Quota { limit, window_ms: 1000 },
            cost,
            abuse_threshold: Some(limit * 3),
        }
    }

    #[test]
    fn a_denial_by_one_rule_charges_none_of_the_others() {
        // GIVEN a roomy rule and a rule with one request left
        let charges = [charge(100, 1), charge(1, 1)];
        let mut states = [RuleState::default(); 2];
        // WHEN two requests come in the same window
        let first = decide(&mut states, &charges, 5_000);
        let second = decide(&mut states, &charges, 5_001);
        // THEN the second is denied by the tight rule and the roomy rule keeps its count
        assert!(first.allowed);
        assert!(!second.allowed);
        assert_eq!(second.admitted, vec![true, false]);
        assert_eq!(states[0].c, 1, "the roomy rule was charged once");
        assert_eq!(states[0].a, 2, "both attempts are counted for abuse");
    }

    #[test]
    fn attempts_past_the_threshold_mark_the_rule_abusive() {
        let charges = [charge(2, 1)];
        let mut states = [RuleState::default()];
        let abusive: Vec<bool> = (0..8).map(|i| decide(&mut states, &charges, 5_000 + i).abusive[0]).collect();
        assert_eq!(abusive, vec![false, false, false, false, false, false, true, true]);
    }

    #[test]
    fn a_global_rule_never_turns_abusive() {
        let charges = [Charge { abuse_threshold: None, ..charge(1, 1) }];
        let mut states = [RuleState::default()];
        let verdicts: Vec<Verdict> = (0..10).map(|i| decide(&mut states, &charges, 5_000 + i)).collect();
        assert!(verdicts.iter().all(|v| v.abusive == vec![false]));
        assert_eq!(verdicts.iter().filter(|v| v.allowed).count(), 1);
    }
}
