//! The inbox: what concerned a person (their edit lost to someone's, they
//! were added to a project), kept for them to find later. The fan-out
//! writes it; `notifications-api` lists it and marks it read.

mod config;
mod item;
mod routes;
mod store;

use serde::Serialize;
use serde_json::Value;
use tessera_core::UserId;
use tessera_core::content::{NotificationId, ProjectId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ulid::Ulid;

pub use config::InboxConfig;
pub use routes::{openapi, router};
pub use store::{InboxStore, MarkAll};
pub use tessera_platform::cursor::ListError;

/// A notification as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    /// The event's type: `block.conflict`, `member.added`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub project_id: Option<ProjectId>,
    /// The event as it was pushed to the person's sockets.
    #[schema(value_type = Object)]
    pub event: Value,
    pub created_at: String,
    pub read: bool,
    pub read_at: Option<String>,
}

impl Notification {
    /// A new, unread notification of `event` for `user`; its `type` and
    /// `projectId` are the event's. The id is a ULID made of `at` and a
    /// hash of (`source`, `user`), so a retried delivery writes the same
    /// notification, not a second one: `source` is the source event's id
    /// (stream sequence number, queue message id) and `at` must be the
    /// source event's own time (the stream record's creation time, the
    /// message's `SentTimestamp`), never the time of delivery.
    pub fn new(user: UserId, event: Value, source: &str, at: OffsetDateTime) -> Self {
        let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let random = fnv1a_128(&[source.as_bytes(), b"\0", user.as_str().as_bytes()]) & ((1u128 << 80) - 1);
        // A ULID's text is always a valid id (its first character is at most '7').
        let id = NotificationId::parse(&Ulid::from_parts(millis, random).to_string()).expect("a ULID is an id");
        Self {
            id,
            kind: event.get("type").and_then(Value::as_str).unwrap_or("unknown").to_owned(),
            project_id: event.get("projectId").and_then(Value::as_str).and_then(|p| ProjectId::parse(p).ok()),
            user_id: user,
            event,
            created_at: at.format(&Rfc3339).unwrap_or_default(),
            read: false,
            read_at: None,
        }
    }
}

/// FNV-1a, 128 bits: stable across processes and releases, unlike std's hasher.
fn fnv1a_128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    parts.iter().flat_map(|part| part.iter()).fold(OFFSET, |hash, byte| (hash ^ u128::from(*byte)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_retried_delivery_is_the_same_notification_and_another_source_is_not() {
        let at = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        let event = json!({"type": "member.added", "projectId": "01JF3Z8Q9W6X2K7M4N5P8R0T1V", "userId": "ben"});
        let ben = UserId::parse("ben").unwrap();

        let first = Notification::new(ben.clone(), event.clone(), "record-1", at);
        let again = Notification::new(ben.clone(), event.clone(), "record-1", at);
        let other = Notification::new(ben, event, "record-2", at);

        assert_eq!(first, again);
        assert_ne!(first.id, other.id);
        assert_eq!(
            (first.kind.as_str(), first.project_id.unwrap().as_str()),
            ("member.added", "01JF3Z8Q9W6X2K7M4N5P8R0T1V")
        );
        assert!(!first.read);
    }
}
