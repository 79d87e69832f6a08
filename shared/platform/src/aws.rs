//! AWS clients, built once per execution environment, on first use.
//!
//! Loading the SDK configuration reads and parses the system trust store,
//! which is most of a cold start (about 4 ms of a 5.6 ms start, measured by
//! `make bench`). It is deferred to the first request that calls AWS, so
//! requests that never do (liveness, cached reads, rejected input) never
//! pay it, and the rest pay it once.
//!
//! The SDK honours `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_DYNAMODB`, ...) by itself, so the same binary talks to
//! moto server locally and to AWS in production.

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

/// A cheap-to-clone handle on the AWS configuration and clients.
#[derive(Clone, Default)]
pub struct Aws {
    inner: Arc<Clients>,
}

#[derive(Default)]
struct Clients {
    config: OnceCell<SdkConfig>,
    dynamodb: OnceCell<aws_sdk_dynamodb::Client>,
    sqs: OnceCell<aws_sdk_sqs::Client>,
}

impl Aws {
    /// Configuration from the environment, loaded on first use.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// A given configuration (tests point it at moto server).
    pub fn with_config(config: SdkConfig) -> Self {
        let clients = Clients { config: OnceCell::new_with(Some(config)), ..Clients::default() };
        Self { inner: Arc::new(clients) }
    }

    pub async fn config(&self) -> &SdkConfig {
        self.inner.config.get_or_init(load_sdk_config).await
    }

    pub async fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        let config = self.config().await;
        self.inner.dynamodb.get_or_init(|| async { aws_sdk_dynamodb::Client::new(config) }).await
    }

    pub async fn sqs(&self) -> &aws_sdk_sqs::Client {
        let config = self.config().await;
        self.inner.sqs.get_or_init(|| async { aws_sdk_sqs::Client::new(config) }).await
    }

    /// The API Gateway management client posts to WebSocket connections; its
    /// endpoint is the WebSocket API's own (`https://{api}.execute-api.
    /// {region}.amazonaws.com/{stage}` in AWS, the local gateway locally).
    pub async fn connections(&self, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
        let config =
            aws_sdk_apigatewaymanagement::config::Builder::from(self.config().await).endpoint_url(endpoint).build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }
}

/// Region, credentials and endpoints from the environment, with timeouts
/// that suit a request path: a stuck connection must not hold an invocation
/// until the function's own timeout.
async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await
}
