//! The Inbox table through `InboxStore`, against moto server on a stack
//! provisioned from template.yaml: idempotent delivery, newest-first pages,
//! the unread index, marking read, and one person's inbox kept from another.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use tessera_core::UserId;
use tessera_core::content::NotificationId;
use tessera_notifications::inbox::{InboxStore, ListError, Notification};
use tessera_platform::aws::Aws;
use tessera_testkit::{LocalServices, Stack, provision_stack};
use time::OffsetDateTime;

const TTL: Duration = Duration::from_secs(90 * 24 * 3600);

struct Inbox {
    store: InboxStore,
    table: String,
    aws: Aws,
    _stack: Stack,
}

impl Inbox {
    async fn spawn() -> Self {
        let stack = provision_stack().await;
        let table = stack.reference("InboxTable").to_owned();
        let aws = Aws::with_config(LocalServices::shared().sdk_config());
        Self { store: InboxStore::new(aws.clone(), &table), table, aws, _stack: stack }
    }

    /// Delivers `count` notifications to `user`, one a second apart from
    /// `start`; returns them oldest first.
    async fn deliver_many(&self, user: &str, count: usize) -> Vec<Notification> {
        let mut delivered = Vec::new();
        for n in 0..count {
            let notification = notification(user, &format!("{user}-source-{n}"), n as i64);
            assert!(self.store.deliver(&notification, TTL).await.unwrap(), "notification {n} is new");
            delivered.push(notification);
        }
        delivered
    }

    /// Every notification of `user` (or only the unread), following the
    /// cursors `limit` at a time; also how many pages it took.
    async fn all(&self, user: &str, unread_only: bool, limit: i32) -> (Vec<Notification>, usize) {
        let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        loop {
            let page = self.store.list(&id(user), unread_only, limit, cursor.as_deref()).await.unwrap();
            assert!(page.items.len() <= limit as usize);
            items.extend(page.items);
            pages += 1;
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return (items, pages),
            }
        }
    }

    async fn raw_item(&self, notification: &Notification) -> std::collections::HashMap<String, AttributeValue> {
        self.aws
            .dynamodb()
            .await
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("USER#{}", notification.user_id)))
            .key("sk", AttributeValue::S(format!("NOTIF#{}", notification.id)))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .expect("the item is stored")
    }
}

fn id(user: &str) -> UserId {
    UserId::parse(user).unwrap()
}

/// A `member.added` for `user`, `seconds` after a fixed instant.
fn notification(user: &str, source: &str, seconds: i64) -> Notification {
    let at = OffsetDateTime::from_unix_timestamp(1_764_000_000 + seconds).unwrap();
    let event =
        json!({"type": "member.added", "projectId": "01JF3Z8Q9W6X2K7M4N5P8R0T1V", "userId": user, "n": seconds});
    Notification::new(id(user), event, source, at)
}

fn ids(notifications: &[Notification]) -> Vec<String> {
    notifications.iter().map(|n| n.id.to_string()).collect()
}

fn newest_first(notifications: &[Notification]) -> Vec<String> {
    ids(notifications).into_iter().rev().collect()
}

#[tokio::test]
async fn a_retried_delivery_stores_nothing_new_and_keeps_the_first() {
    let inbox = Inbox::spawn().await;
    let first = notification("ann", "stream-42", 0);
    let mut retried = first.clone();
    retried.event = json!({"type": "member.added", "changed": "on retry"});

    let stored = inbox.store.deliver(&first, TTL).await.unwrap();
    let again = inbox.store.deliver(&retried, TTL).await.unwrap();
    let (listed, _) = inbox.all("ann", false, 25).await;

    assert_eq!((stored, again), (true, false));
    assert_eq!(listed, vec![first]);
    assert_eq!(inbox.store.unread_count(&id("ann")).await.unwrap(), 1);
}

#[tokio::test]
async fn the_same_source_for_another_user_is_another_notification() {
    let inbox = Inbox::spawn().await;
    let for_ann = notification("ann", "stream-42", 0);
    let for_ben = notification("ben", "stream-42", 0);

    assert!(inbox.store.deliver(&for_ann, TTL).await.unwrap());
    assert!(inbox.store.deliver(&for_ben, TTL).await.unwrap());

    assert_ne!(for_ann.id, for_ben.id);
    assert_eq!(inbox.all("ben", false, 25).await.0, vec![for_ben]);
}

#[tokio::test]
async fn the_inbox_is_listed_newest_first_a_page_at_a_time() {
    let inbox = Inbox::spawn().await;
    let delivered = inbox.deliver_many("ann", 5).await;

    let first = inbox.store.list(&id("ann"), false, 2, None).await.unwrap();
    let (everything, pages) = inbox.all("ann", false, 2).await;

    assert_eq!(ids(&first.items), newest_first(&delivered)[..2]);
    assert!(first.cursor.is_some());
    assert_eq!(ids(&everything), newest_first(&delivered));
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn only_the_unread_are_listed_and_counted_when_asked() {
    let inbox = Inbox::spawn().await;
    let delivered = inbox.deliver_many("ann", 5).await;
    for read in [&delivered[1], &delivered[3]] {
        inbox.store.mark_read(&id("ann"), &read.id).await.unwrap().expect("found");
    }

    let (unread, pages) = inbox.all("ann", true, 1).await;
    let (everything, _) = inbox.all("ann", false, 25).await;

    let expected = vec![delivered[4].id.to_string(), delivered[2].id.to_string(), delivered[0].id.to_string()];
    assert_eq!(ids(&unread), expected);
    assert!(unread.iter().all(|n| !n.read && n.read_at.is_none()));
    assert!(pages >= 3, "one at a time through the unread index: {pages} pages");
    assert_eq!(everything.len(), 5);
    assert_eq!(everything.iter().filter(|n| n.read).count(), 2);
    assert_eq!(inbox.store.unread_count(&id("ann")).await.unwrap(), 3);
}

#[tokio::test]
async fn marking_read_sets_read_at_once_and_leaves_the_unread_index() {
    let inbox = Inbox::spawn().await;
    let delivered = inbox.deliver_many("ann", 2).await;

    let marked = inbox.store.mark_read(&id("ann"), &delivered[0].id).await.unwrap().expect("found");
    let again = inbox.store.mark_read(&id("ann"), &delivered[0].id).await.unwrap().expect("found");
    let raw = inbox.raw_item(&delivered[0]).await;

    assert!(marked.read);
    let read_at = marked.read_at.clone().expect("readAt is set");
    assert!(time::OffsetDateTime::parse(&read_at, &time::format_description::well_known::Rfc3339).is_ok());
    assert_eq!(again.read_at, Some(read_at), "a second mark keeps the first readAt");
    assert_eq!((marked.id.clone(), marked.event.clone()), (delivered[0].id.clone(), delivered[0].event.clone()));
    assert!(!raw.contains_key("gsi1pk") && !raw.contains_key("gsi1sk"), "{raw:?}");
    assert_eq!(inbox.store.unread_count(&id("ann")).await.unwrap(), 1);
    assert_eq!(ids(&inbox.all("ann", true, 25).await.0), ids(&delivered[1..]));
}

#[tokio::test]
async fn marking_an_unknown_notification_finds_nothing_and_creates_nothing() {
    let inbox = Inbox::spawn().await;
    let unknown = NotificationId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1V").unwrap();

    let marked = inbox.store.mark_read(&id("ann"), &unknown).await.unwrap();

    assert_eq!(marked, None);
    assert!(inbox.all("ann", false, 25).await.0.is_empty());
}

#[tokio::test]
async fn read_all_marks_every_unread_once() {
    let inbox = Inbox::spawn().await;
    let delivered = inbox.deliver_many("ann", 30).await;
    inbox.store.mark_read(&id("ann"), &delivered[7].id).await.unwrap().expect("found");

    let marked = inbox.store.mark_all_read(&id("ann")).await.unwrap();
    let again = inbox.store.mark_all_read(&id("ann")).await.unwrap();
    let (everything, _) = inbox.all("ann", false, 100).await;

    assert_eq!((marked.marked, again.marked), (29, 0));
    assert_eq!(inbox.store.unread_count(&id("ann")).await.unwrap(), 0);
    assert!(inbox.all("ann", true, 25).await.0.is_empty());
    assert!(everything.iter().all(|n| n.read && n.read_at.is_some()));
    assert_eq!(everything.len(), 30);
}

#[tokio::test]
async fn a_user_never_sees_or_marks_another_users_notifications() {
    let inbox = Inbox::spawn().await;
    let anns = inbox.deliver_many("ann", 3).await;
    let bens = inbox.deliver_many("ben", 1).await;
    let anns_page = inbox.store.list(&id("ann"), false, 1, None).await.unwrap();
    let anns_unread = inbox.store.list(&id("ann"), true, 1, None).await.unwrap();

    let marked = inbox.store.mark_read(&id("ben"), &anns[0].id).await.unwrap();
    let marked_all = inbox.store.mark_all_read(&id("ben")).await.unwrap();
    let with_anns_cursor = inbox.store.list(&id("ben"), false, 1, anns_page.cursor.as_deref()).await;
    let with_anns_unread_cursor = inbox.store.list(&id("ben"), true, 1, anns_unread.cursor.as_deref()).await;
    let (bens_listed, _) = inbox.all("ben", false, 25).await;

    assert_eq!(marked, None);
    assert_eq!(marked_all.marked, 1);
    assert!(matches!(with_anns_cursor, Err(ListError::BadCursor(_))), "ann's cursor does not open ben's inbox");
    assert!(matches!(with_anns_unread_cursor, Err(ListError::BadCursor(_))), "nor does ann's unread cursor");
    assert_eq!(ids(&bens_listed), ids(&bens));
    assert_eq!(inbox.store.unread_count(&id("ann")).await.unwrap(), 3);
    assert_eq!(ids(&inbox.all("ann", true, 25).await.0), newest_first(&anns));
}

#[tokio::test]
async fn a_cursor_of_the_full_list_does_not_continue_the_unread_list() {
    let inbox = Inbox::spawn().await;
    inbox.deliver_many("ann", 3).await;
    let page = inbox.store.list(&id("ann"), false, 1, None).await.unwrap();

    let unread = inbox.store.list(&id("ann"), true, 1, page.cursor.as_deref()).await;
    let garbage = inbox.store.list(&id("ann"), false, 1, Some("not-a-cursor")).await;

    assert!(matches!(unread, Err(ListError::BadCursor(_))));
    assert!(matches!(garbage, Err(ListError::BadCursor(_))));
}

#[tokio::test]
async fn any_event_round_trips_and_the_item_expires_after_its_ttl() {
    let inbox = Inbox::spawn().await;
    // Map keys DynamoDB's JSON uses as type tags, and a number beyond
    // DynamoDB's range: stored as JSON text, both come back as they went.
    let event: Value = serde_json::from_str(
        r#"{"type": "block.conflict", "projectId": "01JF3Z8Q9W6X2K7M4N5P8R0T1V",
            "changes": {"N": "1", "S": {"M": [1, 2.5, null]}, "L": []},
            "big": 1e300, "wide": 18446744073709551615, "text": "ünïcödé"}"#,
    )
    .unwrap();
    let at = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
    let notification = Notification::new(id("ann"), event.clone(), "sqs-message-1", at);

    let before = OffsetDateTime::now_utc().unix_timestamp();
    inbox.store.deliver(&notification, TTL).await.unwrap();
    let after = OffsetDateTime::now_utc().unix_timestamp();
    let (listed, _) = inbox.all("ann", false, 25).await;
    let raw = inbox.raw_item(&notification).await;

    assert_eq!(listed[0].event, event);
    assert_eq!(raw["event"].as_s().map(|text| serde_json::from_str::<Value>(text).unwrap()), Ok(event));
    assert_eq!(listed[0].kind, "block.conflict");
    assert_eq!(listed[0].project_id.as_ref().map(|p| p.as_str()), Some("01JF3Z8Q9W6X2K7M4N5P8R0T1V"));
    let expires: i64 = raw["expiresAt"].as_n().unwrap().parse().unwrap();
    let ttl = TTL.as_secs() as i64;
    assert!((before + ttl..=after + ttl).contains(&expires), "{expires}");
}
