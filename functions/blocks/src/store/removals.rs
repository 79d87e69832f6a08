//! Deletes that take dependent items with them: a project takes its members,
//! slides and blocks; a slide takes its blocks. A member goes alone, but
//! never the last owner.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole, SlideId};

use super::items::{Item, key};
use super::keys::{META, block_sort_key, member_sort_key, project_partition, slide_sort_key};
use super::{ContentStore, ItemRejected, Project};

/// BatchWriteItem's most requests per call.
const BATCH_WRITE_LIMIT: usize = 25;

impl ContentStore {
    /// Deletes the meta first (in one conditional write, so the project is
    /// gone for everyone at once, at `version` if one is given), then every
    /// other item of its partition.
    pub async fn delete_project(&self, project: &ProjectId, version: Option<u64>) -> Result<(), ItemRejected<Project>> {
        self.delete_versioned::<Project>(project_partition(project), META.into(), version).await?;
        let rest = self.query_partition(project, None).await?;
        self.delete_items(rest).await?;
        Ok(())
    }

    /// Deletes a slide and its blocks.
    pub async fn delete_slide(&self, project: &ProjectId, slide: &SlideId) -> anyhow::Result<bool> {
        let Some(_) = self.get(project_partition(project), slide_sort_key(slide)).await? else { return Ok(false) };
        let mut doomed = vec![key(project_partition(project), slide_sort_key(slide))];
        let mut cursor: Option<String> = None;
        loop {
            let page = self.slide_blocks(project, slide, 100, cursor.as_deref()).await.map_err(|e| anyhow!("{e}"))?;
            doomed.extend(page.items.iter().map(|b| key(project_partition(project), block_sort_key(&b.id))));
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.delete_items(doomed).await?;
        Ok(true)
    }

    /// Removes a member; `Ok(false)` when they were not one. The last owner
    /// stays (`Err(BadReference)`): a project always has someone to manage it.
    pub async fn remove_member(&self, project: &ProjectId, user: &UserId) -> Result<bool, ItemRejected<()>> {
        let members = self.members(project).await?;
        let Some(member) = members.iter().find(|m| &m.user_id == user) else { return Ok(false) };
        let owners = members.iter().filter(|m| m.role == ProjectRole::Owner).count();
        if member.role == ProjectRole::Owner && owners == 1 {
            return Err(ItemRejected::BadReference);
        }
        self.delete_items(vec![key(project_partition(project), member_sort_key(user))]).await?;
        Ok(true)
    }

    async fn delete_versioned<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
        version: Option<u64>,
    ) -> Result<(), ItemRejected<T>> {
        let request = self.client().await.delete_item().table_name(&self.table);
        let request = match version {
            Some(version) => request
                .condition_expression("attribute_exists(pk) AND version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
            None => request.condition_expression("attribute_exists(pk)"),
        };
        let result = request
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(failure)) => match failure.into_err() {
                aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(check) => {
                    match check.item {
                        None => Err(ItemRejected::NotFound),
                        Some(item) => Err(ItemRejected::Stale {
                            current: Box::new(
                                serde_dynamo::from_item(item).map_err(|e| anyhow!("reading the current item: {e}"))?,
                            ),
                        }),
                    }
                }
                other => Err(anyhow!("deleting {pk} {sk}: {}", DisplayErrorContext(other)).into()),
            },
            Err(other) => Err(anyhow!("deleting {pk} {sk}: {}", DisplayErrorContext(other)).into()),
        }
    }

    /// Deletes items by key, 25 per BatchWriteItem, retrying what is left unprocessed.
    async fn delete_items(&self, items: Vec<Item>) -> anyhow::Result<()> {
        for chunk in items.chunks(BATCH_WRITE_LIMIT) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let keys = item
                        .iter()
                        .filter(|(name, _)| *name == "pk" || *name == "sk")
                        .map(|(n, v)| (n.clone(), v.clone()));
                    Ok(WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(keys.collect())).build()?)
                        .build())
                })
                .collect::<anyhow::Result<_>>()?;
            let mut pause = Duration::from_millis(20);
            while !pending.is_empty() {
                let output = self
                    .client()
                    .await
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|err| anyhow!("batch delete: {}", DisplayErrorContext(err)))?;
                pending = output.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
        Ok(())
    }
}
