//! Deletes that take dependent items with them: a project's purge takes its
//! members, slides and blocks; a slide takes its blocks. A member goes alone,
//! but never the last owner.

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
/// BatchWriteItems sent at once by a purge: its speed, against the table's share.
const BATCHES_IN_FLIGHT: usize = 4;

impl ContentStore {
    /// Deletes the meta in one conditional write (at `version` if one is
    /// given): the project is gone for everyone at once. The rest of its
    /// partition is left to [`ContentStore::purge_project`].
    pub async fn delete_project(&self, project: &ProjectId, version: Option<u64>) -> Result<(), ItemRejected<Project>> {
        self.delete_versioned::<Project>(project_partition(project), META.into(), version).await
    }

    /// Deletes what is left of a deleted project (members, slides, blocks),
    /// a page of keys at a time, however many there are. Idempotent: a rerun
    /// deletes what an interrupted run left. A project that exists is not
    /// touched. Returns how many items it deleted.
    pub async fn purge_project(&self, project: &ProjectId) -> anyhow::Result<usize> {
        if self.get(project_partition(project), META.into()).await?.is_some() {
            tracing::warn!(%project, "not purging a project that exists");
            return Ok(0);
        }
        let mut deleted = 0;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .await
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(project_partition(project)))
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| anyhow!("listing what is left of {project}: {}", DisplayErrorContext(err)))?;
            let keys = page.items.unwrap_or_default();
            deleted += keys.len();
            self.delete_items(keys).await?;
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(deleted),
            }
        }
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

    /// Deletes items by key, 25 per BatchWriteItem and a few batches at a
    /// time, retrying what each leaves unprocessed.
    async fn delete_items(&self, items: Vec<Item>) -> anyhow::Result<()> {
        for batches in items.chunks(BATCH_WRITE_LIMIT * BATCHES_IN_FLIGHT) {
            futures_util::future::try_join_all(batches.chunks(BATCH_WRITE_LIMIT).map(|batch| self.delete_batch(batch)))
                .await?;
        }
        Ok(())
    }

    async fn delete_batch(&self, batch: &[Item]) -> anyhow::Result<()> {
        let mut pending: Vec<WriteRequest> = batch
            .iter()
            .map(|item| {
                let keys =
                    item.iter().filter(|(name, _)| *name == "pk" || *name == "sk").map(|(n, v)| (n.clone(), v.clone()));
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
                // DynamoDB asks for a pause before unprocessed items are retried.
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
        Ok(())
    }
}
