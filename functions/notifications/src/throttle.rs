//! Broadcasts (cursor moves, selections) limited to a rate per connection
//! and project, coalesced: a message inside the current window waits for
//! the window's end, and only the latest one waiting is sent. A cursor
//! that moves 100 times a second is seen 20 times a second at its latest
//! position, never lagging behind a queue of old positions.
//!
//! The window and the waiting message live in Redis, because each message
//! is its own Lambda invocation, possibly on another instance.

use std::time::Duration;

use redis::Script;
use tessera_core::content::ProjectId;
use tessera_platform::redis::Redis;

/// Opens a window if none is open (and drops anything waiting: this newer
/// message supersedes it); otherwise leaves the message waiting, replacing
/// an older one, and says how long the window has left.
const OFFER: &str = r"
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then
  redis.call('DEL', KEYS[2])
  return -1
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1] * 4)
local left = redis.call('PTTL', KEYS[1])
if left < 1 then left = 1 end
return left
";

/// After a window: takes the waiting message, opening the next window for
/// it; nothing if another invocation already sent it or a newer one.
const TAKE: &str = r"
local waiting = redis.call('GET', KEYS[2])
if not waiting then return false end
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then
  redis.call('DEL', KEYS[2])
  return waiting
end
return false
";

#[derive(Clone)]
pub struct Throttle {
    redis: Redis,
    prefix: String,
    window: Duration,
    offer: std::sync::Arc<Script>,
    take: std::sync::Arc<Script>,
}

/// What to do with a broadcast.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send this (the message offered, or a newer one that was waiting).
    Send(String),
    /// Superseded by a newer message, or sent by another invocation.
    Coalesced,
}

impl Throttle {
    pub fn new(redis: Redis, prefix: impl Into<String>, per_second: u32) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            window: Duration::from_millis(1000 / u64::from(per_second.max(1))),
            offer: std::sync::Arc::new(Script::new(OFFER)),
            take: std::sync::Arc::new(Script::new(TAKE)),
        }
    }

    /// Decides a broadcast. It may wait up to one window (50 ms at 20 a
    /// second) for the window to close.
    pub async fn admit(
        &self,
        connection_id: &str,
        project: &ProjectId,
        message: String,
    ) -> redis::RedisResult<Verdict> {
        let mut conn = self.redis.connection().await?;
        let tag = format!("{}:throttle:{{{connection_id}:{project}}}", self.prefix);
        let (window, waiting) = (format!("{tag}:window"), format!("{tag}:waiting"));
        let window_ms = self.window.as_millis() as u64;
        let left: i64 =
            self.offer.key(&window).key(&waiting).arg(window_ms).arg(&message).invoke_async(&mut conn).await?;
        if left < 0 {
            return Ok(Verdict::Send(message));
        }
        tokio::time::sleep(Duration::from_millis(left.max(1) as u64)).await;
        let taken: Option<String> = self.take.key(&window).key(&waiting).arg(window_ms).invoke_async(&mut conn).await?;
        Ok(taken.map_or(Verdict::Coalesced, Verdict::Send))
    }
}
