//! What each action does. Each returns the reply for the caller, if any;
//! messages for the other collaborators are posted on the way.

use serde_json::{Map, Value};
use tessera_core::content::ProjectId;
use time::OffsetDateTime;

use super::WsApp;
use super::inbound::Action;
use crate::connections::Connection;
use crate::messages::{ErrorReason, Reply};
use crate::presence::Present;
use crate::throttle::Verdict;

pub async fn run(app: &WsApp, connection: &Connection, action: Action) -> Option<Reply> {
    let result = match action {
        Action::Ping => Ok(Some(Reply::Pong)),
        Action::Subscribe { project_id } => subscribe(app, connection, project_id).await,
        Action::Unsubscribe { project_id } => unsubscribe(app, connection, project_id).await,
        Action::Presence { project_id, state } => presence(app, connection, project_id, state).await,
        Action::Broadcast { project_id, data } => broadcast(app, connection, project_id, data).await,
    };
    result.unwrap_or_else(|error| {
        tracing::error!(error = format!("{error:#}"), connection = %connection.id, "an action failed");
        Some(Reply::error(ErrorReason::Internal, "the action failed; try again"))
    })
}

/// Members only. The answer carries the project's version and who is here.
async fn subscribe(app: &WsApp, connection: &Connection, project: ProjectId) -> anyhow::Result<Option<Reply>> {
    let Some(membership) = app.members.of(&project, &connection.user_id).await? else {
        // The same answer for a missing project: existence is not leaked.
        return Ok(Some(Reply::error(ErrorReason::Forbidden, "only the project's members may subscribe")));
    };
    app.connections.subscribe(connection, &project).await?;
    let present = match app.presence.roster(&project, now_ms()).await {
        Ok(roster) => {
            announce_stale(app, &project, roster.stale).await;
            roster.here
        }
        Err(error) => {
            tracing::warn!(%error, "presence unavailable; subscribing without it");
            Vec::new()
        }
    };
    Ok(Some(Reply::Subscribed { project_id: project, role: membership.role, version: membership.version, present }))
}

async fn unsubscribe(app: &WsApp, connection: &Connection, project: ProjectId) -> anyhow::Result<Option<Reply>> {
    app.connections.unsubscribe(&connection.id, &project).await?;
    leave(app, &project, &connection.id).await;
    Ok(Some(Reply::Unsubscribed { project_id: project }))
}

/// A heartbeat with the client's state: the others hear of a join or a
/// change, not of a mere heartbeat.
async fn presence(
    app: &WsApp,
    connection: &Connection,
    project: ProjectId,
    state: Map<String, Value>,
) -> anyhow::Result<Option<Reply>> {
    if !app.connections.is_subscribed(&connection.id, &project).await? {
        return Ok(Some(not_subscribed("presence")));
    }
    let present = Present {
        connection_id: connection.id.clone(),
        user_id: connection.user_id.clone(),
        state: Value::Object(state),
        seen_at: now_ms(),
    };
    let before = match app.presence.beat(&project, &present).await {
        Ok(before) => before,
        Err(error) => {
            tracing::warn!(%error, "presence unavailable");
            return Ok(Some(Reply::error(ErrorReason::Unavailable, "presence is unavailable; try again shortly")));
        }
    };
    let news = match before {
        None => Some(Reply::PresenceJoined { project_id: project.clone(), present }),
        Some(before) if before.state != present.state => {
            Some(Reply::PresenceUpdated { project_id: project.clone(), present })
        }
        Some(_) => None,
    };
    if let Some(news) = news {
        to_others(app, &project, &connection.id, &news).await?;
    }
    Ok(None)
}

/// Relayed to the others, coalesced to the broadcast rate.
async fn broadcast(
    app: &WsApp,
    connection: &Connection,
    project: ProjectId,
    data: Map<String, Value>,
) -> anyhow::Result<Option<Reply>> {
    if !app.connections.is_subscribed(&connection.id, &project).await? {
        return Ok(Some(not_subscribed("broadcast")));
    }
    let message = Reply::Broadcast {
        project_id: project.clone(),
        connection_id: connection.id.clone(),
        user_id: connection.user_id.clone(),
        data: Value::Object(data),
    }
    .to_json();
    let message = match app.throttle.admit(&connection.id, &project, message.clone()).await {
        Ok(Verdict::Send(message)) => message,
        Ok(Verdict::Coalesced) => return Ok(None),
        Err(error) => {
            // Without Redis nothing is coalesced; the message rate limit still holds.
            tracing::warn!(%error, "broadcast throttle unavailable; sending as is");
            message
        }
    };
    let others = others(app, &project, &connection.id).await?;
    app.sockets.post_all(others, &message).await;
    Ok(None)
}

/// `$disconnect`: forgets the connection, then leaves every channel it
/// was in (the others see the leave).
pub async fn disconnect(app: &WsApp, connection_id: &str) {
    match app.connections.remove(connection_id).await {
        Ok(projects) => {
            for project in projects {
                leave(app, &project, connection_id).await;
            }
        }
        // Its items expire with the connection's lifetime, its presence with the TTL.
        Err(error) => tracing::warn!(error = format!("{error:#}"), "could not forget a connection"),
    }
}

/// Removes the connection's presence and tells the others, if it was there.
async fn leave(app: &WsApp, project: &ProjectId, connection_id: &str) {
    let left = match app.presence.leave(project, connection_id).await {
        Ok(left) => left,
        Err(error) => {
            // The entry goes stale and is pruned by the next reader.
            tracing::warn!(%error, "presence unavailable on leave");
            None
        }
    };
    if let Some(left) = left {
        announce_left(app, project, left).await;
    }
}

async fn announce_stale(app: &WsApp, project: &ProjectId, stale: Vec<Present>) {
    for present in stale {
        announce_left(app, project, present).await;
    }
}

async fn announce_left(app: &WsApp, project: &ProjectId, present: Present) {
    let news = Reply::PresenceLeft {
        project_id: project.clone(),
        connection_id: present.connection_id.clone(),
        user_id: present.user_id,
    };
    if let Err(error) = to_others(app, project, &present.connection_id, &news).await {
        tracing::warn!(error = format!("{error:#}"), "could not announce a leave");
    }
}

async fn to_others(app: &WsApp, project: &ProjectId, except: &str, message: &Reply) -> anyhow::Result<()> {
    let others = others(app, project, except).await?;
    app.sockets.post_all(others, &message.to_json()).await;
    Ok(())
}

async fn others(app: &WsApp, project: &ProjectId, except: &str) -> anyhow::Result<Vec<String>> {
    let subscribers = app.connections.subscribers(project).await?;
    Ok(subscribers.into_iter().map(|s| s.connection_id).filter(|id| id != except).collect())
}

fn not_subscribed(action: &str) -> Reply {
    Reply::refused(ErrorReason::NotSubscribed, "subscribe to the project first", action)
}

fn now_ms() -> u64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}
