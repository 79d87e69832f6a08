//! An OpenAI-compatible chat-completions provider, streaming (server-sent
//! events). It does no retrying of its own: it says whether a failure is
//! worth another try and how long the provider asked to wait, and the
//! worker retries through the queue.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_openai::types::chat::{
    ChatChoiceStream, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, FinishReason,
};
use eventsource_stream::Eventsource as _;
use futures_util::{Stream, StreamExt as _, stream};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;
use tessera_core::generation::GenerationKind;

use super::{Chunk, Chunks, GenerationRequest, Provider, ProviderError, parse_retry_after};

/// The most of a provider's error body kept in a job's failure reason.
const DETAIL_BYTES: usize = 300;

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Up to and including the version: `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    pub connect_timeout: Duration,
    /// The longest wait for the first or the next chunk.
    pub idle_timeout: Duration,
}

#[derive(Clone)]
pub struct OpenAiProvider {
    http: reqwest::Client,
    config: Arc<OpenAiConfig>,
}

impl OpenAiProvider {
    pub fn new(config: OpenAiConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().connect_timeout(config.connect_timeout).build()?;
        Ok(Self { http, config: Arc::new(config) })
    }
}

impl Provider for OpenAiProvider {
    fn generate(&self, request: GenerationRequest) -> Chunks {
        let provider = self.clone();
        Box::pin(stream::once(async move { provider.start(request).await }).flat_map(|started| match started {
            Ok(chunks) => chunks,
            Err(error) => Box::pin(stream::iter([Err(error)])),
        }))
    }
}

impl OpenAiProvider {
    /// Sends the request; an answer that is not a stream is a failure.
    async fn start(&self, request: GenerationRequest) -> Result<Chunks, ProviderError> {
        if request.kind == GenerationKind::Image {
            return Err(ProviderError::permanent("chat completions draw no images; use the built-in provider"));
        }
        let url = format!("{}/chat/completions", self.config.base_url.trim_end_matches('/'));
        let send = self
            .http
            .post(url)
            .bearer_auth(&self.config.api_key)
            .json(&chat_request(&self.config.model, &request))
            .send();
        let response = tokio::time::timeout(self.config.idle_timeout, send)
            .await
            .map_err(|_| ProviderError::transient(format!("no answer within {:?}", self.config.idle_timeout)))?
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now()));
            let detail = response.text().await.unwrap_or_default();
            return Err(classify(status, retry_after, &detail));
        }
        Ok(Box::pin(chunks(response.bytes_stream(), self.config.idle_timeout)))
    }
}

/// The instructions for each kind, then the person's prompt (and what is
/// there now, when rewriting).
fn chat_request(model: &str, request: &GenerationRequest) -> CreateChatCompletionRequest {
    let instructions = match request.kind {
        GenerationKind::Text => "Write the text of one slide block: a few plain sentences, no heading.",
        GenerationKind::Outline => {
            "Write a slide deck's outline: for each slide a line `# title`, then its points as lines `- point`."
        }
        GenerationKind::Thinking => "Reason step by step, then give the answer in plain sentences.",
        GenerationKind::Image => "Describe the picture.",
    };
    let prompt = match &request.context {
        Some(before) => format!("{}\n\nThe text now:\n{before}", request.prompt),
        None => request.prompt.clone(),
    };
    let messages: Vec<ChatCompletionRequestMessage> = vec![
        ChatCompletionRequestSystemMessage::from(instructions).into(),
        ChatCompletionRequestUserMessage::from(prompt).into(),
    ];
    CreateChatCompletionRequest { model: model.to_owned(), messages, stream: Some(true), ..Default::default() }
}

/// One `data:` event. Only the choices matter; some compatible servers
/// leave out the other fields OpenAI sends.
#[derive(Deserialize)]
struct StreamEvent {
    #[serde(default)]
    choices: Vec<ChatChoiceStream>,
    error: Option<serde_json::Value>,
}

/// The events as chunks, until `[DONE]`. A stream that ends before it, or
/// stays silent for `idle`, broke: another try may go through.
fn chunks<B, E>(bytes: B, idle: Duration) -> impl Stream<Item = Result<Chunk, ProviderError>> + Send
where
    B: Stream<Item = Result<bytes::Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let events = bytes.eventsource();
    stream::unfold(Some(events), move |events| async move {
        let mut events = events?;
        // A failure is the last item: no events are kept after it.
        let failed = |error: ProviderError| Some((Err(error), None));
        loop {
            let event = match tokio::time::timeout(idle, events.next()).await {
                Err(_) => return failed(ProviderError::transient(format!("no chunk within {idle:?}"))),
                Ok(None) => return failed(ProviderError::transient("the stream broke off before its end")),
                Ok(Some(Err(error))) => return failed(ProviderError::transient(format!("the stream broke: {error}"))),
                Ok(Some(Ok(event))) => event,
            };
            if event.data.trim() == "[DONE]" {
                return None;
            }
            let parsed: StreamEvent = match serde_json::from_str(&event.data) {
                Ok(parsed) => parsed,
                Err(error) => return failed(ProviderError::transient(format!("an unreadable chunk: {error}"))),
            };
            if let Some(error) = parsed.error {
                return failed(ProviderError::transient(format!("the provider failed mid-stream: {error}")));
            }
            let Some(choice) = parsed.choices.into_iter().next() else { continue };
            if let Some(refusal) = choice.delta.refusal.filter(|r| !r.is_empty()) {
                return failed(ProviderError::permanent(format!("the model refused: {refusal}")));
            }
            if choice.finish_reason == Some(FinishReason::ContentFilter) {
                return failed(ProviderError::permanent("the provider's content filter stopped the answer"));
            }
            match choice.delta.content {
                Some(text) if !text.is_empty() => return Some((Ok(Chunk::Text(text)), Some(events))),
                _ => continue,
            }
        }
    })
}

/// Throttling, timeouts and server errors pass; the rest will not.
fn classify(status: StatusCode, retry_after: Option<Duration>, detail: &str) -> ProviderError {
    let detail: String = detail.chars().take(DETAIL_BYTES).collect();
    let reason = format!("the provider answered {status}: {detail}");
    let transient = status.is_server_error()
        || matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT | StatusCode::CONFLICT)
        || status.as_u16() == 425;
    if transient { ProviderError::Transient { reason, retry_after } } else { ProviderError::Permanent { reason } }
}

/// A request that never got an answer (refused, reset, timed out) may get one next time.
fn transport(error: reqwest::Error) -> ProviderError {
    if error.is_builder() {
        return ProviderError::permanent(format!("the request could not be built: {error}"));
    }
    ProviderError::transient(format!("the provider could not be reached: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient_and_bad_requests_are_not() {
        let wait = Some(Duration::from_secs(3));

        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, wait, "slow down"),
            ProviderError::Transient {
                reason: "the provider answered 429 Too Many Requests: slow down".into(),
                retry_after: wait
            }
        );
        for status in [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE, StatusCode::REQUEST_TIMEOUT] {
            assert!(classify(status, None, "").is_transient(), "{status}");
        }
        for status in [StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED, StatusCode::UNPROCESSABLE_ENTITY] {
            assert!(!classify(status, None, "").is_transient(), "{status}");
        }
    }

    #[test]
    fn the_request_streams_with_the_kinds_instructions_and_the_text_to_rewrite() {
        let request = GenerationRequest {
            kind: GenerationKind::Outline,
            prompt: "Tides".into(),
            context: Some("Old words".into()),
        };

        let body = serde_json::to_value(chat_request("small-model", &request)).unwrap();

        assert_eq!(body["model"], "small-model");
        assert_eq!(body["stream"], true);
        assert_eq!(body["messages"][0]["role"], "system");
        assert!(body["messages"][0]["content"].as_str().unwrap().contains("# title"));
        assert_eq!(body["messages"][1]["role"], "user");
        assert_eq!(body["messages"][1]["content"], "Tides\n\nThe text now:\nOld words");
    }
}
