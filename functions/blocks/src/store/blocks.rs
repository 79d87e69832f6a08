//! Blocks: created, read, and patched with ONE conditional UpdateItem whose
//! condition is "every touched field is unchanged since the base version".
//! A failed condition returns the item as it is (`ALL_OLD`), so a conflict
//! is reported with the current block at no extra read.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::Value;
use tessera_core::UserId;
use tessera_core::content::{Block, BlockId, BlockPatch, Field, Precondition, ProjectId, PropKey, SlideId};

use super::block_item::{block_item, block_of, value_attribute};
use super::items::{ConditionalUpdate, UpdateFailed};
use super::keys::{block_sort_key, project_partition, slide_block_index_key};
use super::{ContentStore, now};

/// The item attribute recording which write last set each field; kept out
/// of the served block (it may hold clients' idempotency keys).
const FIELD_WRITES: &str = "fieldWrites";

/// What a new block is made of.
#[derive(Debug, Clone)]
pub struct NewBlock {
    pub id: BlockId,
    pub project_id: ProjectId,
    pub slide_id: SlideId,
    pub kind: String,
    pub content: Value,
    pub props: BTreeMap<PropKey, Value>,
}

/// Why a patch did not commit.
#[derive(Debug, thiserror::Error)]
pub enum PatchRejected {
    #[error("the block does not exist")]
    NotFound,
    /// Fields the patch touches changed after its base version (409).
    #[error("conflicting fields: {fields:?}")]
    Conflict { current: Box<Block>, fields: Vec<Field> },
    /// `If-Match` names a version the block has moved on from (412).
    #[error("the block is no longer at the version given")]
    PreconditionFailed { current: Box<Block> },
    /// `baseVersion` is newer than the block: the client is confused (422).
    #[error("the base version is ahead of the block")]
    BaseAhead { current: Box<Block> },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ContentStore {
    /// Version 1, every field it has counted as changed at version 1.
    pub async fn create_block(&self, new: NewBlock, actor: &UserId) -> anyhow::Result<Block> {
        let created = now();
        let mut field_versions: BTreeMap<String, u64> =
            new.props.keys().map(|key| (Field::Prop(key.clone()).path(), 1)).collect();
        field_versions.insert(Field::Content.path(), 1);
        let block = Block {
            id: new.id,
            project_id: new.project_id,
            slide_id: new.slide_id,
            kind: new.kind,
            content: new.content,
            props: new.props,
            version: 1,
            field_versions,
            created_at: created.clone(),
            updated_at: created,
            updated_by: actor.clone(),
        };
        let mut item = block_item(&block)?;
        item.insert("lsi1sk".into(), AttributeValue::S(slide_block_index_key(&block.slide_id, &block.id)));
        // Which write last set each field: see `patch_block`.
        item.insert(FIELD_WRITES.into(), AttributeValue::M(HashMap::new()));
        self.put_new(item).await?;
        Ok(block)
    }

    /// Strongly consistent: a reader sees every acknowledged write.
    pub async fn get_block(&self, project: &ProjectId, block: &BlockId) -> anyhow::Result<Option<Block>> {
        let item = self.get(project_partition(project), block_sort_key(block)).await?;
        item.map(block_of).transpose()
    }

    /// Deletes a block and returns it as it was; `None` when there was none.
    pub async fn delete_block(&self, project: &ProjectId, block: &BlockId) -> anyhow::Result<Option<Block>> {
        let result = self
            .client()
            .await
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(project_partition(project)))
            .key("sk", AttributeValue::S(block_sort_key(block)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let old = output.attributes.ok_or_else(|| anyhow!("deleting block {block}: no old image returned"))?;
                Ok(Some(block_of(old).context("reading a deleted block")?))
            }
            Err(SdkError::ServiceError(failure)) if failure.err().is_conditional_check_failed_exception() => Ok(None),
            Err(err) => Err(anyhow!("deleting block {block}: {}", DisplayErrorContext(err))),
        }
    }

    /// Commits `patch` in one conditional write, or says why not.
    ///
    /// `write_id` makes the write idempotent: each touched field records the
    /// id of the write that set it, so when a retry of a write that already
    /// committed (the SDK's after a lost answer, or the client's with the same
    /// Idempotency-Key) fails its condition, it is recognised and answered
    /// as the success it was instead of as a conflict with itself.
    pub async fn patch_block(
        &self,
        project: &ProjectId,
        block: &BlockId,
        patch: &BlockPatch,
        actor: &UserId,
        write_id: &str,
    ) -> Result<Block, PatchRejected> {
        let update = Update::of(patch, actor, write_id)?;
        let update = ConditionalUpdate {
            pk: project_partition(project),
            sk: block_sort_key(block),
            expression: update.expression,
            condition: update.condition,
            names: update.names,
            values: update.values,
        };
        match self.conditional_update(update).await {
            Ok(item) => Ok(block_of(item).context("reading the patched block")?),
            Err(UpdateFailed::Condition(old)) => rejection(patch, write_id, old),
            Err(UpdateFailed::Unexpected(error)) => Err(error.into()),
        }
    }
}

/// Why the condition failed, from the item as it was (`ALL_OLD`); or, when
/// every touched field was last set by this very write, that it committed.
fn rejection(
    patch: &BlockPatch,
    write_id: &str,
    old: Option<HashMap<String, AttributeValue>>,
) -> Result<Block, PatchRejected> {
    let Some(item) = old else { return Err(PatchRejected::NotFound) };
    let writes = item.get(FIELD_WRITES).and_then(|w| w.as_m().ok());
    let written_by_us = |field: &Field| {
        writes.and_then(|w| w.get(&field.path())).and_then(|id| id.as_s().ok()).is_some_and(|id| id == write_id)
    };
    let already_committed = patch.touched().all(written_by_us);
    let current = block_of(item).context("reading the current block")?;
    if already_committed {
        return Ok(current);
    }
    let fields = patch.conflicting_fields(&current);
    let current = Box::new(current);
    Err(match patch.precondition {
        Precondition::WholeVersion(_) => PatchRejected::PreconditionFailed { current },
        _ if fields.is_empty() => PatchRejected::BaseAhead { current },
        _ => PatchRejected::Conflict { current, fields },
    })
}

/// The UpdateItem for a patch: every touched field gets the new version.
struct Update {
    expression: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Update {
    fn of(patch: &BlockPatch, actor: &UserId, write_id: &str) -> anyhow::Result<Self> {
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (":one".to_owned(), AttributeValue::N("1".into())),
            (":write".to_owned(), AttributeValue::S(write_id.to_owned())),
            (":now".to_owned(), AttributeValue::S(now())),
            (":actor".to_owned(), AttributeValue::S(actor.to_string())),
        ]);
        // Every `version` on the right-hand side is the value before this
        // write, so each touched field records the version it produces.
        let mut set =
            vec!["version = version + :one".to_owned(), "updatedAt = :now".into(), "updatedBy = :actor".into()];
        let mut remove = Vec::new();
        let mut guards = vec!["attribute_exists(pk)".to_owned()];

        for (index, field) in patch.touched().enumerate() {
            let version_name = format!("#f{index}");
            names.insert(version_name.clone(), field.path());
            set.push(format!("fieldVersions.{version_name} = version + :one"));
            set.push(format!("{FIELD_WRITES}.{version_name} = :write"));
            if let Precondition::FieldsUnchangedSince(_) = patch.precondition {
                guards.push(format!(
                    "(attribute_not_exists(fieldVersions.{version_name}) OR fieldVersions.{version_name} <= :base)"
                ));
            }
            let target = match field {
                Field::Content => "content".to_owned(),
                Field::Prop(key) => {
                    let prop_name = format!("#p{index}");
                    names.insert(prop_name.clone(), key.as_str().to_owned());
                    format!("props.{prop_name}")
                }
            };
            match patch.set.get(field) {
                Some(value) => {
                    let value_name = format!(":v{index}");
                    values.insert(value_name.clone(), value_attribute(value));
                    set.push(format!("{target} = {value_name}"));
                }
                None => remove.push(target),
            }
        }
        match patch.precondition {
            Precondition::FieldsUnchangedSince(base) => {
                // A base from the future is a confused client, not a pass.
                guards.push("version >= :base".into());
                values.insert(":base".into(), AttributeValue::N(base.to_string()));
            }
            Precondition::WholeVersion(version) => {
                guards.push("version = :expected".into());
                values.insert(":expected".into(), AttributeValue::N(version.to_string()));
            }
            Precondition::Overwrite => {}
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        Ok(Self { expression, condition: guards.join(" AND "), names, values })
    }
}
