//! Invokes functions through `cargo lambda watch`'s Lambda invoke API, as
//! API Gateway and Lambda's event-source pollers invoke them in AWS, and
//! prints one line per invocation.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::Semaphore;

/// Invocations of one function waiting in `cargo lambda watch` at once.
/// Its queue per function holds 100, and a full one wedges every function
/// (1.9: the producer waits for room while holding the lock consumers
/// need), so a burst waits here instead, as a throttled one would in AWS.
pub const IN_FLIGHT_PER_FUNCTION: usize = 64;

/// How long past its timeout an invocation keeps its place in the queue.
const ABANDON_AFTER: Duration = Duration::from_secs(60);

/// `cargo lambda watch`'s invoke endpoint.
#[derive(Clone)]
pub struct Lambda {
    http: reqwest::Client,
    endpoint: String,
    in_flight: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
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
        Self {
            http: reqwest::Client::new(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            in_flight: Arc::default(),
        }
    }

    fn in_flight(&self, binary: &str) -> Arc<Semaphore> {
        let mut functions = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let semaphore =
            functions.entry(binary.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(IN_FLIGHT_PER_FUNCTION)));
        semaphore.clone()
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

    /// Invokes `binary` with `event`, waiting at most `timeout` from the
    /// moment it is handed to the watch (API Gateway's integration timeout
    /// counts start-up too). The wait for a place in the function's queue
    /// is not counted: in AWS the function would scale out instead. One
    /// that times out keeps its place until `cargo lambda watch` answers it
    /// (or `ABANDON_AFTER` passes), since the watch still runs it.
    pub async fn invoke(&self, binary: &str, event: &Value, timeout: Duration) -> Result<Invocation, InvokeError> {
        let permit = self.in_flight(binary).acquire_owned().await.expect("the semaphore is never closed");
        let started = Instant::now();
        let url = format!("{}/2015-03-31/functions/{binary}/invocations", self.endpoint);
        let request = self.http.post(url).json(event).timeout(timeout + ABANDON_AFTER).send();
        let exchange = tokio::spawn(async move {
            let _permit = permit;
            let response = request.await.map_err(InvokeError::Unreachable)?;
            let status = response.status();
            // Lambda marks a function's own failure with this header and a 200.
            let function_error = response.headers().contains_key("x-amz-function-error");
            let payload = response.bytes().await.map_err(InvokeError::Unreachable)?;
            Ok::<_, InvokeError>((status, function_error, payload))
        });
        let (status, function_error, payload) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => return Err(InvokeError::Timeout(timeout)),
            Ok(joined) => joined.expect("an invocation does not panic")?,
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
