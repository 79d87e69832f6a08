//! A collaborator as a client program is one: an HTTP client and a
//! WebSocket on the gateway, with a dev token. Every message a socket
//! receives is checked against `websocket-messages.schema.json`.

use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::RunningDevstack;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long to wait for a message before failing instead of hanging; no
/// test asserts how fast anything happens.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The message schema, compiled once.
pub fn message_schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = tessera_testkit::workspace_root().join("websocket-messages.schema.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the schema")).expect("JSON");
        jsonschema::validator_for(&schema).expect("a valid JSON Schema")
    })
}

/// Panics, naming the violations, unless `message` is in the schema.
pub fn assert_valid_message(message: &Value) {
    let errors: Vec<String> =
        message_schema().iter_errors(message).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{message} breaks websocket-messages.schema.json: {errors:?}");
}

pub struct Collaborator {
    pub user: String,
    http: reqwest::Client,
    base: String,
    token: String,
    websocket_url: String,
    pub socket: Option<Socket>,
    /// Messages read while waiting for another one.
    pub seen: Vec<Value>,
}

impl Collaborator {
    pub fn new(devstack: &RunningDevstack, user: &str) -> Self {
        Self {
            user: user.to_owned(),
            http: reqwest::Client::new(),
            base: devstack.http_url.clone(),
            token: devstack.token(user, "pro", &[]),
            websocket_url: devstack.websocket_url.clone(),
            socket: None,
            seen: Vec::new(),
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Connects with the token in the query string.
    pub async fn connect(&mut self) {
        let url = format!("{}?token={}", self.websocket_url, self.token);
        let (socket, _) = connect_async(url).await.expect("a good token connects");
        self.socket = Some(socket);
    }

    pub async fn say(&mut self, message: Value) {
        let socket = self.socket.as_mut().expect("connected");
        socket.send(Message::text(message.to_string())).await.expect("sent");
    }

    pub async fn say_raw(&mut self, text: &str) {
        let socket = self.socket.as_mut().expect("connected");
        socket.send(Message::text(text.to_owned())).await.expect("sent");
    }

    /// The next message that satisfies `wanted`, reading (and keeping in
    /// `seen`) the others; panics after [`PATIENCE`].
    pub async fn expect(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(index) = self.seen.iter().position(&wanted) {
            return self.seen.remove(index);
        }
        let socket = self.socket.as_mut().expect("connected");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let next = tokio::time::timeout_at(deadline, socket.next()).await;
            let frame = match next {
                Ok(Some(Ok(frame))) => frame,
                Ok(other) => panic!("{}: the socket ended waiting for {what}: {other:?}", self.user),
                Err(_) => panic!("{}: no {what} within {PATIENCE:?}; saw {:?}", self.user, self.seen),
            };
            let Message::Text(text) = frame else { continue };
            let message: Value = serde_json::from_str(&text).expect("every message is JSON");
            assert_valid_message(&message);
            if wanted(&message) {
                return message;
            }
            self.seen.push(message);
        }
    }

    /// The next message of this type.
    pub async fn expect_type(&mut self, kind: &str) -> Value {
        self.expect(kind, |m| m["type"] == kind).await
    }

    /// Everything that arrives within `window`, checked against the schema.
    pub async fn drain(&mut self, window: Duration) -> Vec<Value> {
        let socket = self.socket.as_mut().expect("connected");
        let mut got = std::mem::take(&mut self.seen);
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(window, socket.next()).await {
            if let Message::Text(text) = frame {
                let message: Value = serde_json::from_str(&text).expect("every message is JSON");
                assert_valid_message(&message);
                got.push(message);
            }
        }
        got
    }

    pub async fn subscribe(&mut self, project: &str) -> Value {
        self.say(json!({"action": "subscribe", "projectId": project})).await;
        self.expect("subscribed or error", |m| m["type"] == "subscribed" || m["type"] == "error").await
    }

    /// A project owned by this collaborator with `members` (user, role),
    /// one slide and one block: (project, slide, block).
    pub async fn project_with(&self, members: &[(&str, &str)]) -> (String, String, String) {
        let (status, project) = self.send(Method::POST, "/projects", Some(json!({"title": "Shared"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{project}");
        let project = project["id"].as_str().expect("an id").to_owned();
        for (user, role) in members {
            let path = format!("/projects/{project}/members/{user}");
            let (status, body) = self.send(Method::PUT, &path, Some(json!({"role": role}))).await;
            assert!(status.is_success(), "adding {user}: {status} {body}");
        }
        let (_, slide) =
            self.send(Method::POST, &format!("/projects/{project}/slides"), Some(json!({"title": "One"}))).await;
        let slide = slide["id"].as_str().expect("a slide").to_owned();
        let path = format!("/projects/{project}/slides/{slide}/blocks");
        let (_, block) = self.send(Method::POST, &path, Some(json!({"type": "text", "content": "Hello"}))).await;
        (project, slide, block["id"].as_str().expect("a block").to_owned())
    }
}
