//! Key shapes of the Content table's items. A project is one partition:
//! its meta, members, slides and blocks. GSI1 lists a user's projects.

use tessera_core::UserId;
use tessera_core::content::{BlockId, ProjectId, SlideId};

pub const META: &str = "META";

pub fn project_partition(project: &ProjectId) -> String {
    format!("PROJECT#{project}")
}

pub fn member_sort_key(user: &UserId) -> String {
    format!("MEMBER#{user}")
}

pub fn slide_sort_key(slide: &SlideId) -> String {
    format!("SLIDE#{slide}")
}

pub fn block_sort_key(block: &BlockId) -> String {
    format!("BLOCK#{block}")
}

/// GSI1 partition listing a user's memberships.
pub fn user_projects_partition(user: &UserId) -> String {
    format!("USER#{user}")
}

/// LSI1 sort key of a block: a slide's blocks, in creation order.
pub fn slide_block_index_key(slide: &SlideId, block: &BlockId) -> String {
    format!("SLIDE#{slide}#BLOCK#{block}")
}

pub fn slide_blocks_prefix(slide: &SlideId) -> String {
    format!("SLIDE#{slide}#BLOCK#")
}

/// The project whose meta has this key; `None` for any other item's key.
pub fn project_of_meta(pk: &str, sk: &str) -> Option<ProjectId> {
    let id = pk.strip_prefix("PROJECT#").filter(|_| sk == META)?;
    ProjectId::parse(id).ok()
}
