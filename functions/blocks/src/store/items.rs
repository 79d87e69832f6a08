//! Reads and writes shared by every kind of item: the partition query and
//! the whole-item versioned update.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_core::content::ProjectId;

use super::keys::project_partition;
use super::{ContentStore, ItemRejected};

pub type Item = HashMap<String, AttributeValue>;

impl ContentStore {
    /// Every item of a project's partition (those whose sort key starts with
    /// `prefix`), strongly consistent, across pages.
    pub(super) async fn query_partition(&self, project: &ProjectId, prefix: Option<&str>) -> anyhow::Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client()
                .await
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", AttributeValue::S(project_partition(project)))
                .set_exclusive_start_key(start.take());
            query = match prefix {
                Some(prefix) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.into())),
                None => query.key_condition_expression("pk = :pk"),
            };
            let page = query.send().await.map_err(|err| anyhow!("querying {project}: {}", DisplayErrorContext(err)))?;
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// One item by key, strongly consistent.
    pub(super) async fn get(&self, pk: String, sk: String) -> anyhow::Result<Option<Item>> {
        let output = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| anyhow!("getting {pk} {sk}: {}", DisplayErrorContext(err)))?;
        Ok(output.item)
    }

    /// A value as a Content-table item: its attributes, keys and entity type.
    pub(super) fn item_of<T: Serialize>(value: &T, pk: String, sk: String, entity: &str) -> anyhow::Result<Item> {
        let mut item: Item = serde_dynamo::to_item(value)?;
        item.insert("pk".into(), AttributeValue::S(pk));
        item.insert("sk".into(), AttributeValue::S(sk));
        item.insert("entity".into(), AttributeValue::S(entity.into()));
        Ok(item)
    }

    /// Puts an item that must not exist yet.
    pub(super) async fn put_new(&self, item: Item) -> anyhow::Result<()> {
        let key = describe(&item);
        self.client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|err| anyhow!("putting {key}: {}", DisplayErrorContext(err)))?;
        Ok(())
    }

    /// One conditional UpdateItem returning the item after it (`ALL_NEW`) or,
    /// when the condition fails, as it was (`ALL_OLD`; `None` if absent).
    pub(super) async fn conditional_update(&self, update: ConditionalUpdate) -> Result<Item, UpdateFailed> {
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(update.pk.clone()))
            .key("sk", AttributeValue::S(update.sk.clone()))
            .update_expression(update.expression)
            .condition_expression(update.condition)
            .set_expression_attribute_names(Some(update.names).filter(|n| !n.is_empty()))
            .set_expression_attribute_values(Some(update.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let what = format!("updating {} {}", update.pk, update.sk);
        match result {
            Ok(output) => {
                output.attributes.ok_or_else(|| UpdateFailed::Unexpected(anyhow!("{what}: no attributes returned")))
            }
            Err(SdkError::ServiceError(failure)) => match failure.into_err() {
                UpdateItemError::ConditionalCheckFailedException(check) => Err(UpdateFailed::Condition(check.item)),
                other => Err(UpdateFailed::Unexpected(anyhow!("{what}: {}", DisplayErrorContext(other)))),
            },
            Err(other) => Err(UpdateFailed::Unexpected(anyhow!("{what}: {}", DisplayErrorContext(other)))),
        }
    }

    /// Applies `update` to one item if it is at `version`, bumping it; a
    /// failed condition returns the item as it is.
    pub(super) async fn update_versioned<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
        update: &str,
        mut names: HashMap<String, String>,
        mut values: HashMap<String, AttributeValue>,
        version: u64,
    ) -> Result<T, ItemRejected<T>> {
        names.insert("#version".into(), "version".into());
        values.insert(":expected".into(), AttributeValue::N(version.to_string()));
        values.insert(":one".into(), AttributeValue::N("1".into()));
        let update = ConditionalUpdate {
            pk,
            sk,
            expression: format!("{update}, #version = #version + :one"),
            condition: "attribute_exists(pk) AND #version = :expected".into(),
            names,
            values,
        };
        match self.conditional_update(update).await {
            Ok(item) => Ok(serde_dynamo::from_item(item).context("reading an updated item")?),
            Err(UpdateFailed::Condition(None)) => Err(ItemRejected::NotFound),
            Err(UpdateFailed::Condition(Some(item))) => {
                let current = serde_dynamo::from_item(item).context("reading the current item")?;
                Err(ItemRejected::Stale { current: Box::new(current) })
            }
            Err(UpdateFailed::Unexpected(error)) => Err(error.into()),
        }
    }
}

/// One UpdateItem: key, expressions and their names and values.
pub(super) struct ConditionalUpdate {
    pub pk: String,
    pub sk: String,
    pub expression: String,
    pub condition: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

pub(super) enum UpdateFailed {
    /// The condition failed; the item as it was, if it exists.
    Condition(Option<Item>),
    Unexpected(anyhow::Error),
}

/// An item's primary key.
pub(super) fn key(pk: String, sk: String) -> Item {
    Item::from([("pk".to_owned(), AttributeValue::S(pk)), ("sk".to_owned(), AttributeValue::S(sk))])
}

/// What an item is: `project`, `member`, `slide` or `block`.
pub(super) fn entity(item: &Item) -> Option<&str> {
    item.get("entity").and_then(|value| value.as_s().ok()).map(String::as_str)
}

fn describe(item: &Item) -> String {
    let key = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    format!("{} {}", key("pk"), key("sk"))
}
