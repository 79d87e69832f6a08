//! Read-your-writes and monotonic reads under concurrency: writers patch,
//! create and delete blocks while readers read the tree, with a staleness
//! bound so short that reloads keep merging into the hash meanwhile. Every
//! read is checked against what had been acknowledged before it began, and
//! against what the same reader saw before.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::App;
use tessera_testkit::provision_stack;

const WRITERS: usize = 8;
const WRITES_EACH: usize = 40;
const READERS: usize = 6;
const READS_EACH: usize = 40;
/// Patches go to the oldest few blocks, so that writes to one block race.
const HOT_BLOCKS: usize = 4;

/// What writers were told and what they asked for.
#[derive(Default)]
struct Log {
    /// Each block's highest acknowledged version, or `None` once its
    /// deletion was acknowledged (ids are never reused: that is final).
    acknowledged: BTreeMap<String, Option<u64>>,
    /// Blocks whose deletion was requested: a read may miss them already.
    deleting: BTreeSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_read_holds_what_was_acknowledged_before_it_and_never_goes_back() {
    let stack = provision_stack().await;
    let app = App::on(&stack, &[("PROJECT_CACHE_MAX_STALENESS_MS", "100")]).await;
    let (project, slide, first) = app.project_with_block("alice").await;
    let log = Mutex::new(Log { acknowledged: BTreeMap::from([(first, Some(1))]), ..Log::default() });

    let writers = (0..WRITERS).map(|writer| write(&app, &project, &slide, writer, &log));
    let readers = (0..READERS).map(|_| read(&app, &project, &log));
    let (_, violations) =
        tokio::join!(futures_util::future::join_all(writers), futures_util::future::join_all(readers));

    let violations: Vec<String> = violations.concat();
    assert!(
        violations.is_empty(),
        "{} violations, the first: {:#?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );
    let stats = &app.state.cache.stats;
    assert!(stats.hits.load(Ordering::Relaxed) > 0, "reads were served from the hash");
    assert!(stats.loads.load(Ordering::Relaxed) > 1, "reloads merged while writes went on");
}

/// Creates blocks, patches the blocks it knows of, deletes some it created.
async fn write(app: &App, project: &str, slide: &str, writer: usize, log: &Mutex<Log>) {
    let mut mine: Vec<String> = Vec::new();
    for step in 0..WRITES_EACH {
        let known: Vec<String> = log.lock().unwrap().acknowledged.keys().cloned().collect();
        let (status, body, block, deleting) = match step % 5 {
            0 => {
                let path = format!("/projects/{project}/slides/{slide}/blocks");
                let (status, body) = app.call("alice", "POST", &path, Some(json!({"type": "text"}))).await;
                let id = body["id"].as_str().unwrap_or_default().to_owned();
                mine.push(id.clone());
                (status, body, id, false)
            }
            4 if !mine.is_empty() => {
                let id = mine.remove(0);
                log.lock().unwrap().deleting.insert(id.clone());
                let (status, body) =
                    app.call("alice", "DELETE", &format!("/projects/{project}/blocks/{id}"), None).await;
                (status, body, id, true)
            }
            _ => {
                let id = known[(writer + step) % known.len().min(HOT_BLOCKS)].clone();
                let patch = json!({"overwrite": true, "set": {"props.step": step, "content": format!("w{writer}")}});
                let path = format!("/projects/{project}/blocks/{id}");
                let (status, body) = app.call("alice", "PATCH", &path, Some(patch)).await;
                (status, body, id, false)
            }
        };
        let acknowledged = &mut log.lock().unwrap().acknowledged;
        match status {
            StatusCode::NO_CONTENT if deleting => {
                acknowledged.insert(block, None);
            }
            StatusCode::OK | StatusCode::CREATED => {
                let version = body["version"].as_u64();
                let entry = acknowledged.entry(block).or_insert(version);
                if let (Some(held), Some(version)) = (*entry, version) {
                    *entry = Some(held.max(version));
                }
            }
            // A patch of a block another writer deleted.
            StatusCode::NOT_FOUND => {}
            other => panic!("a write answered {other}: {body}"),
        }
    }
}

/// Reads the tree again and again; returns what it found wrong.
async fn read(app: &App, project: &str, log: &Mutex<Log>) -> Vec<String> {
    let mut violations = Vec::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut gone: BTreeSet<String> = BTreeSet::new();
    for _ in 0..READS_EACH {
        let before = log.lock().unwrap().acknowledged.clone();
        let (status, tree) = app.call("alice", "GET", &format!("/projects/{project}"), None).await;
        let deleting = log.lock().unwrap().deleting.clone();
        assert_eq!(status, StatusCode::OK, "{tree}");
        let served: BTreeMap<String, u64> = tree["slides"][0]["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|block: &Value| (block["id"].as_str().unwrap().to_owned(), block["version"].as_u64().unwrap()))
            .collect();
        for (block, acknowledged) in &before {
            match (acknowledged, served.get(block)) {
                (Some(version), Some(got)) if got < version => {
                    violations.push(format!("{block} served at version {got} after {version} was acknowledged"))
                }
                (Some(version), None) if !deleting.contains(block) => {
                    violations.push(format!("{block} missing after version {version} was acknowledged"))
                }
                (None, Some(got)) => violations.push(format!("{block} served at {got} after its deletion")),
                _ => {}
            }
        }
        for (block, version) in &served {
            if gone.contains(block) {
                violations.push(format!("{block} came back after this reader saw it deleted"));
            }
            if let Some(earlier) = seen.insert(block.clone(), *version)
                && earlier > *version
            {
                violations.push(format!("{block} went back from version {earlier} to {version}"));
            }
        }
        gone.extend(seen.keys().filter(|block| !served.contains_key(*block)).cloned());
    }
    violations
}
