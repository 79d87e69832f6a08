//! The fan-out: writes (the Content table's stream) and other events (the
//! events queue) become typed messages, posted to every socket subscribed
//! to their project; the ones addressed to a person also land in that
//! person's inbox and on their sockets.
//!
//! A record that cannot be delivered is reported (`batchItemFailures`), so
//! one bad record never blocks or replays the rest: on the stream, Lambda
//! retries from the failed record on; on the queue, only the failed message
//! returns, and after `maxReceiveCount` it rests in the dead-letter queue.

pub mod changes;
pub mod config;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::{Value, json};
use tessera_core::UserId;
use tessera_core::content::ProjectId;
use tessera_core::events::Event;
use tessera_platform::aws::Aws;
use time::OffsetDateTime;

pub use config::FanoutConfig;

use crate::connections::ConnectionStore;
use crate::delivery::{Delivered, MAX_MESSAGE_BYTES, Sockets};
use crate::inbox::{InboxStore, Notification};

/// What one event asks of the fan-out.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub project: ProjectId,
    /// The message, with its `type`.
    pub message: Value,
    /// People whose inbox keeps it.
    pub inbox_for: Vec<UserId>,
    /// A person whose sockets leave the channel once told.
    pub unsubscribe: Option<UserId>,
}

impl Outgoing {
    pub fn to_channel(project: ProjectId, message: Value) -> Self {
        Self { project, message, inbox_for: Vec::new(), unsubscribe: None }
    }
}

#[derive(Clone)]
pub struct Fanout {
    pub connections: ConnectionStore,
    pub sockets: Sockets,
    pub inbox: InboxStore,
    pub config: FanoutConfig,
}

impl Fanout {
    pub fn new(aws: Aws, config: FanoutConfig) -> Self {
        let connections = ConnectionStore::new(aws.clone(), &config.connections_table);
        Self {
            sockets: Sockets::new(aws.clone(), &config.connections_endpoint, connections.clone(), config.concurrency),
            connections,
            inbox: InboxStore::new(aws, &config.inbox_table),
            config,
        }
    }

    /// Either event source: the payload says which.
    pub async fn handle(&self, payload: Value) -> Value {
        let source = payload.pointer("/Records/0/eventSource").and_then(Value::as_str).unwrap_or_default();
        if source == "aws:sqs" {
            match serde_json::from_value::<SqsEvent>(payload) {
                Ok(event) => return json!(Box::pin(self.handle_queue(event)).await),
                Err(error) => tracing::error!(%error, "an unreadable SQS event"),
            }
        } else {
            match serde_json::from_value::<StreamEvent>(payload) {
                Ok(event) => return json!(Box::pin(self.handle_stream(event)).await),
                Err(error) => tracing::error!(%error, "an unreadable stream event"),
            }
        }
        json!({ "batchItemFailures": [] })
    }

    /// Records in order; the first failure stops the batch there (Lambda
    /// retries from it, the records after it included).
    pub async fn handle_stream(&self, event: StreamEvent) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        for record in &event.records {
            let Some(outgoing) = changes::outgoing(record) else { continue };
            if let Err(error) = Box::pin(self.deliver(
                &outgoing,
                &record.event_id,
                at_millis(record.change.approximate_creation_date_time.timestamp_millis()),
            ))
            .await
            {
                tracing::error!(error = format!("{error:#}"), "a change could not be delivered; retrying");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
                break;
            }
        }
        response
    }

    /// Each message on its own: a failed one returns to the queue alone.
    pub async fn handle_queue(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in &event.records {
            if let Err(error) = self.deliver_message(message).await {
                tracing::error!(error = format!("{error:#}"), "an event could not be delivered");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    async fn deliver_message(&self, message: &SqsMessage) -> anyhow::Result<()> {
        let event: Event = serde_json::from_str(message.body.as_deref().unwrap_or_default())?;
        let outgoing = match &event {
            Event::BlockConflict { project_id, actor, .. } => Outgoing {
                project: project_id.clone(),
                message: serde_json::to_value(&event)?,
                // The loser learns of it later too, in their inbox.
                inbox_for: vec![actor.clone()],
                unsubscribe: None,
            },
        };
        let sent = message.attributes.get("SentTimestamp").and_then(|ms| ms.parse().ok()).unwrap_or_default();
        self.deliver(&outgoing, message.message_id.as_deref().unwrap_or_default(), at_millis(sent)).await?;
        Ok(())
    }

    /// Posts to the channel, then the inboxes. `source` (the record's or
    /// message's id) and `at` (when the event happened) are the same on every
    /// retry, so a retried inbox write is the same notification.
    pub async fn deliver(&self, outgoing: &Outgoing, source: &str, at: OffsetDateTime) -> anyhow::Result<Delivered> {
        let started = std::time::Instant::now();
        let text = fit(&outgoing.message);
        let subscribers = self.connections.subscribers(&outgoing.project).await?;
        let listed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let delivered = self.sockets.post_all(subscribers.into_iter().map(|s| s.connection_id), &text).await;
        tracing::info!(
            kind = outgoing.message["type"].as_str().unwrap_or_default(),
            sent = delivered.sent,
            gone = delivered.gone,
            failed = delivered.failed,
            listed_ms,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "fanned out"
        );
        if let Some(user) = &outgoing.unsubscribe {
            self.connections.unsubscribe_user(&outgoing.project, user).await?;
        }
        for user in &outgoing.inbox_for {
            let notification = Notification::new(user.clone(), outgoing.message.clone(), source, at);
            if self.inbox.deliver(&notification, self.config.inbox_ttl).await? {
                let pushed = fit(&json!({ "type": "notification", "notification": notification }));
                self.sockets.post_all(self.connections.sockets_of(user).await?, &pushed).await;
            }
        }
        Ok(delivered)
    }
}

/// Unix milliseconds as a time; now when the source gave none.
fn at_millis(millis: i64) -> OffsetDateTime {
    match millis {
        0 => OffsetDateTime::now_utc(),
        ms => OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or_else(|_| OffsetDateTime::now_utc()),
    }
}

/// The message as sent: itself when it fits in a frame, else a reference
/// to what to fetch.
pub fn fit(message: &Value) -> String {
    let text = message.to_string();
    if text.len() <= MAX_MESSAGE_BYTES {
        return text;
    }
    changes::as_reference(message.clone()).to_string()
}
