//! The whole project in one read: meta, slides in order, their blocks.

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tessera_core::content::{Block, ProjectId, SlideId};

use super::items::Item;
use super::{ContentStore, Project, Slide};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectTree {
    pub project: Project,
    pub slides: Vec<SlideTree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlideTree {
    #[serde(flatten)]
    pub slide: Slide,
    /// In creation order (block ids are ULIDs).
    pub blocks: Vec<Block>,
}

impl ContentStore {
    /// One paginated, strongly consistent query of the project's partition.
    pub async fn project_tree(&self, project: &ProjectId) -> anyhow::Result<Option<ProjectTree>> {
        let mut meta = None;
        let mut slides = Vec::new();
        let mut blocks: BTreeMap<SlideId, Vec<Block>> = BTreeMap::new();
        for item in self.query_partition(project, None).await? {
            match entity(&item) {
                Some("project") => {
                    meta = Some(serde_dynamo::from_item::<_, Project>(item).context("reading a project")?)
                }
                Some("slide") => slides.push(serde_dynamo::from_item::<_, Slide>(item).context("reading a slide")?),
                Some("block") => {
                    let block: Block = serde_dynamo::from_item(item).context("reading a block")?;
                    blocks.entry(block.slide_id.clone()).or_default().push(block);
                }
                _ => {}
            }
        }
        let Some(project) = meta else { return Ok(None) };
        slides.sort_by(|a, b| a.position.cmp(&b.position));
        let slides = slides
            .into_iter()
            .map(|slide| {
                let mut own = blocks.remove(&slide.id).unwrap_or_default();
                own.sort_by(|a, b| a.id.cmp(&b.id));
                SlideTree { slide, blocks: own }
            })
            .collect();
        Ok(Some(ProjectTree { project, slides }))
    }
}

fn entity(item: &Item) -> Option<&str> {
    item.get("entity").and_then(|value| value.as_s().ok()).map(String::as_str)
}
