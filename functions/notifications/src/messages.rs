//! What the server sends to clients: JSON, every message with a `type`.
//! `websocket-messages.schema.json` at the workspace root writes these
//! shapes down for clients; tests hold every message sent to it.

use serde::Serialize;
use serde_json::Value;
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole};

use crate::presence::Present;

/// A message to a socket that is not a content event (those are built by
/// the fan-out, see `fanout::events`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub enum Reply {
    /// The connection joined a project's channel. `version` is the project's
    /// version: a client that saw an older one missed a change while away.
    #[serde(rename = "subscribed", rename_all = "camelCase")]
    Subscribed { project_id: ProjectId, role: ProjectRole, version: u64, present: Vec<Present> },
    #[serde(rename = "unsubscribed", rename_all = "camelCase")]
    Unsubscribed { project_id: ProjectId },
    #[serde(rename = "pong")]
    Pong,
    /// A collaborator appeared in the project (`presence.joined`), changed
    /// their presence state (`presence.updated`) or left it (`presence.left`).
    #[serde(rename = "presence.joined", rename_all = "camelCase")]
    PresenceJoined { project_id: ProjectId, present: Present },
    #[serde(rename = "presence.updated", rename_all = "camelCase")]
    PresenceUpdated { project_id: ProjectId, present: Present },
    #[serde(rename = "presence.left", rename_all = "camelCase")]
    PresenceLeft { project_id: ProjectId, connection_id: String, user_id: UserId },
    /// An ephemeral message (cursor, selection) from another collaborator.
    #[serde(rename = "broadcast", rename_all = "camelCase")]
    Broadcast { project_id: ProjectId, connection_id: String, user_id: UserId, data: Value },
    #[serde(rename = "error", rename_all = "camelCase")]
    Error {
        reason: ErrorReason,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        action: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

/// Why a message was refused. The connection stays open whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorReason {
    /// The message is not JSON, or not an object.
    InvalidJson,
    UnknownAction,
    /// JSON, but not the action's shape (a bad project id, a missing field).
    InvalidMessage,
    /// Not a member of the project.
    Forbidden,
    /// Presence or broadcast on a project the connection is not subscribed to.
    NotSubscribed,
    TooLarge,
    RateLimited,
    /// A dependency (Redis) cannot serve the action right now.
    Unavailable,
    Internal,
}

impl Reply {
    pub fn error(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self::Error { reason, message: message.into(), action: None, retry_after_ms: None }
    }

    /// An error about the message's `action`.
    pub fn refused(reason: ErrorReason, message: impl Into<String>, action: &str) -> Self {
        Self::Error { reason, message: message.into(), action: Some(action.to_owned()), retry_after_ms: None }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
