//! Notifications end to end: collaborators on real WebSockets and HTTP
//! through the gateway, the real functions behind it (authorizer,
//! notifications-ws, -fanout, -api, blocks), moto and redis-server.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_e2e::collab::{Collaborator, PATIENCE};
use tessera_e2e::product_devstack;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Error as WsError;

async fn connected(user: &str) -> Collaborator {
    let mut collaborator = Collaborator::new(product_devstack(), user);
    collaborator.connect().await;
    collaborator
}

fn block_path(project: &str, block: &str) -> String {
    format!("/projects/{project}/blocks/{block}")
}

#[tokio::test]
async fn a_collaborator_sees_an_edit_with_its_new_version() {
    let mut ann = connected("n-ann").await;
    let mut ben = connected("n-ben").await;
    let (project, _, block) = ann.project_with(&[("n-ben", "editor")]).await;
    let subscribed = ben.subscribe(&project).await;
    ann.subscribe(&project).await;

    let patch = json!({"baseVersion": 1, "set": {"content": "Hello, Ben", "props.color": "teal"}});
    let (status, patched) = ann.send(Method::PATCH, &block_path(&project, &block), Some(patch)).await;
    let seen = ben.expect("block.updated", |m| m["type"] == "block.updated" && m["blockId"] == block.as_str()).await;

    assert_eq!((subscribed["type"].as_str(), subscribed["role"].as_str()), (Some("subscribed"), Some("editor")));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["version"], patched["version"]);
    assert_eq!(seen["actor"], "n-ann");
    assert_eq!(seen["fields"], json!(["content", "props.color"]));
    assert_eq!(seen["changes"], json!({"content": "Hello, Ben", "props.color": "teal"}));
}

#[tokio::test]
async fn a_conflict_reaches_both_and_the_losers_inbox() {
    let mut ann = connected("c-ann").await;
    let mut ben = connected("c-ben").await;
    let (project, _, block) = ann.project_with(&[("c-ben", "editor")]).await;
    ann.subscribe(&project).await;
    ben.subscribe(&project).await;
    let path = block_path(&project, &block);
    // Ben was told he was added; count from there.
    ben.expect("member.added", |m| m["type"] == "notification" && m["notification"]["type"] == "member.added").await;
    let (_, before) = ben.send(Method::GET, "/notifications/unread-count", None).await;

    let (won, _) = ann.send(Method::PATCH, &path, Some(json!({"baseVersion": 1, "set": {"content": "A"}}))).await;
    let (lost, _) = ben.send(Method::PATCH, &path, Some(json!({"baseVersion": 1, "set": {"content": "B"}}))).await;
    let to_ann = ann.expect_type("block.conflict").await;
    let to_ben = ben.expect_type("block.conflict").await;
    let pushed = ben
        .expect("the conflict", |m| m["type"] == "notification" && m["notification"]["type"] == "block.conflict")
        .await;
    let (_, inbox) = ben.send(Method::GET, "/notifications?unread=true", None).await;
    let (_, after) = ben.send(Method::GET, "/notifications/unread-count", None).await;
    let (_, anns) = ann.send(Method::GET, "/notifications", None).await;

    assert_eq!((won, lost), (StatusCode::OK, StatusCode::CONFLICT));
    assert_eq!((to_ann["actor"].as_str(), to_ben["actor"].as_str()), (Some("c-ben"), Some("c-ben")));
    assert_eq!(to_ben["fields"], json!(["content"]));
    assert_eq!(pushed["notification"]["type"], "block.conflict");
    assert_eq!(inbox["items"][0]["id"], pushed["notification"]["id"]);
    assert_eq!(after["unread"].as_u64(), before["unread"].as_u64().map(|n| n + 1));
    let anns_conflicts = anns["items"].as_array().unwrap().iter().filter(|n| n["type"] == "block.conflict").count();
    assert_eq!(anns_conflicts, 0, "the winner's inbox stays clear");
}

#[tokio::test]
async fn a_stranger_is_refused_and_keeps_the_connection() {
    let owner = Collaborator::new(product_devstack(), "s-owner");
    let (project, _, _) = owner.project_with(&[]).await;
    let mut stranger = connected("s-stranger").await;

    let refused = stranger.subscribe(&project).await;
    stranger.say_raw("{not json").await;
    let bad_json = stranger.expect_type("error").await;
    stranger.say(json!({"action": "dance"})).await;
    let unknown = stranger.expect_type("error").await;
    stranger.say(json!({"action": "broadcast", "projectId": project, "data": {"x": 1}})).await;
    let not_subscribed = stranger.expect_type("error").await;
    stranger.say(json!({"action": "ping"})).await;
    let pong = stranger.expect_type("pong").await;

    assert_eq!((refused["type"].as_str(), refused["reason"].as_str()), (Some("error"), Some("forbidden")));
    assert_eq!(bad_json["reason"], "invalid-json");
    assert_eq!((unknown["reason"].as_str(), unknown["action"].as_str()), (Some("unknown-action"), Some("dance")));
    assert_eq!(not_subscribed["reason"], "not-subscribed");
    assert_eq!(pong["type"], "pong");
}

#[tokio::test]
async fn presence_joins_cursors_travel_and_leaves_are_seen() {
    let mut ann = connected("p-ann").await;
    let mut ben = connected("p-ben").await;
    let (project, _, _) = ann.project_with(&[("p-ben", "viewer")]).await;
    ann.subscribe(&project).await;
    ben.subscribe(&project).await;

    ben.say(json!({"action": "presence", "projectId": project, "state": {"name": "Ben", "slide": 1}})).await;
    let joined = ann.expect_type("presence.joined").await;
    // Subscribing again is harmless, and says who is here.
    let ann_sees = ann.subscribe(&project).await;
    ben.say(json!({"action": "broadcast", "projectId": project, "data": {"cursor": [10, 20]}})).await;
    let cursor = ann.expect_type("broadcast").await;
    ben.say(json!({"action": "unsubscribe", "projectId": project})).await;
    ben.expect_type("unsubscribed").await;
    let left = ann.expect_type("presence.left").await;

    assert_eq!(
        (joined["present"]["userId"].as_str(), joined["present"]["state"]["name"].as_str()),
        (Some("p-ben"), Some("Ben"))
    );
    let present: Vec<&str> =
        ann_sees["present"].as_array().unwrap().iter().filter_map(|p| p["userId"].as_str()).collect();
    assert_eq!(present, ["p-ben"]);
    assert_eq!((cursor["userId"].as_str(), &cursor["data"]), (Some("p-ben"), &json!({"cursor": [10, 20]})));
    assert_eq!(left["userId"], "p-ben");
}

/// Coalescing itself is tested against redis-server (the devstack hands a
/// connection's messages to the function one at a time, so none ever wait
/// together); here: a stream of moves arrives in order, ending at the latest.
#[tokio::test]
async fn cursor_moves_arrive_in_order_ending_at_the_latest() {
    let mut ann = connected("t-ann").await;
    let mut ben = connected("t-ben").await;
    let (project, _, _) = ann.project_with(&[("t-ben", "editor")]).await;
    ann.subscribe(&project).await;
    ben.subscribe(&project).await;

    for x in 0..30 {
        ben.say(json!({"action": "broadcast", "projectId": project, "data": {"cursor": [x, 0]}})).await;
    }
    let last = ann.expect("the last cursor", |m| m["type"] == "broadcast" && m["data"]["cursor"][0] == 29).await;
    let earlier = std::mem::take(&mut ann.seen);

    assert_eq!(last["userId"], "t-ben");
    let xs: Vec<u64> =
        earlier.iter().filter(|m| m["type"] == "broadcast").filter_map(|m| m["data"]["cursor"][0].as_u64()).collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "never an older position after a newer one: {xs:?}");
}

#[tokio::test]
async fn a_socket_gone_without_disconnect_is_forgotten_after_its_410() {
    let devstack = product_devstack();
    let mut ann = connected("g-ann").await;
    let (project, _, block) = ann.project_with(&[]).await;
    ann.subscribe(&project).await;
    // A socket whose $disconnect never reached the function (API Gateway
    // delivers it on a best-effort basis): registered, subscribed, gone.
    let dynamodb = aws_sdk_dynamodb::Client::new(&devstack.sdk);
    let table = devstack.resource("ConnectionsTable");
    let ghost = "Z2hvc3QtY29ubmVjdGlvbg=";
    let s = |v: &str| AttributeValue::S(v.to_owned());
    dynamodb
        .put_item()
        .table_name(table)
        .item("pk", s(&format!("CONN#{ghost}")))
        .item("sk", s(&format!("SUB#{project}")))
        .item("gsi1pk", s(&format!("CHANNEL#{project}")))
        .item("gsi1sk", s(&format!("CONN#{ghost}")))
        .item("connectionId", s(ghost))
        .item("userId", s("g-ann"))
        .send()
        .await
        .unwrap();

    let patch = json!({"baseVersion": 1, "set": {"content": "still here"}});
    ann.send(Method::PATCH, &block_path(&project, &block), Some(patch)).await;
    ann.expect_type("block.updated").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let remaining = loop {
        let items = dynamodb
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&format!("CONN#{ghost}")))
            .send()
            .await
            .unwrap()
            .count;
        if items == 0 || tokio::time::Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    assert_eq!(remaining, 0, "the ghost's subscription is gone");
}

#[tokio::test]
async fn a_removed_member_stops_receiving_the_project() {
    let mut ann = connected("r-ann").await;
    let mut ben = connected("r-ben").await;
    let (project, _, block) = ann.project_with(&[("r-ben", "editor")]).await;
    ann.subscribe(&project).await;
    ben.subscribe(&project).await;
    let path = block_path(&project, &block);

    let (removed, _) = ann.send(Method::DELETE, &format!("/projects/{project}/members/r-ben"), None).await;
    let told = ben.expect_type("member.removed").await;
    ann.expect_type("member.removed").await;
    ann.send(Method::PATCH, &path, Some(json!({"baseVersion": 1, "set": {"content": "private now"}}))).await;
    ann.expect_type("block.updated").await;
    // Ann's socket got the edit; Ben's, unsubscribed before it, gets nothing of it.
    ben.say(json!({"action": "ping"})).await;
    ben.expect_type("pong").await;
    let after = ben.drain(Duration::from_secs(2)).await;

    assert!(removed.is_success());
    assert_eq!(told["userId"], "r-ben");
    assert!(after.iter().all(|m| m["type"] != "block.updated"), "{after:?}");
}

#[tokio::test]
async fn the_inbox_goes_from_event_to_unread_count_to_read_all() {
    let ann = Collaborator::new(product_devstack(), "i-ann");
    let mut ben = connected("i-ben").await;

    let (project, _, _) = ann.project_with(&[("i-ben", "viewer")]).await;
    let pushed = ben.expect_type("notification").await;
    let (_, unread) = ben.send(Method::GET, "/notifications/unread-count", None).await;
    let (_, listed) = ben.send(Method::GET, "/notifications?unread=true", None).await;
    let (read_all, marked) = ben.send(Method::POST, "/notifications/read-all", None).await;
    let (_, after) = ben.send(Method::GET, "/notifications/unread-count", None).await;
    let (_, everything) = ben.send(Method::GET, "/notifications", None).await;

    assert_eq!(pushed["notification"]["type"], "member.added");
    assert_eq!(pushed["notification"]["projectId"], project.as_str());
    assert_eq!(unread["unread"], 1);
    assert_eq!(listed["items"][0]["event"]["role"], "viewer");
    assert_eq!((read_all, marked["marked"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(after["unread"], 0);
    assert_eq!(everything["items"][0]["read"], true);
}

#[tokio::test]
async fn a_bad_token_is_refused_at_connect() {
    let devstack = product_devstack();
    let forged = devstack.token("eve", "pro", &[]).replace('.', ".x");
    let refused = |result: Result<_, WsError>| match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused without an HTTP answer: {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    };

    let no_token = refused(connect_async(devstack.websocket_url.clone()).await);
    let bad = refused(connect_async(format!("{}?token={forged}", devstack.websocket_url)).await);

    assert!([401, 403].contains(&no_token), "{no_token}");
    assert!([401, 403].contains(&bad), "{bad}");
}

/// The token may come as a subprotocol (browsers cannot set headers), and
/// Tessera's own subprotocol is chosen.
#[tokio::test]
async fn a_token_in_the_subprotocol_connects_and_tessera_v1_is_chosen() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let devstack = product_devstack();
    let token = devstack.token("sp-ann", "free", &[]);
    let mut request = devstack.websocket_url.clone().into_client_request().unwrap();
    let offered = format!("bearer.{token}, tessera.v1");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_str(&offered).unwrap());

    let (_, response) = connect_async(request).await.expect("connects");

    assert_eq!(response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap()), Some("tessera.v1"));
}

#[test]
fn the_schema_refuses_a_message_without_its_fields() {
    let schema = tessera_e2e::collab::message_schema();
    assert!(schema.is_valid(&json!({"type": "pong"})));
    assert!(!schema.is_valid(&json!({"type": "block.updated", "projectId": "01JF3Z8Q9W6X2K7M4N5P8R0T1V"})));
    assert!(!schema.is_valid(&json!({"kind": "pong"})));
}
