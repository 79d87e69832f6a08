//! The open connections: who is on the other end of each, since when, and
//! the channel to the one task that writes to its socket, so that replies
//! and management API posts never interleave on the wire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// A connection id like API Gateway's (`L0SM9cOFvHcCIhw=`): random, short,
/// safe in a URL path.
pub fn new_connection_id() -> String {
    random_id()
}

/// Message ids look like connection ids in API Gateway's events.
pub fn new_message_id() -> String {
    random_id()
}

/// Request ids are unique and sort by time, which helps reading logs.
pub fn new_request_id() -> String {
    ulid::Ulid::new().to_string()
}

/// 72 random bits as 12 URL-safe characters, padded as API Gateway pads.
fn random_id() -> String {
    let random = ulid::Ulid::new().random().to_be_bytes();
    let mut id = URL_SAFE_NO_PAD.encode(&random[random.len() - 9..]);
    id.push('=');
    id
}

/// Who connected, as API Gateway reports it in `requestContext.identity`.
#[derive(Debug, Clone)]
pub struct Identity {
    pub source_ip: String,
    pub user_agent: Option<String>,
}

/// What every event of a connection says about it.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub id: String,
    pub connected_at: OffsetDateTime,
    pub identity: Identity,
    /// The host the client connected to: `requestContext.domainName`.
    pub domain_name: String,
    /// The authorizer's context and principal: `requestContext.authorizer`.
    pub authorizer: Option<Map<String, Value>>,
}

/// What the gateway sends a client.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    Binary(Bytes),
    /// Close with this code and reason, then end the connection.
    Close {
        code: u16,
        reason: &'static str,
    },
}

/// The connection is gone (or going): the management API's 410.
#[derive(Debug)]
pub struct Gone;

/// An open connection.
pub struct Connection {
    pub info: ConnectionInfo,
    last_active: Mutex<Activity>,
    outbox: mpsc::Sender<Outgoing>,
}

#[derive(Debug, Clone, Copy)]
struct Activity {
    at: OffsetDateTime,
    instant: Instant,
}

impl Connection {
    pub fn new(info: ConnectionInfo, outbox: mpsc::Sender<Outgoing>) -> Self {
        let activity = Activity { at: info.connected_at, instant: Instant::now() };
        Self { info, last_active: Mutex::new(activity), outbox }
    }

    /// Queues `message` for the socket's writer; waits if the client reads
    /// slowly, so a slow client slows its senders instead of growing memory.
    pub async fn send(&self, message: Outgoing) -> Result<(), Gone> {
        self.outbox.send(message).await.map_err(|_| Gone)
    }

    /// Records a message in either direction: it resets the idle timeout.
    pub fn touch(&self) {
        let now = Activity { at: OffsetDateTime::now_utc(), instant: Instant::now() };
        *self.last_active.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    pub fn last_active_at(&self) -> OffsetDateTime {
        self.activity().at
    }

    pub fn last_active_instant(&self) -> Instant {
        self.activity().instant
    }

    fn activity(&self) -> Activity {
        *self.last_active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The open connections by id.
#[derive(Default)]
pub struct Connections {
    open: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Connections {
    pub fn insert(&self, connection: Arc<Connection>) {
        self.lock().insert(connection.info.id.clone(), connection);
    }

    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.lock().get(id).cloned()
    }

    /// Forgets the connection: from now on the management API answers 410.
    pub fn remove(&self, id: &str) -> Option<Arc<Connection>> {
        self.lock().remove(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Connection>>> {
        // A panic while holding the lock leaves the map intact: keep serving.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_url_safe_padded_and_unique() {
        let first = new_connection_id();
        let second = new_connection_id();

        assert_eq!(first.len(), 13);
        assert!(first.ends_with('='));
        assert!(first[..12].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(first, second);
    }
}
