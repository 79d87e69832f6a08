//! Lambda's DynamoDB Streams event source mapping, emulated: one reader per
//! shard (a child shard once its parent is read to the end), records in order
//! per shard, records the source's filter does not match skipped, and a
//! failed batch retried in place, so no later record of the shard overtakes
//! it, until it succeeds or MaximumRetryAttempts runs out.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{Record, Shard, ShardIteratorType};
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::batch_response::BatchOutcome;
use super::stream_event::{sequence_number, stream_event, stream_record};
use crate::lambda::{Lambda, log_invocation};
use crate::plan::{FunctionPlan, StartingPosition, StreamSource};

/// How often the stream is described again for new shards.
const DESCRIBE_EVERY: Duration = Duration::from_secs(10);
/// The pause between reads of a shard that had no new records.
const IDLE_POLL: Duration = Duration::from_millis(500);
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_CAP: Duration = Duration::from_secs(30);
/// GetRecords' most records per call.
const MAX_RECORDS_PER_READ: usize = 1000;

pub struct StreamPoller {
    source: StreamSource,
    binary: String,
    timeout: Duration,
    lambda: Lambda,
    streams: aws_sdk_dynamodbstreams::Client,
}

impl StreamPoller {
    pub fn new(source: StreamSource, function: &FunctionPlan, lambda: Lambda, sdk: &SdkConfig) -> Self {
        Self {
            source,
            binary: function.binary.clone(),
            timeout: function.timeout,
            lambda,
            streams: aws_sdk_dynamodbstreams::Client::new(sdk),
        }
    }

    /// Reads the stream until the task is aborted, which also aborts the shard readers.
    pub async fn run(self) {
        let poller = Arc::new(self);
        let mut readers: JoinSet<String> = JoinSet::new();
        let mut started: HashSet<String> = HashSet::new();
        let mut finished: HashSet<String> = HashSet::new();
        // Shards that existed when the mapping started read from StartingPosition;
        // any later shard is read from its start, so none of its records is missed.
        let mut initial: Option<HashSet<String>> = None;
        loop {
            match poller.shards().await {
                Err(error) => {
                    println!("devstack: stream {}: describing the stream failed: {error}", poller.source.table)
                }
                Ok(shards) => {
                    let initial =
                        initial.get_or_insert_with(|| shards.iter().filter_map(|s| s.shard_id.clone()).collect());
                    for shard in ready_shards(&shards, &started, &finished) {
                        let position = match poller.source.starting_position {
                            StartingPosition::Latest if initial.contains(&shard) => ShardIteratorType::Latest,
                            _ => ShardIteratorType::TrimHorizon,
                        };
                        started.insert(shard.clone());
                        readers.spawn(poller.clone().read_shard(shard, position));
                    }
                }
            }
            // Describe again after a while, or at once when a shard is done: its children may start.
            tokio::select! {
                _ = tokio::time::sleep(DESCRIBE_EVERY) => {}
                Some(done) = readers.join_next() => match done {
                    Ok(shard) => {
                        finished.insert(shard);
                    }
                    Err(error) => println!("devstack: stream {}: a shard reader failed: {error}", poller.source.table),
                },
            }
        }
    }

    async fn shards(&self) -> Result<Vec<Shard>, String> {
        let mut shards = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let output = self
                .streams
                .describe_stream()
                .stream_arn(&self.source.stream_arn)
                .set_exclusive_start_shard_id(after)
                .send()
                .await
                .map_err(|error| DisplayErrorContext(error).to_string())?;
            let Some(description) = output.stream_description else { return Ok(shards) };
            shards.extend(description.shards.unwrap_or_default());
            after = description.last_evaluated_shard_id;
            if after.is_none() {
                return Ok(shards);
            }
        }
    }

    /// Reads one shard in order, to its end if it is closed. Returns the shard's id.
    async fn read_shard(self: Arc<Self>, shard: String, position: ShardIteratorType) -> String {
        let mut errors = Backoff::new(RETRY_FIRST, RETRY_CAP);
        // The last record handled: a new iterator (after an error) starts after it.
        let mut checkpoint: Option<String> = None;
        let mut iterator: Option<String> = None;
        loop {
            let current = match iterator.take() {
                Some(current) => current,
                None => match self.iterator(&shard, &position, checkpoint.as_deref()).await {
                    Ok(current) => current,
                    Err(error) => {
                        println!("devstack: stream {}: no iterator for {shard}: {error}", self.source.table);
                        errors.wait().await;
                        continue;
                    }
                },
            };
            let limit = self.source.batch_size.clamp(1, MAX_RECORDS_PER_READ) as i32;
            let output = match self.streams.get_records().shard_iterator(current).limit(limit).send().await {
                Ok(output) => output,
                Err(error) => {
                    println!(
                        "devstack: stream {}: reading {shard} failed: {}",
                        self.source.table,
                        DisplayErrorContext(error)
                    );
                    errors.wait().await;
                    continue;
                }
            };
            errors.reset();
            let records = output.records.unwrap_or_default();
            let idle = records.is_empty();
            if let Some(last) = records.last().and_then(sequence_number) {
                checkpoint = Some(last.to_owned());
            }
            let wanted: Vec<Record> = records
                .into_iter()
                .filter(|record| self.source.filter.matches(&stream_record(record, &self.source.stream_arn)))
                .collect();
            if !wanted.is_empty() {
                self.deliver(wanted).await;
            }
            // No next iterator: the shard is closed and read to its end.
            let Some(next) = output.next_shard_iterator else { return shard };
            iterator = Some(next);
            if idle {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }

    async fn iterator(&self, shard: &str, position: &ShardIteratorType, after: Option<&str>) -> Result<String, String> {
        let request = self.streams.get_shard_iterator().stream_arn(&self.source.stream_arn).shard_id(shard);
        let request = match after {
            Some(sequence_number) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence_number)
            }
            None => request.shard_iterator_type(position.clone()),
        };
        let output = request.send().await.map_err(|error| DisplayErrorContext(error).to_string())?;
        output.shard_iterator.ok_or_else(|| "the answer has no iterator".to_owned())
    }

    /// Invokes the function with the batch until it succeeds, retrying in
    /// place (from the first failed record, with ReportBatchItemFailures).
    /// Once MaximumRetryAttempts retries have failed it moves on; Lambda
    /// would send the batch's description to an on-failure destination,
    /// which the devstack does not emulate.
    async fn deliver(&self, mut records: Vec<Record>) {
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_CAP);
        let mut retries = 0;
        loop {
            let started = Instant::now();
            let event = stream_event(&records, &self.source.stream_arn);
            let result = self.lambda.invoke_function(&self.binary, &event, self.timeout).await;
            let identifiers: Vec<&str> = records.iter().filter_map(sequence_number).collect();
            let outcome = BatchOutcome::of(&result, self.source.report_batch_item_failures, &identifiers);
            let source = format!("stream {} ({})", self.source.table, records.len());
            log_invocation(&self.source.function, &source, outcome.status(records.len()), started.elapsed());
            records = still_to_deliver(records, &outcome);
            if records.is_empty() {
                return;
            }
            if self.source.max_retries.is_some_and(|max| retries >= max) {
                let first = records.first().and_then(sequence_number).unwrap_or("?");
                let last = records.last().and_then(sequence_number).unwrap_or("?");
                println!(
                    "devstack: stream {}: giving up on {} records ({first} to {last}) after {retries} retries; \
                     Lambda would send them to the on-failure destination, which the devstack does not emulate",
                    self.source.table,
                    records.len(),
                );
                return;
            }
            retries += 1;
            backoff.wait().await;
        }
    }
}

/// The shards whose reading can start: not started yet, and whose parent
/// has been read to its end (or is no longer listed).
fn ready_shards(shards: &[Shard], started: &HashSet<String>, finished: &HashSet<String>) -> Vec<String> {
    let listed: HashSet<&str> = shards.iter().filter_map(|shard| shard.shard_id.as_deref()).collect();
    shards
        .iter()
        .filter(|shard| {
            let parent = shard.parent_shard_id.as_deref();
            parent.is_none_or(|parent| !listed.contains(parent) || finished.contains(parent))
        })
        .filter_map(|shard| shard.shard_id.clone())
        .filter(|id| !started.contains(id))
        .collect()
}

/// What remains to deliver after an invocation: nothing after a success, all
/// of it after a failure, and from the first record the function reported
/// failed (in shard order) after a partial failure.
fn still_to_deliver(mut records: Vec<Record>, outcome: &BatchOutcome) -> Vec<Record> {
    match outcome {
        BatchOutcome::Succeeded => Vec::new(),
        BatchOutcome::Failed(_) => records,
        BatchOutcome::PartlyFailed(failed) => {
            let first_failed = records
                .iter()
                .position(|record| sequence_number(record).is_some_and(|seq| failed.iter().any(|f| f == seq)))
                .unwrap_or(0);
            records.split_off(first_failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodbstreams::types::StreamRecord;

    use super::*;

    fn records(sequence_numbers: &[&str]) -> Vec<Record> {
        let record =
            |seq: &&str| Record::builder().dynamodb(StreamRecord::builder().sequence_number(*seq).build()).build();
        sequence_numbers.iter().map(record).collect()
    }

    fn sequence_numbers(records: &[Record]) -> Vec<&str> {
        records.iter().filter_map(sequence_number).collect()
    }

    #[test]
    fn a_partial_failure_resumes_from_the_first_failed_record_in_shard_order() {
        // GIVEN a batch where the function reported a later and an earlier record failed
        let batch = records(&["10", "11", "12", "13"]);
        let outcome = BatchOutcome::PartlyFailed(vec!["13".into(), "11".into()]);

        // WHEN what remains is worked out
        let remaining = still_to_deliver(batch, &outcome);

        // THEN delivery resumes at the earlier one, keeping every record after it
        assert_eq!(sequence_numbers(&remaining), ["11", "12", "13"]);
    }

    #[test]
    fn a_failed_batch_is_retried_whole_and_a_successful_one_is_done() {
        let failed = still_to_deliver(records(&["10", "11"]), &BatchOutcome::Failed("boom".into()));
        assert_eq!(sequence_numbers(&failed), ["10", "11"]);
        assert!(still_to_deliver(records(&["10", "11"]), &BatchOutcome::Succeeded).is_empty());
    }

    #[test]
    fn a_child_shard_waits_until_its_parent_is_read_to_the_end() {
        // GIVEN a parent shard, its child, and a shard whose parent has expired from the stream
        let shard = |id: &str, parent: Option<&str>| {
            Shard::builder().shard_id(id).set_parent_shard_id(parent.map(str::to_owned)).build()
        };
        let shards = [shard("parent", None), shard("child", Some("parent")), shard("orphan", Some("expired"))];
        let none = HashSet::new();

        // WHEN nothing has started yet, then when the parent is read to its end
        let first = ready_shards(&shards, &none, &none);
        let started: HashSet<String> = first.iter().cloned().collect();
        let after_parent = ready_shards(&shards, &started, &HashSet::from(["parent".to_owned()]));

        // THEN the child starts only after its parent
        assert_eq!(first, ["parent", "orphan"]);
        assert_eq!(after_parent, ["child"]);
    }
}
