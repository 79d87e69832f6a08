//! The ratelimit function's routes on a provisioned stack, with the shipped
//! policies, driven as API Gateway sends requests.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tessera_platform::config::Vars;
use tessera_ratelimit::{Config, router};
use tessera_testkit::{GatewayRequest, provision_stack};
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn app() -> Router {
    let stack = provision_stack().await;
    let config = Config::from_vars(&Vars::from_map(stack.function_environment("RateLimitFunction").unwrap())).unwrap();
    router(&config).unwrap()
}

async fn send(app: &Router, request: GatewayRequest) -> Answer {
    let response = app.clone().oneshot(request.into_request()).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Answer { status: parts.status, headers: parts.headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

fn admin(method: &'static str, path: &str) -> GatewayRequest {
    GatewayRequest::new(method, path).as_user("root", "free", &["admin"]).from_ip("192.0.2.1")
}

#[tokio::test]
async fn a_caller_sees_their_usage_of_every_rule_that_counts_them() {
    let app = app().await;
    let request = || GatewayRequest::get("/rate-limits").as_user("alice", "pro", &[]);
    send(&app, request()).await;
    let answer = send(&app, request()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["tier"], "pro");
    let rules = answer.body["rules"].as_array().unwrap();
    let api = rules.iter().find(|r| r["rule"] == "api-per-user").unwrap();
    assert_eq!((api["limit"].as_u64(), api["windowSeconds"].as_u64()), (Some(300), Some(60)));
    assert_eq!(api["remaining"], 298, "two requests so far, this one included");
    assert!(rules.iter().any(|r| r["rule"] == "api-per-ip" && r["limit"] == 1000));
    assert!(rules.iter().all(|r| r["scope"] != "connection"));
    assert!(answer.headers["ratelimit-policy"].to_str().unwrap().contains("\"api-per-user\";q=300;w=60"));
}

#[tokio::test]
async fn a_free_user_gets_429_after_exactly_their_limit() {
    let app = app().await;
    for n in 1..=60 {
        let answer = send(&app, GatewayRequest::get("/rate-limits").as_user("fran", "free", &[])).await;
        assert_eq!(answer.status, StatusCode::OK, "request {n}");
        assert_eq!(answer.headers["x-ratelimit-remaining"], (60 - n).to_string().as_str());
    }
    let denied = send(&app, GatewayRequest::get("/rate-limits").as_user("fran", "free", &[])).await;
    assert_eq!(denied.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(denied.headers["content-type"], "application/problem+json");
    assert_eq!(denied.body["rules"], json!(["api-per-user"]));
    let retry: u64 = denied.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(denied.headers["ratelimit"].to_str().unwrap().starts_with("\"api-per-user\";r=0;t="));
}

#[tokio::test]
async fn admin_routes_are_for_admins() {
    let app = app().await;
    for (method, path) in [
        ("GET", "/admin/rate-limits/policies"),
        ("GET", "/admin/rate-limits/blocks"),
        ("DELETE", "/admin/rate-limits/blocks/user/bob"),
    ] {
        let answer = send(&app, GatewayRequest::new(method, path).as_user("eve", "enterprise", &[])).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let policies = send(&app, admin("GET", "/admin/rate-limits/policies")).await;
    assert_eq!(policies.status, StatusCode::OK);
    assert_eq!(policies.body["tiers"], json!({"free": 1, "pro": 5, "enterprise": 20}));
}

#[tokio::test]
async fn an_admin_blocks_a_user_who_then_gets_429_until_unblocked() {
    let app = app().await;
    let blocked = send(
        &app,
        admin("PUT", "/admin/rate-limits/blocks/user/bob").json_body(&json!({"seconds": 900, "reason": "spam"})),
    )
    .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.body);
    assert_eq!((blocked.body["scope"].as_str(), blocked.body["key"].as_str()), (Some("user"), Some("bob")));

    let bob = send(&app, GatewayRequest::get("/rate-limits").as_user("bob", "free", &[])).await;
    assert_eq!(bob.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(bob.body["type"], "urn:tessera:problem:blocked");
    assert_eq!(bob.headers["retry-after"], "900");

    let listed = send(&app, admin("GET", "/admin/rate-limits/blocks")).await;
    assert_eq!(listed.body["blocks"][0]["reason"], "spam", "{}", listed.body);
    assert_eq!(send(&app, admin("DELETE", "/admin/rate-limits/blocks/user/bob")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, GatewayRequest::get("/rate-limits").as_user("bob", "free", &[])).await.status,
        StatusCode::OK
    );
    assert_eq!(send(&app, admin("DELETE", "/admin/rate-limits/blocks/user/bob")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_block_requests_are_400_and_sensitive_routes_allow_5_per_ip() {
    let app = app().await;
    let cases = [
        ("/admin/rate-limits/blocks/team/x", json!({"seconds": 60})),
        ("/admin/rate-limits/blocks/ip/not-an-ip", json!({"seconds": 60})),
        ("/admin/rate-limits/blocks/user/bob", json!({"seconds": 0})),
        ("/admin/rate-limits/blocks/user/bob", json!({"seconds": 60, "reason": ""})),
    ];
    for (path, body) in cases {
        let answer = send(&app, admin("PUT", path).json_body(&body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path} {body}: {}", answer.body);
    }
    let fifth = send(&app, admin("GET", "/admin/rate-limits/blocks")).await;
    assert_eq!(fifth.status, StatusCode::OK);
    let sixth = send(&app, admin("GET", "/admin/rate-limits/blocks")).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sixth.body["rules"], json!(["admin-per-ip"]));
}

#[tokio::test]
async fn a_limited_response_carries_every_rate_limit_field() {
    let app = app().await;
    let answer = send(&app, GatewayRequest::get("/rate-limits").as_user("alice", "free", &[])).await;
    for field in ["ratelimit", "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
        assert!(answer.headers.contains_key(field), "{field}");
    }
}
