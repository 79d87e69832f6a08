//! The Content table's stream carries every change, with old and new images,
//! for notifications to turn into events.

use std::collections::BTreeMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, ShardIteratorType};
use serde_json::json;
use tessera_blocks::store::{ContentStore, NewBlock};
use tessera_core::UserId;
use tessera_core::content::{BlockId, BlockPatch, PatchRequest, ProjectId, SlideId};
use tessera_platform::aws::Aws;
use tessera_testkit::{LocalServices, provision_stack};

fn id<T>(parse: fn(&str) -> Result<T, tessera_core::content::InvalidId>) -> T {
    parse(&ulid::Ulid::new().to_string()).unwrap()
}

#[tokio::test]
async fn a_block_patch_reaches_the_stream_with_its_old_and_new_images() {
    let stack = provision_stack().await;
    let sdk = LocalServices::shared().sdk_config();
    let store = ContentStore::new(Aws::with_config(sdk.clone()), stack.reference("ContentTable"));
    let writer = UserId::parse("alice").unwrap();
    let new = NewBlock {
        id: id(BlockId::parse),
        project_id: id(ProjectId::parse),
        slide_id: id(SlideId::parse),
        kind: "text".into(),
        content: json!("before"),
        props: BTreeMap::new(),
    };
    let block = store.create_block(new, &writer).await.unwrap();
    let request: PatchRequest = serde_json::from_value(json!({"baseVersion": 1, "set": {"content": "after"}})).unwrap();
    let patch = BlockPatch::parse(request, None).unwrap();
    store.patch_block(&block.project_id, &block.id, &patch, &writer, "write-1").await.unwrap();

    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let stream_arn = &stack.resources["ContentTable"].attributes["StreamArn"];
    let description = streams.describe_stream().stream_arn(stream_arn).send().await.unwrap();
    let shard = description.stream_description.unwrap().shards.unwrap().remove(0);
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard.shard_id.unwrap())
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let records = streams.get_records().shard_iterator(iterator).send().await.unwrap().records.unwrap();

    let kinds: Vec<_> = records.iter().filter_map(|r| r.event_name.clone()).collect();
    assert_eq!(kinds, [OperationType::Insert, OperationType::Modify]);
    let change = records[1].dynamodb.as_ref().unwrap();
    let content = |image: &Option<std::collections::HashMap<String, AttributeValue>>| {
        image.as_ref().and_then(|i| i.get("content")).and_then(|c| c.as_s().ok()).cloned()
    };
    // Block values are stored as JSON text.
    assert_eq!(content(&change.old_image).as_deref(), Some(r#""before""#));
    assert_eq!(content(&change.new_image).as_deref(), Some(r#""after""#));
}
