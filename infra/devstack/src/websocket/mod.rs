//! The WebSocket gateway: API Gateway's WebSocket API, emulated. Clients
//! connect on `/{stage}`; the `$connect` authorizer and route decide whether
//! the upgrade is accepted; each message is routed on the route selection
//! expression and handed to the route's function; functions answer through
//! the `@connections` management API on the same port; `$disconnect` runs
//! whoever closes the connection.

mod authorizer;
mod connections;
mod events;
mod handshake;
mod management;
mod policy;
mod routing;
mod session;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::lambda::{InvokeError, Lambda, log_invocation};
use crate::plan::{FunctionPlan, Plan, WebSocketPlan, WebSocketRoute};
use connections::Connections;

/// API Gateway's limits on a connection, as fields so that tests and tools
/// can shorten them; the defaults are API Gateway's own.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// A connection with no message either way for this long is closed.
    pub idle_timeout: Duration,
    /// No connection lives longer than this.
    pub max_connection_duration: Duration,
    /// The largest message a client or a function may send.
    pub max_message_bytes: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(10 * 60),
            max_connection_duration: Duration::from_secs(2 * 60 * 60),
            max_message_bytes: 128 * 1024,
        }
    }
}

/// The WebSocket API with API Gateway's default limits.
pub fn router(websocket: WebSocketPlan, plan: &Plan, lambda: Lambda) -> Router {
    router_with_config(websocket, plan.functions.clone(), lambda, GatewayConfig::default())
}

/// Connections on `/{stage}` and `/`; the management API on
/// `/{stage}/@connections/{id}` (where the SDK sends it, the stage being part
/// of the endpoint URL) and `/@connections/{id}`. `functions` are the
/// template's, by logical id.
pub fn router_with_config(
    websocket: WebSocketPlan,
    functions: BTreeMap<String, FunctionPlan>,
    lambda: Lambda,
    config: GatewayConfig,
) -> Router {
    let stage = websocket.stage.clone();
    let gateway = Arc::new(Gateway { websocket, functions, lambda, connections: Connections::default(), config });
    let management =
        get(management::get_connection).post(management::post_to_connection).delete(management::delete_connection);
    let mut router =
        Router::new().route("/", get(handshake::connect)).route("/@connections/{connection_id}", management.clone());
    if !stage.is_empty() {
        router = router
            .route(&format!("/{stage}"), get(handshake::connect))
            .route(&format!("/{stage}/@connections/{{connection_id}}"), management);
    }
    // The management API answers oversized posts itself, with the exception
    // the SDK knows; axum's own limit would answer first.
    router.layer(DefaultBodyLimit::max(MANAGEMENT_BODY_CAP)).with_state(gateway)
}

/// Serves the gateway on `listener`. The handshake needs the client's
/// address (`requestContext.identity.sourceIp`), which axum gives only to a
/// router served with connect info.
pub async fn serve(listener: TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}

/// Far above the 128 KB API Gateway accepts, so that a post between the two
/// gets API Gateway's answer rather than a bare 413.
const MANAGEMENT_BODY_CAP: usize = 16 * 1024 * 1024;

/// What every handler of the gateway shares.
pub(crate) struct Gateway {
    websocket: WebSocketPlan,
    functions: BTreeMap<String, FunctionPlan>,
    lambda: Lambda,
    connections: Connections,
    config: GatewayConfig,
}

/// A function did not answer with a value: it failed, timed out, or could
/// not be reached. The client sees the same thing in each case, as with API
/// Gateway; the cause goes to the log line.
#[derive(Debug)]
pub(crate) struct InvocationFailed;

impl Gateway {
    fn route(&self, route_key: &str) -> Option<&WebSocketRoute> {
        self.websocket.routes.get(route_key)
    }

    /// Invokes a function of the template with `event`, within its own
    /// timeout, and logs one line. `source` says why (`ws $connect`).
    async fn invoke(&self, function: &str, source: &str, event: &Value) -> Result<Value, InvocationFailed> {
        let Some(plan) = self.functions.get(function) else {
            log_invocation(function, source, "not a function of the template", Duration::ZERO);
            return Err(InvocationFailed);
        };
        match self.lambda.invoke_function(&plan.binary, event, plan.timeout).await {
            Ok(invocation) if invocation.function_error => {
                log_invocation(function, source, "error", invocation.duration);
                Err(InvocationFailed)
            }
            Ok(invocation) => {
                // An empty or non-JSON answer is no answer.
                let answer: Value = serde_json::from_slice(&invocation.payload).unwrap_or(Value::Null);
                let status = answer.get("statusCode").and_then(Value::as_u64).unwrap_or(200);
                log_invocation(function, source, status, invocation.duration);
                Ok(answer)
            }
            Err(error) => {
                let (status, waited) = match &error {
                    InvokeError::Timeout(waited) => ("timeout".to_owned(), *waited),
                    other => (format!("error: {other}"), Duration::ZERO),
                };
                log_invocation(function, source, status, waited);
                Err(InvocationFailed)
            }
        }
    }
}
