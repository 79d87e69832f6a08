//! The whole project in one read: its meta, members, slides and blocks (the
//! image the cache keeps), and the tree served from it.

use std::collections::HashMap;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::content::{Block, ProjectId, ProjectRole, SlideId};

use super::block_item::block_of;
use super::items::entity;
use super::{ContentStore, Member, Project, Slide};

/// Everything of a project that reads need, in no particular order.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectImage {
    pub project: Project,
    pub members: Vec<Member>,
    pub slides: Vec<Slide>,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectTree {
    pub project: Project,
    pub slides: Vec<SlideTree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlideTree {
    #[serde(flatten)]
    pub slide: Slide,
    /// In creation order (block ids are ULIDs).
    pub blocks: Vec<Block>,
}

impl ProjectImage {
    pub fn role_of(&self, user: &UserId) -> Option<ProjectRole> {
        self.members.iter().find(|member| &member.user_id == user).map(|member| member.role)
    }

    /// Slides in display order, each with its blocks in creation order. A
    /// block whose slide is gone (being deleted with it) is left out. The
    /// cache's `tree` script builds the same tree inside Redis.
    pub fn into_tree(self) -> ProjectTree {
        let mut blocks: HashMap<SlideId, Vec<Block>> = HashMap::new();
        for block in self.blocks {
            blocks.entry(block.slide_id.clone()).or_default().push(block);
        }
        let mut slides = self.slides;
        slides.sort_by(|a, b| a.position.cmp(&b.position).then_with(|| a.id.cmp(&b.id)));
        let slides = slides
            .into_iter()
            .map(|slide| {
                let mut own = blocks.remove(&slide.id).unwrap_or_default();
                own.sort_by(|a, b| a.id.cmp(&b.id));
                SlideTree { slide, blocks: own }
            })
            .collect();
        ProjectTree { project: self.project, slides }
    }
}

impl ContentStore {
    /// One paginated, strongly consistent query of the project's partition;
    /// `None` when the project does not exist (or is deleted, its purge pending).
    pub async fn project_image(&self, project: &ProjectId) -> anyhow::Result<Option<ProjectImage>> {
        let mut meta = None;
        let (mut members, mut slides, mut blocks) = (Vec::new(), Vec::new(), Vec::new());
        for item in self.query_partition(project, None).await? {
            match entity(&item) {
                Some("project") => meta = Some(serde_dynamo::from_item(item).context("reading a project")?),
                Some("member") => members.push(serde_dynamo::from_item(item).context("reading a member")?),
                Some("slide") => slides.push(serde_dynamo::from_item(item).context("reading a slide")?),
                Some("block") => blocks.push(block_of(item)?),
                _ => {}
            }
        }
        Ok(meta.map(|project| ProjectImage { project, members, slides, blocks }))
    }

    pub async fn project_tree(&self, project: &ProjectId) -> anyhow::Result<Option<ProjectTree>> {
        Ok(self.project_image(project).await?.map(ProjectImage::into_tree))
    }
}
