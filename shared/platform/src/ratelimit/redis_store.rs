//! Deciding a request in Redis: one `EVALSHA` for all of its rules (the
//! script loaded again after `NOSCRIPT`), so one network round trip whatever
//! the number of rules.
//!
//! In cluster mode keys must share a slot per call, so the keys are grouped
//! by slot and each group's call goes in one pipeline: still one round trip.
//! A subject's keys share a hash tag, so a request spans one slot per
//! subject. Each group decides atomically; when one group denies while
//! another charged, that charge is refunded (a second round trip, on
//! denials only). A single node decides everything atomically and never
//! charges a denied request.

use redis::{Cmd, ErrorKind, Pipeline, RedisResult, Script, ServerErrorKind, Value};
use tessera_core::ratelimit::{Algorithm, RuleState, group_by_slot};

use super::plan::Plan;
use crate::redis::{Redis, RedisConnection};

const DECIDE: &str = include_str!("decide.lua");
const REFUND: &str = include_str!("refund.lua");

/// What Redis answered for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// A block stopped it: the index in `Plan::blocks`, and the time left.
    Blocked {
        block: usize,
        left_ms: u64,
    },
    Decided(Decided),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decided {
    pub allowed: bool,
    /// Per rule, in plan order.
    pub admitted: Vec<bool>,
    pub states: Vec<RuleState>,
    /// Indexes in `Plan::blocks` that this request got blocked.
    pub newly_blocked: Vec<usize>,
}

pub(super) struct RedisStore {
    redis: Redis,
    cluster: bool,
    decide: Script,
    refund: Script,
}

/// What to take back from one rule.
struct Refund {
    rule: usize,
    charged: bool,
    attempt: bool,
}

/// One script call, and where its keys sit in the plan.
struct Call {
    command: Cmd,
    blocks: Vec<usize>,
    rules: Vec<usize>,
}

/// `EVALSHA` of `script` on `keys`; the caller adds the arguments.
fn evalsha(script: &Script, keys: &[&str]) -> Cmd {
    let mut command = redis::cmd("EVALSHA");
    command.arg(script.get_hash()).arg(keys.len());
    for key in keys {
        command.arg(key);
    }
    command
}

impl RedisStore {
    pub fn new(redis: Redis, cluster: bool) -> Self {
        Self { redis, cluster, decide: Script::new(DECIDE), refund: Script::new(REFUND) }
    }

    pub async fn decide(&self, plan: &Plan<'_>, now_ms: u64) -> RedisResult<Answer> {
        let calls = self.calls(plan, now_ms);
        let replies = self.eval_all(&self.decide, &calls).await?;
        let mut decided = Decided {
            allowed: true,
            admitted: vec![false; plan.rules.len()],
            states: vec![RuleState::default(); plan.rules.len()],
            newly_blocked: Vec::new(),
        };
        // (rule, charged) of every rule a group decided, for refunds.
        let mut decided_rules = Vec::new();
        let mut blocked = None;
        for (call, reply) in calls.iter().zip(replies) {
            let numbers = integers(reply)?;
            if numbers.first() == Some(&0) {
                let index = numbers.get(1).copied().unwrap_or(0) as usize;
                let block = call.blocks.get(index.wrapping_sub(1)).copied().ok_or_else(short_reply)?;
                blocked.get_or_insert(Answer::Blocked { block, left_ms: numbers.get(2).copied().unwrap_or(0) });
                continue;
            }
            let group_allowed = numbers.get(1) == Some(&1);
            decided.allowed &= group_allowed;
            for (i, &rule) in call.rules.iter().enumerate() {
                let field = |n: usize| numbers.get(2 + i * 7 + n).copied().ok_or_else(short_reply);
                decided.admitted[rule] = field(0)? == 1;
                decided.states[rule] =
                    RuleState { w: field(1)?, a: field(2)?, c: field(3)?, p: field(4)?, t: field(5)? };
                // The script blocks only through a rule's block key.
                if let (1, Some(block)) = (field(6)?, plan.rules[rule].block)
                    && !decided.newly_blocked.contains(&block)
                {
                    decided.newly_blocked.push(block);
                }
                decided_rules.push((rule, group_allowed));
            }
        }
        // Slots decide on their own: take back what a stopped request cost
        // the others (a blocked request is not even an attempt).
        let stopped_by_block = blocked.is_some();
        let refunds: Vec<Refund> = decided_rules
            .into_iter()
            .filter(|&(_, charged)| stopped_by_block || (!decided.allowed && charged))
            .map(|(rule, charged)| Refund { rule, charged, attempt: stopped_by_block })
            .collect();
        if !refunds.is_empty() {
            self.refund(plan, &refunds, &decided.states).await?;
        }
        if let Some(blocked) = blocked {
            return Ok(blocked);
        }
        Ok(Answer::Decided(decided))
    }

    /// One call with every key on a single node; one per slot in a cluster.
    fn calls(&self, plan: &Plan<'_>, now_ms: u64) -> Vec<Call> {
        let keys: Vec<&str> =
            plan.blocks.iter().map(|(_, key)| key.as_str()).chain(plan.rules.iter().map(|r| r.key.as_str())).collect();
        let groups = if self.cluster { group_by_slot(&keys) } else { vec![(0..keys.len()).collect()] };
        let nblocks = plan.blocks.len();
        groups
            .into_iter()
            .map(|group| {
                let blocks: Vec<usize> = group.iter().copied().filter(|&i| i < nblocks).collect();
                let rules: Vec<usize> = group.iter().copied().filter(|&i| i >= nblocks).map(|i| i - nblocks).collect();
                // Blocks come first in `keys`, so a group lists its block keys first.
                let group_keys: Vec<&str> = group.iter().map(|&i| keys[i]).collect();
                let mut command = evalsha(&self.decide, &group_keys);
                command.arg(now_ms).arg(blocks.len()).arg(plan.block_ms);
                for &rule in &rules {
                    let planned = &plan.rules[rule];
                    let charge = planned.charge;
                    // The rule's block key is in this call: same subject, same slot.
                    let block_key =
                        planned.block.and_then(|b| blocks.iter().position(|&x| x == b)).map_or(0, |p| p + 1);
                    let interval = if charge.algorithm == Algorithm::Gcra { charge.quota.interval_us() } else { 0 };
                    command
                        .arg(charge.algorithm.code())
                        .arg(charge.quota.limit)
                        .arg(charge.quota.window_ms)
                        .arg(charge.cost)
                        .arg(charge.abuse_threshold.unwrap_or(0))
                        .arg(block_key)
                        .arg(interval);
                }
                Call { command, blocks, rules }
            })
            .collect()
    }

    async fn refund(&self, plan: &Plan<'_>, refunds: &[Refund], states: &[RuleState]) -> RedisResult<()> {
        let keys: Vec<&str> = refunds.iter().map(|r| plan.rules[r.rule].key.as_str()).collect();
        let calls = group_by_slot(&keys)
            .into_iter()
            .map(|group| {
                let group_keys: Vec<&str> = group.iter().map(|&i| keys[i]).collect();
                let mut command = evalsha(&self.refund, &group_keys);
                for refund in group.iter().map(|&i| &refunds[i]) {
                    let charge = plan.rules[refund.rule].charge;
                    command
                        .arg(charge.algorithm.code())
                        .arg(charge.quota.interval_us())
                        .arg(if refund.charged { charge.cost } else { 0 })
                        .arg(states[refund.rule].w)
                        .arg(if refund.attempt { charge.cost } else { 0 });
                }
                Call { command, blocks: Vec::new(), rules: Vec::new() }
            })
            .collect::<Vec<_>>();
        self.eval_all(&self.refund, &calls).await.map(drop)
    }

    /// Every call in one round trip (a pipeline when there are several);
    /// after `NOSCRIPT` (a restart, a failover, `SCRIPT FLUSH`) the script
    /// is loaded and the calls sent again.
    async fn eval_all(&self, script: &Script, calls: &[Call]) -> RedisResult<Vec<Value>> {
        let mut connection = self.redis.connection().await?;
        match send(&mut connection, calls).await {
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                script.load_async(&mut connection).await?;
                send(&mut connection, calls).await
            }
            result => result,
        }
    }
}

async fn send(connection: &mut RedisConnection, calls: &[Call]) -> RedisResult<Vec<Value>> {
    if let [call] = calls {
        return call.command.query_async(connection).await.map(|value| vec![value]);
    }
    let mut pipeline = Pipeline::with_capacity(calls.len());
    for call in calls {
        pipeline.add_command(call.command.clone());
    }
    pipeline.query_async(connection).await
}

fn integers(value: Value) -> RedisResult<Vec<u64>> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Int(n) => Ok(n.max(0) as u64),
                _ => Err(short_reply()),
            })
            .collect(),
        _ => Err(short_reply()),
    }
}

fn short_reply() -> redis::RedisError {
    redis::RedisError::from((ErrorKind::Parse, "the rate-limit script answered in an unexpected shape"))
}
