//! The AI providers behind one trait: what a job asks for, the chunks that
//! come back, and the two kinds of failure the worker acts on differently.

pub mod builtin;
pub mod openai;

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::Stream;
use tessera_core::generation::GenerationKind;

pub use builtin::BuiltinProvider;
pub use openai::{OpenAiConfig, OpenAiProvider};

/// What one job asks a provider for.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub kind: GenerationKind,
    pub prompt: String,
    /// What is there now (the text of a block to rewrite), if anything.
    pub context: Option<String>,
}

/// A piece of the answer, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// More text: appended to what came before.
    Text(String),
    /// A whole picture (the image kind answers with one).
    Image { media_type: &'static str, data: Bytes },
}

/// Why a generation stopped. The worker retries the first later, through
/// the queue, and fails the job at once on the second.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Timeouts, throttling, server errors, a broken stream: worth another try.
    #[error("the provider failed for now: {reason}")]
    Transient {
        reason: String,
        /// How long the provider asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// A bad request, a refused prompt or content: another try fails the same.
    #[error("the provider refused: {reason}")]
    Permanent { reason: String },
}

impl ProviderError {
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient { reason: reason.into(), retry_after: None }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent { reason: reason.into() }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// The answer as it arrives. A failure, before the first chunk or in the
/// middle, is the stream's last item.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Chunk, ProviderError>> + Send>>;

/// Something that turns a request into a stream of chunks.
pub trait Provider: Send + Sync {
    fn generate(&self, request: GenerationRequest) -> Chunks;
}

/// `Retry-After` as a duration: delta-seconds or an HTTP date (RFC 9110).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 08:00:00 GMT").unwrap();

        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 25 Nov 2026 08:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 25 Nov 2026 07:59:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
