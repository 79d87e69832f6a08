//! `cargo lambda watch` as a child process: it runs every function binary
//! and serves the Lambda invoke API the gateways and pollers call.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tessera_testkit::LocalServices;
use tessera_testkit::services::{self, free_port};
use tessera_testkit::workspace_root;
use tokio::process::{Child, Command};

use crate::plan::Plan;
use crate::{FIRST_BUILD_PATIENCE, Options};

pub struct Watch {
    child: Child,
    pub endpoint: String,
    env_file: PathBuf,
}

impl Watch {
    /// Builds the functions, then starts `cargo lambda watch` with their
    /// environment and waits until its invoke API answers.
    pub async fn start(
        stack_name: &str,
        plan: &Plan,
        services: &LocalServices,
        options: &Options,
    ) -> anyhow::Result<Self> {
        let root = workspace_root();
        let binaries: Vec<&str> = plan.functions.values().map(|f| f.binary.as_str()).collect();
        println!("devstack: building {} (the first build can take a few minutes) ...", binaries.join(", "));
        let mut build = Command::new("cargo");
        build.arg("build").current_dir(&root);
        if options.release {
            build.arg("--release");
        }
        for binary in &binaries {
            build.args(["--bin", binary]);
        }
        let status =
            tokio::time::timeout(FIRST_BUILD_PATIENCE, build.status()).await.context("building the functions")??;
        if !status.success() {
            bail!("building the functions failed ({status})");
        }

        // One file per stack: a process may run several devstacks.
        let env_file = root.join(".devstack").join(format!("{stack_name}.env"));
        std::fs::create_dir_all(env_file.parent().expect("a parent"))?;
        std::fs::write(&env_file, environment_file(plan, services, &options.environment)?)?;

        let port = free_port()?;
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
            // Lambda runs concurrent requests in separate instances; so does the devstack.
            .args(["--concurrency", &instances_per_function(plan).to_string()])
            // A benchmark measures the build it started with: no reload on edits.
            .args(options.release.then_some(["--release", "--ignore-changes"]).into_iter().flatten())
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(&root)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            // Its own process group, so stopping it stops the functions it runs.
            .process_group(0);
        if let Some(log) = &options.watch_log {
            let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        let child = command.spawn().context("starting `cargo lambda watch` (run `make install`)")?;
        // Stopped on drop, and at exit when the devstack is never dropped
        // (a test binary's, or one ended by Ctrl-C).
        if let Some(pid) = child.id() {
            services::stop_process_group_at_exit(pid);
        }
        let watch = Self { child, endpoint: format!("http://127.0.0.1:{port}"), env_file };
        wait_for_port(port, Duration::from_secs(60)).await?;
        Ok(watch)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: signals the process group this devstack created.
            unsafe {
                libc::killpg(pid as libc::pid_t, libc::SIGTERM);
            }
            services::forget_process_group(pid);
        }
        let _ = std::fs::remove_file(&self.env_file);
    }
}

/// Every function's environment, plus what reaches the local services and
/// the caller's overrides. `cargo lambda watch` takes one environment for
/// all functions, so two functions may not give one variable different values.
fn environment_file(plan: &Plan, services: &LocalServices, overrides: &[(String, String)]) -> anyhow::Result<String> {
    let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (id, function) in &plan.functions {
        for (name, value) in &function.environment {
            if let Some((other, existing)) = merged.get(name)
                && existing != value
            {
                bail!("{id} and {other} set {name} differently; the devstack gives all functions one environment");
            }
            merged.insert(name.clone(), (id.clone(), value.clone()));
        }
    }
    let local = services.function_environment().into_iter().chain([crate::jwt::function_environment()]);
    for (name, value) in local.chain(overrides.iter().cloned()) {
        merged.insert(name, (String::new(), value));
    }
    Ok(merged.iter().map(|(name, (_, value))| format!("{name}={value}\n")).collect())
}

/// Enough instances for a burst of HTTP requests and for the largest
/// `MaximumConcurrency` of an event source.
fn instances_per_function(plan: &Plan) -> usize {
    plan.queues.iter().map(|q| q.max_concurrency).max().unwrap_or(0).max(8)
}

async fn wait_for_port(port: u16, patience: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while tokio::net::TcpStream::connect(address).await.is_err() {
        if Instant::now() > deadline {
            bail!("cargo lambda watch did not listen on {port} within {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
