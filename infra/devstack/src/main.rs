//! `devstack [--template PATH] [--http-port N] [--websocket-port N]` runs
//! Tessera locally; `devstack token --user U [--tier T] [--roles a,b]`
//! prints a dev JWT for it. Ctrl-C stops everything started here.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tessera_devstack::jwt::DevTokens;
use tessera_devstack::{Devstack, Options, plan};
use tessera_testkit::{Stack, Template};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("token") {
        args.next();
        return print_token(args.collect());
    }
    let mut options = Options::default();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--template" => options.template = PathBuf::from(value()?),
            "--http-port" => options.http_port = value()?.parse()?,
            "--websocket-port" => options.websocket_port = value()?.parse()?,
            other => bail!("unknown argument {other}; see the comment at the top of infra/devstack/src/main.rs"),
        }
    }

    println!("devstack: starting moto server, redis-server and the template's resources ...");
    let devstack = Devstack::start(options).await?;
    banner(&devstack);
    stop_requested().await?;
    println!("\ndevstack: stopping");
    drop(devstack);
    // Exiting runs the hooks that stop the moto and redis servers.
    std::process::exit(0)
}

/// Ctrl-C or a `kill`: either way the functions and the servers stop too
/// (a process ended by a signal it does not handle runs no exit hooks).
async fn stop_requested() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

fn banner(devstack: &Devstack) {
    let services = devstack.services;
    println!();
    println!("  Tessera devstack (stack {})", devstack.stack.name);
    println!("  HTTP API        {}", devstack.http_url);
    if devstack.plan.websocket.is_some() {
        println!("  WebSocket API   {}", devstack.websocket_url);
    }
    println!("  AWS (moto)      {}", services.aws_endpoint);
    println!("  Redis           {}", services.redis_url);
    println!();
    for route in &devstack.plan.http.routes {
        let lock = if route.authorized { "token" } else { "public" };
        println!("  {:<36} {:<7} {}", route.route_key, lock, route.function);
    }
    println!();
    println!("  a token:  make token USER=alice TIER=pro ROLES=admin");
    println!("  then:     curl -H \"Authorization: Bearer $TOKEN\" {}/health/detailed", devstack.http_url);
    println!("  Ctrl-C stops everything started here.");
    println!();
}

/// Prints a token for the template's JWT authorizer; reads only the template.
fn print_token(args: Vec<String>) -> anyhow::Result<()> {
    let (mut user, mut tier, mut roles, mut template) =
        (None, "free".to_owned(), Vec::new(), tessera_testkit::workspace_root().join("template.yaml"));
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--user" => user = Some(value),
            "--tier" => tier = value,
            "--roles" => roles = value.split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect(),
            "--template" => template = PathBuf::from(value),
            other => bail!("unknown argument {other}"),
        }
    }
    let user = user.context("--user is required")?;
    let stack = Stack::unprovisioned(Template::load(&template)?, "token");
    let tokens = DevTokens::for_authorizer(plan::jwt_authorizer(&stack)?.as_ref());
    println!("{}", tokens.issue(&user, &tier, &roles, Duration::from_secs(12 * 3600)));
    Ok(())
}
