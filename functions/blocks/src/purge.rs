//! The purge of deleted projects, run from the Content table's stream.
//! Deleting a project removes its meta in the request, so it is gone for
//! everyone at once; the stream's REMOVE record of that meta brings the
//! project here, where its members, slides and blocks are deleted however
//! many they are, off the request's clock. The event source mapping's filter
//! sends only such records; any other is skipped.
//!
//! A failed purge reports its record (`batchItemFailures`): Lambda retries
//! the batch from there, and the purge, being idempotent, goes on where it
//! stopped.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;
use tessera_core::content::ProjectId;
use tessera_platform::config::{ConfigError, Vars};

use crate::store::{ContentStore, project_of_meta};

#[derive(Debug, Clone)]
pub struct PurgeConfig {
    pub content_table: String,
}

impl PurgeConfig {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self { content_table: vars.required("CONTENT_TABLE")? })
    }
}

pub async fn handle(store: &ContentStore, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let Some(project) = deleted_project(record) else { continue };
        match store.purge_project(&project).await {
            Ok(items) => tracing::info!(%project, items, "purged a deleted project"),
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), %project, "a purge failed; the stream retries it");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
                // Lambda retries from the first failure, the records after it included.
                break;
            }
        }
    }
    response
}

#[derive(Deserialize)]
struct Keys {
    pk: String,
    sk: String,
}

/// The project whose meta this record removed.
fn deleted_project(record: &EventRecord) -> Option<ProjectId> {
    if record.event_name != "REMOVE" {
        return None;
    }
    let keys: Keys = serde_dynamo::from_item(record.change.keys.clone()).ok()?;
    project_of_meta(&keys.pk, &keys.sk)
}
