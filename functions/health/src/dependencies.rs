//! The dependencies readiness checks, each with the cheapest call that proves
//! it reachable and our resource present.

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;
use tessera_platform::aws::Aws;
use tessera_platform::redis::Redis;

#[derive(Clone)]
pub enum Dependency {
    DynamoDb { aws: Aws, table: String },
    Sqs { aws: Aws, queue_url: String },
    Redis(Redis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Down,
}

/// One dependency's answer. Never carries the error itself: that is logged.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    #[serde(skip)]
    pub name: &'static str,
    pub status: Status,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl Dependency {
    pub fn name(&self) -> &'static str {
        match self {
            Self::DynamoDb { .. } => "dynamodb",
            Self::Sqs { .. } => "sqs",
            Self::Redis(_) => "redis",
        }
    }

    pub async fn check(&self, timeout: Duration) -> Check {
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, self.probe()).await;
        let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
        let (status, reason) = match outcome {
            Ok(Ok(())) => (Status::Up, None),
            Ok(Err(err)) => {
                tracing::warn!(dependency = self.name(), error = format!("{err:#}"), "dependency check failed");
                (Status::Down, Some("error"))
            }
            Err(_) => {
                tracing::warn!(dependency = self.name(), ?timeout, "dependency check timed out");
                (Status::Down, Some("timeout"))
            }
        };
        Check { name: self.name(), status, latency_ms, reason }
    }

    async fn probe(&self) -> anyhow::Result<()> {
        match self {
            Self::DynamoDb { aws, table } => {
                aws.dynamodb()
                    .await
                    .describe_table()
                    .table_name(table)
                    .send()
                    .await
                    .map_err(|err| anyhow!("describing table {table}: {}", DisplayErrorContext(err)))?;
            }
            Self::Sqs { aws, queue_url } => {
                aws.sqs()
                    .await
                    .get_queue_attributes()
                    .queue_url(queue_url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .map_err(|err| anyhow!("reading attributes of {queue_url}: {}", DisplayErrorContext(err)))?;
            }
            Self::Redis(redis) => {
                let mut connection = redis.connection().await.context("connecting to redis")?;
                let pong: String = redis::cmd("PING").query_async(&mut connection).await.context("PING")?;
                anyhow::ensure!(pong == "PONG", "PING answered {pong:?}");
            }
        }
        Ok(())
    }
}

/// Checks every dependency at once.
pub async fn check_all(dependencies: &[Dependency], timeout: Duration) -> Vec<Check> {
    futures_util::future::join_all(dependencies.iter().map(|d| d.check(timeout))).await
}
