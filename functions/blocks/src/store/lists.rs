//! Paginated lists and batch reads: a slide's blocks (LSI1), blocks by id
//! (BatchGetItem), the caller's projects (GSI1) and a project's members.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use serde::de::DeserializeOwned;
use tessera_core::UserId;
use tessera_core::content::{Block, BlockId, ProjectId, SlideId};

use super::block_item::block_of;
use super::items::{Item, key};
use super::keys::{META, block_sort_key, project_partition, slide_blocks_prefix, user_projects_partition};
use super::projects::Member;
use super::{ContentStore, Project};
use tessera_platform::cursor::{self, ListError, Page};

/// BatchGetItem's most keys per call.
pub const BATCH_GET_LIMIT: usize = 100;

impl ContentStore {
    /// A slide's blocks in creation order, `limit` at a time.
    pub async fn slide_blocks(
        &self,
        project: &ProjectId,
        slide: &SlideId,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Block>, ListError> {
        let partition = project_partition(project);
        let start = cursor.map(|c| cursor::decode(c, &["pk", "sk", "lsi1sk"], &[("pk", &partition)])).transpose()?;
        let page = self
            .client()
            .await
            .query()
            .table_name(&self.table)
            .index_name("LSI1")
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND begins_with(lsi1sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(partition))
            .expression_attribute_values(":prefix", AttributeValue::S(slide_blocks_prefix(slide)))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| anyhow!("listing blocks of {slide}: {}", DisplayErrorContext(err)))?;
        Ok(Page {
            items: page.items.unwrap_or_default().into_iter().map(block_of).collect::<anyhow::Result<_>>()?,
            cursor: page.last_evaluated_key.map(|k| cursor::encode(&k)),
        })
    }

    /// Up to [`BATCH_GET_LIMIT`] blocks in one BatchGetItem round, retrying
    /// the keys DynamoDB leaves unprocessed. Missing ids are simply absent.
    pub async fn blocks_by_id(&self, project: &ProjectId, ids: &[BlockId]) -> anyhow::Result<Vec<Block>> {
        let keys = ids.iter().map(|id| key(project_partition(project), block_sort_key(id))).collect();
        self.batch_get(keys).await?.into_iter().map(block_of).collect()
    }

    /// The caller's projects, from their memberships (GSI1), `limit` at a time.
    pub async fn projects_of(
        &self,
        user: &UserId,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Project>, ListError> {
        let partition = user_projects_partition(user);
        let names = ["pk", "sk", "gsi1pk", "gsi1sk"];
        let start = cursor.map(|c| cursor::decode(c, &names, &[("gsi1pk", &partition)])).transpose()?;
        let page = self
            .client()
            .await
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :user")
            .expression_attribute_values(":user", AttributeValue::S(partition))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| anyhow!("listing projects of {user}: {}", DisplayErrorContext(err)))?;
        let memberships = page.items.unwrap_or_default();
        let keys: Vec<Item> = memberships
            .iter()
            .filter_map(|m| m.get("pk")?.as_s().ok().cloned())
            .map(|pk| key(pk, META.into()))
            .collect();
        let mut projects: Vec<Project> = parse_all(self.batch_get(keys).await?)?;
        projects.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Page { items: projects, cursor: page.last_evaluated_key.map(|k| cursor::encode(&k)) })
    }

    pub async fn members(&self, project: &ProjectId) -> anyhow::Result<Vec<Member>> {
        parse_all(self.query_partition(project, Some("MEMBER#")).await?)
    }

    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> anyhow::Result<Vec<Item>> {
        anyhow::ensure!(keys.len() <= BATCH_GET_LIMIT, "at most {BATCH_GET_LIMIT} keys");
        let mut found = Vec::new();
        let mut pending = keys;
        let mut pause = Duration::from_millis(20);
        while !pending.is_empty() {
            let request = KeysAndAttributes::builder().set_keys(Some(pending)).consistent_read(true).build()?;
            let output = self
                .client()
                .await
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|err| anyhow!("batch get: {}", DisplayErrorContext(err)))?;
            found.extend(output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending =
                output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            if !pending.is_empty() {
                // DynamoDB asks for a pause before unprocessed keys are retried.
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
        Ok(found)
    }
}

fn parse_all<T: DeserializeOwned>(items: Vec<Item>) -> anyhow::Result<Vec<T>> {
    items.into_iter().map(|item| serde_dynamo::from_item(item).context("reading a stored item")).collect()
}
