//! The project tree, read through Redis.
//!
//! - Read-your-writes: every write bumps the project's generation in Redis
//!   after DynamoDB has committed it and before it is acknowledged. A read
//!   notes the generation G it starts at; every write acknowledged before it
//!   has a generation up to G, and a tree loaded after G was read contains
//!   them all. So a cached tree tagged with the generation its load started
//!   at serves any read that started at or before that generation, and
//!   never one that started later.
//! - Stampedes: one caller per project loads (`SET NX` lock with a short
//!   expiry); the others wait for its result, which serves them even if a
//!   write has landed meanwhile (they started before it), then load
//!   themselves if it never comes.
//! - Redis down: every call degrades to an uncached read, counted and logged.
//!
//! Keys share the `{project}` hash tag, so they live in one cluster slot.
//! Roles are deliberately not cached: a removed member loses access at once.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use tessera_core::content::ProjectId;
use tessera_platform::redis::Redis;

use crate::store::ProjectTree;

/// How long a lock holder may take to load a tree before others give up on it.
const LOCK_TTL: Duration = Duration::from_secs(2);
/// How long a caller that lost the lock waits for the winner, at most:
/// as long as the winner may hold the lock.
const WAIT_STEPS: u32 = 100;
const WAIT_STEP: Duration = Duration::from_millis(20);

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Reads served without the cache because Redis failed.
    pub bypassed: AtomicU64,
    /// Loads from DynamoDB.
    pub loads: AtomicU64,
    /// Misses served by another caller's load (counted as hits in metrics).
    pub coalesced: AtomicU64,
}

pub struct TreeCache {
    redis: Redis,
    ttl: Duration,
    pub stats: CacheStats,
    store_if_current: Script,
    /// Embedded metrics mean something only where CloudWatch reads the logs.
    emit_metrics: bool,
}

enum Lookup {
    Hit(Box<ProjectTree>),
    /// `generation`: where this read started.
    Miss {
        generation: u64,
    },
}

impl TreeCache {
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        // Stores a tree unless the cached one is at least as new.
        let store_if_current = Script::new(
            r"local cached = redis.call('HGET', KEYS[1], 'generation')
              if cached and tonumber(cached) >= tonumber(ARGV[1]) then return 0 end
              redis.call('HSET', KEYS[1], 'generation', ARGV[1], 'tree', ARGV[2])
              redis.call('PEXPIRE', KEYS[1], ARGV[3])
              return 1",
        );
        let emit_metrics = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        Self { redis, ttl, stats: CacheStats::default(), store_if_current, emit_metrics }
    }

    /// The tree from the cache, or from `load` (DynamoDB) on a miss.
    pub async fn tree<F, Fut>(&self, project: &ProjectId, load: F) -> anyhow::Result<Option<ProjectTree>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ProjectTree>>>,
    {
        let generation = match self.lookup(project).await {
            Ok(Lookup::Hit(tree)) => {
                self.count(&self.stats.hits, true);
                return Ok(Some(*tree));
            }
            Ok(Lookup::Miss { generation }) => generation,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "redis unavailable: reading the tree uncached");
                self.stats.bypassed.fetch_add(1, Ordering::Relaxed);
                return self.load(&load).await;
            }
        };
        self.count(&self.stats.misses, false);
        if self.lock(project).await.unwrap_or(false) {
            let tree = self.load(&load).await;
            if let Ok(Some(tree)) = &tree
                && let Err(error) = self.store(project, generation, tree).await
            {
                tracing::warn!(error = format!("{error:#}"), "could not cache a project tree");
            }
            self.unlock(project).await;
            return tree;
        }
        // Another caller is loading: its tree serves this read, which began
        // no later than its load did.
        for _ in 0..WAIT_STEPS {
            tokio::time::sleep(WAIT_STEP).await;
            if let Ok(Some(tree)) = self.cached_since(project, generation).await {
                self.count(&self.stats.coalesced, true);
                return Ok(Some(tree));
            }
        }
        self.load(&load).await
    }

    /// After a write to the project has committed: cached trees are stale.
    pub async fn invalidate(&self, project: &ProjectId) {
        let result = async {
            let mut connection = self.redis.connection().await?;
            redis::pipe()
                .incr(generation_key(project), 1)
                .ignore()
                .del(tree_key(project))
                .ignore()
                .query_async::<()>(&mut connection)
                .await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(error = %error, project = %project, "could not invalidate a cached tree; its TTL bounds it");
        }
    }

    async fn load<F, Fut>(&self, load: &F) -> anyhow::Result<Option<ProjectTree>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ProjectTree>>>,
    {
        self.stats.loads.fetch_add(1, Ordering::Relaxed);
        load().await
    }

    async fn lookup(&self, project: &ProjectId) -> anyhow::Result<Lookup> {
        let mut connection = self.redis.connection().await?;
        let (generation, (cached_generation, tree)): (Option<u64>, (Option<u64>, Option<String>)) = redis::pipe()
            .get(generation_key(project))
            .cmd("HMGET")
            .arg(tree_key(project))
            .arg("generation")
            .arg("tree")
            .query_async(&mut connection)
            .await?;
        let generation = generation.unwrap_or(0);
        let fresh = cached_generation.is_some_and(|cached| cached >= generation);
        Ok(match tree.filter(|_| fresh).and_then(|text| serde_json::from_str(&text).ok()) {
            Some(tree) => Lookup::Hit(Box::new(tree)),
            None => Lookup::Miss { generation },
        })
    }

    /// The cached tree if it was loaded at `generation` or later.
    async fn cached_since(&self, project: &ProjectId, generation: u64) -> anyhow::Result<Option<ProjectTree>> {
        let mut connection = self.redis.connection().await?;
        let (cached, tree): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(tree_key(project))
            .arg("generation")
            .arg("tree")
            .query_async(&mut connection)
            .await?;
        Ok(tree.filter(|_| cached.is_some_and(|c| c >= generation)).and_then(|text| serde_json::from_str(&text).ok()))
    }

    async fn store(&self, project: &ProjectId, generation: u64, tree: &ProjectTree) -> anyhow::Result<()> {
        let mut connection = self.redis.connection().await?;
        let _: i32 = self
            .store_if_current
            .key(tree_key(project))
            .arg(generation)
            .arg(serde_json::to_string(tree)?)
            .arg(self.ttl.as_millis() as u64)
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }

    async fn lock(&self, project: &ProjectId) -> anyhow::Result<bool> {
        let mut connection = self.redis.connection().await?;
        let acquired: Option<String> = redis::cmd("SET")
            .arg(lock_key(project))
            .arg("1")
            .arg("NX")
            .arg("PX")
            .arg(LOCK_TTL.as_millis() as u64)
            .query_async(&mut connection)
            .await?;
        Ok(acquired.is_some())
    }

    async fn unlock(&self, project: &ProjectId) {
        if let Ok(mut connection) = self.redis.connection().await {
            let _: Result<(), _> = redis::cmd("DEL").arg(lock_key(project)).query_async(&mut connection).await;
        }
    }

    /// Counts, and prints one CloudWatch embedded-metric-format line per read
    /// (a JSON object on stdout, which Lambda's JSON log format keeps whole).
    fn count(&self, counter: &AtomicU64, hit: bool) {
        counter.fetch_add(1, Ordering::Relaxed);
        if !self.emit_metrics {
            return;
        }
        let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let metrics = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp.as_millis() as u64,
                "CloudWatchMetrics": [{
                    "Namespace": "Tessera",
                    "Dimensions": [["Function"]],
                    "Metrics": [{"Name": "TreeCacheHit", "Unit": "Count"}, {"Name": "TreeCacheMiss", "Unit": "Count"}],
                }],
            },
            "Function": "blocks",
            "TreeCacheHit": u8::from(hit),
            "TreeCacheMiss": u8::from(!hit),
        });
        println!("{metrics}");
    }
}

fn generation_key(project: &ProjectId) -> String {
    format!("tessera:{{{project}}}:generation")
}

fn tree_key(project: &ProjectId) -> String {
    format!("tessera:{{{project}}}:tree")
}

fn lock_key(project: &ProjectId) -> String {
    format!("tessera:{{{project}}}:lock")
}
