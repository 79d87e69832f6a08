//! The project tree, read through Redis.
//!
//! - Read-your-writes: every write bumps the project's generation in Redis
//!   after DynamoDB has committed it. A cached tree is served only if it was
//!   built at the current generation, and a loaded tree is stored only if
//!   the generation has not moved since the load began (one Lua script), so
//!   a write that races a load cannot leave a stale tree behind.
//! - Stampedes: one caller per project loads (`SET NX` lock with a short
//!   expiry); the others wait briefly for its result, then load themselves.
//! - Redis down: every call degrades to an uncached read, counted and logged.
//!
//! Keys share the `{project}` hash tag, so they live in one cluster slot.
//! Roles are deliberately not cached: a removed member loses access at once.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};
use tessera_core::content::ProjectId;
use tessera_platform::redis::Redis;

use crate::store::ProjectTree;

/// How long a lock holder may take to load a tree before others give up on it.
const LOCK_TTL: Duration = Duration::from_secs(2);
/// How long a caller that lost the lock waits for the winner, at most.
const WAIT_STEPS: u32 = 10;
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
}

pub struct TreeCache {
    redis: Redis,
    ttl: Duration,
    pub stats: CacheStats,
    store_if_current: Script,
    /// Embedded metrics mean something only where CloudWatch reads the logs.
    emit_metrics: bool,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    generation: u64,
    tree: ProjectTree,
}

enum Lookup {
    Hit(Box<ProjectTree>),
    Miss { generation: u64 },
}

impl TreeCache {
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        let store_if_current = Script::new(
            r"local current = redis.call('GET', KEYS[1]) or '0'
              if current == ARGV[1] then
                redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
                return 1
              end
              return 0",
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
        // Another caller is loading: wait a little for its result.
        for _ in 0..WAIT_STEPS {
            tokio::time::sleep(WAIT_STEP).await;
            if let Ok(Lookup::Hit(tree)) = self.lookup(project).await {
                return Ok(Some(*tree));
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
        let (generation, entry): (Option<u64>, Option<String>) =
            redis::cmd("MGET").arg(generation_key(project)).arg(tree_key(project)).query_async(&mut connection).await?;
        let generation = generation.unwrap_or(0);
        let entry = entry.and_then(|text| serde_json::from_str::<Entry>(&text).ok());
        Ok(match entry {
            Some(entry) if entry.generation == generation => Lookup::Hit(Box::new(entry.tree)),
            _ => Lookup::Miss { generation },
        })
    }

    async fn store(&self, project: &ProjectId, generation: u64, tree: &ProjectTree) -> anyhow::Result<()> {
        let mut connection = self.redis.connection().await?;
        let entry = serde_json::to_string(&Entry { generation, tree: tree.clone() })?;
        let _: i32 = self
            .store_if_current
            .key(generation_key(project))
            .key(tree_key(project))
            .arg(generation)
            .arg(entry)
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
