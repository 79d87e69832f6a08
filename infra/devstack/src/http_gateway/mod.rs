//! The HTTP API as API Gateway serves it: the template's routes, its JWT
//! authorizer (verifying dev tokens), and the route's function invoked with
//! the payload 2.0 event, its answer passed back whole.

mod payload;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::json;

use crate::jwt::{DevTokens, flatten_claims};
use crate::lambda::{InvokeError, Lambda, log_invocation};
use crate::plan::Plan;
use routes::RouteTable;

/// API Gateway's HTTP API payload limit.
const PAYLOAD_LIMIT: usize = 10 * 1024 * 1024;

struct Gateway {
    routes: RouteTable,
    /// Logical id to binary.
    functions: HashMap<String, String>,
    lambda: Lambda,
    tokens: DevTokens,
}

pub fn router(plan: &Plan, lambda: Lambda, tokens: DevTokens) -> Router {
    let functions = plan.functions.iter().map(|(id, f)| (id.clone(), f.binary.clone())).collect();
    let gateway = Gateway { routes: RouteTable::new(plan.http.routes.clone()), functions, lambda, tokens };
    Router::new().fallback(serve).with_state(Arc::new(gateway))
}

async fn serve(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = ulid::Ulid::new().to_string();
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let label = format!("{method} {path}");
    let answer = |status: StatusCode, message: &str| {
        log_invocation("(gateway)", &label, status.as_u16(), started.elapsed());
        gateway_message(status, message, &request_id)
    };

    let Ok(body) = axum::body::to_bytes(body, PAYLOAD_LIMIT).await else {
        return answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let Some(matched) = gateway.routes.select(method, path) else {
        return answer(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = if matched.route.authorized {
        match bearer_token(&parts.headers).map(|token| gateway.tokens.verify(token)) {
            Some(Ok(claims)) => Some(flatten_claims(&claims)),
            _ => return answer(StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    } else {
        None
    };
    let Some(binary) = gateway.functions.get(&matched.route.function) else {
        return answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };

    let event = payload::event(&payload::Request {
        route_key: &matched.route.route_key,
        method,
        path,
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
        path_parameters: &matched.path_parameters,
        claims,
        source_ip: peer.ip(),
        request_id: &request_id,
    });
    let function = matched.route.function.as_str();
    let (response, status) = match gateway.lambda.invoke(binary, &event, matched.route.timeout).await {
        Ok(invocation) if !invocation.function_error => match payload::response(&invocation.payload) {
            Ok(response) => {
                let status = response.status().as_u16().to_string();
                (response, status)
            }
            Err(problem) => (
                gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", &request_id),
                format!("500 ({problem})"),
            ),
        },
        Ok(_) => (
            gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", &request_id),
            "500 (function error)".into(),
        ),
        Err(InvokeError::Timeout(after)) => (
            gateway_message(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout", &request_id),
            format!("504 (no answer within {after:?})"),
        ),
        Err(error) => (gateway_message(StatusCode::BAD_GATEWAY, "Bad Gateway", &request_id), format!("502 ({error})")),
    };
    log_invocation(function, &label, status, started.elapsed());
    let mut response = response;
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", id);
    }
    response
}

/// The authorizer reads the `Authorization` header, with or without `Bearer`.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value);
    (!token.is_empty()).then_some(token)
}

/// API Gateway's own error answers: `{"message": ...}`.
fn gateway_message(status: StatusCode, message: &str, request_id: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(json!({"message": message}).to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("apigw-requestid", id);
    }
    response
}
