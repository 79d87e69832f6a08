//! What the devstack runs, read from `template.yaml`: functions and their
//! environment, HTTP API routes, the WebSocket API, and the SQS and DynamoDB
//! Streams event sources. Whatever the template uses that the devstack does
//! not emulate is collected in `unsupported`, to be reported at start-up.

mod filter;
mod reader;
#[cfg(test)]
mod tests;
mod websocket;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::anyhow;
use serde_yaml::Value;

pub use filter::EventFilter;
use reader::Reader;
use tessera_testkit::Stack;

/// API Gateway's default and maximum wait for an HTTP API integration.
const HTTP_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Lambda's default when the template sets no ScalingConfig: the SQS poller
/// starts with five concurrent batches.
const DEFAULT_QUEUE_CONCURRENCY: usize = 5;

#[derive(Debug, Clone)]
pub struct Plan {
    /// By logical id.
    pub functions: BTreeMap<String, FunctionPlan>,
    pub http: HttpApiPlan,
    pub websocket: Option<WebSocketPlan>,
    pub queues: Vec<QueueSource>,
    pub streams: Vec<StreamSource>,
    pub unsupported: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FunctionPlan {
    pub binary: String,
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct HttpApiPlan {
    pub routes: Vec<HttpRoute>,
    pub jwt: Option<JwtAuthorizer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// `GET /projects/{projectId}`, `ANY /files/{proxy+}` or `$default`.
    pub route_key: String,
    /// `None` matches any method.
    pub method: Option<String>,
    /// `None` for `$default`.
    pub path: Option<String>,
    pub function: String,
    pub authorized: bool,
    /// How long API Gateway waits for the function (`TimeoutInMillis`).
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuthorizer {
    pub issuer: String,
    pub audiences: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct WebSocketPlan {
    /// The API's logical id.
    pub api: String,
    pub stage: String,
    /// `$request.body.action` selects on the `action` field: the JSON path
    /// after `$request.body.`.
    pub selection_field: String,
    /// By route key (`$connect`, `$disconnect`, `$default`, `sendMessage`).
    pub routes: BTreeMap<String, WebSocketRoute>,
    pub authorizer: Option<WebSocketAuthorizer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketRoute {
    pub function: String,
    /// With a route response, the function's answer goes back to the client.
    pub two_way: bool,
    pub authorized: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketAuthorizer {
    pub function: String,
    /// `route.request.querystring.token`, `route.request.header.Authorization`.
    pub identity_sources: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct QueueSource {
    pub function: String,
    pub queue: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub max_concurrency: usize,
    pub report_batch_item_failures: bool,
    /// Messages it does not match are deleted unseen (`FilterCriteria`).
    pub filter: EventFilter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

#[derive(Debug, Clone)]
pub struct StreamSource {
    pub function: String,
    pub table: String,
    pub stream_arn: String,
    pub batch_size: usize,
    pub starting_position: StartingPosition,
    /// `None` retries until the records expire, as Lambda's default does.
    pub max_retries: Option<u32>,
    pub report_batch_item_failures: bool,
    /// Records it does not match are skipped (`FilterCriteria`).
    pub filter: EventFilter,
}

/// Resource types the devstack emulates, or knows it can leave to AWS.
const EMULATED: [&str; 8] = [
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Authorizer",
];
/// Resource types with no local behaviour (permissions, deployments, logs).
const IRRELEVANT_LOCALLY: [&str; 6] = [
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Alarm",
];

impl Plan {
    /// Reads the plan of a provisioned stack. `local_urls` maps an API's
    /// logical id to the local URL that stands for its execute-api endpoint,
    /// so that environment variables naming it reach the devstack instead.
    pub fn read(stack: &Stack, local_urls: &HashMap<String, String>) -> anyhow::Result<Self> {
        let reader = Reader::new(stack, local_urls);
        let mut plan = Plan {
            functions: BTreeMap::new(),
            http: HttpApiPlan::default(),
            websocket: None,
            queues: Vec::new(),
            streams: Vec::new(),
            unsupported: Vec::new(),
        };
        for (id, kind, _) in stack.template.resources() {
            if !EMULATED.contains(&kind) && !IRRELEVANT_LOCALLY.contains(&kind) {
                plan.unsupported.push(format!("{id}: resource type {kind} is not emulated"));
            }
        }
        plan.http.jwt = reader.jwt_authorizer(&mut plan.unsupported)?;
        for function in stack.template.functions()? {
            let id = function.logical_id;
            let properties = reader.resolved_properties(&id)?;
            plan.functions.insert(
                id.clone(),
                FunctionPlan {
                    binary: function.binary,
                    environment: reader.environment(&id)?,
                    timeout: Duration::from_secs(reader.timeout_seconds(&id)),
                },
            );
            let events = properties.get("Events").and_then(Value::as_mapping).cloned().unwrap_or_default();
            for (name, event) in &events {
                let name = format!("{id}.{}", name.as_str().unwrap_or_default());
                let kind = event.get("Type").and_then(Value::as_str).unwrap_or_default();
                let props = event.get("Properties").cloned().unwrap_or(Value::Null);
                match kind {
                    "HttpApi" => {
                        let route =
                            reader.http_route(&id, &name, &props, plan.http.jwt.is_some(), &mut plan.unsupported);
                        plan.http.routes.push(route);
                    }
                    "SQS" => plan.queues.push(reader.queue_source(&id, &name, &props, &mut plan.unsupported)?),
                    "DynamoDB" => plan.streams.push(reader.stream_source(&id, &name, &props, &mut plan.unsupported)?),
                    other => plan.unsupported.push(format!("{name}: event type {other} is not emulated")),
                }
            }
        }
        plan.websocket = reader.websocket(&mut plan.unsupported)?;
        Ok(plan)
    }

    pub fn function(&self, logical_id: &str) -> anyhow::Result<&FunctionPlan> {
        self.functions.get(logical_id).ok_or_else(|| anyhow!("{logical_id} is not a function of the template"))
    }
}

/// The HTTP API's JWT authorizer alone, for issuing tokens without
/// provisioning anything.
pub fn jwt_authorizer(stack: &Stack) -> anyhow::Result<Option<JwtAuthorizer>> {
    Reader::new(stack, &HashMap::new()).jwt_authorizer(&mut Vec::new())
}
