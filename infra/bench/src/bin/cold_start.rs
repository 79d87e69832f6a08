//! Cold-start benchmark: for every function binary in `template.yaml`, the
//! time from process start to its first request to the Lambda Runtime API,
//! beside a hello-world `lambda_runtime` function built with the same profile.
//!
//! A stub Runtime API on a loopback port takes the request and the process is
//! killed; runs are interleaved so that machine noise hits every binary alike.
//! Usage: `cold-start [target-dir]` (default `target/release`); `BENCH_RUNS`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tessera_testkit::Template;
use tessera_testkit::template::Resolver;
use tessera_testkit::workspace_root;

const BASELINE: &str = "hello-lambda";

struct Subject {
    binary: String,
    path: PathBuf,
    env: Vec<(String, String)>,
    samples: Vec<Duration>,
}

fn main() -> anyhow::Result<()> {
    let target = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target/release"));
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(25);
    let stub = TcpListener::bind("127.0.0.1:0")?;
    let runtime_api = stub.local_addr()?.to_string();

    let template = Template::workspace()?;
    let mut subjects = vec![subject(&target, BASELINE, Vec::new())?];
    let resources = template.placeholder_resources();
    let parameters = template.parameter_defaults();
    let resolver = Resolver {
        template: &template,
        stack_name: "bench",
        region: "us-east-1",
        account_id: "123456789012",
        parameters: &parameters,
        resources: &resources,
    };
    for function in template.functions()? {
        let env = template
            .function_environment(&function.logical_id)?
            .iter()
            .map(|(k, v)| Ok((k.as_str().unwrap_or_default().to_owned(), resolver.resolve_string(v)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        subjects.push(subject(&target, &function.binary, env)?);
    }

    for _ in 0..runs {
        for subject in &mut subjects {
            let sample = time_to_first_request(subject, &stub, &runtime_api)?;
            subject.samples.push(sample);
        }
    }
    report(&mut subjects, runs)
}

fn subject(target: &Path, binary: &str, env: Vec<(String, String)>) -> anyhow::Result<Subject> {
    let path = target.join(binary);
    if !path.exists() {
        bail!("{} is not built: run `make bench` builds it", path.display());
    }
    Ok(Subject { binary: binary.to_owned(), path, env, samples: Vec::new() })
}

/// Starts the binary as Lambda would and waits for its `invocation/next`.
fn time_to_first_request(subject: &Subject, stub: &TcpListener, runtime_api: &str) -> anyhow::Result<Duration> {
    let lambda_env = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", subject.binary.as_str()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
    ];
    let started = Instant::now();
    let mut child = Command::new(&subject.path)
        .env_clear()
        .envs(lambda_env)
        .envs(subject.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", subject.path.display()))?;
    let outcome = accept_request_line(stub, Duration::from_secs(10));
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let line = outcome.with_context(|| format!("{} made no Runtime API request", subject.binary))?;
    if !line.starts_with("GET /2018-06-01/runtime/invocation/next") {
        bail!("{} asked the Runtime API for {line:?}", subject.binary);
    }
    Ok(elapsed)
}

/// The first request line of the next connection, waiting at most `patience`.
fn accept_request_line(stub: &TcpListener, patience: Duration) -> anyhow::Result<String> {
    let mut poll = libc::pollfd { fd: stub.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for a listening socket this function borrows.
    let ready = unsafe { libc::poll(&mut poll, 1, patience.as_millis() as libc::c_int) };
    if ready <= 0 {
        bail!("no connection within {patience:?}");
    }
    let (stream, _) = stub.accept()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line)
}

fn report(subjects: &mut [Subject], runs: usize) -> anyhow::Result<()> {
    let medians: HashMap<String, f64> =
        subjects.iter_mut().map(|s| (s.binary.clone(), median_ms(&mut s.samples))).collect();
    let baseline = medians[BASELINE];
    println!("cold start: process start to first Runtime API request, median of {runs} runs (release profile)");
    println!("{:<16} {:>10} {:>10} {:>16}", "binary", "median ms", "ratio", "stripped size");
    for subject in subjects.iter() {
        let median = medians[&subject.binary];
        let size = std::fs::metadata(&subject.path)?.len() as f64 / (1024.0 * 1024.0);
        println!("{:<16} {:>10.2} {:>10.2} {:>12.1} MiB", subject.binary, median, median / baseline, size);
    }
    Ok(())
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}
