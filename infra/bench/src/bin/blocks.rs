//! Blocks benchmark: versioned patches under 32 concurrent writers, tree
//! reads cached and uncached, and two read/write mixes on one project (95/5,
//! and 80/20 for a busy editing session) with the cache's hit rate and the
//! reads' and writes' latencies apart. The real router and store,
//! in-process, against moto server and redis-server (started as the tests
//! start them); each client is a task of its own, as concurrent requests
//! are separate Lambda invocations. One table. `BENCH_SECONDS` (default 5)
//! per load scenario, after a second of warm-up that is not measured.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_blocks::{AppState, Config, router};
use tessera_core::content::ProjectId;
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_testkit::{GatewayRequest, LocalServices, provision_stack};
use tower::ServiceExt;

const CLIENTS: usize = 32;
/// Connections warm up and caches fill before a load scenario is measured.
const WARM_UP: Duration = Duration::from_secs(1);

struct Row {
    scenario: &'static str,
    ops: u64,
    seconds: f64,
    latencies: Vec<Duration>,
    note: String,
}

impl Row {
    /// The latency at `p` (0 to 1), in milliseconds.
    fn percentile(&self, p: f64) -> f64 {
        let mut latencies = self.latencies.clone();
        latencies.sort_unstable();
        let index = (latencies.len().saturating_sub(1) as f64 * p) as usize;
        latencies.get(index).map_or(f64::NAN, |latency| latency.as_secs_f64() * 1000.0)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let stack = provision_stack().await;
    // The benchmark measures content, not limits: roomy rate limits.
    let mut env = stack.function_environment("BlocksFunction")?;
    env.push((
        "RATE_LIMIT_POLICY_FILE".into(),
        tessera_testkit::rate_limits::roomy_policy_file().display().to_string(),
    ));
    let config = Config::from_vars(&Vars::from_map(env))?;
    let state = AppState::new(Aws::with_config(LocalServices::shared().sdk_config()), &config)?;
    let app = App { router: router(state.clone(), &config) };

    let (project, slide) = app.deck(10, 10).await;
    let block = app.block(&project, &slide).await;
    let mut rows = Vec::new();

    let one_block = block.clone();
    rows.push(
        app.writers("patch: 32 writers, disjoint fields of one block", duration, move |w| {
            (one_block.clone(), format!("props.w{w}"))
        })
        .await,
    );
    let one_block = block.clone();
    rows.push(
        app.writers("patch: 32 writers, one field of one block", duration, move |_| {
            (one_block.clone(), "content".into())
        })
        .await,
    );
    let mut blocks = Vec::new();
    for _ in 0..CLIENTS {
        blocks.push(app.block(&project, &slide).await);
    }
    let blocks = Arc::new(blocks);
    let targets = blocks.clone();
    rows.push(
        app.writers("patch: 32 writers, 32 blocks", duration, move |w| (targets[w].clone(), "content".into())).await,
    );

    let id = ProjectId::parse(&project)?;
    rows.push(
        timed("tree read (100 blocks), uncached", 200, || async { state.store.project_tree(&id).await.map(drop) })
            .await?,
    );
    let tree_path = format!("/projects/{project}");
    app.get(&tree_path).await;
    let cached = timed("tree read (100 blocks), cached", 200, || async {
        app.get(&tree_path).await;
        Ok(())
    })
    .await?;
    let cached_p99 = cached.percentile(0.99);
    rows.push(cached);

    for (scenario, reads) in
        [("mix: 95% tree reads / 5% patches, 32 clients", 95), ("mix: 80% tree reads / 20% patches, 32 clients", 80)]
    {
        let [mut reads, writes] = app.mix(scenario, reads, &state, &project, &blocks, duration).await;
        reads.note += &format!("; read p99 {:.1}x the cached p99", reads.percentile(0.99) / cached_p99);
        rows.extend([reads, writes]);
    }

    println!("blocks: in-process router and store against moto server and redis-server, {seconds} s per load scenario");
    println!("{:<48} {:>9} {:>9} {:>9}  notes", "scenario", "ops/s", "p50 ms", "p99 ms");
    for row in rows {
        println!(
            "{:<48} {:>9.0} {:>9.2} {:>9.2}  {}",
            row.scenario,
            row.ops as f64 / row.seconds,
            row.percentile(0.5),
            row.percentile(0.99),
            row.note
        );
    }
    Ok(())
}

#[derive(Clone)]
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

    /// A read as a client makes it: the body is received, not parsed.
    async fn get(&self, path: &str) -> StatusCode {
        let request = GatewayRequest::new("GET", path).as_user("bench", "pro", &[]);
        let response = self.router.clone().oneshot(request.into_request()).await.expect("the router answers");
        let status = response.status();
        axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
        status
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
        target: impl Fn(usize) -> (String, String) + Send + Sync + 'static,
    ) -> Row {
        let (commits, conflicts) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (app, target) = (self.clone(), Arc::new(target));
        let (counted, total) = (commits.clone(), conflicts.clone());
        let (latencies, seconds) = clients(duration, move |writer, measuring| {
            let (app, (path, field)) = (app.clone(), target(writer));
            let (commits, conflicts) = (counted.clone(), total.clone());
            async move {
                let (mut base, mut latencies, mut n) = (1u64, Vec::new(), 0u64);
                while measuring.running() {
                    n += 1;
                    let (counted, sent) = (measuring.measured(), Instant::now());
                    let (status, body) =
                        app.send("PATCH", &path, Some(json!({"baseVersion": base, "set": {field.clone(): n}}))).await;
                    if counted {
                        latencies.push(sent.elapsed());
                    }
                    match status {
                        StatusCode::OK => {
                            if counted {
                                commits.fetch_add(1, Ordering::Relaxed);
                            }
                            base = body["version"].as_u64().unwrap_or(base);
                        }
                        StatusCode::CONFLICT => {
                            if counted {
                                conflicts.fetch_add(1, Ordering::Relaxed);
                            }
                            base = body["current"]["version"].as_u64().unwrap_or(base);
                        }
                        other => panic!("a patch answered {other}: {body}"),
                    }
                }
                latencies
            }
        })
        .await;
        let (commits, conflicts) = (commits.load(Ordering::Relaxed), conflicts.load(Ordering::Relaxed));
        let note = if conflicts > 0 {
            format!("conflict rate {:.1}%", 100.0 * conflicts as f64 / (commits + conflicts) as f64)
        } else {
            String::new()
        };
        Row { scenario, ops: commits, seconds, latencies: latencies.concat(), note }
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
        blocks: &Arc<Vec<String>>,
        duration: Duration,
    ) -> [Row; 2] {
        let stats = &state.cache.stats;
        let counts = || [&stats.hits, &stats.misses].map(|counter| counter.load(Ordering::Relaxed));
        let before = counts();
        let (app, blocks, tree) = (self.clone(), blocks.clone(), format!("/projects/{project}"));
        let (latencies, seconds) = clients(duration, move |client, measuring| {
            let (app, blocks, tree) = (app.clone(), blocks.clone(), tree.clone());
            async move {
                let (mut read_latencies, mut write_latencies) = (Vec::new(), Vec::new());
                let mut n: u64 = client as u64;
                while measuring.running() {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let (counted, sent) = (measuring.measured(), Instant::now());
                    let latencies = if (n >> 33) % 100 < reads {
                        app.get(&tree).await;
                        &mut read_latencies
                    } else {
                        let block = &blocks[(n >> 40) as usize % blocks.len()];
                        app.send("PATCH", block, Some(json!({"overwrite": true, "set": {"props.mix": n % 1000}})))
                            .await;
                        &mut write_latencies
                    };
                    if counted {
                        latencies.push(sent.elapsed());
                    }
                }
                (read_latencies, write_latencies)
            }
        })
        .await;
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

/// Runs `client(i, measured)` for i in 0..32, each as a task of its own,
/// for a warm-up second and then `duration`; `measured` turns true when the
/// warm-up ends and false when the clients are to stop, so that they record
/// only steady-state requests. Their results, and the seconds measured.
async fn clients<T, F, Fut>(duration: Duration, client: F) -> (Vec<T>, f64)
where
    F: Fn(usize, Arc<Measuring>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let measuring = Arc::new(Measuring::default());
    let tasks: Vec<_> = (0..CLIENTS).map(|i| tokio::spawn(client(i, measuring.clone()))).collect();
    tokio::time::sleep(WARM_UP).await;
    measuring.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    measuring.stopped.store(true, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("a client finishes"));
    }
    (results, seconds)
}

/// Where a load scenario stands: warming up, measured, or stopping.
#[derive(Default)]
struct Measuring {
    measuring: AtomicBool,
    stopped: AtomicBool,
}

impl Measuring {
    fn running(&self) -> bool {
        !self.stopped.load(Ordering::Relaxed)
    }

    /// Whether a request starting now counts.
    fn measured(&self) -> bool {
        self.measuring.load(Ordering::Relaxed) && self.running()
    }
}

/// `count` sequential runs of `op`.
async fn timed<F, Fut>(scenario: &'static str, count: usize, op: F) -> anyhow::Result<Row>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
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
