//! A notification as an Inbox table item, and back. The event is kept as
//! JSON text: any JSON round-trips, whatever DynamoDB's types refuse
//! (numbers over 38 digits) or moto mistakes (map keys such as `"N"`).
//! Absent options are left out rather than stored as NULL, so that
//! `if_not_exists(readAt, ..)` sees a never-read notification as such.

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::content::{NotificationId, ProjectId};

use super::Notification;

pub type Item = HashMap<String, AttributeValue>;

/// Sort keys of notifications; ULIDs sort by time, so newest last.
pub const NOTIFICATION_PREFIX: &str = "NOTIF#";

pub fn partition(user: &UserId) -> String {
    format!("USER#{user}")
}

/// GSI1's partition: only unread notifications carry it.
pub fn unread_partition(user: &UserId) -> String {
    format!("UNREAD#{user}")
}

pub fn sort_key(id: &NotificationId) -> String {
    format!("{NOTIFICATION_PREFIX}{id}")
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    id: NotificationId,
    user_id: UserId,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project_id: Option<ProjectId>,
    event: String,
    created_at: String,
    read: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_at: Option<String>,
    /// Epoch seconds, for DynamoDB's TTL.
    expires_at: i64,
}

/// The item for `notification`, expiring at `expires_at` (epoch seconds);
/// in the unread index unless it is read.
pub fn item_of(notification: &Notification, expires_at: i64) -> anyhow::Result<Item> {
    let unread = !notification.read;
    let stored = Stored {
        pk: partition(&notification.user_id),
        sk: sort_key(&notification.id),
        gsi1pk: unread.then(|| unread_partition(&notification.user_id)),
        gsi1sk: unread.then(|| sort_key(&notification.id)),
        id: notification.id.clone(),
        user_id: notification.user_id.clone(),
        kind: notification.kind.clone(),
        project_id: notification.project_id.clone(),
        event: notification.event.to_string(),
        created_at: notification.created_at.clone(),
        read: notification.read,
        read_at: notification.read_at.clone(),
        expires_at,
    };
    serde_dynamo::to_item(stored).context("a notification as an item")
}

pub fn notification_of(item: Item) -> anyhow::Result<Notification> {
    let stored: Stored = serde_dynamo::from_item(item).context("a stored notification")?;
    Ok(Notification {
        event: serde_json::from_str(&stored.event).context("a stored notification's event")?,
        id: stored.id,
        user_id: stored.user_id,
        kind: stored.kind,
        project_id: stored.project_id,
        created_at: stored.created_at,
        read: stored.read,
        read_at: stored.read_at,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    fn notification() -> Notification {
        let at = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        let event = json!({"type": "block.conflict", "changes": {"N": "1"}});
        Notification::new(UserId::parse("ann").unwrap(), event, "message-1", at)
    }

    #[test]
    fn an_unread_notification_is_in_the_unread_index_with_its_event_as_text() {
        // GIVEN a new notification WHEN it becomes an item
        let notification = notification();
        let item = item_of(&notification, 42).unwrap();
        // THEN it is keyed to its user, indexed as unread, and reads back the same
        let key = |name: &str| item[name].as_s().unwrap().clone();
        assert_eq!((key("pk"), key("gsi1pk")), ("USER#ann".to_owned(), "UNREAD#ann".to_owned()));
        assert_eq!(key("gsi1sk"), key("sk"));
        assert_eq!(key("event"), notification.event.to_string());
        assert_eq!(item["expiresAt"].as_n().unwrap(), "42");
        assert!(!item.contains_key("readAt") && !item.contains_key("projectId"));
        assert_eq!(notification_of(item).unwrap(), notification);
    }

    #[test]
    fn a_read_notification_stays_out_of_the_unread_index() {
        let notification = Notification { read: true, read_at: Some("2026-01-01T00:00:00Z".into()), ..notification() };
        let item = item_of(&notification, 42).unwrap();
        assert!(!item.contains_key("gsi1pk") && !item.contains_key("gsi1sk"));
        assert_eq!(notification_of(item).unwrap(), notification);
    }
}
