//! The DynamoDB Streams event source, end to end: writes to RecordsTable
//! reach StreamFunction (fixture-stream) through the devstack's stream
//! poller, in order, and a failed batch is retried before anything after it.
//! The function reports each record it gets to SeenQueue, in order (moto
//! keeps a queue's order, so SeenQueue's order is the function's).

use std::time::{Duration, Instant};

use anyhow::bail;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use tessera_e2e::fixture_devstack;
use tokio::sync::Mutex;

/// The tests share the table and SeenQueue: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());
/// Bounds every wait, so a broken poller fails a test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);

struct Records {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    table: String,
    seen: String,
}

impl Records {
    fn of_fixture_devstack() -> Self {
        let devstack = fixture_devstack();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&devstack.sdk),
            sqs: aws_sdk_sqs::Client::new(&devstack.sdk),
            table: devstack.resource("RecordsTable").to_owned(),
            seen: devstack.resource("SeenQueue").to_owned(),
        }
    }

    async fn put(&self, pk: &str, attributes: &[(&str, AttributeValue)]) -> anyhow::Result<()> {
        let mut put = self.dynamodb.put_item().table_name(&self.table).item("pk", AttributeValue::S(pk.into()));
        for (name, value) in attributes {
            put = put.item(*name, value.clone());
        }
        put.send().await?;
        Ok(())
    }

    /// The function's reports about the items with these keys, in the order it
    /// sent them, read from SeenQueue until there are `count`.
    async fn reports(&self, keys: &[&str], count: usize) -> anyhow::Result<Vec<Value>> {
        let mut reports = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while reports.len() < count {
            if Instant::now() > deadline {
                bail!("after {PATIENCE:?} the function had reported only {reports:?}");
            }
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.seen)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            for message in received.messages.unwrap_or_default() {
                if let Some(handle) = &message.receipt_handle {
                    self.sqs.delete_message().queue_url(&self.seen).receipt_handle(handle).send().await?;
                }
                let report: Value = serde_json::from_str(message.body.as_deref().unwrap_or("null"))?;
                if report["source"] == "stream" && report["pk"].as_str().is_some_and(|pk| keys.contains(&pk)) {
                    reports.push(report);
                }
            }
        }
        Ok(reports)
    }
}

fn field<'a>(reports: &'a [Value], name: &str) -> Vec<&'a str> {
    reports.iter().map(|report| report[name].as_str().unwrap_or("?")).collect()
}

#[tokio::test]
async fn an_items_insert_modify_and_remove_reach_the_function_in_order_with_dynamodb_json_images() -> anyhow::Result<()>
{
    let _alone = ONE_AT_A_TIME.lock().await;
    let records = Records::of_fixture_devstack();
    let key = "lifecycle";

    // GIVEN an item put, updated, then deleted
    let tags = AttributeValue::Ss(vec!["a".into(), "b".into()]);
    records.put(key, &[("n", AttributeValue::N("1".into())), ("tags", tags)]).await?;
    records
        .dynamodb
        .update_item()
        .table_name(&records.table)
        .key("pk", AttributeValue::S(key.into()))
        .update_expression("SET n = :two")
        .expression_attribute_values(":two", AttributeValue::N("2".into()))
        .send()
        .await?;
    records.dynamodb.delete_item().table_name(&records.table).key("pk", AttributeValue::S(key.into())).send().await?;

    // WHEN the stream poller delivers its records
    let reports = records.reports(&[key], 3).await?;

    // THEN they arrive in order: INSERT, MODIFY, REMOVE, with rising sequence numbers
    assert_eq!(field(&reports, "eventName"), ["INSERT", "MODIFY", "REMOVE"], "reports: {reports:?}");
    let sequence_numbers: Vec<u128> =
        field(&reports, "sequenceNumber").iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    assert!(sequence_numbers.is_sorted(), "sequence numbers: {sequence_numbers:?}");
    // AND keys and images are in DynamoDB JSON
    let tags = json!({"SS": ["a", "b"]});
    let first = json!({"pk": {"S": key}, "n": {"N": "1"}, "tags": tags});
    let second = json!({"pk": {"S": key}, "n": {"N": "2"}, "tags": tags});
    for report in &reports {
        assert_eq!(report["keys"], json!({"pk": {"S": key}}));
    }
    assert_eq!((&reports[0]["oldImage"], &reports[0]["newImage"]), (&Value::Null, &first));
    assert_eq!((&reports[1]["oldImage"], &reports[1]["newImage"]), (&first, &second));
    assert_eq!((&reports[2]["oldImage"], &reports[2]["newImage"]), (&second, &Value::Null));
    Ok(())
}

#[tokio::test]
async fn a_record_that_fails_once_is_retried_and_no_later_record_overtakes_it() -> anyhow::Result<()> {
    let _alone = ONE_AT_A_TIME.lock().await;
    let records = Records::of_fixture_devstack();

    // GIVEN an item whose first delivery fails, and another item written just after it
    records.put("fails-once", &[("failOnce", AttributeValue::Bool(true))]).await?;
    records.put("written-after", &[]).await?;

    // WHEN the stream poller delivers their records
    let reports = records.reports(&["fails-once", "written-after"], 3).await?;

    // THEN the failed record is delivered again, and only then the later one
    assert_eq!(field(&reports, "pk"), ["fails-once", "fails-once", "written-after"], "reports: {reports:?}");
    assert_eq!(reports[0]["sequenceNumber"], reports[1]["sequenceNumber"]);
    Ok(())
}
