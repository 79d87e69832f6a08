//! The Content table: one partition per project (`PROJECT#<id>`), holding
//! its meta, members, slides and blocks. All DynamoDB specifics live here.

mod block_item;
mod blocks;
mod items;
mod keys;
mod lists;
mod projects;
mod removals;
mod slides;
mod tree;

pub use blocks::{NewBlock, PatchRejected};
pub use keys::project_of_meta;
pub use lists::BATCH_GET_LIMIT;
pub use projects::{Member, Project};
pub use slides::{Slide, SlideChanges};
pub use tessera_platform::cursor::{BadCursor, Page};
pub use tree::{ProjectImage, ProjectTree, SlideTree};

use tessera_platform::aws::Aws;

/// The Content table, through DynamoDB.
#[derive(Clone)]
pub struct ContentStore {
    aws: Aws,
    table: String,
}

impl ContentStore {
    pub fn new(aws: Aws, table: impl Into<String>) -> Self {
        Self { aws, table: table.into() }
    }

    async fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.aws.dynamodb().await
    }
}

/// Timestamps as stored and served: RFC 3339, UTC.
fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Why a whole-item versioned write (project meta, slide) did not commit.
#[derive(Debug, thiserror::Error)]
pub enum ItemRejected<T> {
    #[error("the item does not exist")]
    NotFound,
    /// The item moved on from the version given (409 with the current item).
    #[error("the item is no longer at the version given")]
    Stale { current: Box<T> },
    /// The request names a related item that is not there (e.g. `after`).
    #[error("a referenced item does not exist")]
    BadReference,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
