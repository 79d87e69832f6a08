//! The local stack: moto server and redis-server, the resources
//! `template.yaml` declares, and every function under `cargo lambda watch`,
//! configured with the environment the template gives it.
//!
//! Ctrl-C stops what this started, and nothing else.

use std::collections::BTreeMap;
use std::collections::HashMap;

use anyhow::{Context as _, bail};
use tessera_testkit::services::free_port;
use tessera_testkit::template::workspace_root;
use tessera_testkit::{LocalServices, Stack, Template};

const STACK_NAME: &str = "tessera-local";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("devstack: starting moto server and redis-server ...");
    let services = LocalServices::shared();
    let parameters = HashMap::from([("RedisUrl".to_owned(), services.redis_url.clone())]);
    let stack = Stack::provision(Template::workspace()?, STACK_NAME, parameters, &services.sdk_config())
        .await
        .context("creating the template's tables and queues")?;

    let env_file = workspace_root().join(".devstack/functions.env");
    std::fs::create_dir_all(env_file.parent().expect("a parent"))?;
    std::fs::write(&env_file, functions_environment(&stack, services)?)?;

    let port = free_port()?;
    let functions = stack.template.functions()?;
    banner(services, &stack, port, &functions.iter().map(|f| f.binary.as_str()).collect::<Vec<_>>());

    let mut watch = tokio::process::Command::new("cargo")
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
        .arg("--env-file")
        .arg(&env_file)
        .current_dir(workspace_root())
        .kill_on_drop(true)
        .spawn()
        .context("starting `cargo lambda watch` (run `make install`)")?;

    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\ndevstack: stopping"),
        status = watch.wait() => println!("devstack: cargo lambda watch exited ({})", status?),
    }
    let _ = watch.kill().await;
    // Exiting runs the hooks that stop the moto and redis servers started above.
    std::process::exit(0)
}

/// Every function's template environment, resolved to the local stack, plus
/// what reaches the local services. `cargo lambda watch` takes one
/// environment for all functions, so two functions may not disagree.
fn functions_environment(stack: &Stack, services: &LocalServices) -> anyhow::Result<String> {
    let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
    for function in stack.template.functions()? {
        for (name, value) in stack.function_environment(&function.logical_id)? {
            match merged.get(&name) {
                Some((other, existing)) if *existing != value => {
                    bail!("{} and {other} set {name} differently; the devstack cannot run both", function.logical_id)
                }
                _ => {
                    merged.insert(name, (function.logical_id.clone(), value));
                }
            }
        }
    }
    let local = services.function_environment().into_iter().map(|(k, v)| (k, (String::new(), v)));
    merged.extend(local);
    Ok(merged.iter().map(|(name, (_, value))| format!("{name}={value}\n")).collect())
}

fn banner(services: &LocalServices, stack: &Stack, port: u16, binaries: &[&str]) {
    println!();
    println!("  Tessera devstack (stack {})", stack.name);
    println!("  AWS stand-in (moto)   {}", services.aws_endpoint);
    println!("  Redis                 {}", services.redis_url);
    for binary in binaries {
        println!("  function {binary:<12} http://127.0.0.1:{port}/lambda-url/{binary}/");
    }
    println!();
    println!("  try: curl http://127.0.0.1:{port}/lambda-url/health/health/ready");
    println!("  The first request builds the functions: that can take a few minutes.");
    println!("  Ctrl-C stops everything started here.");
    println!();
}
