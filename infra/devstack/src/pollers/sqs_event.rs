//! The event Lambda's SQS poller sends a function: `{"Records": [...]}`, one
//! record per received message, in Lambda's shape (camelCase fields, message
//! attributes with `stringValue`/`binaryValue` and always-empty list values).

use aws_sdk_sqs::types::{Message, MessageAttributeValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

/// A received message the poller can hand on and later delete.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub record: Value,
}

impl Received {
    /// `None` for a message without an id or receipt handle, which SQS never sends.
    pub fn new(message: &Message, queue_arn: &str) -> Option<Self> {
        Some(Self {
            message_id: message.message_id.clone()?,
            receipt_handle: message.receipt_handle.clone()?,
            record: sqs_record(message, queue_arn),
        })
    }
}

impl Received {
    /// The record as `FilterCriteria` sees it: a body that is JSON is
    /// matched as JSON, any other as a string.
    pub fn filtered_as(&self) -> Value {
        let mut view = self.record.clone();
        if let Some(body) = self.record["body"].as_str().and_then(|b| serde_json::from_str::<Value>(b).ok()) {
            view["body"] = body;
        }
        view
    }
}

pub fn sqs_event(batch: &[Received]) -> Value {
    json!({ "Records": batch.iter().map(|received| &received.record).collect::<Vec<_>>() })
}

fn sqs_record(message: &Message, queue_arn: &str) -> Value {
    let attributes: Map<String, Value> = message
        .attributes
        .iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_owned(), Value::String(value.clone())))
        .collect();
    let message_attributes: Map<String, Value> = message
        .message_attributes
        .iter()
        .flatten()
        .map(|(name, value)| (name.clone(), message_attribute(value)))
        .collect();
    let mut record = json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body.as_deref().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region_of(queue_arn),
    });
    if let Some(md5) = &message.md5_of_message_attributes {
        record["md5OfMessageAttributes"] = Value::String(md5.clone());
    }
    record
}

/// Lambda's shape: the list values are always empty (SQS reserves them), and
/// only the value the data type uses is present.
fn message_attribute(value: &MessageAttributeValue) -> Value {
    let mut attribute = json!({
        "dataType": value.data_type,
        "stringListValues": [],
        "binaryListValues": [],
    });
    if let Some(text) = &value.string_value {
        attribute["stringValue"] = Value::String(text.clone());
    }
    if let Some(binary) = &value.binary_value {
        attribute["binaryValue"] = Value::String(BASE64.encode(binary.as_ref()));
    }
    attribute
}

/// `arn:aws:sqs:<region>:<account>:<name>`.
pub fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::MessageSystemAttributeName;

    use super::*;

    const QUEUE_ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:work";

    fn attribute(data_type: &str) -> aws_sdk_sqs::types::builders::MessageAttributeValueBuilder {
        MessageAttributeValue::builder().data_type(data_type)
    }

    #[test]
    fn a_message_becomes_a_record_in_lambdas_shape() -> anyhow::Result<()> {
        // GIVEN a received message with system and message attributes
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("handle-1")
            .body("hello")
            .md5_of_body("5d41402abc4b2a76b9719d911017c592")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000000")
            .message_attributes("kind", attribute("String").string_value("greeting").build()?)
            .message_attributes("raw", attribute("Binary").binary_value(Blob::new(b"\x00\x01".to_vec())).build()?)
            .build();

        // WHEN it is made an event
        let received = Received::new(&message, QUEUE_ARN).ok_or_else(|| anyhow::anyhow!("no id"))?;
        let event = sqs_event(&[received]);

        // THEN the record carries what Lambda's SQS poller puts in it
        assert_eq!(
            event,
            json!({"Records": [{
                "messageId": "m-1",
                "receiptHandle": "handle-1",
                "body": "hello",
                "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
                "messageAttributes": {
                    "kind": {"dataType": "String", "stringValue": "greeting", "stringListValues": [], "binaryListValues": []},
                    "raw": {"dataType": "Binary", "binaryValue": "AAE=", "stringListValues": [], "binaryListValues": []},
                },
                "md5OfBody": "5d41402abc4b2a76b9719d911017c592",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "eu-west-1",
            }]})
        );
        Ok(())
    }

    #[test]
    fn a_message_without_a_receipt_handle_cannot_be_handed_on() {
        let message = Message::builder().message_id("m-1").body("hello").build();
        assert!(Received::new(&message, QUEUE_ARN).is_none());
    }

    #[test]
    fn a_json_body_is_filtered_as_json_and_any_other_as_text() {
        let received = |body: &str| {
            let message = Message::builder().message_id("m").receipt_handle("h").body(body).build();
            Received::new(&message, QUEUE_ARN).expect("id and handle")
        };

        assert_eq!(received(r#"{"kind": "job"}"#).filtered_as()["body"], json!({"kind": "job"}));
        assert_eq!(received("plain").filtered_as()["body"], json!("plain"));
        assert_eq!(
            received(r#"{"kind": "job"}"#).record["body"],
            json!(r#"{"kind": "job"}"#),
            "the event keeps the text"
        );
    }
}
