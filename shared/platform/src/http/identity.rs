//! The caller's identity, as an axum extractor.
//!
//! API Gateway's JWT authorizer has already verified the token; its claims
//! arrive in the request context, which `lambda_http` keeps in the request's
//! extensions. Functions never look at the `Authorization` header.

use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::Extensions;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use tessera_core::{Identity, IdentityError};

use super::ApiError;

/// The verified caller. Extracting it fails with 401 when the request has no
/// verified identity or its claims are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Identity);

impl Deref for Caller {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        identity_from(&parts.extensions).map(Caller).map_err(|err| ApiError::Unauthorized(err.to_string()))
    }
}

/// `Option<Caller>` is `None` on public routes, but still refuses bad claims.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, ApiError> {
        match identity_from(&parts.extensions) {
            Ok(identity) => Ok(Some(Caller(identity))),
            Err(IdentityError::Missing) => Ok(None),
            Err(err) => Err(ApiError::Unauthorized(err.to_string())),
        }
    }
}

pub(crate) fn identity_from(extensions: &Extensions) -> Result<Identity, IdentityError> {
    let Some(RequestContext::ApiGatewayV2(context)) = extensions.get::<RequestContext>() else {
        return Err(IdentityError::Missing);
    };
    let claims = context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .map(|jwt| &jwt.claims)
        .ok_or(IdentityError::Missing)?;
    let claim = |name: &str| claims.get(name).map(String::as_str);
    Identity::from_claims(claim("sub"), claim("tier"), claim("roles"), context.http.source_ip.as_deref())
}

/// The client's address as API Gateway saw it, with or without identity.
pub(crate) fn source_ip(extensions: &Extensions) -> Option<std::net::IpAddr> {
    match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}

/// The id API Gateway gave this request, when there is one.
pub fn gateway_request_id(extensions: &Extensions) -> Option<&str> {
    match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::{Value, json};
    use tessera_core::{Role, Tier};

    /// A request exactly as `lambda_http` builds it from an HTTP API event.
    fn parts_with(authorizer: Value) -> Parts {
        let event = json!({
            "version": "2.0",
            "routeKey": "GET /health/detailed",
            "rawPath": "/health/detailed",
            "rawQueryString": "",
            "headers": {"host": "api.example.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.com",
                "http": {"method": "GET", "path": "/health/detailed", "protocol": "HTTP/1.1",
                         "sourceIp": "198.51.100.4", "userAgent": "test"},
                "requestId": "req-1",
                "routeKey": "GET /health/detailed",
                "stage": "$default",
                "time": "23/Nov/2026:10:00:00 +0000",
                "timeEpoch": 0,
                "authorizer": authorizer,
            },
            "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        request.into_parts().0
    }

    fn jwt(claims: Value) -> Value {
        json!({"jwt": {"claims": claims, "scopes": null}})
    }

    async fn extract(authorizer: Value) -> Result<Caller, ApiError> {
        let mut parts = parts_with(authorizer);
        <Caller as FromRequestParts<()>>::from_request_parts(&mut parts, &()).await
    }

    fn status_of(err: ApiError) -> StatusCode {
        err.problem().status
    }

    #[tokio::test]
    async fn verified_claims_become_the_caller() {
        let caller = extract(jwt(json!({"sub": "alice", "tier": "enterprise", "roles": "[admin]"}))).await.unwrap();
        assert_eq!(caller.user_id.as_str(), "alice");
        assert_eq!(caller.tier, Tier::Enterprise);
        assert!(caller.has_role(Role::Admin));
        assert_eq!(caller.source_ip, Some("198.51.100.4".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_request_without_an_authorizer_context_is_401() {
        let err = extract(Value::Null).await.unwrap_err();
        assert_eq!(status_of(err), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn claims_without_a_subject_are_401() {
        let err = extract(jwt(json!({"tier": "pro"}))).await.unwrap_err();
        assert_eq!(status_of(err), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn an_unknown_tier_is_401_naming_the_tier() {
        let err = extract(jwt(json!({"sub": "bob", "tier": "gold"}))).await.unwrap_err();
        let problem = err.problem();
        assert_eq!(problem.status, StatusCode::UNAUTHORIZED);
        assert!(problem.detail.unwrap().contains("gold"));
    }

    #[tokio::test]
    async fn an_optional_caller_is_none_on_a_public_route_but_bad_claims_still_fail() {
        let mut public = parts_with(Value::Null);
        let none = <Caller as OptionalFromRequestParts<()>>::from_request_parts(&mut public, &()).await;
        assert_eq!(none.unwrap(), None);

        let mut bad = parts_with(jwt(json!({"sub": "bob", "tier": "gold"})));
        let refused = <Caller as OptionalFromRequestParts<()>>::from_request_parts(&mut bad, &()).await;
        assert_eq!(status_of(refused.unwrap_err()), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn the_gateway_request_id_is_read_from_the_context() {
        let parts = parts_with(Value::Null);
        assert_eq!(gateway_request_id(&parts.extensions), Some("req-1"));
    }
}
