//! The project tree cache against a real redis-server: hits, read-your-
//! writes, one load per stampede, no stale tree after a racing write, and
//! uncached service while Redis is down.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_blocks::cache::TreeCache;
use tessera_blocks::events::EventQueue;
use tessera_blocks::store::ContentStore;
use tessera_blocks::{AppState, Config, router};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, SlideId};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::redis::Redis;
use tessera_testkit::{GatewayRequest, LocalServices, RedisServer, provision_stack};
use tower::ServiceExt;

/// The router and its state, on the shared services or on a given Redis.
async fn app(redis_url: Option<String>) -> (Router, AppState) {
    let stack = provision_stack().await;
    let mut env = stack.function_environment("BlocksFunction").unwrap();
    if let Some(url) = redis_url {
        env.push(("REDIS_URL".into(), url));
    }
    let config = Config::from_vars(&Vars::from_map(env)).unwrap();
    let aws = Aws::with_config(LocalServices::shared().sdk_config());
    let store = ContentStore::new(aws.clone(), &config.content_table);
    let events = EventQueue::new(aws, &config.events_queue_url);
    let state = AppState::new(store, TreeCache::new(Redis::new(&config.redis).unwrap(), config.tree_cache_ttl), events);
    (router(state.clone(), &config), state)
}

async fn call(router: &Router, method: &'static str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = GatewayRequest::new(method, path).as_user("alice", "pro", &[]);
    if let Some(body) = body {
        request = request.json_body(&body);
    }
    let response = router.clone().oneshot(request.into_request()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A project with one slide; returns (project id, slide id).
async fn project(router: &Router) -> (String, String) {
    let (_, project) = call(router, "POST", "/projects", Some(json!({"title": "Deck"}))).await;
    let project = project["id"].as_str().unwrap().to_owned();
    let (_, slide) = call(router, "POST", &format!("/projects/{project}/slides"), Some(json!({"title": "S"}))).await;
    (project, slide["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_second_read_is_a_hit_and_a_write_is_seen_by_the_very_next_read() {
    let (router, state) = app(None).await;
    let (project, slide) = project(&router).await;
    let tree = format!("/projects/{project}");

    call(&router, "GET", &tree, None).await;
    let (_, cached) = call(&router, "GET", &tree, None).await;
    let hits_before_write = state.cache.stats.hits.load(Ordering::Relaxed);
    call(
        &router,
        "POST",
        &format!("/projects/{project}/slides/{slide}/blocks"),
        Some(json!({"type": "text", "content": "new"})),
    )
    .await;
    let (_, after_write) = call(&router, "GET", &tree, None).await;

    assert_eq!(hits_before_write, 1);
    assert!(cached["slides"][0]["blocks"].as_array().unwrap().is_empty());
    assert_eq!(after_write["slides"][0]["blocks"][0]["content"], "new", "read-your-writes");
    assert_eq!(
        state.cache.stats.hits.load(Ordering::Relaxed),
        1,
        "the read after the write was not served from the cache"
    );
}

#[tokio::test]
async fn concurrent_misses_on_one_project_load_it_from_dynamodb_once() {
    let (router, state) = app(None).await;
    let (project, _) = project(&router).await;
    let id = ProjectId::parse(&project).unwrap();

    let reads = (0..20).map(|_| {
        state.cache.tree(&id, || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            state.store.project_tree(&id).await
        })
    });
    let trees = futures_util::future::join_all(reads).await;

    assert!(trees.iter().all(|tree| tree.as_ref().unwrap().is_some()));
    assert_eq!(state.cache.stats.loads.load(Ordering::Relaxed), 1, "the stampede was coalesced");
}

#[tokio::test]
async fn a_write_that_races_a_load_never_leaves_a_stale_tree_cached() {
    let (router, state) = app(None).await;
    let (project, _) = project(&router).await;
    let id = ProjectId::parse(&project).unwrap();

    // The load reads DynamoDB, then a write commits and invalidates before
    // the load tries to store what it read.
    let stale = state
        .cache
        .tree(&id, || async {
            let tree = state.store.project_tree(&id).await;
            let slide = SlideId::parse(&ulid::Ulid::new().to_string()).unwrap();
            state.store.create_slide(&id, slide, "late".into(), &UserId::parse("bob").unwrap()).await.unwrap();
            state.cache.invalidate(&id).await;
            tree
        })
        .await
        .unwrap()
        .unwrap();
    let (_, next) = call(&router, "GET", &format!("/projects/{project}"), None).await;

    assert_eq!(stale.slides.len(), 1, "the racing load saw the old tree");
    assert_eq!(next["slides"].as_array().unwrap().len(), 2, "but it was not cached over the write");
}

#[tokio::test]
async fn with_redis_stopped_reads_and_writes_still_work_uncached() {
    let mut redis = RedisServer::start().unwrap();
    let (router, state) = app(Some(redis.url())).await;
    let (project, slide) = project(&router).await;

    redis.stop();
    let (created, _) =
        call(&router, "POST", &format!("/projects/{project}/slides/{slide}/blocks"), Some(json!({"type": "text"})))
            .await;
    let (read, tree) = call(&router, "GET", &format!("/projects/{project}"), None).await;

    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(read, StatusCode::OK);
    assert_eq!(tree["slides"][0]["blocks"].as_array().unwrap().len(), 1);
    assert!(state.cache.stats.bypassed.load(Ordering::Relaxed) > 0);
}
