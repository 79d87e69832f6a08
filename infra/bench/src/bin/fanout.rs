//! Fan-out: one edit delivered to 100, 1,000 and 5,000 subscribed sockets
//! through the devstack (real gateway, release builds of the functions,
//! moto, redis-server). For each size: the time from the PATCH to the
//! first and to the last delivery, deliveries per second over the spread
//! between them, and the fan-out function's own duration (from its log).
//! Usage: `fanout-bench`; `BENCH_SOCKETS` (default `100,1000,5000`);
//! `BENCH_DEBUG=1` runs the functions' debug builds (quicker to build).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use futures_util::{SinkExt as _, StreamExt as _, stream};
use serde_json::{Value, json};
use tessera_devstack::{Devstack, Options};
use tokio::sync::Barrier;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// Sockets opened and subscribed at once while preparing a round.
const SETUP_CONCURRENCY: usize = 48;
const PATIENCE: Duration = Duration::from_secs(120);

struct Round {
    sockets: usize,
    first_ms: f64,
    last_ms: f64,
    function: Option<FunctionTiming>,
}

/// The fan-out function's own account of one event, from its log.
struct FunctionTiming {
    /// Reading the channel's subscribers (a Connections GSI query).
    listed_ms: f64,
    /// Listing and posting to every socket.
    elapsed_ms: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    raise_file_limit();
    let sizes: Vec<usize> = std::env::var("BENCH_SOCKETS")
        .unwrap_or_else(|_| "100,1000,5000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let log = std::env::temp_dir().join("tessera-fanout-bench-functions.log");
    let policies = tessera_testkit::rate_limits::roomy_policy_file().display().to_string();
    let options = Options {
        stack_name: "fanout-bench".into(),
        watch_log: Some(log.clone()),
        environment: vec![("RATE_LIMIT_POLICY_FILE".into(), policies), ("AWS_LAMBDA_LOG_FORMAT".into(), "json".into())],
        release: std::env::var_os("BENCH_DEBUG").is_none(),
        ..Options::default()
    };
    // The last round's sockets outlive the devstack: closing them while it
    // stops would only start `$disconnect`s it can no longer run.
    let mut last_round: Vec<Socket> = Vec::new();
    let devstack = Devstack::start(options).await.context("starting the devstack")?;
    let http = reqwest::Client::new();
    let token = devstack.tokens.issue("bench-owner", "enterprise", &[], Duration::from_secs(3600));
    let (project, block) = project_with_block(&http, &devstack.http_url, &token).await?;

    let mut rounds = Vec::new();
    for (round, &size) in sizes.iter().enumerate() {
        // Each round starts from no sockets.
        close_all(std::mem::take(&mut last_round)).await;
        let url = format!("{}?token={token}", devstack.websocket_url);
        let sockets = open_subscribed(&url, &project, size).await?;
        let before = std::fs::read_to_string(&log).unwrap_or_default().len();
        let barrier = Arc::new(Barrier::new(size + 1));
        let readers: Vec<_> = sockets
            .into_iter()
            .map(|socket| {
                let barrier = barrier.clone();
                tokio::spawn(async move { await_update(socket, barrier).await })
            })
            .collect();
        barrier.wait().await;
        let sent = Instant::now();
        let patch = json!({"baseVersion": round as u64 + 1, "set": {"content": format!("round {round}")}});
        let response = http
            .patch(format!("{}/projects/{project}/blocks/{block}", devstack.http_url))
            .bearer_auth(&token)
            .json(&patch)
            .send()
            .await?;
        ensure!(response.status().is_success(), "the PATCH answered {}", response.status());
        let mut arrivals = Vec::with_capacity(size);
        let mut delivered = Vec::with_capacity(size);
        for reader in readers {
            let (at, socket) = reader.await??;
            arrivals.push(at.duration_since(sent).as_secs_f64() * 1000.0);
            delivered.push(socket);
        }
        arrivals.sort_by(f64::total_cmp);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let function = function_timing(&std::fs::read_to_string(&log).unwrap_or_default()[before..], size);
        rounds.push(Round { sockets: size, first_ms: arrivals[0], last_ms: arrivals[size - 1], function });
        last_round = delivered;
    }

    let build = if std::env::var_os("BENCH_DEBUG").is_some() { "debug" } else { "release" };
    println!("fan-out: one block.updated to every subscribed socket, through the devstack ({build} functions)");
    println!(
        "{:>8} {:>12} {:>12} {:>14} {:>16} {:>14}",
        "sockets", "first (ms)", "last (ms)", "deliveries/s", "fan-out fn (ms)", "listing (ms)"
    );
    for r in &rounds {
        let spread = (r.last_ms - r.first_ms).max(1.0);
        let (function, listing) = match &r.function {
            Some(f) => (format!("{:.0}", f.elapsed_ms), format!("{:.0}", f.listed_ms)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:>8} {:>12.0} {:>12.0} {:>14.0} {:>16} {:>14}",
            r.sockets,
            r.first_ms,
            r.last_ms,
            r.sockets as f64 / (spread / 1000.0),
            function,
            listing
        );
    }
    println!(
        "first/last: from sending the PATCH to the first and the last delivery (the stream poller's wait included)"
    );
    println!("deliveries/s: sockets / (last - first); listing: the fan-out's subscriber query, moto's speed here");
    Ok(())
}

async fn project_with_block(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<(String, String)> {
    let post = |path: String, body: Value| http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send();
    let project: Value = post("/projects".into(), json!({"title": "Bench"})).await?.json().await?;
    let project = project["id"].as_str().context("a project id")?.to_owned();
    let slide: Value = post(format!("/projects/{project}/slides"), json!({"title": "One"})).await?.json().await?;
    let slide = slide["id"].as_str().context("a slide id")?;
    let block: Value =
        post(format!("/projects/{project}/slides/{slide}/blocks"), json!({"type": "text", "content": ""}))
            .await?
            .json()
            .await?;
    Ok((project, block["id"].as_str().context("a block id")?.to_owned()))
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_subscribed(url: &str, project: &str, count: usize) -> anyhow::Result<Vec<Socket>> {
    let subscribe = json!({"action": "subscribe", "projectId": project}).to_string();
    let opened: Vec<anyhow::Result<Socket>> = stream::iter(0..count)
        .map(|_| {
            let subscribe = subscribe.clone();
            async move {
                let (mut socket, _) = connect_async(url).await?;
                socket.send(Message::text(subscribe)).await?;
                loop {
                    match tokio::time::timeout(PATIENCE, socket.next()).await? {
                        Some(Ok(Message::Text(text))) if text.contains("\"subscribed\"") => return Ok(socket),
                        Some(Ok(Message::Text(text))) if text.contains("\"error\"") => bail!("subscribe: {text}"),
                        Some(Ok(_)) => continue,
                        other => bail!("the socket ended while subscribing: {other:?}"),
                    }
                }
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    opened.into_iter().collect()
}

/// When this socket saw the block's update. The socket comes back open:
/// closing it now would start its `$disconnect` while the others still wait.
async fn await_update(mut socket: Socket, barrier: Arc<Barrier>) -> anyhow::Result<(Instant, Socket)> {
    barrier.wait().await;
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await? {
            Some(Ok(Message::Text(text))) if text.contains("\"block.updated\"") => return Ok((Instant::now(), socket)),
            Some(Ok(_)) => continue,
            other => bail!("the socket ended before the update: {other:?}"),
        }
    }
}

/// The fan-out's own timing for the event sent to `sockets`, from its JSON
/// log line (`"message":"fanned out"`, `sent`, `listed_ms`, `elapsed_ms`).
fn function_timing(log: &str, sockets: usize) -> Option<FunctionTiming> {
    log.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(&line[line.find('{')?..]).ok())
        .filter(|entry| entry.to_string().contains("fanned out"))
        .filter(|entry| find(entry, "sent").and_then(Value::as_u64) == Some(sockets as u64))
        .find_map(|entry| {
            Some(FunctionTiming {
                listed_ms: find(&entry, "listed_ms")?.as_f64()?,
                elapsed_ms: find(&entry, "elapsed_ms")?.as_f64()?,
            })
        })
}

/// Closes a round's sockets.
async fn close_all(sockets: Vec<Socket>) {
    stream::iter(sockets)
        .for_each_concurrent(SETUP_CONCURRENCY, |mut socket| async move {
            let _ = socket.close(None).await;
        })
        .await;
}

/// A field anywhere in a log entry (top level or under `fields`).
fn find<'a>(entry: &'a Value, name: &str) -> Option<&'a Value> {
    entry.get(name).or_else(|| entry.get("fields")?.get(name))
}

/// Thousands of sockets need thousands of file descriptors, on both ends.
fn raise_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
