//! A Redis client for a plain redis-server and for ElastiCache alike.
//!
//! `rediss://` URLs use TLS; `REDIS_CLUSTER=true` speaks the cluster protocol
//! (ElastiCache cluster mode, Serverless). Nothing connects at start-up: the
//! first command connects, and the connection then reconnects on its own.
//! Timeouts are short so that a Redis outage costs a request milliseconds,
//! not seconds, and callers can degrade gracefully.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

use crate::config::{ConfigError, Vars};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub url: String,
    pub cluster: bool,
    /// Bound on connecting and on each response.
    pub timeout: Duration,
}

impl RedisConfig {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            url: vars.required("REDIS_URL")?,
            cluster: vars.or("REDIS_CLUSTER", false)?,
            timeout: Duration::from_millis(vars.or("REDIS_TIMEOUT_MS", 500)?),
        })
    }
}

/// A cheap-to-clone handle; clones share one connection.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    timeout: Duration,
    connection: OnceCell<RedisConnection>,
}

#[expect(clippy::large_enum_variant, reason = "one per process: size does not matter")]
enum Target {
    Single(redis::Client),
    Cluster(ClusterClient),
}

impl Redis {
    /// Validates the URL; does not connect.
    pub fn new(config: &RedisConfig) -> RedisResult<Self> {
        let target = if config.cluster {
            let client = ClusterClient::builder([config.url.as_str()])
                .connection_timeout(config.timeout)
                .response_timeout(config.timeout)
                .retries(1)
                .build()?;
            Target::Cluster(client)
        } else {
            Target::Single(redis::Client::open(config.url.as_str())?)
        };
        let inner = Inner { target, timeout: config.timeout, connection: OnceCell::new() };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The shared connection, connecting on first use. A failed first connect
    /// is retried by the next call.
    pub async fn connection(&self) -> RedisResult<RedisConnection> {
        self.inner.connection.get_or_try_init(|| self.inner.connect()).await.cloned()
    }
}

impl Inner {
    async fn connect(&self) -> RedisResult<RedisConnection> {
        match &self.target {
            Target::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_secs(1));
                let manager = client.get_connection_manager_with_config(config).await?;
                Ok(RedisConnection::Single(manager))
            }
            Target::Cluster(client) => Ok(RedisConnection::Cluster(client.get_async_connection().await?)),
        }
    }
}

/// A multiplexed connection to either deployment shape; use it with
/// `redis::cmd(..).query_async(&mut conn)` or `redis::AsyncCommands`.
#[derive(Clone)]
pub enum RedisConnection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}
