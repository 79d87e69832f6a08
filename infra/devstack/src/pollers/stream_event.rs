//! The event Lambda's DynamoDB Streams poller sends a function:
//! `{"Records": [...]}` in Lambda's shape, with keys and images in DynamoDB
//! JSON (`{"S": "a"}`, `{"N": "1"}`, `{"B": "<base64>"}`, ...).

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

/// The `eventVersion` Lambda puts in DynamoDB Streams events.
const EVENT_VERSION: &str = "1.1";

pub fn stream_event(records: &[Record], stream_arn: &str) -> Value {
    json!({ "Records": records.iter().map(|record| stream_record(record, stream_arn)).collect::<Vec<_>>() })
}

/// The record's sequence number, which `batchItemFailures` names.
pub fn sequence_number(record: &Record) -> Option<&str> {
    record.dynamodb.as_ref()?.sequence_number.as_deref()
}

/// One record as the function receives it, and as `FilterCriteria` sees it.
pub fn stream_record(record: &Record, stream_arn: &str) -> Value {
    let mut dynamodb = Map::new();
    if let Some(change) = &record.dynamodb {
        if let Some(created) = change.approximate_creation_date_time {
            dynamodb.insert("ApproximateCreationDateTime".into(), created.secs().into());
        }
        let images = [("Keys", &change.keys), ("NewImage", &change.new_image), ("OldImage", &change.old_image)];
        for (name, image) in images {
            if let Some(image) = image {
                dynamodb.insert(name.into(), item_json(image));
            }
        }
        if let Some(sequence_number) = &change.sequence_number {
            dynamodb.insert("SequenceNumber".into(), sequence_number.clone().into());
        }
        if let Some(size) = change.size_bytes {
            dynamodb.insert("SizeBytes".into(), size.into());
        }
        if let Some(view) = &change.stream_view_type {
            dynamodb.insert("StreamViewType".into(), view.as_str().into());
        }
    }
    let mut event = json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|name| name.as_str()),
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region.as_deref().unwrap_or_else(|| region_of(stream_arn)),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    });
    // Present for deletions by TTL.
    if let Some(identity) = &record.user_identity {
        event["userIdentity"] = json!({ "type": identity.r#type, "principalId": identity.principal_id });
    }
    event
}

/// An item (or its keys) in DynamoDB JSON.
pub fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(name, value)| (name.clone(), dynamodb_json(value))).collect())
}

/// One attribute value in DynamoDB JSON, as the DynamoDB API writes it.
pub fn dynamodb_json(value: &AttributeValue) -> Value {
    let base64 = |blob: &aws_sdk_dynamodbstreams::primitives::Blob| Value::String(BASE64.encode(blob.as_ref()));
    match value {
        AttributeValue::S(text) => json!({ "S": text }),
        AttributeValue::N(number) => json!({ "N": number }),
        AttributeValue::B(blob) => json!({ "B": base64(blob) }),
        AttributeValue::Bool(flag) => json!({ "BOOL": flag }),
        AttributeValue::Null(flag) => json!({ "NULL": flag }),
        AttributeValue::M(map) => json!({ "M": item_json(map) }),
        AttributeValue::L(list) => json!({ "L": list.iter().map(dynamodb_json).collect::<Vec<_>>() }),
        AttributeValue::Ss(texts) => json!({ "SS": texts }),
        AttributeValue::Ns(numbers) => json!({ "NS": numbers }),
        AttributeValue::Bs(blobs) => json!({ "BS": blobs.iter().map(base64).collect::<Vec<_>>() }),
        // A type newer than this SDK: there is nothing faithful to write.
        _ => Value::Null,
    }
}

/// `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`.
fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodbstreams::primitives::{Blob, DateTime};
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};

    use super::*;

    const STREAM_ARN: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/records/stream/2024-01-01T00:00:00.000";

    #[test]
    fn every_attribute_type_is_written_in_dynamodb_json() {
        // GIVEN one value of every type, nested in a map and a list
        let values = [
            ("s", AttributeValue::S("text".into()), json!({"S": "text"})),
            ("n", AttributeValue::N("-1.5e3".into()), json!({"N": "-1.5e3"})),
            ("b", AttributeValue::B(Blob::new(b"hi".to_vec())), json!({"B": "aGk="})),
            ("bool", AttributeValue::Bool(true), json!({"BOOL": true})),
            ("null", AttributeValue::Null(true), json!({"NULL": true})),
            ("ss", AttributeValue::Ss(vec!["a".into(), "b".into()]), json!({"SS": ["a", "b"]})),
            ("ns", AttributeValue::Ns(vec!["1".into(), "2".into()]), json!({"NS": ["1", "2"]})),
            ("bs", AttributeValue::Bs(vec![Blob::new(b"hi".to_vec())]), json!({"BS": ["aGk="]})),
        ];
        let map: HashMap<String, AttributeValue> = values.iter().map(|(k, v, _)| (k.to_string(), v.clone())).collect();
        let list = AttributeValue::L(values.iter().map(|(_, v, _)| v.clone()).collect());

        // WHEN they are converted
        let converted_map = dynamodb_json(&AttributeValue::M(map));
        let converted_list = dynamodb_json(&list);

        // THEN each is DynamoDB JSON, keeping numbers as strings, blobs in base64
        let expected_map: Map<String, Value> = values.iter().map(|(k, _, j)| (k.to_string(), j.clone())).collect();
        assert_eq!(converted_map, json!({ "M": expected_map }));
        assert_eq!(converted_list, json!({ "L": values.iter().map(|(_, _, j)| j.clone()).collect::<Vec<_>>() }));
    }

    #[test]
    fn a_stream_record_becomes_a_record_in_lambdas_shape() {
        // GIVEN a MODIFY record as DynamoDB Streams returns it
        let change = StreamRecord::builder()
            .approximate_creation_date_time(DateTime::from_secs(1_700_000_000))
            .keys("pk", AttributeValue::S("a".into()))
            .new_image("pk", AttributeValue::S("a".into()))
            .new_image("n", AttributeValue::N("2".into()))
            .old_image("pk", AttributeValue::S("a".into()))
            .old_image("n", AttributeValue::N("1".into()))
            .sequence_number("100")
            .size_bytes(26)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build();
        let record = Record::builder()
            .event_id("e-1")
            .event_name(OperationType::Modify)
            .event_version("1.0")
            .event_source("aws:dynamodb")
            .aws_region("eu-west-1")
            .dynamodb(change)
            .build();

        // WHEN it is made an event
        let event = stream_event(std::slice::from_ref(&record), STREAM_ARN);

        // THEN it has Lambda's fields, version 1.1, and the images in DynamoDB JSON
        assert_eq!(
            event,
            json!({"Records": [{
                "eventID": "e-1",
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {"pk": {"S": "a"}},
                    "NewImage": {"pk": {"S": "a"}, "n": {"N": "2"}},
                    "OldImage": {"pk": {"S": "a"}, "n": {"N": "1"}},
                    "SequenceNumber": "100",
                    "SizeBytes": 26,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": STREAM_ARN,
            }]})
        );
        assert_eq!(sequence_number(&record), Some("100"));
    }
}
