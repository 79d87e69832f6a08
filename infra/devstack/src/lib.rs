//! The local gateway: runs the whole of Tessera on one machine from
//! `template.yaml`. It starts moto server and redis-server, creates the
//! template's tables and queues, runs the functions under `cargo lambda
//! watch`, and stands in for API Gateway (HTTP and WebSocket APIs) and for
//! Lambda's SQS and DynamoDB Streams pollers.

pub mod http_gateway;
pub mod jwt;
pub mod lambda;
pub mod plan;
pub mod pollers;
mod watch;
pub mod websocket;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tessera_testkit::{LocalServices, Stack, Template};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::lambda::Lambda;
use crate::plan::Plan;

/// How to start a devstack.
#[derive(Debug, Clone)]
pub struct Options {
    pub template: PathBuf,
    pub stack_name: String,
    /// 0 picks a free port.
    pub http_port: u16,
    pub websocket_port: u16,
    /// Where `cargo lambda watch` writes (function logs); `None` inherits.
    pub watch_log: Option<PathBuf>,
    /// Set for every function, over the template's environment (a test's
    /// own rate-limit policies, say).
    pub environment: Vec<(String, String)>,
    /// Runs the functions' release builds, not reloaded on edits (benchmarks).
    pub release: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            template: tessera_testkit::workspace_root().join("template.yaml"),
            stack_name: "tessera-local".into(),
            http_port: 0,
            websocket_port: 0,
            watch_log: None,
            environment: Vec::new(),
            release: false,
        }
    }
}

/// A running devstack. Dropping it stops the gateways, the pollers and
/// `cargo lambda watch`; moto and redis stop when the process exits.
pub struct Devstack {
    pub http_url: String,
    pub websocket_url: String,
    /// `cargo lambda watch`'s own endpoint (invoke API, function URLs).
    pub lambda_endpoint: String,
    pub plan: Plan,
    pub stack: Stack,
    pub services: &'static LocalServices,
    pub tokens: jwt::DevTokens,
    _watch: watch::Watch,
    _tasks: JoinSet<()>,
}

impl Devstack {
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        let services = LocalServices::shared();
        let template = Template::load(&options.template)?;
        let parameters = HashMap::from([("RedisUrl".to_owned(), services.redis_url.clone())]);
        let stack = Stack::provision(template, &options.stack_name, parameters, &services.sdk_config())
            .await
            .context("creating the template's tables and queues")?;

        let http_listener = TcpListener::bind(("127.0.0.1", options.http_port)).await?;
        let websocket_listener = TcpListener::bind(("127.0.0.1", options.websocket_port)).await?;
        let http_url = format!("http://{}", http_listener.local_addr()?);
        let websocket_base = format!("http://{}", websocket_listener.local_addr()?);
        let local_urls = local_api_urls(&stack, &http_url, &websocket_base);
        let plan = Plan::read(&stack, &local_urls)?;
        for problem in &plan.unsupported {
            println!("devstack: unsupported: {problem}");
        }

        let watch = watch::Watch::start(&stack.name, &plan, services, &options).await?;
        let lambda = Lambda::new(&watch.endpoint);
        let tokens = jwt::DevTokens::for_authorizer(plan.http.jwt.as_ref());
        let stage = plan.websocket.as_ref().map(|ws| ws.stage.clone()).unwrap_or_default();
        let websocket_url = format!("ws://{}/{stage}", websocket_listener.local_addr()?);

        let mut tasks = JoinSet::new();
        let http_app = http_gateway::router(&plan, lambda.clone(), tokens.clone());
        tasks.spawn(async move {
            let _ = axum::serve(http_listener, http_app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await;
        });
        if let Some(websocket) = &plan.websocket {
            let app = websocket::router(websocket.clone(), &plan, lambda.clone());
            tasks.spawn(async move {
                let _ =
                    axum::serve(websocket_listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                        .await;
            });
        }
        let sdk = services.sdk_config();
        for source in &plan.queues {
            let function = plan.function(&source.function)?;
            let poller = pollers::sqs::QueuePoller::new(source.clone(), function, lambda.clone(), &sdk);
            tasks.spawn(poller.run());
        }
        for source in &plan.streams {
            let function = plan.function(&source.function)?;
            let poller = pollers::streams::StreamPoller::new(source.clone(), function, lambda.clone(), &sdk);
            tasks.spawn(poller.run());
        }

        let lambda_endpoint = watch.endpoint.clone();
        Ok(Self {
            http_url,
            websocket_url,
            lambda_endpoint,
            plan,
            stack,
            services,
            tokens,
            _watch: watch,
            _tasks: tasks,
        })
    }
}

/// The local URL that stands for each API's execute-api endpoint.
fn local_api_urls(stack: &Stack, http_url: &str, websocket_url: &str) -> HashMap<String, String> {
    let mut urls = HashMap::new();
    for (id, kind, properties) in stack.template.resources() {
        let websocket = properties.get("ProtocolType").and_then(|p| p.as_str()) == Some("WEBSOCKET");
        match kind {
            "AWS::Serverless::HttpApi" => {
                urls.insert(id.to_owned(), http_url.to_owned());
            }
            "AWS::ApiGatewayV2::Api" if websocket => {
                urls.insert(id.to_owned(), websocket_url.to_owned());
            }
            _ => {}
        }
    }
    urls
}

/// How long the first build of the functions may take on a small machine.
pub const FIRST_BUILD_PATIENCE: Duration = Duration::from_secs(900);
