//! Slides of a project. (Positions and moves follow in the next slice.)

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, SlideId};

use super::keys::{project_partition, slide_sort_key};
use super::{ContentStore, now};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slide {
    pub id: SlideId,
    pub project_id: ProjectId,
    pub title: String,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: UserId,
}

impl ContentStore {
    pub async fn create_slide(
        &self,
        project: &ProjectId,
        id: SlideId,
        title: String,
        actor: &UserId,
    ) -> anyhow::Result<Slide> {
        let created = now();
        let slide = Slide {
            id,
            project_id: project.clone(),
            title,
            version: 1,
            created_at: created.clone(),
            updated_at: created,
            updated_by: actor.clone(),
        };
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&slide)?;
        item.insert("pk".into(), AttributeValue::S(project_partition(project)));
        item.insert("sk".into(), AttributeValue::S(slide_sort_key(&slide.id)));
        item.insert("entity".into(), AttributeValue::S("slide".into()));
        self.client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|err| anyhow!("creating slide {}: {}", slide.id, DisplayErrorContext(err)))?;
        Ok(slide)
    }

    pub async fn get_slide(&self, project: &ProjectId, slide: &SlideId) -> anyhow::Result<Option<Slide>> {
        let item = self.get(project_partition(project), slide_sort_key(slide)).await?;
        item.map(|item| serde_dynamo::from_item(item).context("reading a stored slide")).transpose()
    }
}
