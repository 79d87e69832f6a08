//! Rate limits end to end: the real binaries under the devstack, through
//! the gateway, with the shipped policies.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tessera_e2e::product_devstack;

async fn usage(user: &str, tier: &str) -> (StatusCode, HeaderMap, Value) {
    let devstack = product_devstack();
    let response = reqwest::Client::new()
        .get(format!("{}/rate-limits", devstack.http_url))
        .bearer_auth(devstack.token(user, tier, &[]))
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap()
}

#[tokio::test]
async fn a_free_user_gets_429_after_exactly_their_limit_and_a_pro_user_does_not() {
    for n in 1..=60 {
        let (status, headers, _) = usage("fran", "free").await;
        assert_eq!(status, StatusCode::OK, "request {n}");
        assert_eq!(header(&headers, "x-ratelimit-limit"), "60");
        assert_eq!(header(&headers, "x-ratelimit-remaining"), (60 - n).to_string());
    }
    let (status, headers, problem) = usage("fran", "free").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&headers, "content-type"), "application/problem+json");
    assert_eq!(problem["type"], "urn:tessera:problem:too-many-requests");
    let retry: u64 = header(&headers, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(
        header(&headers, "ratelimit-policy").starts_with("\"api-per-user\";q=60;w=60, \"api-per-ip\";q=1000;w=900")
    );
    assert!(header(&headers, "ratelimit").starts_with("\"api-per-user\";r=0;t="));
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    let reset: u64 = header(&headers, "x-ratelimit-reset").parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now..=now + 61).contains(&reset), "X-RateLimit-Reset {reset} is Unix seconds");

    for n in 1..=61 {
        let (status, headers, _) = usage("petra", "pro").await;
        assert_eq!(status, StatusCode::OK, "pro request {n}");
        assert_eq!(header(&headers, "x-ratelimit-remaining"), (300 - n).to_string());
    }
}

#[tokio::test]
async fn liveness_through_the_gateway_is_never_limited() {
    let devstack = product_devstack();
    let response = reqwest::get(format!("{}/health", devstack.http_url)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("ratelimit").is_none());
}
