//! The health function's router against moto server and redis-server, with
//! its configuration taken from the environment `template.yaml` gives it.

use axum::Router;
use axum::http::StatusCode;
use serde_json::Value;
use tessera_health::{Config, HealthState, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_testkit::{GatewayRequest, LocalServices, RedisServer, Stack, provision_stack};
use tower::ServiceExt;

/// The router configured as the template configures the deployed function,
/// with overrides on top.
fn app(stack: &Stack, overrides: &[(&str, &str)], aws_endpoint: &str) -> Router {
    let mut env = stack.function_environment("HealthFunction").unwrap();
    env.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_vars(&Vars::from_map(env)).unwrap();
    let aws = Aws::with_config(tessera_testkit::services::sdk_config_for(aws_endpoint));
    router(HealthState::new(&config, &aws).unwrap())
}

async fn call(app: &Router, request: GatewayRequest) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request.into_request()).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn shared_aws() -> &'static str {
    &LocalServices::shared().aws_endpoint
}

#[tokio::test]
async fn liveness_answers_without_touching_any_dependency() {
    let stack = provision_stack().await;
    let nowhere = "http://127.0.0.1:1";
    let app = app(&stack, &[("REDIS_URL", "redis://127.0.0.1:1")], nowhere);

    let (status, body) = call(&app, GatewayRequest::get("/health")).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn ready_is_200_with_all_three_dependencies_up() {
    let stack = provision_stack().await;
    let app = app(&stack, &[], shared_aws());

    let (status, body) = call(&app, GatewayRequest::get("/health/ready")).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    for dependency in ["dynamodb", "sqs", "redis"] {
        assert_eq!(body["checks"][dependency]["status"], "up", "{dependency}: {body}");
        assert!(body["checks"][dependency]["latencyMs"].is_number());
    }
}

#[tokio::test]
async fn ready_is_503_naming_redis_when_redis_is_stopped() {
    let stack = provision_stack().await;
    let mut redis = RedisServer::start().unwrap();
    let app = app(&stack, &[("REDIS_URL", &redis.url())], shared_aws());
    let (status, _) = call(&app, GatewayRequest::get("/health/ready")).await;
    assert_eq!(status, StatusCode::OK, "ready while redis runs");

    redis.stop();
    let (status, body) = call(&app, GatewayRequest::get("/health/ready")).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["type"], "urn:tessera:problem:dependency-unavailable");
    assert_eq!(body["failed"], serde_json::json!(["redis"]));
    assert!(body["detail"].as_str().unwrap().contains("redis"));
    assert_eq!(body["checks"]["redis"]["status"], "down");
    assert_eq!(body["checks"]["dynamodb"]["status"], "up");
    assert_eq!(body["checks"]["sqs"]["status"], "up");
}

#[tokio::test]
async fn ready_is_503_naming_dynamodb_when_the_table_is_missing() {
    let stack = provision_stack().await;
    let app = app(&stack, &[("CONTENT_TABLE", "no-such-table")], shared_aws());

    let (status, body) = call(&app, GatewayRequest::get("/health/ready")).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failed"], serde_json::json!(["dynamodb"]));
    assert!(!body.to_string().contains("no-such-table"), "no internal detail in {body}");
}

#[tokio::test]
async fn detailed_is_401_without_a_verified_identity() {
    let stack = provision_stack().await;
    let app = app(&stack, &[], shared_aws());

    let (status, body) = call(&app, GatewayRequest::get("/health/detailed")).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "urn:tessera:problem:unauthorized");
}

#[tokio::test]
async fn detailed_is_403_for_a_non_admin() {
    let stack = provision_stack().await;
    let app = app(&stack, &[], shared_aws());

    let (status, body) = call(&app, GatewayRequest::get("/health/detailed").as_user("bob", "enterprise", &[])).await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["type"], "urn:tessera:problem:forbidden");
}

#[tokio::test]
async fn detailed_reports_version_cold_start_uptime_and_memory_to_an_admin() {
    let stack = provision_stack().await;
    let app = app(&stack, &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")], shared_aws());
    let admin = || GatewayRequest::get("/health/detailed").as_user("alice", "pro", &["admin"]);

    let (status, first) = call(&app, admin()).await;
    let (_, second) = call(&app, admin()).await;

    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "ready");
    assert_eq!(first["checks"]["redis"]["status"], "up");
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(first["coldStart"], true);
    assert_eq!(second["coldStart"], false);
    assert!(second["uptimeSeconds"].as_f64().unwrap() >= first["uptimeSeconds"].as_f64().unwrap());
    assert!(first["memory"]["rssBytes"].as_u64().unwrap() > 0);
    assert_eq!(first["memory"]["limitMb"], 256);
}

#[tokio::test]
async fn liveness_is_never_rate_limited_but_readiness_is() {
    let stack = provision_stack().await;
    let app = app(&stack, &[], shared_aws());
    for _ in 0..70 {
        let response = app.clone().oneshot(GatewayRequest::get("/health").into_request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("ratelimit"), "liveness is exempt");
    }
    let ready = app.clone().oneshot(GatewayRequest::get("/health/ready").into_request()).await.unwrap();
    let policy = ready.headers()["ratelimit-policy"].to_str().unwrap();
    assert!(policy.contains("\"api-per-user\";q=60;w=60"), "{policy}");
}

#[tokio::test]
async fn the_api_contract_is_served_publicly_as_checked_in() {
    let stack = provision_stack().await;
    let app = app(&stack, &[], shared_aws());
    let (status, body) = call(&app, GatewayRequest::get("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let checked_in: Value = serde_json::from_str(include_str!("../../../openapi.json")).expect("openapi.json is JSON");
    assert_eq!(body, checked_in);
    assert_eq!(body["openapi"], "3.1.0");
}
