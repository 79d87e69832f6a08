//! The WebSocket API's function: `$connect` registers the connection (its
//! identity comes from the authorizer), `$disconnect` forgets it, and the
//! message routes subscribe to project channels, answer pings, keep
//! presence and relay broadcasts. Answers go back through `@connections`;
//! a refused message gets an `error` message and the connection stays.

mod actions;
pub mod config;
pub mod event;
pub mod inbound;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use http::HeaderValue;
use tessera_core::ratelimit::{SocketEvent as LimitedEvent, Target};
use tessera_platform::aws::Aws;
use tessera_platform::ratelimit::{RateLimiter, Requester};
use tessera_platform::redis::Redis;
use time::OffsetDateTime;

pub use config::WsConfig;
pub use event::SocketEvent;

use crate::connections::{Connection, ConnectionStore};
use crate::delivery::Sockets;
use crate::membership::Members;
use crate::messages::{ErrorReason, Reply};
use crate::presence::Presence;
use crate::throttle::Throttle;

/// The subprotocol of Tessera's messages, chosen when a client offers it.
pub const SUBPROTOCOL: &str = "tessera.v1";

/// What every invocation shares; one per execution environment.
#[derive(Clone)]
pub struct WsApp {
    pub connections: ConnectionStore,
    pub members: Members,
    pub sockets: Sockets,
    pub presence: Presence,
    pub throttle: Throttle,
    pub limiter: RateLimiter,
}

impl WsApp {
    pub fn new(aws: Aws, config: &WsConfig) -> redis::RedisResult<Self> {
        let redis = Redis::new(&config.redis)?;
        let connections = ConnectionStore::new(aws.clone(), &config.connections_table);
        Ok(Self {
            members: Members::new(aws.clone(), &config.content_table),
            // Replies and presence go to a project's sockets: dozens, not thousands.
            sockets: Sockets::new(aws, &config.connections_endpoint, connections.clone(), 32),
            connections,
            presence: Presence::new(redis.clone(), &config.key_prefix, config.presence_ttl),
            throttle: Throttle::new(redis.clone(), &config.key_prefix, config.broadcast_per_second),
            limiter: RateLimiter::new(&config.rate_limits, redis, config.redis.cluster),
        })
    }
}

/// Handles one event of any route.
pub async fn handle(app: &WsApp, event: SocketEvent) -> ApiGatewayProxyResponse {
    match event.request_context.route_key.as_str() {
        "$connect" => connect(app, &event).await,
        "$disconnect" => {
            actions::disconnect(app, &event.request_context.connection_id).await;
            status(200)
        }
        route => {
            message(app, route, &event).await;
            status(200)
        }
    }
}

async fn connect(app: &WsApp, event: &SocketEvent) -> ApiGatewayProxyResponse {
    let Some(caller) = event.caller() else {
        tracing::warn!("a $connect without the authorizer's identity");
        return status(401);
    };
    let requester =
        Requester { user: Some(caller.user_id.clone()), tier: caller.tier, ip: event.source_ip(), connection: None };
    let decision = app.limiter.check(Target::Socket(LimitedEvent::Connect), &requester).await;
    if let Some(wait) = decision.retry_after_ms() {
        let mut response = status(429);
        let seconds = wait.div_ceil(1000).to_string();
        response.headers.insert("retry-after", HeaderValue::from_str(&seconds).expect("digits"));
        return response;
    }
    let connection = Connection {
        id: event.request_context.connection_id.clone(),
        user_id: caller.user_id,
        tier: caller.tier,
        connected_at: connected_at(event.request_context.connected_at),
    };
    if let Err(error) = app.connections.register(&connection).await {
        tracing::error!(error = format!("{error:#}"), "could not register a connection");
        return status(500);
    }
    let mut response = status(200);
    if let Some(protocol) = chosen_subprotocol(event.header("sec-websocket-protocol")) {
        response.headers.insert("Sec-WebSocket-Protocol", protocol);
    }
    response
}

/// A client that offers subprotocols must be answered with one of them, or
/// browsers drop the connection: ours when offered, else the first (a
/// browser that only sent its `bearer.<token>`).
fn chosen_subprotocol(offered: Option<&str>) -> Option<HeaderValue> {
    let offered: Vec<&str> = offered?.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let chosen = offered.iter().find(|p| **p == SUBPROTOCOL).or(offered.first())?;
    HeaderValue::from_str(chosen).ok()
}

async fn message(app: &WsApp, route: &str, event: &SocketEvent) {
    let context = &event.request_context;
    let Some(caller) = event.caller() else {
        tracing::warn!(route, "a message without the authorizer's identity");
        return;
    };
    let requester = Requester {
        user: Some(caller.user_id.clone()),
        tier: caller.tier,
        ip: event.source_ip(),
        connection: Some(context.connection_id.clone()),
    };
    let decision = app.limiter.check(Target::Socket(LimitedEvent::Message), &requester).await;
    let reply = if let Some(wait) = decision.retry_after_ms() {
        Some(Reply::Error {
            reason: ErrorReason::RateLimited,
            message: "too many messages on this connection".into(),
            action: None,
            retry_after_ms: Some(wait),
        })
    } else {
        let connection = Connection {
            id: context.connection_id.clone(),
            user_id: caller.user_id,
            tier: caller.tier,
            connected_at: connected_at(context.connected_at),
        };
        match inbound::parse(route, event.body.as_deref(), event.is_base64_encoded) {
            Ok(action) => actions::run(app, &connection, action).await,
            Err(refusal) => Some(refusal),
        }
    };
    if let Some(reply) = reply {
        app.sockets.post(&context.connection_id, &reply.to_json()).await;
    }
}

fn connected_at(epoch_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(epoch_ms) * 1_000_000)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
}

fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = code;
    if code >= 400 {
        response.body = Some(Body::Text(String::new()));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_is_chosen_among_the_offered_subprotocols() {
        assert_eq!(chosen_subprotocol(Some("bearer.abc, tessera.v1")).unwrap(), "tessera.v1");
        assert_eq!(chosen_subprotocol(Some("bearer.abc")).unwrap(), "bearer.abc");
        assert_eq!(chosen_subprotocol(None), None);
    }
}
