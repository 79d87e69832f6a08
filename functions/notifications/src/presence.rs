//! Who is in a project right now, with their cursor and selection: one
//! Redis hash per project (`field = connection`), each entry stamped with
//! the time of its last heartbeat. An entry not refreshed within the TTL
//! is stale: the client vanished without `$disconnect`. Stale entries are
//! pruned by whoever reads the hash next (and reported as left), and the
//! whole hash expires on its own once nobody heartbeats at all.

use std::time::Duration;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::UserId;
use tessera_core::content::ProjectId;
use tessera_platform::redis::Redis;

/// One collaborator's presence on one socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Present {
    pub connection_id: String,
    pub user_id: UserId,
    /// What the client says about itself (cursor, selection, slide).
    pub state: Value,
    /// Unix milliseconds of the last heartbeat.
    pub seen_at: u64,
}

#[derive(Clone)]
pub struct Presence {
    redis: Redis,
    prefix: String,
    ttl: Duration,
}

/// The project's presence, split by the TTL.
#[derive(Debug, Default)]
pub struct Roster {
    pub here: Vec<Present>,
    /// Entries that outlived the TTL, now removed.
    pub stale: Vec<Present>,
}

impl Presence {
    pub fn new(redis: Redis, prefix: impl Into<String>, ttl: Duration) -> Self {
        Self { redis, prefix: prefix.into(), ttl }
    }

    fn key(&self, project: &ProjectId) -> String {
        // The hash tag keeps a project's keys on one cluster slot.
        format!("{}:presence:{{{project}}}", self.prefix)
    }

    /// Records a heartbeat; the entry it replaced, if the connection was
    /// present already.
    pub async fn beat(&self, project: &ProjectId, present: &Present) -> redis::RedisResult<Option<Present>> {
        let mut conn = self.redis.connection().await?;
        let key = self.key(project);
        let entry = serde_json::to_string(present).unwrap_or_default();
        let (before, _, _): (Option<String>, u64, bool) = redis::pipe()
            .hget(&key, &present.connection_id)
            .hset(&key, &present.connection_id, entry)
            .pexpire(&key, (self.ttl.as_millis() * 2) as i64)
            .query_async(&mut conn)
            .await?;
        Ok(before.and_then(|e| serde_json::from_str(&e).ok()))
    }

    /// Removes a connection's presence; what it was, if it was there.
    pub async fn leave(&self, project: &ProjectId, connection_id: &str) -> redis::RedisResult<Option<Present>> {
        let mut conn = self.redis.connection().await?;
        let key = self.key(project);
        let (entry, _): (Option<String>, u64) =
            redis::pipe().hget(&key, connection_id).hdel(&key, connection_id).query_async(&mut conn).await?;
        Ok(entry.and_then(|e| serde_json::from_str(&e).ok()))
    }

    /// Who is here at `now_ms`; the stale are removed and returned apart.
    pub async fn roster(&self, project: &ProjectId, now_ms: u64) -> redis::RedisResult<Roster> {
        let mut conn = self.redis.connection().await?;
        let key = self.key(project);
        let all: Vec<(String, String)> = conn.hgetall(&key).await?;
        let mut roster = Roster::default();
        let mut unreadable = Vec::new();
        for (field, entry) in all {
            match serde_json::from_str::<Present>(&entry) {
                Ok(present) if present.seen_at + self.ttl.as_millis() as u64 >= now_ms => roster.here.push(present),
                Ok(present) => roster.stale.push(present),
                Err(_) => unreadable.push(field),
            }
        }
        let gone: Vec<&str> = roster
            .stale
            .iter()
            .map(|p| p.connection_id.as_str())
            .chain(unreadable.iter().map(String::as_str))
            .collect();
        if !gone.is_empty() {
            let _: u64 = conn.hdel(&key, gone).await?;
        }
        roster.here.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(roster)
    }
}
