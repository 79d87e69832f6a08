//! Rate-limit decisions per second and their latency, for 1 and 4 rules per
//! request, against the ceiling of the same Redis (`redis-benchmark -t incr`)
//! and a peer (rate-limiter-flexible, installed here with npm): one Redis on
//! loopback, the same keys, limits and concurrency for all; then our
//! limiter unloaded (one client), where a decision costs its round trip.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tessera_core::ratelimit::Target;
use tessera_core::{Tier, UserId};
use tessera_platform::config::Vars;
use tessera_platform::ratelimit::{RateLimitConfig, RateLimiter, Requester, Source};
use tessera_platform::redis::{Redis, RedisConfig};
use tessera_testkit::{RedisServer, workspace_root};

const CONCURRENCY: usize = 50;
const SECONDS: u64 = 5;
const USERS: usize = 10_000;
/// Per user per minute: high enough that almost every request is allowed,
/// so both limiters do the full work of a charge.
const LIMIT: u64 = 100_000;

struct Row {
    name: String,
    ops_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    note: String,
}

// One thread, as the Node peer has: both limiters multiplex their clients
// over one connection, and Redis keeps the other core.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let server = RedisServer::start()?;
    let port: u16 = server.url().rsplit(':').next().context("a port")?.parse()?;
    println!("rate limits: {CONCURRENCY} clients, {SECONDS} s per scenario, {USERS} users, redis-server on loopback");

    let ceiling = incr_ceiling(port)?;
    let peers = peer_rows(port)?;
    let mut ours = Vec::new();
    for (algorithm, rules) in [("sliding-window", 1), ("gcra", 1), ("sliding-window", 4), ("gcra", 4)] {
        ours.push(measure(&server.url(), algorithm, rules, CONCURRENCY).await?);
    }
    // Unloaded: what one decision costs a request when Redis is not saturated.
    let mut unloaded = Vec::new();
    for rules in [1, 4] {
        unloaded.push(measure(&server.url(), "sliding-window", rules, 1).await?);
    }

    println!("\n{:<44} {:>9} {:>8} {:>8}  notes", "scenario", "ops/s", "p50 ms", "p99 ms");
    for row in std::iter::once(&ceiling).chain(&peers).chain(&ours).chain(&unloaded) {
        println!("{:<44} {:>9.0} {:>8.3} {:>8.3}  {}", row.name, row.ops_per_sec, row.p50_ms, row.p99_ms, row.note);
    }
    println!();
    let one = |algorithm: &str| ours.iter().find(|r| r.name.contains(algorithm) && r.name.ends_with("1 rule"));
    let four = |algorithm: &str| ours.iter().find(|r| r.name.contains(algorithm) && r.name.ends_with("4 rules"));
    for algorithm in ["sliding-window", "gcra"] {
        let (Some(one), Some(four)) = (one(algorithm), four(algorithm)) else { continue };
        let peer_one = &peers[0];
        let peer_four = &peers[1];
        println!(
            "{algorithm}: 1 rule {:.2}x the INCR ceiling, {:.2}x rate-limiter-flexible's throughput (p99 {:.2}x theirs); \
             4 rules {:.2}x rate-limiter-flexible's union (p99 {:.2}x); 4 rules cost {:.2}x one",
            one.ops_per_sec / ceiling.ops_per_sec,
            one.ops_per_sec / peer_one.ops_per_sec,
            one.p99_ms / peer_one.p99_ms,
            four.ops_per_sec / peer_four.ops_per_sec,
            four.p99_ms / peer_four.p99_ms,
            one.ops_per_sec / four.ops_per_sec,
        );
    }
    if let [one, four] = &unloaded[..] {
        println!(
            "one client: 4 rules take {:.2}x the time of one at p50, {:.2}x at p99",
            four.p50_ms / one.p50_ms,
            four.p99_ms / one.p99_ms
        );
    }
    Ok(())
}

/// `redis-benchmark -t incr` on the same server and concurrency.
fn incr_ceiling(port: u16) -> anyhow::Result<Row> {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "incr", "-c", &CONCURRENCY.to_string()])
        .args(["-n", "400000", "--csv"])
        .output()
        .context("running redis-benchmark (it comes with redis-server: make install)")?;
    let csv = String::from_utf8(output.stdout)?;
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",...
    let line = csv.lines().find(|l| l.starts_with("\"INCR\"")).with_context(|| format!("no INCR row in {csv}"))?;
    let fields: Vec<f64> = line.split(',').skip(1).map(|f| f.trim_matches('"').parse().unwrap_or(0.0)).collect();
    Ok(Row {
        name: "redis-benchmark -t incr (ceiling)".into(),
        ops_per_sec: fields[0],
        p50_ms: fields[3],
        p99_ms: fields[5],
        note: String::new(),
    })
}

/// rate-limiter-flexible, installed on first use.
fn peer_rows(port: u16) -> anyhow::Result<Vec<Row>> {
    let dir = workspace_root().join("infra/bench/ratelimit-peer");
    install_peer(&dir)?;
    let output = Command::new("node")
        .current_dir(&dir)
        .args(["peer.mjs", &port.to_string(), &CONCURRENCY.to_string(), &SECONDS.to_string()])
        .args([USERS.to_string(), LIMIT.to_string()])
        .output()
        .context("running node (Node.js 18 or later)")?;
    if !output.status.success() {
        bail!("the peer failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    String::from_utf8(output.stdout)?
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line)?;
            Ok(Row {
                name: format!("rate-limiter-flexible, {}", row["name"].as_str().unwrap_or("?")),
                ops_per_sec: row["ops_per_sec"].as_f64().unwrap_or(0.0),
                p50_ms: row["p50_ms"].as_f64().unwrap_or(0.0),
                p99_ms: row["p99_ms"].as_f64().unwrap_or(0.0),
                note: if row["name"] == "4 rules" { "RateLimiterUnion of 4".into() } else { String::new() },
            })
        })
        .collect()
}

fn install_peer(dir: &Path) -> anyhow::Result<()> {
    if dir.join("node_modules/rate-limiter-flexible").exists() {
        return Ok(());
    }
    let status = Command::new("npm")
        .current_dir(dir)
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .status()
        .context("running npm to install rate-limiter-flexible")?;
    if !status.success() {
        bail!("npm install failed in {}", dir.display());
    }
    Ok(())
}

/// `rules` rules of `algorithm`: per user, per IP, global, and a second per-user rule.
fn policies(algorithm: &str, rules: usize) -> String {
    let scopes = ["user", "ip", "global", "user"];
    let mut yaml = String::from("tiers: {free: 1, pro: 5, enterprise: 20}\nabuse: {factor: 100, block: 1m}\nrules:\n");
    for (i, scope) in scopes.iter().take(rules).enumerate() {
        yaml += &format!(
            "  - {{name: rule-{i}, match: {{routes: [\"ANY /{{proxy+}}\"]}}, scope: {scope}, limit: {LIMIT}, window: 1m, algorithm: {algorithm}}}\n"
        );
    }
    yaml
}

async fn measure(redis_url: &str, algorithm: &str, rules: usize, clients: usize) -> anyhow::Result<Row> {
    let path = std::env::temp_dir().join(format!("bench-rate-limits-{algorithm}-{rules}.yaml"));
    std::fs::write(&path, policies(algorithm, rules))?;
    let vars = Vars::from_map([
        ("RATE_LIMIT_POLICY_FILE".to_owned(), path.display().to_string()),
        ("RATE_LIMIT_KEY_PREFIX".to_owned(), format!("bench-{algorithm}-{rules}")),
    ]);
    let config = RateLimitConfig::from_vars(&vars)?;
    let redis = Redis::new(&RedisConfig { url: redis_url.into(), cluster: false, timeout: Duration::from_secs(1) })?;
    let limiter = RateLimiter::new(&config, redis, false);
    let requesters: Vec<Requester> = (0..USERS)
        .map(|i| Requester {
            user: Some(UserId::parse(&format!("user-{i}")).expect("a valid id")),
            tier: Tier::Free,
            ip: Some(IpAddr::from([10, 0, (i / 256 % 256) as u8, (i % 256) as u8])),
            connection: None,
        })
        .collect();
    let requesters = std::sync::Arc::new(requesters);
    run(&limiter, &requesters, clients, Duration::from_secs(1)).await; // warm-up: connection, script load
    let mut admin = redis::Client::open(redis_url)?.get_multiplexed_async_connection().await?;
    let () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut admin).await?;
    let (latencies, elapsed, not_redis) = run(&limiter, &requesters, clients, Duration::from_secs(SECONDS)).await;
    let stats: String = redis::cmd("INFO").arg("commandstats").query_async(&mut admin).await?;
    let script_us = stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:"))
        .and_then(|line| line.split(',').find_map(|field| field.strip_prefix("usec_per_call=")))
        .unwrap_or("?")
        .to_owned();
    let quantile = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1000.0;
    let plural = if rules == 1 { "rule" } else { "rules" };
    Ok(Row {
        name: if clients == CONCURRENCY {
            format!("tessera {algorithm}, {rules} {plural}")
        } else {
            format!("tessera {algorithm}, {rules} {plural}, {clients} client")
        },
        ops_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: quantile(0.5),
        p99_ms: quantile(0.99),
        note: format!(
            "script {script_us} µs in Redis; {}",
            if not_redis > 0 { format!("{not_redis} decided in process") } else { "all decided by Redis".into() }
        ),
    })
}

/// Each client checks requests back to back for `length`; the sorted
/// latencies in microseconds, the time taken, and how many Redis did not decide.
async fn run(
    limiter: &RateLimiter,
    requesters: &std::sync::Arc<Vec<Requester>>,
    clients: usize,
    length: Duration,
) -> (Vec<u64>, Duration, usize) {
    let started = Instant::now();
    let end = started + length;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let limiter = limiter.clone();
            let requesters = requesters.clone();
            tokio::spawn(async move {
                let (mut latencies, mut not_redis) = (Vec::new(), 0);
                let mut i = client;
                while Instant::now() < end {
                    let who = &requesters[(i * 7919) % requesters.len()];
                    let asked = Instant::now();
                    let decision = limiter.check(Target::Http { method: "GET", path: "/projects" }, who).await;
                    latencies.push(asked.elapsed().as_micros() as u64);
                    not_redis += usize::from(decision.source != Source::Redis);
                    i += clients;
                }
                (latencies, not_redis)
            })
        })
        .collect();
    let (mut all, mut not_redis) = (Vec::new(), 0);
    for task in tasks {
        let (latencies, missed) = task.await.expect("a client task");
        all.extend(latencies);
        not_redis += missed;
    }
    all.sort_unstable();
    (all, started.elapsed(), not_redis)
}
