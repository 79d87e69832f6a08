//! The Inbox table: `USER#<user>` / `NOTIF#<ulid>`, newest last in the
//! partition. Unread notifications also carry `gsi1pk = UNREAD#<user>`:
//! GSI1 is sparse, so the unread are listed and counted without reading
//! the rest, and marking one read removes it from the index.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use futures_util::{StreamExt, stream};
use tessera_core::UserId;
use tessera_core::content::NotificationId;
use tessera_platform::aws::Aws;
use tessera_platform::cursor::{self, BadCursor, Page};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Notification;

type Item = HashMap<String, AttributeValue>;

/// Updates in flight at once when marking everything read.
const MARK_CONCURRENCY: usize = 16;

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

fn partition(user: &UserId) -> String {
    format!("USER#{user}")
}

fn unread_partition(user: &UserId) -> String {
    format!("UNREAD#{user}")
}

fn sort_key(id: &NotificationId) -> String {
    format!("NOTIF#{id}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl InboxStore {
    pub fn new(aws: Aws, table: impl Into<String>) -> Self {
        Self { aws, table: table.into() }
    }

    /// Stores a new notification, kept for `ttl`; false when it was there
    /// already (a retried delivery), which changes nothing.
    pub async fn deliver(&self, notification: &Notification, ttl: Duration) -> anyhow::Result<bool> {
        let expires = OffsetDateTime::now_utc() + ttl;
        let mut item: Item = serde_dynamo::to_item(notification).context("a notification as an item")?;
        // The event as JSON text: any JSON round-trips, whatever DynamoDB's types would refuse.
        item.insert("event".into(), s(notification.event.to_string()));
        item.insert("pk".into(), s(partition(&notification.user_id)));
        item.insert("sk".into(), s(sort_key(&notification.id)));
        if !notification.read {
            item.insert("gsi1pk".into(), s(unread_partition(&notification.user_id)));
            item.insert("gsi1sk".into(), s(sort_key(&notification.id)));
        }
        item.insert("expiresAt".into(), AttributeValue::N(expires.unix_timestamp().to_string()));
        let result = self
            .aws
            .dynamodb()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(false),
            Err(error) => Err(anyhow!("storing a notification: {}", DisplayErrorContext(error))),
        }
    }

    /// A page of the user's notifications (or only the unread), newest first.
    pub async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        limit: i32,
        after: Option<&str>,
    ) -> anyhow::Result<Result<Page<Notification>, BadCursor>> {
        let (index, key, partition) = match unread_only {
            true => (Some("GSI1"), "gsi1pk", unread_partition(user)),
            false => (None, "pk", partition(user)),
        };
        let names: &[&str] = if unread_only { &["pk", "sk", "gsi1pk", "gsi1sk"] } else { &["pk", "sk"] };
        let start = match after.map(|c| cursor::decode(c, names, &[(key, &partition), ("pk", &self::partition(user))]))
        {
            Some(Err(bad)) => return Ok(Err(bad)),
            Some(Ok(start)) => Some(start),
            None => None,
        };
        let page = self
            .aws
            .dynamodb()
            .await
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#key = :key")
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":key", s(&partition))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| anyhow!("listing notifications: {}", DisplayErrorContext(err)))?;
        let items = page.items.unwrap_or_default().into_iter().map(notification_of).collect::<anyhow::Result<_>>()?;
        Ok(Ok(Page { items, cursor: page.last_evaluated_key.filter(|k| !k.is_empty()).map(|k| cursor::encode(&k)) }))
    }

    /// Marks one read; `None` if the user has no such notification.
    pub async fn mark_read(&self, user: &UserId, id: &NotificationId) -> anyhow::Result<Option<Notification>> {
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        let result = self
            .aws
            .dynamodb()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(partition(user)))
            .key("sk", s(sort_key(id)))
            // A second mark keeps the first `readAt`.
            .update_expression("SET #read = :true, readAt = if_not_exists(readAt, :now) REMOVE gsi1pk, gsi1sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#read", "read")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(notification_of(output.attributes.unwrap_or_default())?)),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(error) => Err(anyhow!("marking a notification read: {}", DisplayErrorContext(error))),
        }
    }

    /// Marks every unread notification read.
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
            let ids: Vec<NotificationId> = page
                .items
                .unwrap_or_default()
                .iter()
                .filter_map(|item| item.get("sk")?.as_s().ok()?.strip_prefix("NOTIF#").map(str::to_owned))
                .filter_map(|id| NotificationId::parse(&id).ok())
                .collect();
            let results: Vec<anyhow::Result<Option<Notification>>> = stream::iter(ids)
                .map(|id| async move { self.mark_read(user, &id).await })
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

    /// How many are unread.
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
            count += page.count.max(0) as u64;
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(count),
            }
        }
    }

    async fn unread_query(&self, user: &UserId) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.aws
            .dynamodb()
            .await
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :key")
            .expression_attribute_values(":key", s(unread_partition(user)))
    }
}

fn notification_of(mut item: Item) -> anyhow::Result<Notification> {
    let event = match item.remove("event") {
        Some(AttributeValue::S(text)) => serde_json::from_str(&text).context("a stored event")?,
        _ => return Err(anyhow!("a stored notification without its event")),
    };
    item.insert("event".into(), AttributeValue::Null(true));
    let mut notification: Notification = serde_dynamo::from_item(item).context("a stored notification")?;
    notification.event = event;
    Ok(notification)
}
