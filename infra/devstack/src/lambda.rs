//! Invokes functions through `cargo lambda watch`'s Lambda invoke API, as
//! API Gateway and Lambda's event-source pollers invoke them in AWS, and
//! prints one line per invocation.

use std::fmt::Display;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

/// `cargo lambda watch`'s invoke endpoint.
#[derive(Clone)]
pub struct Lambda {
    http: reqwest::Client,
    endpoint: String,
}

/// What a function answered.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub payload: Bytes,
    /// The function returned an error (or panicked) rather than a value.
    pub function_error: bool,
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the invoke API is unreachable")]
    Unreachable(#[source] reqwest::Error),
    #[error("the invoke API refused the invocation ({status}): {body}")]
    Refused { status: u16, body: String },
}

/// Lambda does not count a function's initialisation (up to 10 s) against
/// its timeout. `cargo lambda watch` starts each new instance with `cargo
/// run`, and through its invoke API start-up and execution look alike, so
/// an invocation bounded by a function's timeout gets this on top.
pub const INIT_ALLOWANCE: Duration = Duration::from_secs(10);

impl Lambda {
    pub fn new(endpoint: &str) -> Self {
        Self { http: reqwest::Client::new(), endpoint: endpoint.trim_end_matches('/').to_owned() }
    }

    /// Invokes `binary` as Lambda runs it for an event source: bounded by the
    /// function's own `timeout`, start-up not counted.
    pub async fn invoke_function(
        &self,
        binary: &str,
        event: &Value,
        timeout: Duration,
    ) -> Result<Invocation, InvokeError> {
        self.invoke(binary, event, timeout + INIT_ALLOWANCE).await
    }

    /// Invokes `binary` with `event`, waiting at most `timeout` in all (API
    /// Gateway's integration timeout counts start-up too).
    pub async fn invoke(&self, binary: &str, event: &Value, timeout: Duration) -> Result<Invocation, InvokeError> {
        let started = Instant::now();
        let url = format!("{}/2015-03-31/functions/{binary}/invocations", self.endpoint);
        let request = self.http.post(url).json(event).send();
        let response = match tokio::time::timeout(timeout, request).await {
            Err(_) => return Err(InvokeError::Timeout(timeout)),
            Ok(result) => result.map_err(InvokeError::Unreachable)?,
        };
        let status = response.status();
        // Lambda marks a function's own failure with this header and a 200.
        let function_error = response.headers().contains_key("x-amz-function-error");
        let remaining = timeout.saturating_sub(started.elapsed());
        let payload = match tokio::time::timeout(remaining, response.bytes()).await {
            Err(_) => return Err(InvokeError::Timeout(timeout)),
            Ok(body) => body.map_err(InvokeError::Unreachable)?,
        };
        if status.is_client_error() {
            let body = String::from_utf8_lossy(&payload).into_owned();
            return Err(InvokeError::Refused { status: status.as_u16(), body });
        }
        Ok(Invocation {
            payload,
            function_error: function_error || status.is_server_error(),
            duration: started.elapsed(),
        })
    }
}

/// One line per invocation: function, route or source, status, duration.
pub fn log_invocation(function: &str, source: &str, status: impl Display, duration: Duration) {
    let millis = duration.as_secs_f64() * 1000.0;
    println!("{millis:>9.1} ms  {function:<24} {source:<36} {status}");
}
