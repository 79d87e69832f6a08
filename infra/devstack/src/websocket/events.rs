//! The events API Gateway sends a WebSocket API's functions: the REQUEST
//! authorizer's, and the CONNECT, MESSAGE and DISCONNECT proxy events, with
//! the `requestContext` functions read their connection and caller from.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tessera_testkit::account::{ACCOUNT_ID, REGION};
use time::OffsetDateTime;

use super::connections::{ConnectionInfo, new_message_id};
use crate::plan::WebSocketPlan;

/// The upgrade request's headers and query, as `$connect` events carry them.
pub struct ConnectRequest<'a> {
    pub headers: &'a HeaderMap,
    /// In the order the client sent them; a name may repeat.
    pub query: &'a [(String, String)],
}

/// A client's message: text frames as they are, binary ones base64-encoded.
#[derive(Debug, Clone)]
pub enum InboundMessage {
    Text(String),
    Binary(bytes::Bytes),
}

/// Why a connection ended: `disconnectStatusCode` and `disconnectReason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnection {
    pub status_code: u16,
    pub reason: String,
}

/// The ARN the authorizer's policy must allow: `$connect` of this stage.
pub fn connect_method_arn(api: &WebSocketPlan) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{}/{}/$connect", api.api, api.stage)
}

/// The REQUEST authorizer's event.
pub fn authorizer_request(
    api: &WebSocketPlan,
    connection: &ConnectionInfo,
    request: &ConnectRequest,
    request_id: &str,
) -> Value {
    let mut event = Map::new();
    event.insert("type".into(), "REQUEST".into());
    event.insert("methodArn".into(), connect_method_arn(api).into());
    insert_request(&mut event, request);
    event.insert("stageVariables".into(), json!({}));
    let context = request_context(api, connection, "$connect", "CONNECT", request_id);
    event.insert("requestContext".into(), context.into());
    event.into()
}

/// `$connect`'s event: the upgrade request, and who the authorizer said the
/// caller is.
pub fn connect(api: &WebSocketPlan, connection: &ConnectionInfo, request: &ConnectRequest, request_id: &str) -> Value {
    let mut event = Map::new();
    insert_request(&mut event, request);
    let context = request_context(api, connection, "$connect", "CONNECT", request_id);
    event.insert("requestContext".into(), context.into());
    event.insert("isBase64Encoded".into(), false.into());
    event.into()
}

/// A routed message's event.
pub fn message(
    api: &WebSocketPlan,
    connection: &ConnectionInfo,
    route_key: &str,
    message: &InboundMessage,
    request_id: &str,
) -> Value {
    let mut context = request_context(api, connection, route_key, "MESSAGE", request_id);
    context.insert("messageId".into(), new_message_id().into());
    let (body, base64) = match message {
        InboundMessage::Text(text) => (text.clone(), false),
        InboundMessage::Binary(bytes) => (STANDARD.encode(bytes), true),
    };
    json!({ "requestContext": context, "body": body, "isBase64Encoded": base64 })
}

/// `$disconnect`'s event.
pub fn disconnect(api: &WebSocketPlan, connection: &ConnectionInfo, why: &Disconnection, request_id: &str) -> Value {
    let mut context = request_context(api, connection, "$disconnect", "DISCONNECT", request_id);
    context.insert("disconnectStatusCode".into(), why.status_code.into());
    context.insert("disconnectReason".into(), why.reason.clone().into());
    let host = json!({ "Host": connection.domain_name });
    json!({
        "headers": host,
        "multiValueHeaders": { "Host": [connection.domain_name] },
        "requestContext": context,
        "isBase64Encoded": false,
    })
}

/// What every event's `requestContext` holds.
fn request_context(
    api: &WebSocketPlan,
    connection: &ConnectionInfo,
    route_key: &str,
    event_type: &str,
    request_id: &str,
) -> Map<String, Value> {
    let now = OffsetDateTime::now_utc();
    let mut identity = Map::new();
    identity.insert("sourceIp".into(), connection.identity.source_ip.clone().into());
    if let Some(agent) = &connection.identity.user_agent {
        identity.insert("userAgent".into(), agent.clone().into());
    }
    let mut context = Map::new();
    context.insert("routeKey".into(), route_key.into());
    context.insert("eventType".into(), event_type.into());
    context.insert("extendedRequestId".into(), request_id.into());
    context.insert("requestTime".into(), clf_time(now).into());
    context.insert("messageDirection".into(), "IN".into());
    context.insert("stage".into(), api.stage.clone().into());
    context.insert("connectedAt".into(), epoch_millis(connection.connected_at).into());
    context.insert("requestTimeEpoch".into(), epoch_millis(now).into());
    context.insert("identity".into(), identity.into());
    context.insert("requestId".into(), request_id.into());
    context.insert("domainName".into(), connection.domain_name.clone().into());
    context.insert("connectionId".into(), connection.id.clone().into());
    context.insert("apiId".into(), api.api.clone().into());
    if let Some(authorizer) = &connection.authorizer {
        context.insert("authorizer".into(), authorizer.clone().into());
    }
    context
}

/// Headers and query string, single- and multi-valued, as API Gateway's
/// version 1.0 payloads carry them. API Gateway omits an empty query.
fn insert_request(event: &mut Map<String, Value>, request: &ConnectRequest) {
    let mut headers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in request.headers {
        if let Ok(value) = value.to_str() {
            headers.entry(name.as_str()).or_default().push(value);
        }
    }
    let (single, multi) = single_and_multi(headers);
    event.insert("headers".into(), single);
    event.insert("multiValueHeaders".into(), multi);

    if request.query.is_empty() {
        return;
    }
    let mut query: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in request.query {
        query.entry(name.as_str()).or_default().push(value.as_str());
    }
    let (single, multi) = single_and_multi(query);
    event.insert("queryStringParameters".into(), single);
    event.insert("multiValueQueryStringParameters".into(), multi);
}

/// The single-valued map keeps the last value, as API Gateway does.
fn single_and_multi(values: BTreeMap<&str, Vec<&str>>) -> (Value, Value) {
    let single: Map<String, Value> =
        values.iter().filter_map(|(name, all)| Some(((*name).to_owned(), (*all.last()?).into()))).collect();
    let multi: Map<String, Value> = values.into_iter().map(|(name, all)| (name.to_owned(), json!(all))).collect();
    (single.into(), multi.into())
}

pub fn epoch_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `requestTime` in API Gateway's common log format: `09/Feb/2024:12:00:00 +0000`.
fn clf_time(at: OffsetDateTime) -> String {
    let month = at.month().to_string();
    let month = month.get(..3).unwrap_or(&month);
    format!("{:02}/{month}/{}:{:02}:{:02}:{:02} +0000", at.day(), at.year(), at.hour(), at.minute(), at.second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_is_in_common_log_format() {
        let at = OffsetDateTime::from_unix_timestamp(1_707_480_000).unwrap();

        assert_eq!(clf_time(at), "09/Feb/2024:12:00:00 +0000");
    }

    #[test]
    fn a_repeated_query_parameter_keeps_its_last_value_and_all_values() {
        let headers = HeaderMap::new();
        let query = [("tag".to_owned(), "a".to_owned()), ("tag".to_owned(), "b".to_owned())];
        let mut event = Map::new();

        insert_request(&mut event, &ConnectRequest { headers: &headers, query: &query });

        assert_eq!(event["queryStringParameters"], json!({ "tag": "b" }));
        assert_eq!(event["multiValueQueryStringParameters"], json!({ "tag": ["a", "b"] }));
    }
}
