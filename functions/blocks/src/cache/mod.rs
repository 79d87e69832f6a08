//! The project cache: each project's items (meta, members, slides, blocks)
//! in one Redis hash, kept current by the writers themselves (write-through),
//! serving the tree and the caller's role in one call.
//!
//! # A reader never sees an item older than an acknowledged write
//!
//! - A write commits in DynamoDB, applies itself to the hash (the `write`
//!   script), and only then is acknowledged. The script replaces an item's
//!   entry with a newer version only (or the same one, renewing its tag),
//!   never revives a deleted item, and leaves alone a hash that does not
//!   exist: nobody holds that project, and its next load reads it whole.
//! - A load takes a ticket (the hash's next `_seq`) before it queries
//!   DynamoDB, and merges what it read under that ticket (`merge`): what it
//!   read replaces older versions only, and an entry it did not read is
//!   dropped only when it was put before the ticket. Such a write committed
//!   before the query began, so the query would have read the item had it
//!   not been deleted since. An entry put after the ticket may come from a
//!   write the query missed, so it stays. Loads racing writes or each other
//!   never lose an acknowledged write, and a hash is served only once a load
//!   has merged into it (`_loaded`).
//! - Membership changes and a project's deletion reset the hash instead
//!   (emptied, unloaded, and merges of loads ticketed earlier refused):
//!   memberships are deleted and re-added, so they carry no version to order
//!   their write-throughs by, and they are rare.
//!
//! # A lost update is served for a short bound at most
//!
//! A write-through can be lost: Redis unreachable for that writer, a
//! timeout, a failover that drops the writes its replica had not received.
//! The writer cannot repair what it cannot reach, so readers bound the
//! damage: a hash is served only while its last load began less than
//! `max_staleness` ago (`PROJECT_CACHE_MAX_STALENESS_MS`, default 5 s). Past
//! half of that, one reader reloads it while the others are still served;
//! past all of it, nobody is served from it until a load has merged. A load
//! that begins after a write committed reads that write, so an update lost
//! at time t is served until t + `max_staleness` at the latest. Roles read
//! from the hash obey the same bound: a member whose removal's reset was
//! lost keeps access that long at most.
//!
//! A busy project stays hot: a patch costs one small script call, and one
//! reader in `max_staleness / 2` reloads it. The first reader after a change
//! assembles the tree from the entries' JSON as it is (no parsing but slide
//! positions) and keeps it in the hash (`_tree`, dropped by the next
//! change), so the readers after it get the JSON as stored. The assembly
//! runs in the function, not in a Lua script: Redis is shared by every
//! project, and Lua takes milliseconds to sort and join a tree that Rust
//! joins in microseconds. Redis down or slow: every call falls back to
//! DynamoDB, counted and logged. A project's keys share its `{project}`
//! hash tag, so they live in one cluster slot.

mod entries;
mod scripts;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tessera_core::UserId;
use tessera_core::content::{Block, ProjectId, ProjectRole, SlideId};
use tessera_platform::redis::Redis;

use self::entries::Entry;
use self::scripts::Scripts;
use crate::store::{Project, ProjectImage, Slide};

/// How long a loader may hold a project before others stop waiting for it.
const LOCK_TTL: Duration = Duration::from_secs(2);
/// Callers that find a load under way wait for it this long at most.
const WAIT_STEP: Duration = Duration::from_millis(20);
const WAIT_STEPS: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// How long an idle project stays cached.
    pub ttl: Duration,
    /// The longest a lost write-through may be served (see the module doc).
    pub max_staleness: Duration,
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Reads served straight from the hash.
    pub hits: AtomicU64,
    /// Reads served by a load: their own, or another caller's they waited for.
    pub misses: AtomicU64,
    /// Of the misses, those another caller's load served.
    pub coalesced: AtomicU64,
    /// Of the misses, reloads of a hash past half its staleness bound.
    pub refreshes: AtomicU64,
    /// Loads from DynamoDB.
    pub loads: AtomicU64,
    /// Reads and role checks served by DynamoDB because Redis failed.
    pub bypassed: AtomicU64,
    /// Write-throughs and resets that failed (bounded by `max_staleness`).
    pub lost_updates: AtomicU64,
}

pub struct ProjectCache {
    redis: Redis,
    settings: CacheSettings,
    scripts: Scripts,
    pub stats: CacheStats,
    /// Embedded metrics mean something only where CloudWatch reads the logs.
    emit_metrics: bool,
}

/// A project's tree as served, and the caller's role in the project.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedTree {
    pub role: Option<ProjectRole>,
    /// The tree (`ProjectTree`) as JSON.
    pub json: String,
}

/// What the `read` script found.
enum Read {
    /// The caller's membership value, and the tree a reader built from the
    /// hash as it is.
    Tree {
        member: String,
        tree: String,
    },
    /// The whole hash, flat.
    Hash(Vec<String>),
    /// The caller holds the lock: it loads and merges under `ticket`.
    Load {
        ticket: u64,
        started: u64,
        refresh: bool,
    },
    Wait,
}

impl ProjectCache {
    pub fn new(redis: Redis, settings: CacheSettings) -> Self {
        let emit_metrics = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        Self { redis, settings, scripts: Scripts::new(), stats: CacheStats::default(), emit_metrics }
    }

    /// The project's tree and `user`'s role in it, from its hash, or from
    /// `load` (DynamoDB) when the hash cannot serve it; `None` when the
    /// project does not exist.
    pub async fn tree<F, Fut>(&self, project: &ProjectId, user: &UserId, load: F) -> anyhow::Result<Option<ServedTree>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ProjectImage>>>,
    {
        let mut waited = false;
        for _ in 0..WAIT_STEPS {
            let read = match self.read(project, user).await {
                Ok(read) => read,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "redis unavailable: reading the project uncached");
                    self.stats.bypassed.fetch_add(1, Ordering::Relaxed);
                    return served(self.load(&load).await?, user);
                }
            };
            match read {
                Read::Tree { member, tree } => {
                    self.count_read(true, waited);
                    if tree.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(ServedTree { role: entries::decode_role(&member)?, json: tree }));
                }
                Read::Hash(hash) => {
                    self.count_read(true, waited);
                    return self.serve_hash(project, hash, user).await;
                }
                Read::Load { ticket, started, refresh } => {
                    self.count_read(false, false);
                    if refresh {
                        self.stats.refreshes.fetch_add(1, Ordering::Relaxed);
                    }
                    let image = self.load(&load).await?;
                    // The merged hash rather than the load: it also holds
                    // what was written through meanwhile, so that later
                    // reads never go back.
                    return match self.merge(project, ticket, started, image.as_ref()).await {
                        Ok(Some(hash)) => self.serve_hash(project, hash, user).await,
                        Ok(None) => served(image, user),
                        Err(error) => {
                            tracing::warn!(error = format!("{error:#}"), %project, "could not cache a loaded project");
                            served(image, user)
                        }
                    };
                }
                Read::Wait => {
                    waited = true;
                    tokio::time::sleep(WAIT_STEP).await;
                }
            }
        }
        self.count_read(false, false);
        served(self.load(&load).await?, user)
    }

    /// The user's role from the project's hash while it is within its
    /// staleness bound, else from `load` (DynamoDB).
    pub async fn role<F, Fut>(&self, project: &ProjectId, user: &UserId, load: F) -> anyhow::Result<Option<ProjectRole>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ProjectRole>>>,
    {
        match self.cached_role(project, user).await {
            Ok(Some(role)) => Ok(role),
            Ok(None) => load().await,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "redis unavailable: checking the role uncached");
                self.stats.bypassed.fetch_add(1, Ordering::Relaxed);
                load().await
            }
        }
    }

    /// After a block's creation or patch committed.
    pub async fn put_block(&self, block: &Block) {
        self.write(&block.project_id, Entry::block(block)).await;
    }

    /// After a block's deletion, with the block as it was.
    pub async fn remove_block(&self, block: &Block) {
        self.write(&block.project_id, Ok(Entry::deleted_block(block))).await;
    }

    /// After a slide's creation, rename or move committed.
    pub async fn put_slide(&self, slide: &Slide) {
        self.write(&slide.project_id, Entry::slide(slide)).await;
    }

    /// The slide's blocks go with it: a block without its slide is not served.
    pub async fn remove_slide(&self, project: &ProjectId, slide: &SlideId) {
        self.write(project, Ok(Entry::deleted_slide(slide))).await;
    }

    pub async fn put_project(&self, project: &Project) {
        self.write(&project.id, Entry::project(project)).await;
    }

    /// After a membership change or the project's deletion: the next read
    /// loads the project afresh.
    pub async fn reset(&self, project: &ProjectId) {
        let result = async {
            let mut connection = self.redis.connection().await?;
            self.scripts
                .reset
                .key(hash_key(project))
                .arg(millis(self.settings.ttl))
                .invoke_async::<i64>(&mut connection)
                .await
        };
        if let Err(error) = result.await {
            self.lost_update(project, &error.into());
        }
    }

    async fn write(&self, project: &ProjectId, entry: anyhow::Result<Entry>) {
        let result = async {
            let entry = entry?;
            let mut connection = self.redis.connection().await?;
            self.scripts
                .write
                .key(hash_key(project))
                .arg(millis(self.settings.ttl))
                .arg(entry.field)
                .arg(entry.version)
                .arg(entry.json)
                .invoke_async::<i64>(&mut connection)
                .await?;
            anyhow::Ok(())
        };
        if let Err(error) = result.await {
            self.lost_update(project, &error);
        }
    }

    fn lost_update(&self, project: &ProjectId, error: &anyhow::Error) {
        self.stats.lost_updates.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            error = format!("{error:#}"),
            %project,
            bound_ms = millis(self.settings.max_staleness),
            "a cache update was lost: readers may see the previous version until the bound"
        );
    }

    async fn read(&self, project: &ProjectId, user: &UserId) -> anyhow::Result<Read> {
        let mut connection = self.redis.connection().await?;
        let (status, ticket, started, mut payload): (String, u64, u64, Vec<String>) = self
            .scripts
            .read
            .key(hash_key(project))
            .key(lock_key(project))
            .arg(millis(self.settings.max_staleness / 2))
            .arg(millis(self.settings.max_staleness))
            .arg(millis(LOCK_TTL))
            .arg(millis(self.settings.ttl))
            .arg(entries::member_field(user))
            .invoke_async(&mut connection)
            .await?;
        Ok(match status.as_str() {
            "tree" if payload.len() == 2 => {
                let tree = payload.pop().unwrap_or_default();
                Read::Tree { member: payload.pop().unwrap_or_default(), tree }
            }
            "hit" => Read::Hash(payload),
            "load" => Read::Load { ticket, started, refresh: false },
            "refresh" => Read::Load { ticket, started, refresh: true },
            "wait" => Read::Wait,
            other => anyhow::bail!("the read script answered `{other}`"),
        })
    }

    /// Serves a hash, and keeps the tree built from it for the next readers.
    async fn serve_hash(
        &self,
        project: &ProjectId,
        hash: Vec<String>,
        user: &UserId,
    ) -> anyhow::Result<Option<ServedTree>> {
        let pairs: Vec<(String, String)> = pairs(hash).collect();
        let built = entries::tree_json(&pairs);
        let member = entries::member_field(user);
        let role = pairs.iter().find(|(field, _)| *field == member).map(|(_, value)| value.as_str());
        let role = role.map(entries::decode_role).transpose();
        let (tree, role) = match (built, role) {
            (Ok(Some(tree)), Ok(role)) => (tree, role.flatten()),
            (Ok(None), _) => return Ok(None),
            (Err(error), _) | (_, Err(error)) => {
                self.reset(project).await;
                return Err(error.context("an unreadable cached project (reset)"));
            }
        };
        if let Some((_, built_at)) = pairs.iter().find(|(field, _)| field == "_seq") {
            self.remember(project, built_at, &tree);
        }
        Ok(Some(ServedTree { role, json: tree }))
    }

    /// Keeps `tree`, built from the hash at `_seq` `built_at`, for the next
    /// readers, unless the hash changed since. In the background: the reader
    /// that built it does not wait, and if Lambda freezes before it is sent,
    /// it goes on the next thaw, or is refused as out of date.
    fn remember(&self, project: &ProjectId, built_at: &str, tree: &str) {
        let (redis, script, project) = (self.redis.clone(), self.scripts.remember.clone(), project.clone());
        let (built_at, tree) = (built_at.to_owned(), tree.to_owned());
        tokio::spawn(async move {
            let remembered = async {
                let mut connection = redis.connection().await?;
                script.key(hash_key(&project)).arg(built_at).arg(tree).invoke_async::<i64>(&mut connection).await
            };
            if let Err(error) = remembered.await {
                tracing::warn!(error = %error, %project, "could not keep a built tree");
            }
        });
    }

    /// `Some(role)` when the hash knows it, `None` when it cannot say.
    async fn cached_role(&self, project: &ProjectId, user: &UserId) -> anyhow::Result<Option<Option<ProjectRole>>> {
        let mut connection = self.redis.connection().await?;
        let (status, member): (String, String) = self
            .scripts
            .role
            .key(hash_key(project))
            .arg(millis(self.settings.max_staleness))
            .arg(entries::member_field(user))
            .invoke_async(&mut connection)
            .await?;
        match status.as_str() {
            "known" => Ok(Some(entries::decode_role(&member)?)),
            _ => Ok(None),
        }
    }

    async fn load<F, Fut>(&self, load: &F) -> anyhow::Result<Option<ProjectImage>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ProjectImage>>>,
    {
        self.stats.loads.fetch_add(1, Ordering::Relaxed);
        load().await
    }

    /// Merges a load into the hash and returns the hash as merged; `None`
    /// when a reset made the load too late to merge. A project that does not
    /// exist merges as no items, so its hash answers "no such project" until
    /// it expires.
    async fn merge(
        &self,
        project: &ProjectId,
        ticket: u64,
        started: u64,
        image: Option<&ProjectImage>,
    ) -> anyhow::Result<Option<Vec<String>>> {
        let entries = image.map(Entry::all_of).transpose()?.unwrap_or_default();
        let mut invocation = self.scripts.merge.prepare_invoke();
        invocation
            .key(hash_key(project))
            .key(lock_key(project))
            .arg(ticket)
            .arg(started)
            .arg(millis(self.settings.ttl));
        for entry in entries {
            invocation.arg(entry.field).arg(entry.version).arg(entry.json);
        }
        let mut connection = self.redis.connection().await?;
        let (merged, hash): (bool, Vec<String>) =
            invocation.invoke_async(&mut connection).await.context("merging a load")?;
        Ok(merged.then_some(hash))
    }

    /// Counts a read, and prints one CloudWatch embedded-metric-format line
    /// for it (a JSON object on stdout, which Lambda's JSON log format keeps
    /// whole). A hit after waiting for another caller's load is a miss that
    /// load served.
    fn count_read(&self, from_hash: bool, waited: bool) {
        let hit = from_hash && !waited;
        let counter = if hit { &self.stats.hits } else { &self.stats.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        if from_hash && waited {
            self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
        }
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
                    "Metrics": [{"Name": "ProjectCacheHit", "Unit": "Count"}, {"Name": "ProjectCacheMiss", "Unit": "Count"}],
                }],
            },
            "Function": "blocks",
            "ProjectCacheHit": u8::from(hit),
            "ProjectCacheMiss": u8::from(!hit),
        });
        println!("{metrics}");
    }
}

/// The tree of `image` as served to `user`.
fn served(image: Option<ProjectImage>, user: &UserId) -> anyhow::Result<Option<ServedTree>> {
    let Some(image) = image else { return Ok(None) };
    let role = image.role_of(user);
    Ok(Some(ServedTree { role, json: serde_json::to_string(&image.into_tree())? }))
}

/// HGETALL's flat reply as (field, value) pairs.
fn pairs(flat: Vec<String>) -> impl Iterator<Item = (String, String)> {
    let mut flat = flat.into_iter();
    std::iter::from_fn(move || Some((flat.next()?, flat.next()?)))
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

fn hash_key(project: &ProjectId) -> String {
    format!("tessera:{{{project}}}:project")
}

fn lock_key(project: &ProjectId) -> String {
    format!("tessera:{{{project}}}:lock")
}
