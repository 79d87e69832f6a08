//! The Content table: one partition per project (`PROJECT#<id>`), holding
//! its meta, members, slides and blocks. All DynamoDB specifics live here.

mod blocks;
mod keys;
mod projects;
mod slides;

pub use blocks::{NewBlock, PatchRejected};
pub use projects::{Member, Project};
pub use slides::Slide;

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
