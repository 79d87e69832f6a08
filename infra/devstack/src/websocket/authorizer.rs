//! The `$connect` REQUEST authorizer: checks the identity sources are there,
//! invokes the authorizer function, and evaluates the policy it returns.

use std::time::Instant;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::Gateway;
use super::connections::ConnectionInfo;
use super::events::{self, ConnectRequest};
use super::policy::{self, INVOKE_ACTION};

/// What `requestContext.authorizer` holds for the rest of the connection,
/// or `None` when `$connect` is not authorized.
pub type AuthorizerContext = Option<Map<String, Value>>;

/// Runs the authorizer if the `$connect` route asks for one. A refusal is
/// the status the client gets: 401 when an identity source is missing (the
/// authorizer is not invoked), 403 when the policy does not allow or the
/// authorizer fails, 500 when its context cannot be passed on.
pub async fn authorize(
    gateway: &Gateway,
    connection: &ConnectionInfo,
    request: &ConnectRequest<'_>,
    request_id: &str,
) -> Result<AuthorizerContext, StatusCode> {
    let authorized = gateway.route("$connect").is_some_and(|route| route.authorized);
    let Some(authorizer) = gateway.websocket.authorizer.as_ref().filter(|_| authorized) else {
        return Ok(None);
    };
    if authorizer.identity_sources.iter().any(|source| !identity_present(source, request)) {
        return Err(StatusCode::UNAUTHORIZED);
    }

    let event = events::authorizer_request(&gateway.websocket, connection, request, request_id);
    let started = Instant::now();
    let answer = gateway
        .invoke(&authorizer.function, "ws $connect authorizer", &event)
        .await
        .map_err(|_| StatusCode::FORBIDDEN)?;
    let resource = events::connect_method_arn(&gateway.websocket);
    let allowed = answer.get("policyDocument").is_some_and(|policy| policy::allows(policy, INVOKE_ACTION, &resource));
    if !allowed {
        return Err(StatusCode::FORBIDDEN);
    }

    let mut context = Map::new();
    if let Some(returned) = answer.get("context").and_then(Value::as_object) {
        for (key, value) in returned {
            // API Gateway passes on strings, numbers and booleans only, and
            // fails the request when the context holds anything else.
            if value.is_object() || value.is_array() {
                return Err(StatusCode::INTERNAL_SERVER_ERROR);
            }
            context.insert(key.clone(), value.clone());
        }
    }
    let principal = answer.get("principalId").cloned().unwrap_or(Value::Null);
    context.insert("principalId".into(), principal);
    let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    context.insert("integrationLatency".into(), latency.into());
    Ok(Some(context))
}

/// Whether an identity source (`route.request.header.Authorization`,
/// `route.request.querystring.token`) has a non-empty value. Sources the
/// devstack does not know (stage variables, context) count as present.
fn identity_present(source: &str, request: &ConnectRequest) -> bool {
    if let Some(name) = source.strip_prefix("route.request.header.") {
        header_present(request.headers, name)
    } else if let Some(name) = source.strip_prefix("route.request.querystring.") {
        request.query.iter().any(|(key, value)| key == name && !value.is_empty())
    } else {
        true
    }
}

fn header_present(headers: &HeaderMap, name: &str) -> bool {
    headers.get_all(name).iter().any(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_identity_source_needs_a_non_empty_parameter() {
        let headers = HeaderMap::new();
        let present = [("token".to_owned(), "good-alice".to_owned())];
        let empty = [("token".to_owned(), String::new())];

        let source = "route.request.querystring.token";
        assert!(identity_present(source, &ConnectRequest { headers: &headers, query: &present }));
        assert!(!identity_present(source, &ConnectRequest { headers: &headers, query: &empty }));
        assert!(!identity_present(source, &ConnectRequest { headers: &headers, query: &[] }));
    }

    #[test]
    fn a_header_identity_source_ignores_case() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer x".parse().unwrap());

        let request = ConnectRequest { headers: &headers, query: &[] };
        assert!(identity_present("route.request.header.Authorization", &request));
        assert!(!identity_present("route.request.header.X-Api-Key", &request));
    }
}
