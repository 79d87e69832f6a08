//! What one request asks of the limiter: the rules that apply, whose
//! counters they charge, and which blocks could stop it.

use std::net::IpAddr;

use tessera_core::ratelimit::{Charge, KeySpace, Policies, Quota, Rule, Scope, Subject, Target};
use tessera_core::{Tier, UserId};

/// Who is asking: as much as the request tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub user: Option<UserId>,
    pub tier: Tier,
    pub ip: Option<IpAddr>,
    /// The WebSocket connection, for message rules.
    pub connection: Option<String>,
}

/// One rule as it applies to this request.
#[derive(Debug, Clone)]
pub(super) struct PlannedRule<'a> {
    pub rule: &'a Rule,
    pub key: String,
    pub charge: Charge,
    /// Index in `Plan::blocks` of the subject an abuser of this rule is blocked as.
    pub block: Option<usize>,
}

#[derive(Debug, Clone)]
pub(super) struct Plan<'a> {
    /// Subjects whose block stops the request, with their block keys.
    pub blocks: Vec<(Subject, String)>,
    pub rules: Vec<PlannedRule<'a>>,
    /// How long an abuser is blocked.
    pub block_ms: u64,
}

impl<'a> Plan<'a> {
    pub fn new(policies: &'a Policies, keys: &KeySpace, target: Target<'_>, who: &Requester) -> Self {
        let user = who.user.clone().map(Subject::User);
        let ip = who.ip.map(Subject::ip);
        let mut plan = Plan { blocks: Vec::new(), rules: Vec::new(), block_ms: policies.abuse().block_ms };
        for subject in [&user, &ip].into_iter().flatten() {
            plan.block_index(subject, keys);
        }
        let multiplier = policies.multiplier(who.tier);
        let abuse = policies.abuse();
        for (rule, cost) in policies.applicable(target) {
            let subject = match rule.scope {
                Scope::User => user.clone().or_else(|| ip.clone()),
                Scope::Ip => ip.clone(),
                Scope::Global => Some(Subject::Global),
                Scope::Connection => who.connection.clone().map(Subject::Connection),
            };
            // Nothing to count by (no IP known): the rule cannot apply.
            let Some(subject) = subject else { continue };
            let quota = rule.quota(multiplier);
            let blocks_abusers = subject != Subject::Global;
            let charge = Charge {
                algorithm: rule.algorithm,
                quota,
                cost,
                abuse_threshold: blocks_abusers.then(|| quota.limit * abuse.factor),
            };
            let block = blocks_abusers.then(|| plan.block_index(&subject, keys));
            plan.rules.push(PlannedRule { rule, key: keys.rule(&subject, &rule.name), charge, block });
        }
        plan
    }

    fn block_index(&mut self, subject: &Subject, keys: &KeySpace) -> usize {
        match self.blocks.iter().position(|(s, _)| s == subject) {
            Some(index) => index,
            None => {
                self.blocks.push((subject.clone(), keys.block(subject)));
                self.blocks.len() - 1
            }
        }
    }

    /// This plan with every global quota cut to one instance's share.
    pub fn with_global_share(mut self, share: f64) -> Self {
        for planned in &mut self.rules {
            if planned.rule.scope == Scope::Global {
                let Quota { limit, window_ms } = planned.charge.quota;
                let limit = ((limit as f64 * share).ceil() as u64).clamp(1, limit);
                planned.charge.quota = Quota { limit, window_ms };
                planned.charge.cost = planned.charge.cost.min(limit);
            }
        }
        self
    }
}
