//! Provisioning from `template.yaml` against moto server: what the template
//! declares is what the stack has.

use aws_sdk_dynamodb::types::{KeyType, StreamViewType, TimeToLiveStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use tessera_testkit::{LocalServices, provision_stack};

#[tokio::test]
async fn the_content_table_has_the_templates_keys_index_stream_and_ttl() {
    let stack = provision_stack().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&LocalServices::shared().sdk_config());
    let name = stack.reference("ContentTable");
    assert_eq!(name, format!("{}-content", stack.name), "named by !Sub from the stack name");

    let table = dynamodb.describe_table().table_name(name).send().await.unwrap().table.unwrap();
    let keys: Vec<_> = table.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().clone())).collect();
    assert_eq!(keys, [("pk", KeyType::Hash), ("sk", KeyType::Range)]);
    let gsi = &table.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some("GSI1"));
    assert_eq!(gsi.key_schema()[0].attribute_name(), "gsi1pk");
    let stream = table.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewAndOldImages));
    assert_eq!(stack.resources["ContentTable"].attributes.get("StreamArn"), table.latest_stream_arn.as_ref());

    let ttl = dynamodb.describe_time_to_live().table_name(name).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expiresAt"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn the_events_queue_redrives_to_its_dead_letter_queue() {
    let stack = provision_stack().await;
    let sqs = aws_sdk_sqs::Client::new(&LocalServices::shared().sdk_config());

    let attributes = sqs
        .get_queue_attributes()
        .queue_url(stack.reference("EventsQueue"))
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();

    let redrive: serde_json::Value = serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], stack.resources["EventsDeadLetterQueue"].attributes["Arn"]);
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5");
    assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "60");
}

#[tokio::test]
async fn two_stacks_never_share_resources() {
    let (first, second) = (provision_stack().await, provision_stack().await);
    assert_ne!(first.reference("ContentTable"), second.reference("ContentTable"));
    assert_ne!(first.reference("EventsQueue"), second.reference("EventsQueue"));
}

#[tokio::test]
async fn a_function_environment_resolves_to_the_stacks_resources() {
    let stack = provision_stack().await;
    let env: std::collections::HashMap<_, _> =
        stack.function_environment("HealthFunction").unwrap().into_iter().collect();
    assert_eq!(env["CONTENT_TABLE"], stack.reference("ContentTable"));
    assert_eq!(env["EVENTS_QUEUE_URL"], stack.reference("EventsQueue"));
    assert_eq!(env["REDIS_URL"], LocalServices::shared().redis_url, "the RedisUrl parameter points at local Redis");
}
