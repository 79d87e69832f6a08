//! Posting to sockets through API Gateway's `@connections` API, many at
//! once with bounded concurrency. A socket that answers 410 Gone has left
//! without `$disconnect` reaching us: it is forgotten on the spot.

use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::{StreamExt, stream};
use tessera_platform::aws::Aws;
use tokio::sync::OnceCell;

use crate::connections::ConnectionStore;

/// API Gateway's largest WebSocket frame.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// What became of one fan-out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    /// Sockets that were gone, now forgotten.
    pub gone: usize,
    pub failed: usize,
}

#[derive(Clone)]
pub struct Sockets {
    aws: Aws,
    endpoint: String,
    client: std::sync::Arc<OnceCell<aws_sdk_apigatewaymanagement::Client>>,
    connections: ConnectionStore,
    concurrency: usize,
}

enum Outcome {
    Sent,
    Gone,
    Failed,
}

impl Sockets {
    pub fn new(aws: Aws, endpoint: impl Into<String>, connections: ConnectionStore, concurrency: usize) -> Self {
        let endpoint = endpoint.into();
        Self { aws, endpoint, client: Default::default(), connections, concurrency: concurrency.max(1) }
    }

    async fn client(&self) -> &aws_sdk_apigatewaymanagement::Client {
        self.client.get_or_init(|| self.aws.connections(&self.endpoint)).await
    }

    /// Posts one message to one socket.
    pub async fn post(&self, connection_id: &str, message: &str) -> Delivered {
        self.post_all([connection_id.to_owned()], message).await
    }

    /// Posts one message to every socket given, `concurrency` at a time,
    /// and forgets the sockets that are gone.
    pub async fn post_all(&self, connection_ids: impl IntoIterator<Item = String>, message: &str) -> Delivered {
        let client = self.client().await;
        let data = Blob::new(message.as_bytes().to_vec());
        let outcomes: Vec<(String, Outcome)> = stream::iter(connection_ids)
            .map(|id| {
                let data = data.clone();
                async move {
                    let result = client.post_to_connection().connection_id(&id).data(data).send().await;
                    let outcome = match result {
                        Ok(_) => Outcome::Sent,
                        Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 410 => Outcome::Gone,
                        Err(error) => {
                            tracing::warn!(connection = %id, error = %DisplayErrorContext(&error), "a post failed");
                            Outcome::Failed
                        }
                    };
                    (id, outcome)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut delivered = Delivered::default();
        let mut gone = Vec::new();
        for (id, outcome) in outcomes {
            match outcome {
                Outcome::Sent => delivered.sent += 1,
                Outcome::Failed => delivered.failed += 1,
                Outcome::Gone => gone.push(id),
            }
        }
        delivered.gone = gone.len();
        let forgotten = stream::iter(gone)
            .map(|id| async move {
                if let Err(error) = self.connections.remove(&id).await {
                    tracing::warn!(connection = %id, error = format!("{error:#}"), "could not forget a gone socket");
                }
            })
            .buffer_unordered(self.concurrency.min(16));
        forgotten.collect::<()>().await;
        delivered
    }
}
