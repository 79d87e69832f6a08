//! What the ratelimit function's routes need: a caller's usage of every
//! rule, and blocks set, lifted and listed by hand.
//!
//! A block is its subject's `…:block` key (with a TTL), which the decide
//! script checks; the `{blocks}` hash lists them for admins.

use redis::AsyncCommands;
use serde::Serialize;
use tessera_core::ratelimit::{Algorithm, RuleState, Scope, Subject};

use super::RateLimiter;
use super::plan::Requester;

/// One rule as it stands for a caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleStatus {
    pub rule: String,
    /// `user`, `ip` or `global`.
    #[schema(value_type = String, example = "user")]
    pub scope: Scope,
    /// `sliding-window`, `gcra` or `fixed-window`.
    #[schema(value_type = String, example = "sliding-window")]
    pub algorithm: Algorithm,
    pub limit: u64,
    pub window_seconds: u64,
    pub remaining: u64,
    pub reset_seconds: u64,
}

/// A block, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub scope: String,
    pub key: String,
    /// Milliseconds since the epoch.
    pub until: u64,
    /// `abuse`, or what the admin wrote.
    pub reason: String,
}

#[derive(Serialize, serde::Deserialize)]
struct Listed {
    until: u64,
    reason: String,
}

impl RateLimiter {
    /// The caller's usage of every rule that can count them (per user or
    /// IP, and global), read without charging anything.
    pub async fn usage(&self, who: &Requester) -> redis::RedisResult<Vec<RuleStatus>> {
        let inner = &*self.inner;
        let now = inner.clock.now_ms();
        let multiplier = inner.config.policies.multiplier(who.tier);
        let user = who.user.clone().map(Subject::User);
        let ip = who.ip.map(Subject::ip);
        let connection = inner.redis.connection().await?;
        let counted: Vec<_> = inner
            .config
            .policies
            .rules()
            .iter()
            .filter_map(|rule| {
                let subject = match rule.scope {
                    Scope::User => user.clone().or_else(|| ip.clone()),
                    Scope::Ip => ip.clone(),
                    Scope::Global => Some(Subject::Global),
                    Scope::Connection => None,
                }?;
                Some((rule, inner.config.keys.rule(&subject, &rule.name)))
            })
            .collect();
        // Concurrent reads on the multiplexed connection: one round trip.
        let reads = counted.iter().map(|(_, key)| {
            let mut connection = connection.clone();
            async move { connection.get::<_, Option<Vec<u8>>>(key).await }
        });
        let stored = futures_util::future::try_join_all(reads).await?;
        let mut statuses = Vec::with_capacity(counted.len());
        for ((rule, _), stored) in counted.iter().zip(stored) {
            let mut state = stored.as_deref().and_then(RuleState::decode).unwrap_or_default();
            let quota = rule.quota(multiplier);
            state.roll(rule.algorithm, now, quota);
            let usage = state.usage(rule.algorithm, now, quota, 1);
            statuses.push(RuleStatus {
                rule: rule.name.clone(),
                scope: rule.scope,
                algorithm: rule.algorithm,
                limit: quota.limit,
                window_seconds: quota.window_ms / 1000,
                remaining: usage.remaining,
                reset_seconds: usage.reset_ms.div_ceil(1000),
            });
        }
        Ok(statuses)
    }

    /// Blocks `subject` from the whole API for `seconds`.
    pub async fn block(&self, subject: &Subject, seconds: u64, reason: &str) -> redis::RedisResult<Block> {
        let inner = &*self.inner;
        let until = inner.clock.now_ms() + seconds * 1000;
        let mut connection = inner.redis.connection().await?;
        let () = connection.pset_ex(inner.config.keys.block(subject), reason, seconds * 1000).await?;
        self.index_block(subject, until, reason).await?;
        let (scope, key) = subject.scope_and_key();
        Ok(Block { scope: scope.into(), key, until, reason: reason.into() })
    }

    /// Lifts a block; false when there was none. Other instances may
    /// remember it for up to `RATE_LIMIT_BLOCK_CACHE_SECONDS`.
    pub async fn unblock(&self, subject: &Subject) -> redis::RedisResult<bool> {
        let inner = &*self.inner;
        let key = inner.config.keys.block(subject);
        inner.blocks.forget(&key);
        let mut connection = inner.redis.connection().await?;
        let removed: u64 = connection.del(&key).await?;
        let () = connection.hdel(inner.config.keys.block_index(), listed_field(subject)).await?;
        Ok(removed > 0)
    }

    /// Every block still in force; lapsed entries are dropped on the way.
    pub async fn blocks(&self) -> redis::RedisResult<Vec<Block>> {
        let inner = &*self.inner;
        let now = inner.clock.now_ms();
        let mut connection = inner.redis.connection().await?;
        let listed: Vec<(String, String)> = connection.hgetall(inner.config.keys.block_index()).await?;
        let mut blocks = Vec::new();
        for (field, value) in listed {
            let entry = serde_json::from_str::<Listed>(&value).ok().filter(|entry| entry.until > now);
            match (entry, field.split_once(':')) {
                (Some(entry), Some((scope, key))) => {
                    blocks.push(Block {
                        scope: scope.into(),
                        key: key.into(),
                        until: entry.until,
                        reason: entry.reason,
                    });
                }
                _ => {
                    let () = connection.hdel(inner.config.keys.block_index(), &field).await?;
                }
            }
        }
        blocks.sort_by(|a, b| (&a.scope, &a.key).cmp(&(&b.scope, &b.key)));
        Ok(blocks)
    }

    pub(super) async fn index_block(&self, subject: &Subject, until: u64, reason: &str) -> redis::RedisResult<()> {
        let inner = &*self.inner;
        let value = serde_json::to_string(&Listed { until, reason: reason.into() }).unwrap_or_default();
        let mut connection = inner.redis.connection().await?;
        connection.hset(inner.config.keys.block_index(), listed_field(subject), value).await
    }
}

fn listed_field(subject: &Subject) -> String {
    let (scope, key) = subject.scope_and_key();
    format!("{scope}:{key}")
}
