//! Distributed rate limits: every rule of a request decided in Redis in
//! one round trip, abusers blocked (and the block remembered in process),
//! and an in-process limiter with the same policies whenever Redis is
//! unreachable or slower than its time budget, so a Redis outage never
//! fails a request.
//!
//! Time is the caller's clock in milliseconds, passed to the script: Lambda
//! hosts keep theirs synced (Amazon Time Sync), a test can hold it still,
//! and a clock behind the stored window never wipes it.

mod admin;
mod clock;
mod config;
mod health;
mod local;
mod plan;
mod redis_store;
#[cfg(test)]
mod twins;

use std::sync::Arc;

use tessera_core::ratelimit::{Policies, Quota, Target, Usage};

pub use admin::{Block, RuleStatus};
pub use clock::Clock;
pub use config::RateLimitConfig;
pub use plan::Requester;

use health::RedisHealth;
use local::{BlockCache, LocalLimiter};
use plan::Plan;
use redis_store::{Answer, RedisStore};

use crate::redis::Redis;

/// What was decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Time left on the block that stopped the request, if one did.
    pub blocked_ms: Option<u64>,
    /// Every rule that applied, in policy order.
    pub rules: Vec<RuleOutcome>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    pub name: String,
    pub quota: Quota,
    /// Whether this rule alone would have admitted the request.
    pub admitted: bool,
    pub usage: Usage,
}

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Redis,
    /// A block known in process: no Redis call.
    BlockCache,
    /// Redis could not answer in time: this instance decided.
    InProcess,
    /// No rule applies (an exempt route).
    Exempt,
}

impl Decision {
    /// How long a denied caller should wait.
    pub fn retry_after_ms(&self) -> Option<u64> {
        if self.allowed {
            return None;
        }
        let wait = self.blocked_ms.unwrap_or_else(|| {
            self.rules.iter().filter(|r| !r.admitted).map(|r| r.usage.retry_after_ms).max().unwrap_or(0)
        });
        Some(wait.max(1))
    }

    /// The rule closest to denying (a denying one first), for the
    /// single-policy `X-RateLimit-*` fields.
    pub fn tightest(&self) -> Option<&RuleOutcome> {
        self.rules.iter().min_by_key(|r| (r.admitted, r.usage.remaining))
    }
}

/// The limiter; cheap to clone, one per execution environment.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    store: RedisStore,
    local: LocalLimiter,
    blocks: BlockCache,
    health: RedisHealth,
    config: RateLimitConfig,
    clock: Clock,
    redis: Redis,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig, redis: Redis, cluster: bool) -> Self {
        Self::with_clock(config, redis, cluster, Clock::System)
    }

    pub fn with_clock(config: &RateLimitConfig, redis: Redis, cluster: bool, clock: Clock) -> Self {
        let inner = Inner {
            store: RedisStore::new(redis.clone(), cluster),
            redis,
            local: LocalLimiter::default(),
            blocks: BlockCache::default(),
            health: RedisHealth::new(config.probe_interval.as_millis() as u64),
            config: config.clone(),
            clock,
        };
        Self { inner: Arc::new(inner) }
    }

    pub fn policies(&self) -> &Policies {
        &self.inner.config.policies
    }

    /// Whether Redis is currently bypassed.
    pub fn is_degraded(&self) -> bool {
        self.inner.health.is_degraded()
    }

    /// Decides a request and charges it to every rule, or to none.
    pub async fn check(&self, target: Target<'_>, who: &Requester) -> Decision {
        let inner = &*self.inner;
        let now = inner.clock.now_ms();
        let plan = Plan::new(&inner.config.policies, &inner.config.keys, target, who);
        if plan.rules.is_empty() {
            return Decision { allowed: true, blocked_ms: None, rules: Vec::new(), source: Source::Exempt };
        }
        if let Some((_, left)) = inner.blocks.find(plan.blocks.iter().map(|(_, key)| key.as_str()), now) {
            return blocked(&plan, left, Source::BlockCache);
        }
        if inner.health.should_ask(now) {
            match tokio::time::timeout(inner.config.redis_budget, inner.store.decide(&plan, now)).await {
                Ok(Ok(answer)) => {
                    inner.health.answered();
                    return self.take_redis_answer(&plan, answer, now).await;
                }
                Ok(Err(err)) => inner.health.failed(now, &err),
                Err(_) => inner.health.failed(now, &"no answer within the time budget"),
            }
        }
        self.decide_in_process(plan, now)
    }

    async fn take_redis_answer(&self, plan: &Plan<'_>, answer: Answer, now: u64) -> Decision {
        let inner = &*self.inner;
        let decided = match answer {
            Answer::Blocked { block, left_ms } => {
                inner.blocks.remember(&plan.blocks[block].1, now, now + left_ms, self.trust_ms());
                return blocked(plan, left_ms, Source::Redis);
            }
            Answer::Decided(decided) => decided,
        };
        for &block in &decided.newly_blocked {
            let (subject, key) = &plan.blocks[block];
            tracing::warn!(subject = %subject, "rate limits: blocked an abuser");
            metrics::counter!("ratelimit_abusers_blocked").increment(1);
            inner.blocks.remember(key, now, now + plan.block_ms, self.trust_ms());
            if let Err(err) = self.index_block(subject, now + plan.block_ms, "abuse").await {
                tracing::warn!(error = %err, "rate limits: could not list a block for admins");
            }
        }
        metrics::counter!("ratelimit_decisions", "source" => "redis", "allowed" => if decided.allowed { "true" } else { "false" })
            .increment(1);
        outcome(plan, decided.allowed, &decided.admitted, &decided.states, now, Source::Redis)
    }

    /// How long a block Redis reported is believed without asking again.
    fn trust_ms(&self) -> u64 {
        self.inner.config.block_cache_max.as_millis() as u64
    }

    fn decide_in_process(&self, plan: Plan<'_>, now: u64) -> Decision {
        let inner = &*self.inner;
        let plan = plan.with_global_share(inner.config.global_share);
        let (verdict, states) = inner.local.decide(&plan, now);
        for (planned, abusive) in plan.rules.iter().zip(&verdict.abusive) {
            if let (true, Some(block)) = (*abusive, planned.block) {
                // Redis knows nothing of it: trusted for its whole length.
                inner.blocks.remember(&plan.blocks[block].1, now, now + plan.block_ms, plan.block_ms);
            }
        }
        metrics::counter!("ratelimit_decisions", "source" => "in-process", "allowed" => if verdict.allowed { "true" } else { "false" })
            .increment(1);
        outcome(&plan, verdict.allowed, &verdict.admitted, &states, now, Source::InProcess)
    }
}

/// A blocked caller has nothing left of any rule until the block ends.
fn blocked(plan: &Plan<'_>, left_ms: u64, source: Source) -> Decision {
    let usage = Usage { remaining: 0, reset_ms: left_ms, retry_after_ms: left_ms };
    let rules = plan
        .rules
        .iter()
        .map(|planned| RuleOutcome {
            name: planned.rule.name.clone(),
            quota: planned.charge.quota,
            admitted: false,
            usage,
        })
        .collect();
    Decision { allowed: false, blocked_ms: Some(left_ms), rules, source }
}

fn outcome(
    plan: &Plan<'_>,
    allowed: bool,
    admitted: &[bool],
    states: &[tessera_core::ratelimit::RuleState],
    now: u64,
    source: Source,
) -> Decision {
    let rules = plan
        .rules
        .iter()
        .zip(admitted.iter().zip(states))
        .map(|(planned, (&admitted, state))| {
            let charge = planned.charge;
            RuleOutcome {
                name: planned.rule.name.clone(),
                quota: charge.quota,
                admitted,
                usage: state.usage(charge.algorithm, now, charge.quota, charge.cost),
            }
        })
        .collect();
    Decision { allowed, blocked_ms: None, rules, source }
}
