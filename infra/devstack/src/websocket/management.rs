//! The `@connections` management API functions call to reach clients:
//! post a message, read a connection's identity, or close it. Answers and
//! errors are shaped so that aws-sdk-apigatewaymanagement reads them as it
//! reads API Gateway's (`GoneException` for a connection that is not there).
//! Signatures are not checked.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Gateway;
use super::connections::{Connection, Outgoing};

/// The close code a connection deleted through the management API gets.
const DELETED: u16 = 1000;

/// `POST @connections/{id}`: the body goes to the client, as a text frame
/// if it is UTF-8 and as a binary frame otherwise.
pub async fn post_to_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(connection_id): Path<String>,
    body: Bytes,
) -> Response {
    if body.len() > gateway.config.max_message_bytes {
        return exception(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException", "Message too long");
    }
    let Some(connection) = gateway.connections.get(&connection_id) else { return gone() };
    let message = match String::from_utf8(body.to_vec()) {
        Ok(text) => Outgoing::Text(text),
        Err(_) => Outgoing::Binary(body),
    };
    match connection.send(message).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => gone(),
    }
}

/// `GET @connections/{id}`: when it connected, when it was last active, and
/// who it is. The field names are those on the wire (the SDK reads them).
pub async fn get_connection(State(gateway): State<Arc<Gateway>>, Path(connection_id): Path<String>) -> Response {
    let Some(connection) = gateway.connections.get(&connection_id) else { return gone() };
    Json(description(&connection)).into_response()
}

/// `DELETE @connections/{id}`: closes the connection; `$disconnect` follows.
pub async fn delete_connection(State(gateway): State<Arc<Gateway>>, Path(connection_id): Path<String>) -> Response {
    let Some(connection) = gateway.connections.remove(&connection_id) else { return gone() };
    let close = Outgoing::Close { code: DELETED, reason: "Connection deleted" };
    match connection.send(close).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
}

fn description(connection: &Connection) -> Value {
    let identity = &connection.info.identity;
    json!({
        "connectedAt": iso_8601(connection.info.connected_at),
        "lastActiveAt": iso_8601(connection.last_active_at()),
        "identity": { "sourceIp": identity.source_ip, "userAgent": identity.user_agent },
    })
}

/// Millisecond precision, as API Gateway answers.
fn iso_8601(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(at.millisecond() as u32 * 1_000_000).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

/// 410: the connection is not there (never was, or closed).
fn gone() -> Response {
    exception(StatusCode::GONE, "GoneException", "GoneException")
}

/// An error the SDK maps to its typed exception by the `x-amzn-errortype`
/// header (and, failing that, by `__type` in the body).
fn exception(status: StatusCode, kind: &'static str, message: &str) -> Response {
    let header = (HeaderName::from_static("x-amzn-errortype"), kind);
    (status, [header], Json(json!({ "__type": kind, "message": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_to_the_millisecond() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_707_480_000_123_456_789).unwrap();

        assert_eq!(iso_8601(at), "2024-02-09T12:00:00.123Z");
    }
}
