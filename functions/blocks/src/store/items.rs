//! Reads and writes shared by every kind of item: the partition query and
//! the whole-item versioned update.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
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

    /// Applies `update` to one item if it is at `version`, bumping it; a
    /// failed condition returns the item as it is (`ALL_OLD`).
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
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .update_expression(format!("{update}, #version = #version + :one"))
            .condition_expression("attribute_exists(pk) AND #version = :expected")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.context("UpdateItem returned no attributes")?;
                Ok(serde_dynamo::from_item(item).context("reading an updated item")?)
            }
            Err(SdkError::ServiceError(failure)) => match failure.into_err() {
                UpdateItemError::ConditionalCheckFailedException(check) => match check.item {
                    None => Err(ItemRejected::NotFound),
                    Some(item) => {
                        let current = serde_dynamo::from_item(item).context("reading the current item")?;
                        Err(ItemRejected::Stale { current: Box::new(current) })
                    }
                },
                other => Err(anyhow!("updating {pk} {sk}: {}", DisplayErrorContext(other)).into()),
            },
            Err(other) => Err(anyhow!("updating {pk} {sk}: {}", DisplayErrorContext(other)).into()),
        }
    }
}
