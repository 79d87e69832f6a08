//! The devstack's Lambda client against a stand-in invoke API that holds
//! every invocation of one function until told to answer: a burst never
//! puts more than `IN_FLIGHT_PER_FUNCTION` into `cargo lambda watch`'s
//! queue, not even once the callers have given up waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::json;
use tessera_devstack::lambda::{IN_FLIGHT_PER_FUNCTION, InvokeError, Lambda};
use tokio::sync::watch;

#[derive(Clone)]
struct InvokeApi {
    held: Arc<AtomicUsize>,
    arrived: Arc<AtomicUsize>,
    answer: watch::Receiver<bool>,
}

async fn invoke(State(api): State<InvokeApi>, Path(function): Path<String>) -> &'static str {
    if function == "held" {
        api.arrived.fetch_add(1, Ordering::SeqCst);
        api.held.fetch_add(1, Ordering::SeqCst);
        let mut answer = api.answer.clone();
        let _ = answer.wait_for(|go| *go).await;
        api.held.fetch_sub(1, Ordering::SeqCst);
    }
    "{}"
}

#[tokio::test]
async fn a_burst_waits_in_the_devstack_not_in_the_watch_queue() {
    let (release, answer) = watch::channel(false);
    let api = InvokeApi { held: Arc::default(), arrived: Arc::default(), answer };
    let app = Router::new().route("/2015-03-31/functions/{function}/invocations", post(invoke)).with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let lambda = Lambda::new(&endpoint);

    let burst = IN_FLIGHT_PER_FUNCTION + 36;
    let callers: Vec<_> = (0..burst)
        .map(|_| {
            let lambda = lambda.clone();
            tokio::spawn(async move { lambda.invoke("held", &json!({}), Duration::from_millis(20)).await })
        })
        .collect();
    while api.held.load(Ordering::SeqCst) < IN_FLIGHT_PER_FUNCTION {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Long past the callers' timeout: the first ones have given up, and
    // still nobody else got in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.arrived.load(Ordering::SeqCst), IN_FLIGHT_PER_FUNCTION);

    // Another function is not held up by this one's queue.
    let other = lambda.invoke("other", &json!({}), Duration::from_secs(5)).await.unwrap();
    assert_eq!(&other.payload[..], b"{}");

    release.send(true).unwrap();
    let mut timed_out = 0;
    for caller in callers {
        if let Err(InvokeError::Timeout(_)) = caller.await.unwrap() {
            timed_out += 1;
        }
    }
    assert_eq!(api.arrived.load(Ordering::SeqCst), burst);
    assert!(timed_out >= IN_FLIGHT_PER_FUNCTION, "{timed_out} timed out");
}
