//! The SQS event source, end to end: messages sent to WorkQueue reach
//! WorkerFunction (fixture-worker) through the devstack's poller, which
//! deletes what succeeded and leaves the rest to the queue's redrive policy.
//! The worker reports what it got to SeenQueue.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};
use serde_json::Value;
use tessera_e2e::fixture_devstack;
use tokio::sync::Mutex;

/// The tests share the work queue, its DLQ and SeenQueue: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());
/// Bounds every wait, so a broken poller fails a test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);
/// WorkQueue's redrive policy.
const MAX_RECEIVE_COUNT: u32 = 2;

struct Queues {
    sqs: aws_sdk_sqs::Client,
    work: String,
    dead_letters: String,
    seen: String,
}

impl Queues {
    fn of_fixture_devstack() -> Self {
        let devstack = fixture_devstack();
        Self {
            sqs: aws_sdk_sqs::Client::new(&devstack.sdk),
            work: devstack.resource("WorkQueue").to_owned(),
            dead_letters: devstack.resource("WorkDeadLetterQueue").to_owned(),
            seen: devstack.resource("SeenQueue").to_owned(),
        }
    }

    /// Sends in one call, so the poller finds the messages together.
    async fn send_to_work_queue(&self, bodies: &[String]) -> anyhow::Result<()> {
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(body).build())
            .collect::<Result<Vec<_>, _>>()?;
        let sent = self.sqs.send_message_batch().queue_url(&self.work).set_entries(Some(entries)).send().await?;
        anyhow::ensure!(sent.failed.is_empty(), "sending failed: {:?}", sent.failed);
        Ok(())
    }

    /// The worker's reports whose body contains `tag`, read from SeenQueue
    /// until `enough` holds for them and SeenQueue is drained, so that a
    /// message reported twice shows.
    async fn reports_until(&self, tag: &str, enough: impl Fn(&[Value]) -> bool) -> anyhow::Result<Vec<Value>> {
        let mut reports = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let bodies = receive_all(&self.sqs, &self.seen).await?;
            let drained = bodies.is_empty();
            for body in bodies {
                let report: Value = serde_json::from_str(&body)?;
                if report["source"] == "sqs" && report["body"].as_str().is_some_and(|b| b.contains(tag)) {
                    reports.push(report);
                }
            }
            if drained && enough(&reports) {
                return Ok(reports);
            }
            if Instant::now() > deadline {
                bail!("after {PATIENCE:?} the worker had reported only {reports:?}");
            }
        }
    }

    /// Waits until no message is left in the work queue, visible or in flight.
    async fn until_work_queue_is_empty(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let attributes = self
                .sqs
                .get_queue_attributes()
                .queue_url(&self.work)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await?
                .attributes
                .unwrap_or_default();
            let count = |name| attributes.get(&name).map(String::as_str).unwrap_or("?").to_owned();
            let (visible, in_flight) = (
                count(QueueAttributeName::ApproximateNumberOfMessages),
                count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            );
            if visible == "0" && in_flight == "0" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "after {PATIENCE:?} the work queue still has {visible} visible and {in_flight} in-flight messages"
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Takes the dead letters whose body contains `tag` out of the DLQ, once
    /// there is one; each with its ApproximateReceiveCount.
    async fn dead_letters(&self, tag: &str) -> anyhow::Result<Vec<(String, String)>> {
        let deadline = Instant::now() + PATIENCE;
        let mut letters = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.dead_letters)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await?;
            let messages = received.messages.unwrap_or_default();
            for message in &messages {
                let body = message.body.clone().unwrap_or_default();
                let attributes = message.attributes.clone().unwrap_or_default();
                let count = attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount).cloned();
                if body.contains(tag) {
                    letters.push((body, count.unwrap_or_default()));
                }
                let handle = message.receipt_handle.as_deref().context("a receipt handle")?;
                self.sqs.delete_message().queue_url(&self.dead_letters).receipt_handle(handle).send().await?;
            }
            // Done once the DLQ is drained and what was looked for is there.
            if messages.is_empty() && !letters.is_empty() {
                return Ok(letters);
            }
            if Instant::now() > deadline {
                bail!("after {PATIENCE:?} no dead letter contains {tag:?}");
            }
        }
    }
}

/// Every message in the queue now, deleted.
async fn receive_all(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<Vec<String>> {
    let received =
        sqs.receive_message().queue_url(queue).max_number_of_messages(10).wait_time_seconds(1).send().await?;
    let mut bodies = Vec::new();
    for message in received.messages.unwrap_or_default() {
        if let Some(handle) = &message.receipt_handle {
            sqs.delete_message().queue_url(queue).receipt_handle(handle).send().await?;
        }
        bodies.extend(message.body);
    }
    Ok(bodies)
}

fn bodies_of(reports: &[Value]) -> Vec<&str> {
    reports.iter().filter_map(|report| report["body"].as_str()).collect()
}

#[tokio::test]
async fn good_messages_are_processed_once_and_a_poison_message_moves_to_the_dlq_after_max_receive_count_receives()
-> anyhow::Result<()> {
    let _alone = ONE_AT_A_TIME.lock().await;
    let queues = Queues::of_fixture_devstack();

    // GIVEN five good messages and one the worker reports as a batch item failure
    let tag = "partial-batch";
    let good: Vec<String> = (1..=5).map(|n| format!("{tag} good {n}")).collect();
    let poison = format!("{tag} poison");
    let mut bodies = good.clone();
    bodies.insert(2, poison.clone());

    // WHEN they are sent to the work queue together
    queues.send_to_work_queue(&bodies).await?;

    // THEN the poison message ends in the DLQ, intact, after two receives
    // (its receive count is one more: the DLQ receive that found it)
    let letters = queues.dead_letters(tag).await?;
    assert_eq!(letters, [(poison.clone(), (MAX_RECEIVE_COUNT + 1).to_string())]);
    // AND the work queue ends empty: the good messages were deleted
    queues.until_work_queue_is_empty().await?;
    // AND each good message reached the worker exactly once
    let reports = queues.reports_until(tag, |reports| reports.len() >= good.len()).await?;
    let mut seen = bodies_of(&reports);
    seen.sort_unstable();
    assert_eq!(seen, good, "reports: {reports:?}");
    assert!(reports.iter().all(|report| report["receiveCount"] == "1"), "reports: {reports:?}");
    Ok(())
}

#[tokio::test]
async fn a_function_error_deletes_nothing_so_the_batch_is_delivered_again_until_it_moves_to_the_dlq()
-> anyhow::Result<()> {
    let _alone = ONE_AT_A_TIME.lock().await;
    let queues = Queues::of_fixture_devstack();

    // GIVEN a message on which the worker fails with a function error
    let crash = "crash: function error".to_owned();

    // WHEN it is sent to the work queue
    queues.send_to_work_queue(std::slice::from_ref(&crash)).await?;

    // THEN the worker gets it once per receive the redrive policy allows
    let reports = queues.reports_until("crash", |reports| reports.len() >= 2).await?;
    let counts: Vec<&str> = reports.iter().filter_map(|report| report["receiveCount"].as_str()).collect();
    let receives: Vec<String> = (1..=MAX_RECEIVE_COUNT).map(|n| n.to_string()).collect();
    assert_eq!(counts, receives, "reports: {reports:?}");
    // AND then it moves to the DLQ, and the work queue is empty
    let letters = queues.dead_letters("crash").await?;
    assert_eq!(letters.len(), 1, "dead letters: {letters:?}");
    queues.until_work_queue_is_empty().await?;
    Ok(())
}
