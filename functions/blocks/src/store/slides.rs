//! Slides of a project, ordered by fractional positions: a move rewrites
//! the moved slide alone, under a whole-item version condition.

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, SlideId};

use tessera_core::content::position;

use super::keys::{project_partition, slide_sort_key};
use super::{ContentStore, ItemRejected, now};

/// What a slide update changes.
#[derive(Debug, Clone, Default)]
pub struct SlideChanges {
    pub title: Option<String>,
    /// `Some(None)` moves the slide first, `Some(Some(id))` right after `id`.
    pub move_after: Option<Option<SlideId>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Slide {
    pub id: SlideId,
    pub project_id: ProjectId,
    pub title: String,
    /// Sorts slides in display order (see `tessera_core::content::position`).
    pub position: String,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: UserId,
}

impl ContentStore {
    /// Appends a slide after the project's last.
    pub async fn create_slide(
        &self,
        project: &ProjectId,
        id: SlideId,
        title: String,
        actor: &UserId,
    ) -> anyhow::Result<Slide> {
        let created = now();
        let last = self.slides(project).await?.pop().map(|slide| slide.position);
        let slide = Slide {
            id,
            project_id: project.clone(),
            title,
            position: position::between(last.as_deref(), None),
            version: 1,
            created_at: created.clone(),
            updated_at: created,
            updated_by: actor.clone(),
        };
        self.put_new(Self::item_of(&slide, project_partition(project), slide_sort_key(&slide.id), "slide")?).await?;
        Ok(slide)
    }

    /// The project's slides in display order.
    pub async fn slides(&self, project: &ProjectId) -> anyhow::Result<Vec<Slide>> {
        let mut slides: Vec<Slide> = self
            .query_partition(project, Some("SLIDE#"))
            .await?
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).context("reading a stored slide"))
            .collect::<anyhow::Result<_>>()?;
        slides.sort_by(|a, b| a.position.cmp(&b.position));
        Ok(slides)
    }

    /// Renames and/or moves a slide if it is still at `version`: a move
    /// places it right after `after` (`None`: first). One item is written.
    pub async fn update_slide(
        &self,
        project: &ProjectId,
        slide: &SlideId,
        changes: SlideChanges,
        version: u64,
        actor: &UserId,
    ) -> Result<Slide, ItemRejected<Slide>> {
        let mut set = vec!["updatedAt = :now".to_owned(), "updatedBy = :actor".into()];
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (":now".to_owned(), AttributeValue::S(now())),
            (":actor".to_owned(), AttributeValue::S(actor.to_string())),
        ]);
        if let Some(title) = changes.title {
            set.push("title = :title".into());
            values.insert(":title".into(), AttributeValue::S(title));
        }
        if let Some(after) = changes.move_after {
            let others: Vec<Slide> = self.slides(project).await?.into_iter().filter(|s| &s.id != slide).collect();
            let index = match after {
                None => 0,
                Some(after) => others.iter().position(|s| s.id == after).ok_or(ItemRejected::BadReference)? + 1,
            };
            let before = index.checked_sub(1).map(|i| others[i].position.as_str());
            let next = others.get(index).map(|s| s.position.as_str());
            set.push("#position = :position".into());
            names.insert("#position".to_owned(), "position".to_owned());
            values.insert(":position".into(), AttributeValue::S(position::between(before, next)));
        }
        let update = format!("SET {}", set.join(", "));
        self.update_versioned(project_partition(project), slide_sort_key(slide), &update, names, values, version).await
    }

    pub async fn get_slide(&self, project: &ProjectId, slide: &SlideId) -> anyhow::Result<Option<Slide>> {
        let item = self.get(project_partition(project), slide_sort_key(slide)).await?;
        item.map(|item| serde_dynamo::from_item(item).context("reading a stored slide")).transpose()
    }
}
