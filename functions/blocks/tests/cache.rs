//! The write-through project cache against a real redis-server: writes go
//! through to the very next read without a reload, one load per stampede,
//! a write that races a load survives its merge, membership changes take
//! effect at once, a writer that cannot reach Redis leaves a stale entry for
//! the staleness bound at most, and Redis down means uncached service.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use support::App;
use tessera_core::UserId;
use tessera_core::content::{Block, BlockId, ProjectId, ProjectRole};
use tessera_testkit::{RedisServer, provision_stack};

fn alice() -> UserId {
    UserId::parse("alice").unwrap()
}

#[tokio::test]
async fn a_second_read_is_a_hit_and_writes_reach_the_next_read_without_a_reload() {
    let app = App::spawn().await;
    let (project, slide, block) = app.project_with_block("alice").await;
    let tree = format!("/projects/{project}");

    app.call("alice", "GET", &tree, None).await;
    let (_, cached) = app.call("alice", "GET", &tree, None).await;
    app.call("alice", "POST", &format!("/projects/{project}/slides/{slide}/blocks"), Some(json!({"type": "text"})))
        .await;
    app.call(
        "alice",
        "PATCH",
        &format!("/projects/{project}/blocks/{block}"),
        Some(json!({"baseVersion": 1, "set": {"content": "edited"}})),
    )
    .await;
    app.call("alice", "PATCH", &tree, Some(json!({"version": 1, "title": "Renamed"}))).await;
    let (_, after_writes) = app.call("alice", "GET", &tree, None).await;

    let stats = &app.state.cache.stats;
    assert_eq!(cached["slides"][0]["blocks"].as_array().unwrap().len(), 1);
    let blocks = after_writes["slides"][0]["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "the created block is served");
    assert_eq!((blocks[0]["content"].as_str(), blocks[0]["version"].as_u64()), (Some("edited"), Some(2)));
    assert_eq!(after_writes["project"]["title"], "Renamed");
    assert_eq!(stats.hits.load(Ordering::Relaxed), 2, "both reads after the first were served from the hash");
    assert_eq!(stats.loads.load(Ordering::Relaxed), 1, "no write caused a reload");
}

/// Redis builds the served tree from the entries; DynamoDB's image builds
/// it in Rust. Slides moved between others (positions of mixed case, which
/// a locale-aware comparison would misorder), blocks on several slides,
/// deletions and content with colons and quotes: both give the same tree,
/// whether the cached one was built by a load's merge or by a read after
/// write-throughs.
#[tokio::test]
async fn the_tree_built_in_redis_is_the_tree_built_from_dynamodb() {
    let app = App::spawn().await;
    let (project, first, block) = app.project_with_block("alice").await;
    let slides_path = format!("/projects/{project}/slides");
    let mut slides = vec![first.clone()];
    for n in 0..5 {
        let (_, slide) = app.call("alice", "POST", &slides_path, Some(json!({"title": format!("S{n}")}))).await;
        slides.push(slide["id"].as_str().unwrap().to_owned());
    }
    let mut versions = vec![1; slides.len()];
    let mut move_slide = async |moved: usize, after: Option<usize>| {
        let body = json!({"version": versions[moved], "after": after.map(|i| slides[i].clone())});
        let (status, slide) = app.call("alice", "PATCH", &format!("{slides_path}/{}", slides[moved]), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{slide}");
        versions[moved] = slide["version"].as_u64().unwrap();
    };
    for (moved, after) in [(5, Some(0)), (4, Some(0)), (3, None), (2, Some(5)), (1, Some(2))] {
        move_slide(moved, after).await;
    }
    for (n, slide) in slides.iter().enumerate().take(4) {
        for m in 0..3 {
            let content = format!("\"{n}:{m}\": a colon, a quote \" and ünïcode");
            app.call(
                "alice",
                "POST",
                &format!("{slides_path}/{slide}/blocks"),
                Some(json!({"type": "text", "content": content})),
            )
            .await;
        }
    }
    let id = ProjectId::parse(&project).unwrap();
    let from_dynamodb =
        || async { serde_json::to_value(app.state.store.project_tree(&id).await.unwrap().unwrap()).unwrap() };
    let tree = format!("/projects/{project}");

    let (_, merged) = app.call("alice", "GET", &tree, None).await;
    let positions: Vec<String> =
        merged["slides"].as_array().unwrap().iter().map(|s| s["position"].as_str().unwrap().to_owned()).collect();
    assert_eq!(merged, from_dynamodb().await);
    assert!(positions.iter().any(|p| p.chars().any(char::is_uppercase)), "{positions:?}");

    app.call("alice", "DELETE", &format!("/projects/{project}/blocks/{block}"), None).await;
    app.call("alice", "DELETE", &format!("{slides_path}/{}", slides[2]), None).await;
    move_slide(1, None).await;
    let (_, written_through) = app.call("alice", "GET", &tree, None).await;

    assert_eq!(written_through, from_dynamodb().await);
    assert_eq!(app.state.cache.stats.loads.load(Ordering::Relaxed), 1, "the second tree came from the hash");
}

#[tokio::test]
async fn deleting_a_block_or_a_slide_goes_through_to_the_next_read() {
    let app = App::spawn().await;
    let (project, slide, block) = app.project_with_block("alice").await;
    let (_, second) =
        app.call("alice", "POST", &format!("/projects/{project}/slides"), Some(json!({"title": "2"}))).await;
    let second = second["id"].as_str().unwrap();
    app.call("alice", "POST", &format!("/projects/{project}/slides/{second}/blocks"), Some(json!({"type": "text"})))
        .await;
    let tree = format!("/projects/{project}");
    app.call("alice", "GET", &tree, None).await;

    app.call("alice", "DELETE", &format!("/projects/{project}/blocks/{block}"), None).await;
    app.call("alice", "DELETE", &format!("/projects/{project}/slides/{second}"), None).await;
    let (_, after) = app.call("alice", "GET", &tree, None).await;

    let slides = after["slides"].as_array().unwrap();
    assert_eq!(slides.len(), 1, "{after}");
    assert_eq!(slides[0]["id"], slide.as_str());
    assert!(slides[0]["blocks"].as_array().unwrap().is_empty());
    assert_eq!(app.state.cache.stats.hits.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn write_throughs_arriving_late_never_take_an_item_back_or_revive_it() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let (tree, path) = (format!("/projects/{project}"), format!("/projects/{project}/blocks/{block}"));
    app.call("alice", "GET", &tree, None).await;
    let (_, first) = app.call("alice", "GET", &path, None).await;
    let (_, second) = app.call("alice", "PATCH", &path, Some(json!({"baseVersion": 1, "set": {"content": "2"}}))).await;
    let [first, second]: [Block; 2] = [first, second].map(|block| serde_json::from_value(block).unwrap());

    app.state.cache.put_block(&first).await;
    let (_, after_late_patch) = app.call("alice", "GET", &tree, None).await;
    app.call("alice", "DELETE", &path, None).await;
    app.state.cache.put_block(&second).await;
    let (_, after_late_delete) = app.call("alice", "GET", &tree, None).await;

    assert_eq!(after_late_patch["slides"][0]["blocks"][0]["version"], 2, "version 1 arrived late and was ignored");
    assert_eq!(after_late_delete["slides"][0]["blocks"], json!([]), "the deleted block stays deleted");
    assert_eq!(app.state.cache.stats.loads.load(Ordering::Relaxed), 1, "all from the hash");
}

#[tokio::test]
async fn concurrent_misses_on_one_project_load_it_from_dynamodb_once() {
    let app = App::spawn().await;
    let (project, _, _) = app.project_with_block("alice").await;
    let id = ProjectId::parse(&project).unwrap();
    let state = &app.state;

    let alice = alice();
    let reads = (0..20).map(|_| {
        state.cache.tree(&id, &alice, || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            state.store.project_image(&id).await
        })
    });
    let trees = futures_util::future::join_all(reads).await;

    assert!(trees.iter().all(|tree| tree.as_ref().unwrap().as_ref().unwrap().role == Some(ProjectRole::Owner)));
    assert_eq!(state.cache.stats.loads.load(Ordering::Relaxed), 1, "the stampede was coalesced");
    assert_eq!(state.cache.stats.coalesced.load(Ordering::Relaxed), 19);
}

#[tokio::test]
async fn writes_that_race_a_load_survive_its_merge() {
    let app = App::spawn().await;
    let (project, slide, block) = app.project_with_block("alice").await;
    let id = ProjectId::parse(&project).unwrap();

    // The load reads DynamoDB; then a block is created and another deleted,
    // each written through, before the load merges what it read.
    let read_by_the_load = std::sync::Mutex::new(None);
    app.state
        .cache
        .tree(&id, &alice(), || async {
            let image = app.state.store.project_image(&id).await;
            *read_by_the_load.lock().unwrap() =
                image.as_ref().ok().and_then(|image| image.as_ref()).map(|image| image.blocks.len());
            let created = app
                .call(
                    "alice",
                    "POST",
                    &format!("/projects/{project}/slides/{slide}/blocks"),
                    Some(json!({"type": "x"})),
                )
                .await;
            assert_eq!(created.0, StatusCode::CREATED);
            let deleted = app.call("alice", "DELETE", &format!("/projects/{project}/blocks/{block}"), None).await;
            assert_eq!(deleted.0, StatusCode::NO_CONTENT);
            image
        })
        .await
        .unwrap();
    let (_, next) = app.call("alice", "GET", &format!("/projects/{project}"), None).await;

    let blocks = next["slides"][0]["blocks"].as_array().unwrap();
    assert_eq!(read_by_the_load.lock().unwrap().take(), Some(1), "the racing load read the old project");
    assert_eq!(blocks.len(), 1, "{next}");
    assert_eq!(blocks[0]["type"], "x", "the created block was kept and the deleted one not revived");
    assert_eq!(app.state.cache.stats.hits.load(Ordering::Relaxed), 1, "served from the merged hash");
}

#[tokio::test]
async fn a_member_removed_or_demoted_loses_access_at_once_though_the_project_is_cached() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let members = format!("/projects/{project}/members");
    app.call("alice", "PUT", &format!("{members}/bob"), Some(json!({"role": "editor"}))).await;
    app.call("alice", "PUT", &format!("{members}/carol"), Some(json!({"role": "editor"}))).await;
    let tree = format!("/projects/{project}");
    let block = format!("/projects/{project}/blocks/{block}");
    let (bob_before, _) = app.call("bob", "GET", &tree, None).await;
    app.call("carol", "GET", &tree, None).await;

    app.call("alice", "DELETE", &format!("{members}/bob"), None).await;
    app.call("alice", "PUT", &format!("{members}/carol"), Some(json!({"role": "viewer"}))).await;
    let (bob_read, _) = app.call("bob", "GET", &tree, None).await;
    let (bob_write, _) =
        app.call("bob", "PATCH", &block, Some(json!({"overwrite": true, "set": {"content": "x"}}))).await;
    let (carol_write, _) =
        app.call("carol", "PATCH", &block, Some(json!({"overwrite": true, "set": {"content": "x"}}))).await;
    let (carol_read, _) = app.call("carol", "GET", &tree, None).await;

    assert_eq!(bob_before, StatusCode::OK);
    assert_eq!((bob_read, bob_write), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!((carol_write, carol_read), (StatusCode::FORBIDDEN, StatusCode::OK));
}

#[tokio::test]
async fn a_writer_that_cannot_reach_redis_leaves_a_stale_entry_for_the_bound_at_most() {
    let bound = Duration::from_secs(6);
    let stack = provision_stack().await;
    let reader = App::on(&stack, &[("PROJECT_CACHE_MAX_STALENESS_MS", "6000")]).await;
    let writer =
        App::on(&stack, &[("PROJECT_CACHE_MAX_STALENESS_MS", "6000"), ("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let (project, _, block) = reader.project_with_block("alice").await;
    let tree = format!("/projects/{project}");
    reader.call("alice", "GET", &tree, None).await;

    let (patched, _) = writer
        .call(
            "alice",
            "PATCH",
            &format!("/projects/{project}/blocks/{block}"),
            Some(json!({"baseVersion": 1, "set": {"content": "lost in redis"}})),
        )
        .await;
    let acknowledged = Instant::now();
    let (_, soon_after) = reader.call("alice", "GET", &tree, None).await;
    tokio::time::sleep(bound.saturating_sub(acknowledged.elapsed())).await;
    let (_, after_the_bound) = reader.call("alice", "GET", &tree, None).await;

    let version = |tree: &serde_json::Value| tree["slides"][0]["blocks"][0]["version"].as_u64();
    assert_eq!(patched, StatusCode::OK, "the write committed although its cache update failed");
    assert_eq!(writer.state.cache.stats.lost_updates.load(Ordering::Relaxed), 1);
    assert_eq!(version(&soon_after), Some(1), "the lost update is really lost: the reader holds the old block");
    assert_eq!(version(&after_the_bound), Some(2), "past the bound the reader reloads");
}

#[tokio::test]
async fn with_redis_stopped_reads_and_writes_still_work_uncached() {
    let mut redis = RedisServer::start().unwrap();
    let stack = provision_stack().await;
    let app = App::on(&stack, &[("REDIS_URL", &redis.url())]).await;
    let (project, slide, _) = app.project_with_block("alice").await;

    redis.stop();
    let (created, _) = app
        .call("alice", "POST", &format!("/projects/{project}/slides/{slide}/blocks"), Some(json!({"type": "text"})))
        .await;
    let (read, tree) = app.call("alice", "GET", &format!("/projects/{project}"), None).await;

    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(read, StatusCode::OK);
    assert_eq!(tree["slides"][0]["blocks"].as_array().unwrap().len(), 2);
    assert!(app.state.cache.stats.bypassed.load(Ordering::Relaxed) > 0);
}

#[tokio::test]
async fn a_deleted_project_is_gone_for_everyone_at_once_while_its_purge_is_pending() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    app.call("alice", "PUT", &format!("/projects/{project}/members/bob"), Some(json!({"role": "editor"}))).await;
    let tree = format!("/projects/{project}");
    app.call("bob", "GET", &tree, None).await;

    let (deleted, _) = app.call("alice", "DELETE", &tree, None).await;
    let left = app.state.store.project_image(&ProjectId::parse(&project).unwrap()).await.unwrap();
    let still_stored = app
        .state
        .store
        .get_block(&ProjectId::parse(&project).unwrap(), &BlockId::parse(&block).unwrap())
        .await
        .unwrap();

    assert_eq!(deleted, StatusCode::NO_CONTENT);
    assert!(left.is_none(), "the meta is gone");
    assert!(still_stored.is_some(), "the blocks wait for the purge");
    for user in ["alice", "bob"] {
        assert_eq!(app.call(user, "GET", &tree, None).await.0, StatusCode::NOT_FOUND, "{user}'s tree");
        let block = format!("/projects/{project}/blocks/{block}");
        assert_eq!(app.call(user, "GET", &block, None).await.0, StatusCode::NOT_FOUND, "{user}'s block");
    }
    let (_, projects) = app.call("alice", "GET", "/projects", None).await;
    assert_eq!(projects["items"], json!([]));
}
