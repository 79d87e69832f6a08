//! Lambda's SQS event source mapping, emulated: long-polls a queue, gathers
//! batches (BatchSize, MaximumBatchingWindowInSeconds), drops the messages
//! its FilterCriteria keeps out, invokes the function
//! with at most MaximumConcurrency batches in flight, and deletes what
//! succeeded. What failed is left alone: it comes back after the queue's
//! visibility timeout, and the queue's redrive policy moves it to the DLQ
//! after maxReceiveCount receives, exactly as in AWS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::batch_response::BatchOutcome;
use super::sqs_event::{Received, sqs_event};
use crate::lambda::{Lambda, log_invocation};
use crate::plan::{FunctionPlan, QueueSource};

/// SQS's longest long poll.
const LONG_POLL_SECONDS: u64 = 20;
/// SQS's most messages per receive, and per delete batch.
const SQS_MAX_BATCH: usize = 10;
/// Between short polls while a batching window that has under a second left runs out.
const SHORT_POLL_PAUSE: Duration = Duration::from_millis(100);
const ERROR_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const ERROR_BACKOFF_CAP: Duration = Duration::from_secs(10);

pub struct QueuePoller {
    source: QueueSource,
    binary: String,
    timeout: Duration,
    lambda: Lambda,
    sqs: aws_sdk_sqs::Client,
}

impl QueuePoller {
    pub fn new(source: QueueSource, function: &FunctionPlan, lambda: Lambda, sdk: &SdkConfig) -> Self {
        Self {
            source,
            binary: function.binary.clone(),
            timeout: function.timeout,
            lambda,
            sqs: aws_sdk_sqs::Client::new(sdk),
        }
    }

    /// Polls until the task is aborted, which also aborts the invocations in flight.
    pub async fn run(self) {
        let poller = Arc::new(self);
        // Lambda's MaximumConcurrency: a batch is gathered only once it has a
        // slot, so no message waits in memory while its visibility timeout runs.
        let slots = Arc::new(Semaphore::new(poller.source.max_concurrency.max(1)));
        let mut in_flight = JoinSet::new();
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let batch = poller.gather().await;
            let handler = poller.clone();
            in_flight.spawn(async move {
                handler.process(batch).await;
                drop(slot);
            });
            while let Some(done) = in_flight.try_join_next() {
                if let Err(error) = done {
                    println!("devstack: sqs {}: a batch's handling failed: {error}", poller.source.queue);
                }
            }
        }
    }

    /// Receives until BatchSize messages are gathered or the batching window,
    /// which opens with the first message, has passed (window 0: what one
    /// receive returned). Never returns an empty batch.
    async fn gather(&self) -> Vec<Received> {
        let batch_size = self.source.batch_size.max(1);
        let mut batch = Vec::new();
        let mut window_closes: Option<Instant> = None;
        let mut backoff = Backoff::new(ERROR_BACKOFF_FIRST, ERROR_BACKOFF_CAP);
        loop {
            let wait_seconds = match window_closes {
                None => LONG_POLL_SECONDS as i32,
                // Whole seconds only, and never past the window's end.
                Some(closes) => {
                    closes.saturating_duration_since(Instant::now()).as_secs().min(LONG_POLL_SECONDS) as i32
                }
            };
            let wanted = (batch_size - batch.len()).min(SQS_MAX_BATCH);
            let received = match self.receive(wanted, wait_seconds).await {
                Ok(received) => {
                    backoff.reset();
                    received
                }
                Err(error) => {
                    println!("devstack: sqs {}: receiving failed, retrying: {error}", self.source.queue);
                    backoff.wait().await;
                    Vec::new()
                }
            };
            let got_some = !received.is_empty();
            batch.extend(received);
            if batch.is_empty() {
                continue;
            }
            let closes = *window_closes.get_or_insert_with(|| Instant::now() + self.source.batching_window);
            let now = Instant::now();
            if batch.len() >= batch_size || now >= closes {
                return batch;
            }
            if wait_seconds == 0 && !got_some {
                tokio::time::sleep(SHORT_POLL_PAUSE.min(closes - now)).await;
            }
        }
    }

    async fn receive(&self, wanted: usize, wait_seconds: i32) -> Result<Vec<Received>, String> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.source.queue_url)
            .max_number_of_messages(wanted as i32)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|error| DisplayErrorContext(error).to_string())?;
        let messages = output.messages.unwrap_or_default();
        Ok(messages.iter().filter_map(|message| Received::new(message, &self.source.queue_arn)).collect())
    }

    /// Deletes the messages the source's filter keeps out, invokes the
    /// function with the rest and deletes the messages that succeeded.
    async fn process(&self, batch: Vec<Received>) {
        let (batch, unwanted): (Vec<Received>, Vec<Received>) =
            batch.into_iter().partition(|received| self.source.filter.matches(&received.filtered_as()));
        self.delete(&unwanted.iter().collect::<Vec<_>>()).await;
        if batch.is_empty() {
            return;
        }
        let started = Instant::now();
        let result = self.lambda.invoke_function(&self.binary, &sqs_event(&batch), self.timeout).await;
        let identifiers: Vec<&str> = batch.iter().map(|received| received.message_id.as_str()).collect();
        let outcome = BatchOutcome::of(&result, self.source.report_batch_item_failures, &identifiers);
        let source = format!("sqs {} ({})", self.source.queue, batch.len());
        log_invocation(&self.source.function, &source, outcome.status(batch.len()), started.elapsed());
        let succeeded: Vec<&Received> = match &outcome {
            BatchOutcome::Succeeded => batch.iter().collect(),
            BatchOutcome::PartlyFailed(failed) => batch.iter().filter(|r| !failed.contains(&r.message_id)).collect(),
            BatchOutcome::Failed(_) => Vec::new(),
        };
        self.delete(&succeeded).await;
    }

    /// Deletes in chunks of ten. A message that cannot be deleted comes back
    /// after its visibility timeout and is processed again, as in AWS.
    async fn delete(&self, messages: &[&Received]) {
        for chunk in messages.chunks(SQS_MAX_BATCH) {
            let entries: Result<Vec<_>, _> = chunk
                .iter()
                .enumerate()
                .map(|(index, received)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .receipt_handle(&received.receipt_handle)
                        .build()
                })
                .collect();
            let request = self.sqs.delete_message_batch().queue_url(&self.source.queue_url).set_entries(entries.ok());
            match request.send().await {
                Err(error) => println!(
                    "devstack: sqs {}: deleting {} processed messages failed; they will be processed again: {}",
                    self.source.queue,
                    chunk.len(),
                    DisplayErrorContext(error)
                ),
                Ok(output) => {
                    for failure in output.failed {
                        println!(
                            "devstack: sqs {}: deleting a processed message failed ({}: {}); it will be processed again",
                            self.source.queue,
                            failure.code,
                            failure.message.unwrap_or_default()
                        );
                    }
                }
            }
        }
    }
}
