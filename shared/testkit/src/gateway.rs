//! Requests shaped exactly as API Gateway's HTTP API hands them to a
//! function (payload format 2.0), converted by `lambda_http` itself, so that
//! a router under test sees what it sees in Lambda.

use serde_json::{Map, Value, json};

/// An HTTP API request, with or without verified JWT claims.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    method: &'static str,
    path: String,
    headers: Map<String, Value>,
    body: Option<String>,
    claims: Option<Map<String, Value>>,
    source_ip: String,
}

impl GatewayRequest {
    pub fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Map::new(),
            body: None,
            claims: None,
            source_ip: "198.51.100.10".into(),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    /// Claims as the JWT authorizer passes them (all strings; `roles` in API
    /// Gateway's flattened `[a b]` form).
    pub fn as_user(mut self, sub: &str, tier: &str, roles: &[&str]) -> Self {
        let mut claims = Map::new();
        claims.insert("sub".into(), sub.into());
        claims.insert("tier".into(), tier.into());
        if !roles.is_empty() {
            claims.insert("roles".into(), format!("[{}]", roles.join(" ")).into());
        }
        self.claims = Some(claims);
        self
    }

    /// The client's address API Gateway reports (`sourceIp`).
    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.to_owned();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    /// A body sent as it is, for malformed input.
    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    pub fn json_body(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }

    /// The event API Gateway would send.
    pub fn event(&self) -> Value {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let authorizer = self.claims.as_ref().map(|claims| json!({"jwt": {"claims": claims, "scopes": null}}));
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": self.headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {"method": self.method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": self.source_ip, "userAgent": "tessera-testkit"},
                "requestId": ulid::Ulid::new().to_string(),
                "routeKey": "$default",
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 0,
                "authorizer": authorizer,
            },
            "body": self.body,
            "isBase64Encoded": false,
        })
    }

    /// The request as `lambda_http` builds it from the event.
    pub fn into_request(self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.event().to_string()).expect("a well-formed API Gateway event")
    }
}
