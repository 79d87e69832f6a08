//! The blocks function end to end: the real binary under the devstack,
//! driven through the gateway with dev tokens, as a client would.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::product_devstack;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn as_user(user: &str) -> Self {
        let devstack = product_devstack();
        Self { http: reqwest::Client::new(), base: devstack.http_url.clone(), token: devstack.token(user, "pro", &[]) }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_deck_is_built_edited_concurrently_and_read_back_through_the_gateway() {
    let alice = Client::as_user("alice");
    let bob = Client::as_user("bob");
    let (_, project) = alice.send(reqwest::Method::POST, "/projects", Some(json!({"title": "Quarterly"}))).await;
    let project = project["id"].as_str().unwrap().to_owned();
    alice
        .send(reqwest::Method::PUT, &format!("/projects/{project}/members/bob"), Some(json!({"role": "editor"})))
        .await;
    let (_, slide) = alice
        .send(reqwest::Method::POST, &format!("/projects/{project}/slides"), Some(json!({"title": "Intro"})))
        .await;
    let slide = slide["id"].as_str().unwrap();
    let (created, block) = alice
        .send(
            reqwest::Method::POST,
            &format!("/projects/{project}/slides/{slide}/blocks"),
            Some(json!({"type": "text", "content": "Hello"})),
        )
        .await;
    let block = format!("/projects/{project}/blocks/{}", block["id"].as_str().unwrap());

    // Two editors from the same base: different fields both land, the same field conflicts.
    let (color, _) = alice
        .send(reqwest::Method::PATCH, &block, Some(json!({"baseVersion": 1, "set": {"props.color": "red"}})))
        .await;
    let (content, _) =
        bob.send(reqwest::Method::PATCH, &block, Some(json!({"baseVersion": 1, "set": {"content": "Hi"}}))).await;
    let (conflict, problem) =
        alice.send(reqwest::Method::PATCH, &block, Some(json!({"baseVersion": 1, "set": {"content": "Howdy"}}))).await;
    let (read, tree) = bob.send(reqwest::Method::GET, &format!("/projects/{project}"), None).await;
    let (outsider, _) = Client::as_user("mallory").send(reqwest::Method::GET, &block, None).await;

    assert_eq!(created, StatusCode::CREATED);
    assert_eq!((color, content), (StatusCode::OK, StatusCode::OK));
    assert_eq!(conflict, StatusCode::CONFLICT);
    assert_eq!(problem["conflictingFields"], json!(["content"]));
    assert_eq!(problem["current"]["content"], "Hi");
    assert_eq!(read, StatusCode::OK);
    let saved = &tree["slides"][0]["blocks"][0];
    assert_eq!(
        (saved["content"].as_str(), saved["props"]["color"].as_str(), saved["version"].as_u64()),
        (Some("Hi"), Some("red"), Some(3))
    );
    assert_eq!(outsider, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_deleted_project_is_purged_by_the_stream_after_the_request_answered() {
    let alice = Client::as_user("alice");
    let (_, project) = alice.send(reqwest::Method::POST, "/projects", Some(json!({"title": "Doomed"}))).await;
    let project = project["id"].as_str().unwrap().to_owned();
    let (_, slide) =
        alice.send(reqwest::Method::POST, &format!("/projects/{project}/slides"), Some(json!({"title": "S"}))).await;
    let blocks = format!("/projects/{project}/slides/{}/blocks", slide["id"].as_str().unwrap());
    for n in 0..20 {
        let (created, _) =
            alice.send(reqwest::Method::POST, &blocks, Some(json!({"type": "text", "content": n}))).await;
        assert_eq!(created, StatusCode::CREATED);
    }

    let (deleted, _) = alice.send(reqwest::Method::DELETE, &format!("/projects/{project}"), None).await;
    let (read, _) = alice.send(reqwest::Method::GET, &format!("/projects/{project}"), None).await;

    assert_eq!((deleted, read), (StatusCode::NO_CONTENT, StatusCode::NOT_FOUND));
    // The purge runs from the table's stream, polled every half second:
    // wait for the partition to empty, with a deadline far beyond that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let left = items_of(&project).await;
        if left == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{left} items of {project} are still there");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// How many items the project's partition of the Content table holds.
async fn items_of(project: &str) -> i32 {
    let devstack = product_devstack();
    let dynamodb = aws_sdk_dynamodb::Client::new(&devstack.sdk);
    let page = dynamodb
        .query()
        .table_name(devstack.resource("ContentTable"))
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("PROJECT#{project}")))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    page.count
}
