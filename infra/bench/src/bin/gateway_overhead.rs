//! Gateway overhead: requests per second and latency percentiles of
//! `GET /health` through the devstack's HTTP gateway, beside the same
//! function called directly on `cargo lambda watch`'s function URL, in one
//! run with the same concurrency. Usage: `gateway-overhead`;
//! `BENCH_SECONDS` (default 10) and `BENCH_CONCURRENCY` (default 8).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use tessera_devstack::{Devstack, Options};

struct Figures {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let options = Options {
        stack_name: "bench".into(),
        watch_log: Some(std::env::temp_dir().join("tessera-bench-functions.log")),
        ..Options::default()
    };
    let devstack = Devstack::start(options).await.context("starting the devstack")?;
    let through_gateway = format!("{}/health", devstack.http_url);
    let direct = format!("{}/lambda-url/health/health", devstack.lambda_endpoint);

    // Warm every function instance on both paths before measuring.
    for url in [&direct, &through_gateway] {
        load(url, concurrency, Duration::from_secs(2)).await?;
    }
    let direct_figures = load(&direct, concurrency, Duration::from_secs(seconds)).await?;
    let gateway_figures = load(&through_gateway, concurrency, Duration::from_secs(seconds)).await?;

    println!(
        "gateway overhead: GET /health, {concurrency} concurrent clients, {seconds} s each (debug function build)"
    );
    println!("{:<28} {:>10} {:>10} {:>10}", "path", "req/s", "p50 ms", "p99 ms");
    for (name, f) in [("direct (function URL)", &direct_figures), ("through the gateway", &gateway_figures)] {
        println!("{name:<28} {:>10.0} {:>10.2} {:>10.2}", f.requests_per_second, f.p50_ms, f.p99_ms);
    }
    println!(
        "{:<28} {:>10.2} {:>10.2} {:>10.2}",
        "ratio (gateway / direct)",
        gateway_figures.requests_per_second / direct_figures.requests_per_second,
        gateway_figures.p50_ms / direct_figures.p50_ms,
        gateway_figures.p99_ms / direct_figures.p99_ms
    );
    Ok(())
}

/// `concurrency` clients sending requests back to back for `duration`.
async fn load(url: &str, concurrency: usize, duration: Duration) -> anyhow::Result<Figures> {
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, stop, url) = (client.clone(), stop.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let response = client.get(&url).send().await?;
                    ensure!(response.status().is_success(), "{url} answered {}", response.status());
                    response.bytes().await?;
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
    Ok(Figures {
        requests_per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    })
}
