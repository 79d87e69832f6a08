//! Publishing events to the events queue.

use anyhow::anyhow;
use aws_sdk_sqs::error::DisplayErrorContext;
use tessera_core::events::Event;
use tessera_platform::aws::Aws;

#[derive(Clone)]
pub struct EventQueue {
    aws: Aws,
    queue_url: String,
}

impl EventQueue {
    pub fn new(aws: Aws, queue_url: impl Into<String>) -> Self {
        Self { aws, queue_url: queue_url.into() }
    }

    /// Sends the event; a failure is logged, not returned: the request it
    /// describes has been answered either way.
    pub async fn publish(&self, event: &Event) {
        if let Err(error) = self.send(event).await {
            tracing::warn!(error = format!("{error:#}"), "could not publish an event");
        }
    }

    async fn send(&self, event: &Event) -> anyhow::Result<()> {
        let body = serde_json::to_string(event)?;
        self.aws
            .sqs()
            .await
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|err| anyhow!("sending to the events queue: {}", DisplayErrorContext(err)))?;
        Ok(())
    }
}
