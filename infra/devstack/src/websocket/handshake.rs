//! The upgrade request: authorizer, then the `$connect` route, then the
//! upgrade. As in API Gateway, the client gets its 101 only once both have
//! said yes; otherwise it gets their status and no connection.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::Gateway;
use super::authorizer::authorize;
use super::connections::{Connection, ConnectionInfo, Identity, new_connection_id, new_request_id};
use super::events::{self, ConnectRequest};
use super::session;

/// Messages queued for one socket's writer before senders wait.
const OUTBOX_CAPACITY: usize = 64;

pub async fn connect(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let request = ConnectRequest { headers: &headers, query: &query };
    let header_text = |name| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let mut info = ConnectionInfo {
        id: new_connection_id(),
        connected_at: OffsetDateTime::now_utc(),
        identity: Identity { source_ip: peer.ip().to_string(), user_agent: header_text(header::USER_AGENT) },
        domain_name: header_text(header::HOST).unwrap_or_else(|| "localhost".into()),
        authorizer: None,
    };
    let request_id = new_request_id();

    info.authorizer = match authorize(&gateway, &info, &request, &request_id).await {
        Ok(context) => context,
        Err(status) => return refusal(status),
    };

    let mut subprotocol = None;
    if let Some(route) = gateway.route("$connect") {
        let event = events::connect(&gateway.websocket, &info, &request, &request_id);
        let Ok(answer) = gateway.invoke(&route.function, "ws $connect", &event).await else {
            return refusal(StatusCode::INTERNAL_SERVER_ERROR);
        };
        // A proxy answer without a status code counts as success.
        let status = answer.get("statusCode").and_then(Value::as_u64).unwrap_or(200);
        let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok());
        match status {
            Some(status) if status.is_success() => {}
            Some(status) => return refusal(status),
            None => return refusal(StatusCode::BAD_GATEWAY),
        }
        // The function chooses among the client's subprotocols, if it offered any.
        // Header names are case-insensitive (`http::HeaderMap` sends them lower case).
        subprotocol = answer
            .get("headers")
            .and_then(Value::as_object)
            .and_then(|headers| headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-protocol")))
            .and_then(|(_, value)| value.as_str())
            .map(str::to_owned);
    }

    let (outbox, outgoing) = mpsc::channel(OUTBOX_CAPACITY);
    let connection = Arc::new(Connection::new(info, outbox));
    let upgrade = match subprotocol {
        Some(protocol) => upgrade.protocols([protocol]),
        None => upgrade,
    };
    upgrade.on_upgrade(move |socket| session::run(gateway, socket, connection, outgoing))
}

/// API Gateway's answer to an upgrade it refuses.
fn refusal(status: StatusCode) -> Response {
    let message = match status {
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::INTERNAL_SERVER_ERROR => "Internal server error",
        other => other.canonical_reason().unwrap_or("Refused"),
    };
    (status, Json(json!({ "message": message }))).into_response()
}
