//! Blocks benchmark: versioned patches under 32 concurrent writers, tree
//! reads cached and uncached, and two read/write mixes on one project (95/5,
//! and 80/20 for a busy editing session) with the cache's hit rate and the
//! reads' and writes' latencies apart. The real router and store, in-process, against moto server
//! and redis-server (started as the tests start them). One table.
//! `BENCH_SECONDS` (default 5) per scenario.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_blocks::cache::TreeCache;
use tessera_blocks::events::EventQueue;
use tessera_blocks::store::ContentStore;
use tessera_blocks::{AppState, Config, router};
use tessera_core::content::ProjectId;
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::redis::Redis;
use tessera_testkit::{GatewayRequest, LocalServices, provision_stack};
use tower::ServiceExt;

const WRITERS: usize = 32;

struct Row {
    scenario: &'static str,
    ops: u64,
    seconds: f64,
    latencies: Vec<Duration>,
    note: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let stack = provision_stack().await;
    let config = Config::from_vars(&Vars::from_map(stack.function_environment("BlocksFunction")?))?;
    let aws = Aws::with_config(LocalServices::shared().sdk_config());
    let store = ContentStore::new(aws.clone(), &config.content_table);
    let state = AppState::new(
        store,
        TreeCache::new(Redis::new(&config.redis)?, config.tree_cache_ttl),
        EventQueue::new(aws, &config.events_queue_url),
    );
    let app = App { router: router(state.clone(), &config) };

    let (project, slide) = app.deck(10, 10).await;
    let block = app.block(&project, &slide).await;
    let mut rows = Vec::new();

    rows.push(
        app.writers("patch: 32 writers, disjoint fields of one block", duration, |w| {
            (block.clone(), format!("props.w{w}"))
        })
        .await,
    );
    rows.push(
        app.writers("patch: 32 writers, one field of one block", duration, |_| (block.clone(), "content".into())).await,
    );
    let mut blocks = Vec::new();
    for _ in 0..WRITERS {
        blocks.push(app.block(&project, &slide).await);
    }
    rows.push(app.writers("patch: 32 writers, 32 blocks", duration, |w| (blocks[w].clone(), "content".into())).await);

    let id = ProjectId::parse(&project)?;
    rows.push(
        timed("tree read (100 blocks), uncached", 200, || async { state.store.project_tree(&id).await.map(drop) })
            .await?,
    );
    let tree_path = format!("/projects/{project}");
    app.get(&tree_path).await;
    rows.push(
        timed("tree read (100 blocks), cached", 200, || async {
            app.get(&tree_path).await;
            Ok(())
        })
        .await?,
    );

    for (scenario, reads) in
        [("mix: 95% tree reads / 5% patches, 32 clients", 95), ("mix: 80% tree reads / 20% patches, 32 clients", 80)]
    {
        rows.extend(app.mix(scenario, reads, &state, &project, &blocks, duration).await);
    }

    println!("blocks: in-process router and store against moto server and redis-server, {seconds} s per load scenario");
    println!("{:<48} {:>9} {:>9} {:>9}  notes", "scenario", "ops/s", "p50 ms", "p99 ms");
    for mut row in rows {
        row.latencies.sort();
        let at = |p: f64| {
            let index = (row.latencies.len().saturating_sub(1) as f64 * p) as usize;
            row.latencies.get(index).map_or(f64::NAN, |latency| latency.as_secs_f64() * 1000.0)
        };
        println!(
            "{:<48} {:>9.0} {:>9.2} {:>9.2}  {}",
            row.scenario,
            row.ops as f64 / row.seconds,
            at(0.5),
            at(0.99),
            row.note
        );
    }
    Ok(())
}

struct App {
    router: Router,
}

impl App {
    async fn send(&self, method: &'static str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = GatewayRequest::new(method, path).as_user("bench", "pro", &[]);
        if let Some(body) = body {
            request = request.json_body(&body);
        }
        let response = self.router.clone().oneshot(request.into_request()).await.expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> StatusCode {
        self.send("GET", path, None).await.0
    }

    /// A project of `slides` slides with `blocks` blocks each; returns (project, first slide).
    async fn deck(&self, slides: usize, blocks: usize) -> (String, String) {
        let (_, project) = self.send("POST", "/projects", Some(json!({"title": "Bench"}))).await;
        let project = project["id"].as_str().unwrap_or_default().to_owned();
        let mut first = String::new();
        for n in 0..slides {
            let (_, slide) = self
                .send("POST", &format!("/projects/{project}/slides"), Some(json!({"title": format!("S{n}")})))
                .await;
            let slide = slide["id"].as_str().unwrap_or_default().to_owned();
            for _ in 0..blocks {
                self.block(&project, &slide).await;
            }
            if n == 0 {
                first = slide;
            }
        }
        (project, first)
    }

    async fn block(&self, project: &str, slide: &str) -> String {
        let body = json!({"type": "text", "content": "lorem ipsum", "props": {"color": "black", "x": 10, "y": 20}});
        let (_, block) = self.send("POST", &format!("/projects/{project}/slides/{slide}/blocks"), Some(body)).await;
        format!("/projects/{project}/blocks/{}", block["id"].as_str().unwrap_or_default())
    }

    /// 32 writers patching for `duration`; each rebases on a conflict.
    async fn writers(
        &self,
        scenario: &'static str,
        duration: Duration,
        target: impl Fn(usize) -> (String, String),
    ) -> Row {
        let stop = Arc::new(AtomicBool::new(false));
        let (commits, conflicts) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let started = Instant::now();
        let writes = (0..WRITERS).map(|writer| {
            let (path, field) = target(writer);
            let (stop, commits, conflicts) = (stop.clone(), commits.clone(), conflicts.clone());
            async move {
                let (mut base, mut latencies, mut n) = (1u64, Vec::new(), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let sent = Instant::now();
                    let (status, body) =
                        self.send("PATCH", &path, Some(json!({"baseVersion": base, "set": {field.clone(): n}}))).await;
                    latencies.push(sent.elapsed());
                    match status {
                        StatusCode::OK => {
                            commits.fetch_add(1, Ordering::Relaxed);
                            base = body["version"].as_u64().unwrap_or(base);
                        }
                        StatusCode::CONFLICT => {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                            base = body["current"]["version"].as_u64().unwrap_or(base);
                        }
                        other => panic!("a patch answered {other}: {body}"),
                    }
                }
                latencies
            }
        });
        let stopper = async {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
        };
        let (latencies, ()) = tokio::join!(futures_util::future::join_all(writes), stopper);
        let (commits, conflicts) = (commits.load(Ordering::Relaxed), conflicts.load(Ordering::Relaxed));
        let note = if conflicts > 0 {
            format!("conflict rate {:.1}%", 100.0 * conflicts as f64 / (commits + conflicts) as f64)
        } else {
            String::new()
        };
        Row { scenario, ops: commits, seconds: started.elapsed().as_secs_f64(), latencies: latencies.concat(), note }
    }

    /// 32 clients on one project: `reads`% tree reads, the rest patches of
    /// random blocks. Two rows: the reads (with the cache's figures) and the
    /// writes.
    async fn mix(
        &self,
        scenario: &'static str,
        reads: u64,
        state: &AppState,
        project: &str,
        blocks: &[String],
        duration: Duration,
    ) -> [Row; 2] {
        let stats = &state.cache.stats;
        let counts = || [&stats.hits, &stats.misses].map(|counter| counter.load(Ordering::Relaxed));
        let before = counts();
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let tree = format!("/projects/{project}");
        let clients = (0..WRITERS).map(|client| {
            let (stop, tree) = (stop.clone(), tree.clone());
            async move {
                let (mut read_latencies, mut write_latencies) = (Vec::new(), Vec::new());
                let mut n: u64 = client as u64;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let sent = Instant::now();
                    if (n >> 33) % 100 < reads {
                        self.get(&tree).await;
                        read_latencies.push(sent.elapsed());
                    } else {
                        let block = &blocks[(n >> 40) as usize % blocks.len()];
                        self.send("PATCH", block, Some(json!({"overwrite": true, "set": {"props.mix": n % 1000}})))
                            .await;
                        write_latencies.push(sent.elapsed());
                    }
                }
                (read_latencies, write_latencies)
            }
        });
        let stopper = async {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
        };
        let (latencies, ()) = tokio::join!(futures_util::future::join_all(clients), stopper);
        let seconds = started.elapsed().as_secs_f64();
        let (read_latencies, write_latencies): (Vec<_>, Vec<_>) = latencies.into_iter().unzip();
        let after = counts();
        let [hits, misses] = [0, 1].map(|i| after[i] - before[i]);
        let served = (hits + misses).max(1) as f64;
        let reads = Row {
            scenario,
            ops: read_latencies.iter().map(Vec::len).sum::<usize>() as u64,
            seconds,
            latencies: read_latencies.concat(),
            note: format!(
                "reads: direct hit rate {:.1}%, served by a load {:.1}%",
                100.0 * hits as f64 / served,
                100.0 * misses as f64 / served
            ),
        };
        let writes = Row {
            scenario: "",
            ops: write_latencies.iter().map(Vec::len).sum::<usize>() as u64,
            seconds,
            latencies: write_latencies.concat(),
            note: "writes".into(),
        };
        [reads, writes]
    }
}

/// `count` sequential runs of `op`.
async fn timed<F, Fut>(scenario: &'static str, count: usize, op: F) -> anyhow::Result<Row>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        op().await?;
        latencies.push(sent.elapsed());
    }
    Ok(Row { scenario, ops: count as u64, seconds: started.elapsed().as_secs_f64(), latencies, note: String::new() })
}
