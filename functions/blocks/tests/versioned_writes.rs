//! Versioned block writes against moto server: conflicts are per field, and
//! no concurrent edit is ever lost.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use tessera_blocks::store::{ContentStore, NewBlock, PatchRejected};
use tessera_core::UserId;
use tessera_core::content::{Block, BlockId, BlockPatch, Field, PatchRequest, ProjectId, SlideId};
use tessera_platform::aws::Aws;
use tessera_testkit::{LocalServices, provision_stack};

const WRITERS: usize = 32;

fn id<T>(parse: fn(&str) -> Result<T, tessera_core::content::InvalidId>) -> T {
    parse(&ulid::Ulid::new().to_string()).unwrap()
}

async fn store_with_block() -> (ContentStore, Block) {
    let stack = provision_stack().await;
    let aws = Aws::with_config(LocalServices::shared().sdk_config());
    let store = ContentStore::new(aws, stack.reference("ContentTable"));
    let new = NewBlock {
        id: id(BlockId::parse),
        project_id: id(ProjectId::parse),
        slide_id: id(SlideId::parse),
        kind: "text".into(),
        content: json!("first draft"),
        props: BTreeMap::new(),
    };
    let block = store.create_block(new, &user("owner")).await.unwrap();
    (store, block)
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn patch(body: Value, if_match: Option<u64>) -> BlockPatch {
    BlockPatch::parse(serde_json::from_value::<PatchRequest>(body).unwrap(), if_match).unwrap()
}

async fn apply(store: &ContentStore, block: &Block, body: Value) -> Result<Block, PatchRejected> {
    let write_id = ulid::Ulid::new().to_string();
    store.patch_block(&block.project_id, &block.id, &patch(body, None), &user("writer"), &write_id).await
}

#[tokio::test]
async fn a_created_block_reads_back_at_version_1() {
    let (store, block) = store_with_block().await;

    let read = store.get_block(&block.project_id, &block.id).await.unwrap().unwrap();

    assert_eq!(read, block);
    assert_eq!(read.version, 1);
    assert_eq!(read.field_version(&Field::Content), 1);
}

#[tokio::test]
async fn patches_on_different_fields_from_the_same_base_both_commit() {
    let (store, block) = store_with_block().await;

    let first = apply(&store, &block, json!({"baseVersion": 1, "set": {"props.color": "red"}})).await.unwrap();
    let second = apply(&store, &block, json!({"baseVersion": 1, "set": {"content": "edited"}})).await.unwrap();

    assert_eq!((first.version, second.version), (2, 3));
    assert_eq!(second.props[&"color".parse_prop()], "red");
    assert_eq!(second.content, "edited");
    assert_eq!(second.field_version(&Field::Content), 3);
}

#[tokio::test]
async fn a_stale_patch_of_the_same_field_is_a_conflict_with_the_current_block() {
    let (store, block) = store_with_block().await;
    apply(&store, &block, json!({"baseVersion": 1, "set": {"content": "winner"}})).await.unwrap();

    let lost = apply(&store, &block, json!({"baseVersion": 1, "set": {"content": "loser", "props.size": 3}})).await;

    let Err(PatchRejected::Conflict { current, fields }) = lost else { panic!("expected a conflict, got {lost:?}") };
    assert_eq!(fields, [Field::Content]);
    assert_eq!(current.content, "winner");
    assert_eq!(current.version, 2);
    let stored = store.get_block(&block.project_id, &block.id).await.unwrap().unwrap();
    assert!(stored.props.is_empty(), "a rejected patch writes nothing, not even its other fields");
}

#[tokio::test]
async fn if_match_is_whole_block_and_fails_with_the_current_block() {
    let (store, block) = store_with_block().await;
    apply(&store, &block, json!({"baseVersion": 1, "set": {"props.color": "red"}})).await.unwrap();
    let writer = user("writer");

    let stale = store
        .patch_block(&block.project_id, &block.id, &patch(json!({"set": {"content": "x"}}), Some(1)), &writer, "w1")
        .await;
    let fresh = store
        .patch_block(&block.project_id, &block.id, &patch(json!({"set": {"content": "x"}}), Some(2)), &writer, "w2")
        .await;

    assert!(
        matches!(stale, Err(PatchRejected::PreconditionFailed { ref current }) if current.version == 2),
        "{stale:?}"
    );
    assert_eq!(fresh.unwrap().version, 3);
}

#[tokio::test]
async fn unset_removes_a_prop_and_overwrite_still_bumps_versions() {
    let (store, block) = store_with_block().await;
    apply(&store, &block, json!({"baseVersion": 1, "set": {"props.shadow": true}})).await.unwrap();

    let unset = apply(&store, &block, json!({"baseVersion": 2, "unset": ["props.shadow"]})).await.unwrap();
    let overwritten = apply(&store, &block, json!({"overwrite": true, "set": {"content": "forced"}})).await.unwrap();

    assert!(unset.props.is_empty());
    assert_eq!(unset.field_version(&Field::parse("props.shadow").unwrap()), 3);
    assert_eq!((overwritten.version, overwritten.content.clone()), (4, json!("forced")));
}

#[tokio::test]
async fn a_patch_of_a_missing_block_or_from_a_future_base_is_refused() {
    let (store, block) = store_with_block().await;
    let missing = Block { id: id(BlockId::parse), ..block.clone() };

    let not_found = apply(&store, &missing, json!({"baseVersion": 1, "set": {"content": "x"}})).await;
    let ahead = apply(&store, &block, json!({"baseVersion": 9, "set": {"content": "x"}})).await;

    assert!(matches!(not_found, Err(PatchRejected::NotFound)), "{not_found:?}");
    assert!(matches!(ahead, Err(PatchRejected::BaseAhead { .. })), "{ahead:?}");
}

#[tokio::test]
async fn thirty_two_writers_on_disjoint_fields_all_commit_and_every_value_is_there() {
    let (store, block) = store_with_block().await;

    let writes = (0..WRITERS).map(|writer| {
        let (store, block) = (&store, &block);
        async move { apply(store, block, json!({"baseVersion": 1, "set": {format!("props.w{writer}"): writer}})).await }
    });
    let results = futures_util::future::join_all(writes).await;

    assert!(results.iter().all(Result::is_ok), "{:?}", results.iter().find(|r| r.is_err()));
    let last = store.get_block(&block.project_id, &block.id).await.unwrap().unwrap();
    assert_eq!(last.version, 1 + WRITERS as u64);
    for writer in 0..WRITERS {
        assert_eq!(last.props[&format!("w{writer}").parse_prop()], json!(writer), "writer {writer}'s value is lost");
    }
}

#[tokio::test]
async fn thirty_two_writers_on_one_field_each_commit_or_conflict_and_no_write_is_lost() {
    let (store, block) = store_with_block().await;

    // Each writer retries on a conflict from the block it was shown, as a
    // client would, and records every attempt's outcome.
    let writes = (0..WRITERS).map(|writer| {
        let (store, block) = (&store, &block);
        async move {
            let (mut base, mut conflicts) = (1, 0);
            loop {
                match apply(store, block, json!({"baseVersion": base, "set": {"content": format!("writer {writer}")}}))
                    .await
                {
                    Ok(committed) => return (writer, committed, conflicts),
                    Err(PatchRejected::Conflict { current, fields }) => {
                        assert_eq!(fields, [Field::Content]);
                        base = current.version;
                        conflicts += 1;
                    }
                    Err(other) => panic!("writer {writer}: neither success nor 409: {other:?}"),
                }
            }
        }
    });
    let outcomes = futures_util::future::join_all(writes).await;

    let last = store.get_block(&block.project_id, &block.id).await.unwrap().unwrap();
    let successes = outcomes.len() as u64;
    assert_eq!(last.version, 1 + successes, "the final version counts every success");
    let versions: BTreeSet<u64> = outcomes.iter().map(|(_, committed, _)| committed.version).collect();
    assert_eq!(versions, (2..=1 + successes).collect(), "each success produced its own version");
    for (writer, committed, _) in &outcomes {
        assert_eq!(
            committed.content,
            json!(format!("writer {writer}")),
            "the value was current at the version it produced"
        );
        assert_eq!(committed.field_version(&Field::Content), committed.version);
    }
    let winner = outcomes.iter().find(|(_, committed, _)| committed.version == last.version).unwrap();
    assert_eq!(last.content, json!(format!("writer {}", winner.0)));
    let conflicts: usize = outcomes.iter().map(|(_, _, conflicts)| conflicts).sum();
    assert!(conflicts > 0, "32 writers from one base must have collided");
}

trait ParseProp {
    fn parse_prop(&self) -> tessera_core::content::PropKey;
}

impl ParseProp for str {
    fn parse_prop(&self) -> tessera_core::content::PropKey {
        tessera_core::content::PropKey::parse(self).unwrap()
    }
}

impl ParseProp for String {
    fn parse_prop(&self) -> tessera_core::content::PropKey {
        self.as_str().parse_prop()
    }
}

#[tokio::test]
async fn a_retry_of_a_write_that_committed_is_its_success_not_a_conflict_with_itself() {
    let (store, block) = store_with_block().await;
    let edit = patch(json!({"baseVersion": 1, "set": {"content": "once"}}), None);
    let writer = user("writer");

    let first = store.patch_block(&block.project_id, &block.id, &edit, &writer, "write-1").await.unwrap();
    let retried = store.patch_block(&block.project_id, &block.id, &edit, &writer, "write-1").await.unwrap();
    let someone_else = store.patch_block(&block.project_id, &block.id, &edit, &writer, "write-2").await;

    assert_eq!(first.version, 2);
    assert_eq!(retried.version, 2, "the retry wrote nothing more");
    assert!(matches!(someone_else, Err(PatchRejected::Conflict { .. })), "{someone_else:?}");
}
