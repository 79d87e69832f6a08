//! The HTTP gateway, driven by an HTTP client as API Gateway would be:
//! routing, the JWT authorizer, the payload 2.0 event and the response.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::{fixture_devstack, product_devstack};

fn url(path: &str) -> String {
    format!("{}{path}", fixture_devstack().http_url)
}

/// The event the echo fixture received.
async fn echoed(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    body
}

#[tokio::test]
async fn a_public_route_gets_the_event_api_gateway_would_send() {
    let client = reqwest::Client::new();

    let response = client
        .get(url("/public/alice?x=1&x=2"))
        .header("cookie", "a=1; b=2")
        .header("x-custom", "v")
        .send()
        .await
        .unwrap();

    let request_id = response.headers()["apigw-requestid"].to_str().unwrap().to_owned();
    let event = echoed(response).await;
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /public/{name}");
    assert_eq!(event["rawPath"], "/public/alice");
    assert_eq!(event["rawQueryString"], "x=1&x=2");
    assert_eq!(event["queryStringParameters"]["x"], "1,2");
    assert_eq!(event["pathParameters"]["name"], "alice");
    assert_eq!(event["cookies"], serde_json::json!(["a=1", "b=2"]));
    assert_eq!(event["headers"]["x-custom"], "v");
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(event["requestContext"]["requestId"], request_id);
    assert!(event["requestContext"].get("authorizer").is_none());
}

#[tokio::test]
async fn the_most_specific_route_wins() {
    let exact = echoed(reqwest::get(url("/public/exact")).await.unwrap()).await;
    let variable = echoed(reqwest::get(url("/public/other")).await.unwrap()).await;

    assert_eq!(exact["routeKey"], "GET /public/exact");
    assert_eq!(variable["routeKey"], "GET /public/{name}");
}

#[tokio::test]
async fn a_protected_route_refuses_a_missing_or_bad_token_with_401() {
    let client = reqwest::Client::new();

    let missing = client.get(url("/private/x")).send().await.unwrap();
    let garbage = client.get(url("/private/x")).bearer_auth("not-a-token").send().await.unwrap();

    for response in [missing, garbage] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["message"], "Unauthorized");
    }
}

#[tokio::test]
async fn a_protected_route_gets_the_verified_claims_flattened_as_api_gateway_does() {
    let token = fixture_devstack().token("alice", "pro", &["admin", "editor"]);

    let response = reqwest::Client::new()
        .post(url("/private/a/b/c"))
        .bearer_auth(token)
        .json(&serde_json::json!({"title": "hello"}))
        .send()
        .await
        .unwrap();

    let event = echoed(response).await;
    assert_eq!(event["routeKey"], "ANY /private/{proxy+}");
    assert_eq!(event["pathParameters"]["proxy"], "a/b/c");
    let claims = &event["requestContext"]["authorizer"]["jwt"]["claims"];
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["tier"], "pro");
    assert_eq!(claims["roles"], "[admin editor]");
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["body"], r#"{"title":"hello"}"#);
}

#[tokio::test]
async fn binary_bodies_travel_base64_and_answers_keep_status_headers_and_cookies() {
    let token = fixture_devstack().token("bob", "free", &[]);
    let client = reqwest::Client::new();

    let upload = client
        .put(url("/private/upload"))
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 1, 2, 255])
        .send()
        .await
        .unwrap();
    let binary = client.get(url("/private/binary")).bearer_auth(&token).send().await.unwrap();

    let event = echoed(upload).await;
    assert_eq!(event["isBase64Encoded"], true);
    let sent = base64::engine::general_purpose::STANDARD.decode(event["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, [0, 1, 2, 255]);
    assert_eq!(binary.status(), StatusCode::CREATED);
    assert_eq!(binary.headers()["x-fixture"], "binary");
    assert_eq!(binary.headers().get_all("set-cookie").iter().count(), 2);
    assert_eq!(binary.bytes().await.unwrap().as_ref(), [0, 159, 146, 150]);
}

#[tokio::test]
async fn an_unknown_route_is_404() {
    let response = reqwest::get(url("/nowhere")).await.unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.json::<Value>().await.unwrap()["message"], "Not Found");
}

#[tokio::test]
async fn a_function_that_outlasts_its_timeout_gives_504() {
    let response = reqwest::get(url("/slow")).await.unwrap();

    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn a_dev_token_reaches_the_health_functions_protected_route() {
    let product = product_devstack();
    let client = reqwest::Client::new();
    let detailed = format!("{}/health/detailed", product.http_url);

    let admin = client.get(&detailed).bearer_auth(product.token("alice", "pro", &["admin"])).send().await.unwrap();
    let anonymous = client.get(&detailed).send().await.unwrap();
    let ready = client.get(format!("{}/health/ready", product.http_url)).send().await.unwrap();

    assert_eq!(admin.status(), StatusCode::OK);
    let report: Value = admin.json().await.unwrap();
    assert_eq!(report["status"], "ready", "{report}");
    assert!(report["version"].is_string());
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ready.status(), StatusCode::OK);
}
