//! Starts a devstack once per test binary, on a runtime of its own (each
//! `#[tokio::test]` has its own runtime, which would stop it), and hands
//! tests what a client needs: URLs, tokens, and the stack's resources.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::SdkConfig;
use tessera_devstack::jwt::DevTokens;
use tessera_devstack::{Devstack, Options};
use tessera_testkit::Stack;
use tessera_testkit::workspace_root;

pub mod collab;

/// What tests see of a running devstack.
pub struct RunningDevstack {
    pub http_url: String,
    pub websocket_url: String,
    pub tokens: DevTokens,
    pub stack: Stack,
    /// Talks to the devstack's moto server.
    pub sdk: SdkConfig,
}

impl RunningDevstack {
    pub fn token(&self, user: &str, tier: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        self.tokens.issue(user, tier, &roles, Duration::from_secs(600))
    }

    /// The URL of a queue or the name of a table, by logical id.
    pub fn resource(&self, logical_id: &str) -> &str {
        self.stack.reference(logical_id)
    }
}

/// The devstack of `tests/fixtures/template.yaml`.
pub fn fixture_devstack() -> &'static RunningDevstack {
    static DEVSTACK: OnceLock<RunningDevstack> = OnceLock::new();
    DEVSTACK.get_or_init(|| start(workspace_root().join("tests/fixtures/template.yaml"), "fixtures", Vec::new()))
}

/// The devstack of the product's own `template.yaml`.
pub fn product_devstack() -> &'static RunningDevstack {
    static DEVSTACK: OnceLock<RunningDevstack> = OnceLock::new();
    DEVSTACK.get_or_init(|| start(workspace_root().join("template.yaml"), "product", Vec::new()))
}

/// The product's devstack with every rate limit raised out of reach, for
/// tests that send thousands of requests as one user.
pub fn roomy_product_devstack() -> &'static RunningDevstack {
    static DEVSTACK: OnceLock<RunningDevstack> = OnceLock::new();
    DEVSTACK.get_or_init(|| {
        let policies = tessera_testkit::rate_limits::roomy_policy_file().display().to_string();
        let environment = vec![("RATE_LIMIT_POLICY_FILE".to_owned(), policies)];
        start(workspace_root().join("template.yaml"), "roomy", environment)
    })
}

fn start(template: PathBuf, name: &str, environment: Vec<(String, String)>) -> RunningDevstack {
    let stack_name = format!("e2e-{name}-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("tessera-{stack_name}-functions.log"));
    let options = Options { template, stack_name, watch_log: Some(log), environment, ..Options::default() };
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let devstack = Devstack::start(options).await.expect("starting the devstack");
            let running = RunningDevstack {
                http_url: devstack.http_url.clone(),
                websocket_url: devstack.websocket_url.clone(),
                tokens: devstack.tokens.clone(),
                stack: devstack.stack.clone(),
                sdk: devstack.services.sdk_config(),
            };
            ready.send(running).expect("the test is waiting");
            // Serve until the test binary exits.
            std::future::pending::<()>().await;
            drop(devstack);
        });
    });
    started.recv().expect("the devstack thread started it")
}
