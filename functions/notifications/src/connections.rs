//! The Connections table: who is connected on which socket, and which
//! project channels each socket listens to.
//!
//! - `CONN#<id>` / `META`: the connection (user, tier, connected at), in
//!   GSI1 under `USER#<user>` so a person's sockets can be found;
//! - `CONN#<id>` / `SUB#<project>`: a subscription, in GSI1 under
//!   `CHANNEL#<project>` so a channel's subscribers can be found.
//!
//! Every item expires when API Gateway would close the connection (two
//! hours), so a connection whose `$disconnect` never ran cleans itself up.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use tessera_core::content::ProjectId;
use tessera_core::{Tier, UserId};
use tessera_platform::aws::Aws;
use time::OffsetDateTime;

type Item = HashMap<String, AttributeValue>;

/// API Gateway closes every WebSocket connection after two hours.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

/// A socket subscribed to a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub connection_id: String,
    pub user_id: UserId,
}

/// A connection as registered at `$connect`.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    pub user_id: UserId,
    pub tier: Tier,
    pub connected_at: OffsetDateTime,
}

#[derive(Clone)]
pub struct ConnectionStore {
    aws: Aws,
    table: String,
}

fn connection_partition(id: &str) -> String {
    format!("CONN#{id}")
}

fn channel_partition(project: &ProjectId) -> String {
    format!("CHANNEL#{project}")
}

fn user_partition(user: &UserId) -> String {
    format!("USER#{user}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

impl ConnectionStore {
    pub fn new(aws: Aws, table: impl Into<String>) -> Self {
        Self { aws, table: table.into() }
    }

    pub async fn register(&self, connection: &Connection) -> anyhow::Result<()> {
        let expires = connection.connected_at + CONNECTION_LIFETIME;
        let item = Item::from([
            ("pk".into(), s(connection_partition(&connection.id))),
            ("sk".into(), s("META")),
            ("gsi1pk".into(), s(user_partition(&connection.user_id))),
            ("gsi1sk".into(), s(connection_partition(&connection.id))),
            ("connectionId".into(), s(&connection.id)),
            ("userId".into(), s(connection.user_id.as_str())),
            ("tier".into(), s(connection.tier.as_str())),
            ("connectedAt".into(), AttributeValue::N(connection.connected_at.unix_timestamp().to_string())),
            ("expiresAt".into(), AttributeValue::N(expires.unix_timestamp().to_string())),
        ]);
        let put = self.aws.dynamodb().await.put_item().table_name(&self.table).set_item(Some(item));
        put.send().await.map_err(|err| anyhow!("registering a connection: {}", DisplayErrorContext(err)))?;
        Ok(())
    }

    /// Subscribes a connection to a project's channel; idempotent.
    pub async fn subscribe(&self, connection: &Connection, project: &ProjectId) -> anyhow::Result<()> {
        let expires = connection.connected_at + CONNECTION_LIFETIME;
        let item = Item::from([
            ("pk".into(), s(connection_partition(&connection.id))),
            ("sk".into(), s(format!("SUB#{project}"))),
            ("gsi1pk".into(), s(channel_partition(project))),
            ("gsi1sk".into(), s(connection_partition(&connection.id))),
            ("connectionId".into(), s(&connection.id)),
            ("userId".into(), s(connection.user_id.as_str())),
            ("expiresAt".into(), AttributeValue::N(expires.unix_timestamp().to_string())),
        ]);
        let put = self.aws.dynamodb().await.put_item().table_name(&self.table).set_item(Some(item));
        put.send().await.map_err(|err| anyhow!("subscribing: {}", DisplayErrorContext(err)))?;
        Ok(())
    }

    pub async fn unsubscribe(&self, connection_id: &str, project: &ProjectId) -> anyhow::Result<()> {
        self.delete(connection_partition(connection_id), format!("SUB#{project}")).await
    }

    /// Whether the connection listens to the project's channel.
    pub async fn is_subscribed(&self, connection_id: &str, project: &ProjectId) -> anyhow::Result<bool> {
        let output = self
            .aws
            .dynamodb()
            .await
            .get_item()
            .table_name(&self.table)
            .key("pk", s(connection_partition(connection_id)))
            .key("sk", s(format!("SUB#{project}")))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| anyhow!("reading a subscription: {}", DisplayErrorContext(err)))?;
        Ok(output.item.is_some())
    }

    /// Forgets a connection and all its subscriptions (`$disconnect`, or a
    /// 410 Gone from a post); the projects it was subscribed to.
    pub async fn remove(&self, connection_id: &str) -> anyhow::Result<Vec<ProjectId>> {
        let items = self.query_table(connection_partition(connection_id)).await?;
        let keys: Vec<(String, String)> = items
            .iter()
            .filter_map(|item| Some((text(item, "pk")?.to_owned(), text(item, "sk")?.to_owned())))
            .collect();
        self.delete_keys(keys).await?;
        Ok(items
            .iter()
            .filter_map(|item| text(item, "sk")?.strip_prefix("SUB#"))
            .filter_map(|id| ProjectId::parse(id).ok())
            .collect())
    }

    /// The sockets subscribed to a project's channel.
    pub async fn subscribers(&self, project: &ProjectId) -> anyhow::Result<Vec<Subscriber>> {
        let items = self.query_index(channel_partition(project)).await?;
        Ok(items.iter().filter_map(subscriber_of).collect())
    }

    /// A person's open sockets.
    pub async fn sockets_of(&self, user: &UserId) -> anyhow::Result<Vec<String>> {
        let items = self.query_index(user_partition(user)).await?;
        Ok(items.iter().filter_map(|item| text(item, "connectionId").map(str::to_owned)).collect())
    }

    /// Drops a person's subscriptions to a project (they left it, or were
    /// removed): their sockets stop receiving its events at once.
    pub async fn unsubscribe_user(&self, project: &ProjectId, user: &UserId) -> anyhow::Result<usize> {
        let theirs: Vec<Subscriber> =
            self.subscribers(project).await?.into_iter().filter(|s| &s.user_id == user).collect();
        let keys = theirs.iter().map(|s| (connection_partition(&s.connection_id), format!("SUB#{project}"))).collect();
        self.delete_keys(keys).await?;
        Ok(theirs.len())
    }

    async fn delete(&self, pk: String, sk: String) -> anyhow::Result<()> {
        let delete = self.aws.dynamodb().await.delete_item().table_name(&self.table).key("pk", s(pk)).key("sk", s(sk));
        delete.send().await.map_err(|err| anyhow!("deleting a connection item: {}", DisplayErrorContext(err)))?;
        Ok(())
    }

    /// Deletes in batches of 25 (BatchWriteItem's limit), retrying what
    /// DynamoDB leaves unprocessed.
    async fn delete_keys(&self, keys: Vec<(String, String)>) -> anyhow::Result<()> {
        let client = self.aws.dynamodb().await;
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|(pk, sk)| {
                    let key = Item::from([("pk".into(), s(pk)), ("sk".into(), s(sk))]);
                    let delete = DeleteRequest::builder().set_key(Some(key)).build().expect("a key");
                    WriteRequest::builder().delete_request(delete).build()
                })
                .collect();
            for attempt in 0..5u32 {
                if requests.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
                }
                let output = client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut requests))
                    .send()
                    .await
                    .map_err(|err| anyhow!("deleting connection items: {}", DisplayErrorContext(err)))?;
                requests = output.unprocessed_items.and_then(|mut left| left.remove(&self.table)).unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(anyhow!("{} connection items left unprocessed", requests.len()));
            }
        }
        Ok(())
    }

    async fn query_table(&self, pk: String) -> anyhow::Result<Vec<Item>> {
        self.query(None, pk, None).await
    }

    /// Who is on a channel or a person's sockets: only the two attributes
    /// every caller reads, so a page of thousands stays small.
    async fn query_index(&self, pk: String) -> anyhow::Result<Vec<Item>> {
        self.query(Some("GSI1"), pk, Some("connectionId, userId")).await
    }

    /// Every item under a partition key, across pages.
    async fn query(&self, index: Option<&str>, pk: String, projection: Option<&str>) -> anyhow::Result<Vec<Item>> {
        let key = if index.is_some() { "gsi1pk" } else { "pk" };
        let client = self.aws.dynamodb().await;
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression("#key = :key")
                .expression_attribute_names("#key", key)
                .expression_attribute_values(":key", s(&pk))
                .consistent_read(index.is_none())
                .set_projection_expression(projection.map(str::to_owned))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| anyhow!("querying {pk}: {}", DisplayErrorContext(err)))?;
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

fn subscriber_of(item: &Item) -> Option<Subscriber> {
    Some(Subscriber {
        connection_id: text(item, "connectionId")?.to_owned(),
        user_id: UserId::parse(text(item, "userId")?).ok()?,
    })
}
