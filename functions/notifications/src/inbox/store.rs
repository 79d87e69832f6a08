//! The Inbox table: `USER#<user>` / `NOTIF#<ulid>`, newest last in the
//! partition. Unread notifications also carry `gsi1pk = UNREAD#<user>`:
//! GSI1 is sparse, so the unread are listed and counted without reading
//! the rest, and marking one read removes it from the index.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use futures_util::{StreamExt, stream};
use tessera_core::UserId;
use tessera_core::content::NotificationId;
use tessera_platform::aws::Aws;
use tessera_platform::cursor::{self, ListError, Page};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Notification;
use super::item::{Item, NOTIFICATION_PREFIX, item_of, notification_of, partition, sort_key, unread_partition};

/// Updates in flight at once when marking everything read.
const MARK_CONCURRENCY: usize = 16;

/// The Inbox table, through DynamoDB.
#[derive(Clone)]
pub struct InboxStore {
    aws: Aws,
    table: String,
}

/// How many `read-all` marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkAll {
    pub marked: u64,
}

/// Which notifications a mark applies to.
#[derive(Clone, Copy)]
enum Mark {
    /// Any of the user's, read already or not (`POST .../{id}/read`).
    Any,
    /// Only one still unread, so that `read-all` counts each once even when
    /// the eventually consistent index still lists one marked a moment ago.
    Unread,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl InboxStore {
    pub fn new(aws: Aws, table: impl Into<String>) -> Self {
        Self { aws, table: table.into() }
    }

    async fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.aws.dynamodb().await
    }

    /// Stores a new notification, kept for `ttl`; false when it was there
    /// already (a retried delivery), which changes nothing.
    pub async fn deliver(&self, notification: &Notification, ttl: Duration) -> anyhow::Result<bool> {
        let expires_at = (OffsetDateTime::now_utc() + ttl).unix_timestamp();
        let result = self
            .client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_of(notification, expires_at)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(false),
            Err(error) => Err(anyhow!("storing a notification: {}", DisplayErrorContext(error))),
        }
    }

    /// A page of the user's notifications (or only the unread), newest
    /// first, `limit` at a time, continuing from `cursor`.
    pub async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Notification>, ListError> {
        let own = partition(user);
        let unread = unread_partition(user);
        // A cursor must continue this very list: this user's, this index.
        let (index, key, value, names): (_, _, &str, &[&str]) = match unread_only {
            true => (Some("GSI1"), "gsi1pk", &unread, &["pk", "sk", "gsi1pk", "gsi1sk"]),
            false => (None, "pk", &own, &["pk", "sk"]),
        };
        let start = cursor.map(|c| cursor::decode(c, names, &[(key, value), ("pk", &own)])).transpose()?;
        let page = self
            .client()
            .await
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#key = :key")
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":key", s(value))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| anyhow!("listing notifications: {}", DisplayErrorContext(err)))?;
        Ok(Page {
            items: page.items.unwrap_or_default().into_iter().map(notification_of).collect::<anyhow::Result<_>>()?,
            cursor: page.last_evaluated_key.filter(|k| !k.is_empty()).map(|k| cursor::encode(&k)),
        })
    }

    /// Marks one read and returns it; `None` if the user has no such
    /// notification. Marking one read again keeps its first `readAt`.
    pub async fn mark_read(&self, user: &UserId, id: &NotificationId) -> anyhow::Result<Option<Notification>> {
        self.mark(user, id, Mark::Any).await
    }

    /// Marks every unread notification read; how many it marked.
    pub async fn mark_all_read(&self, user: &UserId) -> anyhow::Result<MarkAll> {
        let mut marked = 0;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .unread_query(user)
                .await
                .projection_expression("sk")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| anyhow!("listing the unread: {}", DisplayErrorContext(err)))?;
            let ids = page.items.unwrap_or_default().into_iter().filter_map(|item| {
                let id = item.get("sk")?.as_s().ok()?.strip_prefix(NOTIFICATION_PREFIX)?;
                NotificationId::parse(id).ok()
            });
            let results: Vec<anyhow::Result<Option<Notification>>> = stream::iter(ids)
                .map(|id| async move { self.mark(user, &id, Mark::Unread).await })
                .buffer_unordered(MARK_CONCURRENCY)
                .collect()
                .await;
            for result in results {
                marked += u64::from(result?.is_some());
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(MarkAll { marked }),
            }
        }
    }

    /// How many are unread, counted in the unread index page by page.
    pub async fn unread_count(&self, user: &UserId) -> anyhow::Result<u64> {
        let mut count = 0;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .unread_query(user)
                .await
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| anyhow!("counting the unread: {}", DisplayErrorContext(err)))?;
            count += u64::try_from(page.count).unwrap_or(0);
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(count),
            }
        }
    }

    /// One `UpdateItem`: read, `readAt` set once, out of the unread index.
    /// The condition keeps it from creating an item that was not there.
    async fn mark(&self, user: &UserId, id: &NotificationId, which: Mark) -> anyhow::Result<Option<Notification>> {
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        let condition = match which {
            Mark::Any => "attribute_exists(pk)",
            Mark::Unread => "attribute_exists(gsi1pk)",
        };
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(partition(user)))
            .key("sk", s(sort_key(id)))
            .update_expression("SET #read = :true, readAt = if_not_exists(readAt, :now) REMOVE gsi1pk, gsi1sk")
            .condition_expression(condition)
            .expression_attribute_names("#read", "read")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(notification_of(output.attributes.unwrap_or_default())?)),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(None),
            Err(error) => Err(anyhow!("marking a notification read: {}", DisplayErrorContext(error))),
        }
    }

    async fn unread_query(&self, user: &UserId) -> QueryFluentBuilder {
        self.client()
            .await
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :key")
            .expression_attribute_values(":key", s(unread_partition(user)))
    }
}
