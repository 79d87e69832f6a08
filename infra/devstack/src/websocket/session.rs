//! One connection's life after the upgrade: one task owns the socket,
//! reading the client's messages and writing what the outbox holds
//! (two-way replies, management API posts, closes), so writes never
//! interleave; another hands the client's messages to their routes one at a
//! time, in order, so a slow function holds up only its own connection.
//! Whoever ends the connection, `$disconnect` runs last.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};

use super::connections::{Connection, Outgoing, new_request_id};
use super::events::{self, Disconnection, InboundMessage};
use super::routing::select_route;
use super::{Gateway, GatewayConfig};

/// How long a client may take to answer the gateway's close frame.
const CLOSE_HANDSHAKE_PATIENCE: Duration = Duration::from_secs(5);

/// Close codes the gateway itself closes with (RFC 6455, section 7.4.1).
const GOING_AWAY: u16 = 1001;
const MESSAGE_TOO_BIG: u16 = 1009;

/// Serves `connection` on `socket` until either side ends it.
pub async fn run(
    gateway: Arc<Gateway>,
    mut socket: WebSocket,
    connection: Arc<Connection>,
    outgoing: mpsc::Receiver<Outgoing>,
) {
    gateway.connections.insert(connection.clone());
    // Unbounded: the socket task must never wait on the dispatcher, which
    // may itself be waiting for the socket task to take a reply.
    let (inbound, received) = mpsc::unbounded_channel();
    let dispatcher = tokio::spawn(dispatch(gateway.clone(), connection.clone(), received));

    let ending = pump(&gateway.config, &mut socket, &connection, outgoing, inbound).await;
    gateway.connections.remove(&connection.info.id);
    let disconnection = close_handshake(&mut socket, ending).await;
    drop(socket);

    // Messages received before the end still reach their routes, as they
    // would have in API Gateway; `$disconnect` comes after them.
    let _ = dispatcher.await;
    if let Some(route) = gateway.route("$disconnect") {
        let event = events::disconnect(&gateway.websocket, &connection.info, &disconnection, &new_request_id());
        let _ = gateway.invoke(&route.function, "ws $disconnect", &event).await;
    }
}

/// How the socket task ended.
enum Ending {
    /// The client closed, or its connection dropped.
    ByClient(Disconnection),
    /// The gateway closes: idle, too old, too big a message, or deleted
    /// through the management API.
    ByGateway { code: u16, reason: &'static str },
}

/// Moves messages between the socket and the rest of the gateway, and
/// enforces the idle timeout, the maximum duration and the message size.
async fn pump(
    config: &GatewayConfig,
    socket: &mut WebSocket,
    connection: &Connection,
    mut outgoing: mpsc::Receiver<Outgoing>,
    inbound: mpsc::UnboundedSender<InboundMessage>,
) -> Ending {
    let too_old = Instant::now() + config.max_connection_duration;
    loop {
        let idle_from = Instant::from_std(connection.last_active_instant()) + config.idle_timeout;
        tokio::select! {
            received = socket.recv() => {
                let message = match received {
                    Some(Ok(Message::Text(text))) => InboundMessage::Text(text.as_str().to_owned()),
                    Some(Ok(Message::Binary(bytes))) => InboundMessage::Binary(bytes),
                    // axum answers pings itself; control frames are not messages.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(frame))) => return Ending::ByClient(closed_by_client(frame)),
                    Some(Err(_)) | None => return Ending::ByClient(dropped()),
                };
                let size = match &message {
                    InboundMessage::Text(text) => text.len(),
                    InboundMessage::Binary(bytes) => bytes.len(),
                };
                if size > config.max_message_bytes {
                    return Ending::ByGateway { code: MESSAGE_TOO_BIG, reason: "Message too big" };
                }
                connection.touch();
                // Fails only once the dispatcher is gone, which it is not while we run.
                let _ = inbound.send(message);
            }
            queued = outgoing.recv() => {
                let message = match queued {
                    Some(Outgoing::Text(text)) => Message::Text(text.into()),
                    Some(Outgoing::Binary(bytes)) => Message::Binary(bytes),
                    Some(Outgoing::Close { code, reason }) => return Ending::ByGateway { code, reason },
                    None => return Ending::ByGateway { code: GOING_AWAY, reason: "Going away" },
                };
                if socket.send(message).await.is_err() {
                    return Ending::ByClient(dropped());
                }
                connection.touch();
            }
            () = sleep_until(idle_from) => {
                // Activity since the timer was set moves the deadline instead.
                if connection.last_active_instant().elapsed() >= config.idle_timeout {
                    return Ending::ByGateway { code: GOING_AWAY, reason: "Going away" };
                }
            }
            () = sleep_until(too_old) => return Ending::ByGateway { code: GOING_AWAY, reason: "Going away" },
        }
    }
}

/// Completes the closing handshake, within a few seconds: the gateway's
/// close frame, if it is the one closing, then reading to the end, which
/// also sends the answer to a client's close frame (tungstenite sends it on
/// the next read).
async fn close_handshake(socket: &mut WebSocket, ending: Ending) -> Disconnection {
    let disconnection = match ending {
        Ending::ByClient(disconnection) => disconnection,
        Ending::ByGateway { code, reason } => {
            // A client already gone cannot answer; the reading below ends at once.
            let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
            Disconnection { status_code: code, reason: reason.to_owned() }
        }
    };
    let to_the_end = async { while let Some(Ok(_)) = socket.recv().await {} };
    let _ = timeout(CLOSE_HANDSHAKE_PATIENCE, to_the_end).await;
    disconnection
}

fn closed_by_client(frame: Option<CloseFrame>) -> Disconnection {
    match frame {
        Some(frame) => Disconnection {
            status_code: frame.code,
            reason: format!(
                "Client-side close frame status code '{}' and reason '{}'",
                frame.code,
                frame.reason.as_str()
            ),
        },
        None => Disconnection { status_code: 1005, reason: "Client-side close frame without status code".into() },
    }
}

/// The TCP connection went without a close frame.
fn dropped() -> Disconnection {
    Disconnection { status_code: 1006, reason: "Connection closed abnormally".into() }
}

/// Hands the client's messages to their routes, one at a time.
async fn dispatch(
    gateway: Arc<Gateway>,
    connection: Arc<Connection>,
    mut received: mpsc::UnboundedReceiver<InboundMessage>,
) {
    while let Some(message) = received.recv().await {
        route_message(&gateway, &connection, &message).await;
    }
}

/// Invokes the message's route; a two-way route's answer goes back to the
/// client. What API Gateway tells a client when there is no route or the
/// function fails, the client is told here too, and the connection stays.
async fn route_message(gateway: &Gateway, connection: &Connection, message: &InboundMessage) {
    let request_id = new_request_id();
    let Some((route_key, route)) =
        select_route(&gateway.websocket, message).and_then(|key| Some((key, gateway.route(key)?)))
    else {
        tell_client(connection, "Forbidden", &request_id).await;
        return;
    };
    let event = events::message(&gateway.websocket, &connection.info, route_key, message, &request_id);
    match gateway.invoke(&route.function, &format!("ws {route_key}"), &event).await {
        Err(_) => tell_client(connection, "Internal server error", &request_id).await,
        Ok(answer) if route.two_way => {
            if let Some(reply) = route_response(&answer) {
                // A client that left meanwhile misses its reply, as in AWS.
                let _ = connection.send(reply).await;
            }
        }
        Ok(_) => {}
    }
}

/// A two-way route's answer: the proxy response's `body`, decoded if the
/// function marked it base64.
fn route_response(answer: &Value) -> Option<Outgoing> {
    let body = answer.get("body")?.as_str()?;
    if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        return STANDARD.decode(body).ok().map(|bytes| Outgoing::Binary(bytes.into()));
    }
    Some(Outgoing::Text(body.to_owned()))
}

/// API Gateway's own message to a client: `{"message", "connectionId", "requestId"}`.
async fn tell_client(connection: &Connection, message: &str, request_id: &str) {
    let body = json!({ "message": message, "connectionId": connection.info.id, "requestId": request_id });
    let _ = connection.send(Outgoing::Text(body.to_string())).await;
}
