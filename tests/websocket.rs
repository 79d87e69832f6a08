//! The WebSocket gateway, driven as API Gateway's WebSocket API is driven:
//! by WebSocket clients, and by the `@connections` API through the SDK, as
//! functions call it. Covers the `$connect` authorizer and route, route
//! selection, two-way routes, `$disconnect`, the management API and the
//! size limit.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::future::join_all;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tessera_devstack::lambda::Lambda;
use tessera_devstack::plan::{WebSocketPlan, WebSocketRoute};
use tessera_devstack::websocket::{GatewayConfig, router_with_config, serve};
use tessera_e2e::fixture_devstack;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long to wait for anything before failing instead of hanging; no
/// test asserts how fast something happens.
const PATIENCE: Duration = Duration::from_secs(10);

const USER_AGENT: &str = "tessera-e2e";

async fn connect(query: &str) -> Result<Socket, WsError> {
    connect_to(&format!("{}?{query}", fixture_devstack().websocket_url)).await
}

async fn connect_to(url: &str) -> Result<Socket, WsError> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("user-agent", HeaderValue::from_static(USER_AGENT));
    let (socket, _) = connect_async(request).await?;
    Ok(socket)
}

async fn connect_as(user: &str) -> Socket {
    connect(&format!("token=good-{user}")).await.expect("a good token connects")
}

/// The HTTP status a refused upgrade answered with.
fn refusal_status(connected: Result<Socket, WsError>) -> u16 {
    match connected {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused without an HTTP answer: {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

async fn send(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.expect("the message is sent");
}

/// The next message that is not a ping or a pong.
async fn next_message(socket: &mut Socket) -> Message {
    let next = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return message,
                Some(Err(error)) => panic!("the connection failed: {error}"),
                None => panic!("the connection ended"),
            }
        }
    };
    timeout(PATIENCE, next).await.expect("a message within 10 s")
}

async fn next_json(socket: &mut Socket) -> Value {
    match next_message(socket).await {
        Message::Text(text) => serde_json::from_str(&text).expect("a JSON message"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The close code the gateway ended the connection with.
async fn close_code(socket: &mut Socket) -> u16 {
    match next_message(socket).await {
        Message::Close(Some(frame)) => u16::from(frame.code),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// Closes from the client side, normally, saying `bye`, and reads until
/// the gateway has answered.
async fn close(mut socket: Socket) {
    let bye = CloseFrame { code: CloseCode::Normal, reason: "bye".into() };
    socket.close(Some(bye)).await.expect("the close frame is sent");
    let answered = async { while let Some(Ok(_)) = socket.next().await {} };
    timeout(PATIENCE, answered).await.expect("the gateway answers the close within 10 s");
}

async fn whoami(socket: &mut Socket) -> Value {
    send(socket, r#"{"action":"whoami"}"#).await;
    next_json(socket).await
}

async fn connection_id(socket: &mut Socket) -> String {
    whoami(socket).await["connectionId"].as_str().expect("whoami names the connection").to_owned()
}

/// The management API client, configured as the fixture functions configure theirs.
fn management() -> aws_sdk_apigatewaymanagement::Client {
    let devstack = fixture_devstack();
    let endpoint = devstack.websocket_url.replacen("ws://", "http://", 1);
    let config = aws_sdk_apigatewaymanagement::config::Builder::from(&devstack.sdk).endpoint_url(endpoint).build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

/// The `$disconnect` event the socket fixture reported to SeenQueue for
/// `connection_id`. Tests run at once and share the queue: each keeps the
/// reports it receives here, for whichever test waits for them.
async fn disconnect_report(connection_id: &str) -> Value {
    static REPORTS: Mutex<BTreeMap<String, Value>> = Mutex::new(BTreeMap::new());
    let devstack = fixture_devstack();
    let sqs = aws_sdk_sqs::Client::new(&devstack.sdk);
    let queue = devstack.resource("SeenQueue");
    let report = async {
        loop {
            if let Some(report) = REPORTS.lock().expect("no test panicked holding it").remove(connection_id) {
                return report;
            }
            let received = sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("SeenQueue answers");
            for message in received.messages() {
                let report: Value = serde_json::from_str(message.body().unwrap_or_default()).unwrap_or_default();
                if let Some(id) = report["connectionId"].as_str() {
                    REPORTS.lock().expect("no test panicked holding it").insert(id.to_owned(), report.clone());
                }
                let receipt = message.receipt_handle().unwrap_or_default();
                sqs.delete_message().queue_url(queue).receipt_handle(receipt).send().await.expect("deleted");
            }
        }
    };
    timeout(PATIENCE, report).await.expect("the $disconnect report within 10 s")
}

#[tokio::test]
async fn a_good_token_connects_and_whoami_answers_with_its_own_connection_id_and_user() {
    let mut socket = connect_as("alice").await;

    let me = whoami(&mut socket).await;

    assert_eq!(me["userId"], "alice");
    let id = me["connectionId"].as_str().expect("a connection id");
    management().post_to_connection().connection_id(id).data(Blob::new("for alice")).send().await.expect("posted");
    assert_eq!(next_message(&mut socket).await, Message::text("for alice"));
}

#[tokio::test]
async fn a_bad_token_is_refused_with_403() {
    assert_eq!(refusal_status(connect("token=bad-mallory").await), 403);
}

#[tokio::test]
async fn a_missing_token_is_refused_with_401() {
    assert_eq!(refusal_status(connect("other=1").await), 401);
}

#[tokio::test]
async fn a_connect_route_answering_403_refuses_the_upgrade() {
    assert_eq!(refusal_status(connect("token=good-bob&reject=1").await), 403);
}

#[tokio::test]
async fn echo_comes_back_through_the_connections_api() {
    let mut socket = connect_as("carol").await;

    send(&mut socket, r#"{"action":"echo","text":"hello"}"#).await;

    assert_eq!(next_json(&mut socket).await, json!({ "action": "echo", "text": "hello" }));
}

#[tokio::test]
async fn an_unknown_action_falls_back_to_default() {
    let mut socket = connect_as("dave").await;

    send(&mut socket, r#"{"action":"dance"}"#).await;

    let got = next_json(&mut socket).await;
    assert_eq!(got["type"], "default");
    assert_eq!(got["body"], r#"{"action":"dance"}"#);
}

#[tokio::test]
async fn a_message_that_is_not_json_goes_to_default() {
    let mut socket = connect_as("erin").await;

    send(&mut socket, "just words").await;

    assert_eq!(
        next_json(&mut socket).await,
        json!({ "type": "default", "body": "just words", "isBase64Encoded": false })
    );
}

#[tokio::test]
async fn a_binary_message_reaches_default_base64_encoded() {
    let mut socket = connect_as("frank").await;

    socket.send(Message::binary(vec![0u8, 159, 146, 150])).await.expect("sent");

    assert_eq!(next_json(&mut socket).await, json!({ "type": "default", "body": "AJ+Slg==", "isBase64Encoded": true }));
}

#[tokio::test]
async fn a_failing_function_answers_internal_server_error_and_the_connection_stays() {
    let mut socket = connect_as("grace").await;
    let id = connection_id(&mut socket).await;

    send(&mut socket, r#"{"action":"fail"}"#).await;

    let answer = next_json(&mut socket).await;
    assert_eq!(answer["message"], "Internal server error");
    assert_eq!(answer["connectionId"], id.as_str());
    assert!(answer["requestId"].is_string());
    assert_eq!(whoami(&mut socket).await["userId"], "grace");
}

#[tokio::test]
async fn messages_on_one_connection_are_handled_in_order() {
    let mut socket = connect_as("heidi").await;

    for n in 0..10 {
        send(&mut socket, &json!({ "action": "echo", "n": n }).to_string()).await;
    }

    let mut received = Vec::new();
    for _ in 0..10 {
        received.push(next_json(&mut socket).await["n"].clone());
    }
    assert_eq!(received, (0..10).map(Value::from).collect::<Vec<_>>());
}

#[tokio::test]
async fn many_connections_are_served_at_once() {
    let users: Vec<String> = (0..20).map(|n| format!("crowd{n}")).collect();

    let answers = join_all(users.iter().map(|user| async move {
        let mut socket = connect_as(user).await;
        whoami(&mut socket).await
    }))
    .await;

    let ids: std::collections::BTreeSet<&str> = answers.iter().filter_map(|me| me["connectionId"].as_str()).collect();
    assert_eq!(ids.len(), users.len(), "each connection has its own id");
    for (user, me) in users.iter().zip(&answers) {
        assert_eq!(me["userId"], user.as_str());
    }
}

#[tokio::test]
async fn get_on_a_live_connection_returns_its_identity() {
    let mut socket = connect_as("ivan").await;
    let id = connection_id(&mut socket).await;

    let connection = management().get_connection().connection_id(&id).send().await.expect("the connection is there");

    let identity = connection.identity().expect("an identity");
    assert_eq!(identity.source_ip(), Some("127.0.0.1"));
    assert_eq!(identity.user_agent(), Some(USER_AGENT));
    let (connected, active) = (connection.connected_at().expect("connectedAt"), connection.last_active_at());
    assert!(active.expect("lastActiveAt") >= connected);
}

#[tokio::test]
async fn after_the_client_closes_its_connection_is_gone_and_disconnect_ran() {
    let mut socket = connect_as("judy").await;
    let id = connection_id(&mut socket).await;

    close(socket).await;

    let client = management();
    let posted = client.post_to_connection().connection_id(&id).data(Blob::new("late")).send().await;
    assert!(
        posted.as_ref().err().and_then(|e| e.as_service_error()).is_some_and(|e| e.is_gone_exception()),
        "{posted:?}"
    );
    let deleted = client.delete_connection().connection_id(&id).send().await;
    assert!(
        deleted.as_ref().err().and_then(|e| e.as_service_error()).is_some_and(|e| e.is_gone_exception()),
        "{deleted:?}"
    );
    let report = disconnect_report(&id).await;
    assert_eq!(report["disconnectStatusCode"], 1000);
    assert!(report["disconnectReason"].as_str().is_some_and(|reason| reason.contains("bye")), "{report}");
    assert_eq!(report["authorizer"]["userId"], "judy");
}

#[tokio::test]
async fn deleting_a_connection_closes_it_and_disconnect_runs() {
    let mut socket = connect_as("kim").await;
    let id = connection_id(&mut socket).await;

    management().delete_connection().connection_id(&id).send().await.expect("deleted");

    assert_eq!(close_code(&mut socket).await, 1000);
    let got = management().get_connection().connection_id(&id).send().await;
    assert!(got.as_ref().err().and_then(|e| e.as_service_error()).is_some_and(|e| e.is_gone_exception()), "{got:?}");
    assert_eq!(disconnect_report(&id).await["disconnectStatusCode"], 1000);
}

#[tokio::test]
async fn a_message_over_128_kb_closes_the_connection_with_1009() {
    let mut socket = connect_as("leo").await;
    let id = connection_id(&mut socket).await;

    send(&mut socket, &"x".repeat(129 * 1024)).await;

    assert_eq!(close_code(&mut socket).await, 1009);
    assert_eq!(disconnect_report(&id).await["disconnectStatusCode"], 1009);
}

#[tokio::test]
async fn a_post_over_128_kb_is_refused_as_payload_too_large() {
    let mut socket = connect_as("mia").await;
    let id = connection_id(&mut socket).await;

    let posted =
        management().post_to_connection().connection_id(&id).data(Blob::new(vec![b'x'; 129 * 1024])).send().await;

    let error = posted.as_ref().err().and_then(|e| e.as_service_error());
    assert!(error.is_some_and(|e| e.is_payload_too_large_exception()), "{posted:?}");
    assert_eq!(whoami(&mut socket).await["userId"], "mia");
}

/// A gateway of its own, on a free port, with no functions behind its
/// routes (nothing here invokes them), so that it can have short limits.
/// Returns its WebSocket URL.
async fn gateway_without_functions(route_keys: &[&str], config: GatewayConfig) -> String {
    let route = WebSocketRoute { function: "NeverInvoked".into(), two_way: false, authorized: false };
    let websocket = WebSocketPlan {
        api: "LimitsApi".into(),
        stage: "limits".into(),
        selection_field: "action".into(),
        routes: route_keys.iter().map(|key| ((*key).to_owned(), route.clone())).collect(),
        authorizer: None,
    };
    let app = router_with_config(websocket, BTreeMap::new(), Lambda::new("http://127.0.0.1:9"), config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("ws://{}/limits", listener.local_addr().expect("a bound port"));
    tokio::spawn(serve(listener, app));
    url
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_1001_going_away() {
    let config = GatewayConfig { idle_timeout: Duration::from_millis(300), ..GatewayConfig::default() };
    let mut socket = connect_to(&gateway_without_functions(&[], config).await).await.expect("connected");

    assert_eq!(close_code(&mut socket).await, 1001);
}

#[tokio::test]
async fn a_connection_past_its_maximum_duration_is_closed_with_1001_going_away() {
    let config = GatewayConfig { max_connection_duration: Duration::from_millis(300), ..GatewayConfig::default() };
    let mut socket = connect_to(&gateway_without_functions(&[], config).await).await.expect("connected");

    assert_eq!(close_code(&mut socket).await, 1001);
}

#[tokio::test]
async fn without_a_default_route_an_unknown_action_is_answered_forbidden_and_the_connection_stays() {
    let url = gateway_without_functions(&["echo"], GatewayConfig::default()).await;
    let mut socket = connect_to(&url).await.expect("connected");

    for _ in 0..2 {
        send(&mut socket, r#"{"action":"dance"}"#).await;

        let answer = next_json(&mut socket).await;
        assert_eq!(answer["message"], "Forbidden");
        assert!(answer["connectionId"].is_string() && answer["requestId"].is_string(), "{answer}");
    }
}
