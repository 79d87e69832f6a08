//! The purge of a deleted project, driven as the stream's event source
//! mapping drives it: a project of thousands of blocks is deleted at once
//! for everyone, and its purge empties the partition, idempotently,
//! reporting the record it could not finish so that it is retried.

mod support;

use std::collections::BTreeMap;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use axum::http::StatusCode;
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use support::App;
use tessera_blocks::purge;
use tessera_blocks::store::{ContentStore, NewBlock};
use tessera_core::UserId;
use tessera_core::content::{BlockId, ProjectId, SlideId};
use tessera_platform::aws::Aws;
use tessera_testkit::{LocalServices, Stack, provision_stack};

const BLOCKS: usize = 2_000;
const SLIDES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_project_of_thousands_of_blocks_is_purged_from_its_stream_record() {
    // GIVEN a project with a member, slides and 2,000 blocks
    let stack = provision_stack().await;
    let app = App::on(&stack, &[]).await;
    let project = big_project(&app).await;
    let items_before = items_left(&stack, &project).await;

    // WHEN it is deleted: the request answers before any block is gone
    let (deleted, _) = app.call("alice", "DELETE", &format!("/projects/{project}"), None).await;
    let (tree, _) = app.call("bob", "GET", &format!("/projects/{project}"), None).await;
    let left_by_the_request = items_left(&stack, &project).await;

    // AND the stream's record of its meta's removal is handled, twice as a retry would
    let purged = purge::handle(&app.state.store, removal_event(&[(&project, "META", "100")])).await;
    let left_after_the_purge = items_left(&stack, &project).await;
    let purged_again = purge::handle(&app.state.store, removal_event(&[(&project, "META", "100")])).await;

    // THEN the project is gone at once, and its partition once the purge ran
    assert_eq!(items_before, 1 + 2 + SLIDES + BLOCKS, "meta, two members, slides and blocks");
    assert_eq!((deleted, tree), (StatusCode::NO_CONTENT, StatusCode::NOT_FOUND));
    assert_eq!(left_by_the_request, items_before - 1, "only the meta went with the request");
    assert!(purged.batch_item_failures.is_empty() && purged_again.batch_item_failures.is_empty());
    assert_eq!(left_after_the_purge, 0);
}

#[tokio::test]
async fn records_other_than_a_project_removal_are_skipped_and_a_live_project_is_never_purged() {
    let stack = provision_stack().await;
    let app = App::on(&stack, &[]).await;
    let (project, slide, _) = app.project_with_block("alice").await;
    let before = items_left(&stack, &project).await;

    // A slide's removal, an insert of the meta, and a removal record of a
    // project that exists (replayed from before a restore, say).
    let mut event = removal_event(&[(&project, &format!("SLIDE#{slide}"), "1"), (&project, "META", "3")]);
    let mut insert = event.records[1].clone();
    insert.event_name = "INSERT".into();
    event.records.insert(1, insert);
    let response = purge::handle(&app.state.store, event).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(items_left(&stack, &project).await, before, "nothing was deleted");
}

#[tokio::test]
async fn a_purge_that_fails_reports_its_record_so_the_stream_retries_from_there() {
    // GIVEN a store whose table does not exist, as when DynamoDB refuses
    let store = ContentStore::new(Aws::with_config(LocalServices::shared().sdk_config()), "no-such-table");
    let (first, second) = (new_id(ProjectId::parse).to_string(), new_id(ProjectId::parse).to_string());

    // WHEN two deleted projects arrive in one batch
    let response = purge::handle(&store, removal_event(&[(&first, "META", "7"), (&second, "META", "8")])).await;

    // THEN the first failure is reported, and the records after it are left to the retry
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, [Some("7".to_owned())]);
}

/// A project of alice's, with bob an editor, [`SLIDES`] slides and [`BLOCKS`] blocks across them.
async fn big_project(app: &App) -> String {
    let (status, project) = app.call("alice", "POST", "/projects", Some(json!({"title": "Big"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let project = project["id"].as_str().unwrap().to_owned();
    assert_eq!(app.add_member("alice", &project, "bob", "editor").await.status, StatusCode::OK);
    let mut slides = Vec::new();
    for title in 0..SLIDES {
        let path = format!("/projects/{project}/slides");
        let (status, slide) = app.call("alice", "POST", &path, Some(json!({"title": title.to_string()}))).await;
        assert_eq!(status, StatusCode::CREATED);
        slides.push(SlideId::parse(slide["id"].as_str().unwrap()).unwrap());
    }
    let project_id = ProjectId::parse(&project).unwrap();
    let alice = UserId::parse("alice").unwrap();
    futures_util::stream::iter(0..BLOCKS)
        .map(|n| {
            let new = NewBlock {
                id: new_id(BlockId::parse),
                project_id: project_id.clone(),
                slide_id: slides[n % SLIDES].clone(),
                kind: "text".into(),
                content: json!(format!("block {n}")),
                props: BTreeMap::new(),
            };
            app.state.store.create_block(new, &alice)
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    project
}

/// How many items the project's partition holds.
async fn items_left(stack: &Stack, project: &str) -> usize {
    let client = aws_sdk_dynamodb::Client::new(&LocalServices::shared().sdk_config());
    let mut count = 0;
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(stack.reference("ContentTable"))
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("PROJECT#{project}")))
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += page.count as usize;
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return count,
        }
    }
}

/// A stream event of REMOVE records, in Lambda's shape, for (project, sort key, sequence number).
fn removal_event(removals: &[(&str, &str, &str)]) -> Event {
    let records: Vec<Value> = removals
        .iter()
        .map(|(project, sk, sequence)| {
            json!({
                "eventID": sequence,
                "eventName": "REMOVE",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"pk": {"S": format!("PROJECT#{project}")}, "sk": {"S": sk}},
                    "SequenceNumber": sequence,
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/content/stream/1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn new_id<T>(parse: fn(&str) -> Result<T, tessera_core::content::InvalidId>) -> T {
    parse(&ulid::Ulid::new().to_string()).unwrap()
}
