//! The OpenAI-compatible provider against a local server speaking the
//! chat-completions streaming protocol (server-sent events), answering
//! each request with the next reply a test scripted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use futures_util::{StreamExt as _, stream};
use serde_json::{Value, json};
use tessera_core::generation::GenerationKind;
use tessera_generation::providers::{
    Chunk, GenerationRequest, OpenAiConfig, OpenAiProvider, Provider as _, ProviderError,
};

enum Reply {
    /// These `data:` events, then `[DONE]`.
    Stream(Vec<Value>),
    /// These events, then the end of the body, without `[DONE]`.
    Unfinished(Vec<Value>),
    /// These events, then the connection breaks.
    Broken(Vec<Value>),
    /// The headers, then nothing at all.
    Silent,
    Status {
        status: u16,
        retry_after: Option<&'static str>,
        body: &'static str,
    },
}

/// A request as the server saw it: its `Authorization` header and body.
struct Received {
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Provider {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn chat_completions(State(provider): State<Provider>, headers: HeaderMap, body: String) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
    provider.received.lock().unwrap().push(Received { authorization, body });
    let reply = provider.replies.lock().unwrap().pop_front().expect("a scripted reply");
    let sse = |events: Vec<Value>| events.into_iter().map(|event| format!("data: {event}\n\n")).collect::<Vec<_>>();
    let body = match reply {
        Reply::Stream(events) => {
            let mut frames = sse(events);
            frames.push("data: [DONE]\n\n".into());
            Body::from_stream(stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>)))
        }
        Reply::Unfinished(events) => Body::from(sse(events).concat()),
        Reply::Broken(events) => {
            let frames = stream::iter(sse(events).into_iter().map(Ok));
            // A pause lets the frames leave before the connection breaks.
            let reset = stream::once(async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"))
            });
            Body::from_stream(frames.chain(reset))
        }
        Reply::Silent => Body::from_stream(stream::pending::<Result<String, std::io::Error>>()),
        Reply::Status { status, retry_after, body } => {
            let mut response = Response::builder().status(status);
            if let Some(wait) = retry_after {
                response = response.header("retry-after", wait);
            }
            return response.body(Body::from(body)).unwrap();
        }
    };
    Response::builder().status(StatusCode::OK).header("content-type", "text/event-stream").body(body).unwrap()
}

/// A chunk as OpenAI streams it.
fn delta(content: &str, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "small-model",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish_reason}]
    })
}

async fn spawn(replies: Vec<Reply>) -> (OpenAiProvider, Provider) {
    let state = Provider { replies: Arc::new(Mutex::new(replies.into())), ..Provider::default() };
    let app = Router::new().route("/v1/chat/completions", post(chat_completions)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (provider_at(base_url), state)
}

fn provider_at(base_url: String) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        base_url,
        model: "small-model".into(),
        api_key: "test-key".into(),
        connect_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_millis(500),
    })
    .unwrap()
}

fn ask(kind: GenerationKind) -> GenerationRequest {
    GenerationRequest { kind, prompt: "Tides".into(), context: None }
}

async fn outcome(provider: &OpenAiProvider, kind: GenerationKind) -> Vec<Result<Chunk, ProviderError>> {
    provider.generate(ask(kind)).collect().await
}

fn text(piece: &str) -> Result<Chunk, ProviderError> {
    Ok(Chunk::Text(piece.into()))
}

#[tokio::test]
async fn text_arrives_chunk_by_chunk_until_done() {
    let role_only = json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]});
    let (provider, server) =
        spawn(vec![Reply::Stream(vec![role_only, delta("Hig", None), delta("h tide", None), delta("", Some("stop"))])])
            .await;

    assert_eq!(outcome(&provider, GenerationKind::Text).await, vec![text("Hig"), text("h tide")]);
    let received = server.received.lock().unwrap();
    let Received { authorization, body } = &received[0];
    assert_eq!(authorization.as_deref(), Some("Bearer test-key"));
    assert_eq!(body["model"], "small-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][1]["content"], "Tides");
}

#[tokio::test]
async fn a_429_says_how_long_to_wait_and_the_next_try_goes_through() {
    let throttled = Reply::Status { status: 429, retry_after: Some("2"), body: r#"{"error":"rate limited"}"# };
    let (provider, _server) = spawn(vec![throttled, Reply::Stream(vec![delta("Ebb", Some("stop"))])]).await;

    let first = outcome(&provider, GenerationKind::Text).await;
    let second = outcome(&provider, GenerationKind::Text).await;

    match first.as_slice() {
        [Err(ProviderError::Transient { retry_after, reason })] => {
            assert_eq!(*retry_after, Some(Duration::from_secs(2)));
            assert!(reason.contains("429"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(second, vec![text("Ebb")]);
}

#[tokio::test]
async fn a_broken_stream_gives_what_came_then_a_transient_error() {
    let (provider, _server) = spawn(vec![Reply::Broken(vec![delta("Spring ", None), delta("tides", None)])]).await;

    let got = outcome(&provider, GenerationKind::Text).await;

    let (last, before) = got.split_last().unwrap();
    assert!(matches!(last, Err(ProviderError::Transient { .. })), "{got:?}");
    assert_eq!(before, &[text("Spring "), text("tides")][..before.len()], "{got:?}");
}

#[tokio::test]
async fn a_stream_that_ends_without_done_is_incomplete_and_transient() {
    let (provider, _server) = spawn(vec![Reply::Unfinished(vec![delta("Neap", None)])]).await;

    let got = outcome(&provider, GenerationKind::Text).await;

    assert_eq!(got[0], text("Neap"));
    assert!(matches!(&got[1..], [Err(ProviderError::Transient { .. })]), "{got:?}");
}

#[tokio::test]
async fn a_stream_that_goes_silent_is_given_up_as_transient() {
    let (provider, _server) = spawn(vec![Reply::Silent]).await;

    let got = outcome(&provider, GenerationKind::Text).await;

    assert!(matches!(got.as_slice(), [Err(ProviderError::Transient { .. })]), "{got:?}");
}

#[tokio::test]
async fn a_bad_request_and_the_content_filter_are_permanent() {
    let bad = Reply::Status { status: 400, retry_after: None, body: r#"{"error":{"message":"bad prompt"}}"# };
    let filtered = Reply::Stream(vec![delta("Once", None), delta("", Some("content_filter"))]);
    let (provider, _server) = spawn(vec![bad, filtered]).await;

    let refused = outcome(&provider, GenerationKind::Text).await;
    let stopped = outcome(&provider, GenerationKind::Text).await;

    match refused.as_slice() {
        [Err(ProviderError::Permanent { reason })] => assert!(reason.contains("bad prompt"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(stopped[0], text("Once"));
    assert!(matches!(&stopped[1..], [Err(ProviderError::Permanent { .. })]), "{stopped:?}");
}

#[tokio::test]
async fn an_unreachable_provider_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let provider = provider_at(format!("http://127.0.0.1:{port}/v1"));

    let got = outcome(&provider, GenerationKind::Text).await;

    assert!(matches!(got.as_slice(), [Err(ProviderError::Transient { .. })]), "{got:?}");
}

#[tokio::test]
async fn images_are_refused_without_a_request() {
    let (provider, server) = spawn(vec![]).await;

    let got = outcome(&provider, GenerationKind::Image).await;

    assert!(matches!(got.as_slice(), [Err(ProviderError::Permanent { .. })]), "{got:?}");
    assert!(server.received.lock().unwrap().is_empty());
}
