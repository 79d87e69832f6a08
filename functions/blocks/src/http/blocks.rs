//! Blocks: create, read, versioned patch, delete. Every block response
//! carries its `version` as a strong `ETag`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::content::{
    Block, BlockId, BlockPatch, PatchError, PatchRequest, ProjectId, PropKey, SlideId, schema,
};
use tessera_core::events::Event;
use tessera_platform::cursor::page_size;
use tessera_platform::http::{ApiError, Caller, Json, Problem};
use utoipa::ToSchema;

use super::inputs::{ListQuery, if_match, write_id};
use super::{Access, AppState, authorize, parse_id};
use crate::store::{BATCH_GET_LIMIT, NewBlock, Page, PatchRejected};

/// Most props a new block may have.
const MAX_PROPS: usize = 64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBlock {
    /// What the block is (`text`, `image`, `bullet-list`, ...).
    #[serde(rename = "type")]
    #[schema(pattern = "^[a-z-]{1,32}$")]
    kind: String,
    #[serde(default)]
    content: Value,
    #[serde(default)]
    #[schema(schema_with = new_block_props)]
    props: BTreeMap<PropKey, Value>,
}

fn new_block_props() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    schema::keyed_values(schema::PROP_KEY_PATTERN, Some(MAX_PROPS))
}

/// Adds a block to a slide.
#[utoipa::path(post, path = "/projects/{projectId}/slides/{slideId}/blocks", operation_id = "createBlock", tag = "blocks",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("slideId" = String, Path, description = "The slide's id (a ULID)")),
    request_body = CreateBlock,
    responses((status = 201, body = Block, headers(("ETag" = String, description = "The block's version")), links(
            ("getBlock" = (operation_id = "getBlock", parameters(("projectId" = "$request.path.projectId"), ("blockId" = "$response.body#/id")))),
            ("patchBlock" = (operation_id = "patchBlock", parameters(("projectId" = "$request.path.projectId"), ("blockId" = "$response.body#/id")))),
            ("deleteBlock" = (operation_id = "deleteBlock", parameters(("projectId" = "$request.path.projectId"), ("blockId" = "$response.body#/id"))))
        )), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, slide)): Path<(String, String)>,
    Json(body): Json<CreateBlock>,
) -> Result<Response, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let slide = parse_id(&slide, SlideId::parse)?;
    authorize(&state, &project, &caller, Access::Write).await?;
    let valid_kind =
        (1..=32).contains(&body.kind.len()) && body.kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    if !valid_kind {
        return Err(ApiError::BadRequest("`type` must be 1 to 32 lower-case letters or dashes".into()));
    }
    if body.props.len() > MAX_PROPS {
        return Err(ApiError::BadRequest(format!("a block has at most {MAX_PROPS} props")));
    }
    if state.store.get_slide(&project, &slide).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let id = BlockId::parse(&ulid::Ulid::new().to_string()).map_err(anyhow::Error::from)?;
    let new = NewBlock {
        id,
        project_id: project,
        slide_id: slide,
        kind: body.kind,
        content: body.content,
        props: body.props,
    };
    let block = state.store.create_block(new, &caller.user_id).await?;
    state.cache.put_block(&block).await;
    Ok(with_etag(StatusCode::CREATED, block))
}

/// A block, with its version as `ETag`.
#[utoipa::path(get, path = "/projects/{projectId}/blocks/{blockId}", operation_id = "getBlock", tag = "blocks",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("blockId" = String, Path, description = "The block's id (a ULID)")),
    responses((status = 200, body = Block, headers(("ETag" = String, description = "The block's version"))), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, block)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let block = parse_id(&block, BlockId::parse)?;
    authorize(&state, &project, &caller, Access::Read).await?;
    let block = state.store.get_block(&project, &block).await?.ok_or(ApiError::NotFound)?;
    Ok(with_etag(StatusCode::OK, block))
}

/// A versioned patch: it commits if every field it touches is unchanged
/// since `baseVersion` (else 409 with the current block), or if the block
/// is still at `If-Match` (else 412).
#[utoipa::path(patch, path = "/projects/{projectId}/blocks/{blockId}", operation_id = "patchBlock", tag = "blocks",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("blockId" = String, Path, description = "The block's id (a ULID)"), ("If-Match" = Option<String>, Header, description = "`\"<version>\"`: only if the item is still at this version (else 412)"), ("Idempotency-Key" = Option<String>, Header, description = "1 to 64 printable characters: a retry with the same key is recognised as the same write")),
    request_body = PatchRequest,
    responses((status = 200, body = Block, headers(("ETag" = String, description = "The block's version"))), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound)), (status = 409, response = inline(tessera_platform::http::openapi::Conflict)), (status = 412, response = inline(tessera_platform::http::openapi::PreconditionFailed)), (status = 422, response = inline(tessera_platform::http::openapi::UnprocessableContent)), (status = 428, response = inline(tessera_platform::http::openapi::PreconditionRequired))))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, block)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<PatchRequest>,
) -> Result<Response, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let block = parse_id(&block, BlockId::parse)?;
    authorize(&state, &project, &caller, Access::Write).await?;
    let patch = BlockPatch::parse(body, if_match(&headers)?).map_err(|error| match error {
        PatchError::PreconditionRequired => {
            Problem::for_status(StatusCode::PRECONDITION_REQUIRED).with_detail(error.to_string()).into()
        }
        other => ApiError::BadRequest(other.to_string()),
    })?;
    let write_id = write_id(&headers)?;
    match state.store.patch_block(&project, &block, &patch, &caller.user_id, &write_id).await {
        Ok(block) => {
            state.cache.put_block(&block).await;
            Ok(with_etag(StatusCode::OK, block))
        }
        Err(PatchRejected::NotFound) => Err(ApiError::NotFound),
        Err(PatchRejected::Conflict { current, fields }) => {
            let fields: Vec<String> = fields.iter().map(|f| f.path()).collect();
            let event = Event::BlockConflict {
                project_id: project.clone(),
                block_id: block.clone(),
                actor: caller.user_id.clone(),
                fields: fields.clone(),
                current_version: current.version,
                at: current.updated_at.clone(),
            };
            state.events.publish(&event).await;
            Err(Problem::new(StatusCode::CONFLICT, "conflict", "The block changed since your base version")
                .with_detail(format!("changed since your base: {}", fields.join(", ")))
                .with_extension("conflictingFields", fields)
                .with_extension("current", serde_json::to_value(*current).map_err(anyhow::Error::from)?)
                .into())
        }
        Err(PatchRejected::BaseAhead { current }) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "base-version-ahead",
            "The base version is ahead of the block",
        )
        .with_detail(format!("`baseVersion` must be at most the block's version, {}", current.version))
        .with_extension("currentVersion", current.version)
        .into()),
        Err(PatchRejected::PreconditionFailed { current }) => Err(Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "The block is no longer at that version",
        )
        .with_extension("current", serde_json::to_value(*current).map_err(anyhow::Error::from)?)
        .into()),
        Err(PatchRejected::Unexpected(error)) => Err(error.into()),
    }
}

/// Deletes a block.
#[utoipa::path(delete, path = "/projects/{projectId}/blocks/{blockId}", operation_id = "deleteBlock", tag = "blocks",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("blockId" = String, Path, description = "The block's id (a ULID)"), ("If-Match" = Option<String>, Header, description = "`\"<version>\"`: only if the item is still at this version (else 412)")),
    responses((status = 204, description = "Deleted"), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 403, response = inline(tessera_platform::http::openapi::Forbidden)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound)), (status = 412, response = inline(tessera_platform::http::openapi::PreconditionFailed))))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, block)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let block = parse_id(&block, BlockId::parse)?;
    authorize(&state, &project, &caller, Access::Write).await?;
    let deleted = state.store.delete_block(&project, &block).await?.ok_or(ApiError::NotFound)?;
    state.cache.remove_block(&deleted).await;
    Ok(StatusCode::NO_CONTENT)
}

fn with_etag(status: StatusCode, block: Block) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", block.version)).ok();
    let mut response = (status, axum::Json(block)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// `GET /projects/{projectId}/slides/{slideId}/blocks`: a page at a time.
#[utoipa::path(get, path = "/projects/{projectId}/slides/{slideId}/blocks", operation_id = "listSlideBlocks", tag = "blocks",
    params(("projectId" = String, Path, description = "The project's id (a ULID)"), ("slideId" = String, Path, description = "The slide's id (a ULID)"), ListQuery),
    responses((status = 200, body = Page<Block>), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn list_of_slide(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, slide)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    let slide = parse_id(&slide, SlideId::parse)?;
    authorize(&state, &project, &caller, Access::Read).await?;
    let page = state.store.slide_blocks(&project, &slide, page_size(query.limit())?, query.cursor()).await;
    Ok(axum::Json(page?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchGet {
    /// 1 to 100 block ids.
    #[schema(value_type = Vec<BlockId>, min_items = 1, max_items = 100)]
    ids: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchGot {
    blocks: Vec<Block>,
    /// The ids asked for that are not in the project.
    missing: Vec<BlockId>,
}

/// `POST /projects/{projectId}/blocks/batch-get`: up to 100 blocks by id.
#[utoipa::path(post, path = "/projects/{projectId}/blocks/batch-get", operation_id = "batchGetBlocks", tag = "blocks",
    params(("projectId" = String, Path, description = "The project's id (a ULID)")),
    request_body = BatchGet,
    responses((status = 200, body = BatchGot), (status = 400, response = inline(tessera_platform::http::openapi::BadRequest)), (status = 404, response = inline(tessera_platform::http::openapi::NotFound))))]
pub async fn batch_get(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(body): Json<BatchGet>,
) -> Result<Response, ApiError> {
    let project = parse_id(&project, ProjectId::parse)?;
    authorize(&state, &project, &caller, Access::Read).await?;
    if body.ids.is_empty() || body.ids.len() > BATCH_GET_LIMIT {
        return Err(ApiError::BadRequest(format!("`ids` holds 1 to {BATCH_GET_LIMIT} block ids")));
    }
    let mut ids: Vec<BlockId> = body
        .ids
        .iter()
        .map(|id| BlockId::parse(id).map_err(|_| ApiError::BadRequest(format!("`{id}` is not a block id"))))
        .collect::<Result<_, _>>()?;
    ids.sort();
    ids.dedup();
    let blocks = state.store.blocks_by_id(&project, &ids).await?;
    let missing: Vec<BlockId> = ids.iter().filter(|id| !blocks.iter().any(|b| &b.id == *id)).cloned().collect();
    Ok(axum::Json(BatchGot { blocks, missing }).into_response())
}
