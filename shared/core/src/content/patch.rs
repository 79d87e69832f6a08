//! A block patch, parsed from what a client sent: the fields it sets and
//! unsets and the precondition it commits under.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::block::{Block, Field};

/// Most fields one patch may touch.
pub const MAX_FIELDS: usize = 64;

/// The body of `PATCH /projects/{projectId}/blocks/{blockId}`: `set` and
/// `unset` name fields (`content`, `props.<key>`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchRequest {
    pub base_version: Option<u64>,
    #[serde(default)]
    #[schema(schema_with = super::schema::field_values)]
    pub set: BTreeMap<String, Value>,
    #[serde(default)]
    #[schema(schema_with = super::schema::field_paths)]
    pub unset: Vec<String>,
    #[serde(default)]
    pub overwrite: bool,
}

/// When a patch may commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Every touched field is unchanged since this version (`baseVersion`).
    FieldsUnchangedSince(u64),
    /// The whole block is at this version (`If-Match`, RFC 9110).
    WholeVersion(u64),
    /// Explicitly asked to overwrite; still bumps the versions.
    Overwrite,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("a patch needs `baseVersion`, an If-Match header, or `\"overwrite\": true`")]
    PreconditionRequired,
    #[error("give one precondition: `baseVersion`, If-Match or `overwrite`")]
    ConflictingPreconditions,
    #[error("`{0}` is not a field: use `content` or `props.<name>`")]
    UnknownField(String),
    #[error("`content` cannot be unset; set it instead")]
    ContentUnset,
    #[error("`{0}` is both set and unset")]
    SetAndUnset(String),
    #[error("the patch changes nothing")]
    Empty,
    #[error("a patch touches at most {MAX_FIELDS} fields")]
    TooManyFields,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockPatch {
    pub set: BTreeMap<Field, Value>,
    pub unset: BTreeSet<Field>,
    pub precondition: Precondition,
}

impl BlockPatch {
    /// `if_match` is the version from an `If-Match` header, if any.
    pub fn parse(request: PatchRequest, if_match: Option<u64>) -> Result<Self, PatchError> {
        let precondition = match (request.base_version, if_match, request.overwrite) {
            (Some(base), None, false) => Precondition::FieldsUnchangedSince(base),
            (None, Some(version), false) => Precondition::WholeVersion(version),
            (None, None, true) => Precondition::Overwrite,
            (None, None, false) => return Err(PatchError::PreconditionRequired),
            _ => return Err(PatchError::ConflictingPreconditions),
        };
        let mut set = BTreeMap::new();
        for (path, value) in request.set {
            let field = Field::parse(&path).ok_or(PatchError::UnknownField(path))?;
            set.insert(field, value);
        }
        let mut unset = BTreeSet::new();
        for path in request.unset {
            match Field::parse(&path) {
                None => return Err(PatchError::UnknownField(path)),
                Some(Field::Content) => return Err(PatchError::ContentUnset),
                Some(field) if set.contains_key(&field) => return Err(PatchError::SetAndUnset(path)),
                Some(field) => {
                    unset.insert(field);
                }
            }
        }
        match set.len() + unset.len() {
            0 => Err(PatchError::Empty),
            n if n > MAX_FIELDS => Err(PatchError::TooManyFields),
            _ => Ok(Self { set, unset, precondition }),
        }
    }

    pub fn touched(&self) -> impl Iterator<Item = &Field> {
        self.set.keys().chain(&self.unset)
    }

    /// The touched fields that `current` changed after the patch's base: the
    /// patch conflicts exactly when this is not empty. (The store's
    /// conditional write enforces the same rule atomically.)
    pub fn conflicting_fields(&self, current: &Block) -> Vec<Field> {
        match self.precondition {
            Precondition::FieldsUnchangedSince(base) => {
                self.touched().filter(|field| current.field_version(field) > base).cloned().collect()
            }
            Precondition::WholeVersion(version) if current.version != version => self.touched().cloned().collect(),
            Precondition::WholeVersion(_) | Precondition::Overwrite => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::ids::{BlockId, ProjectId, SlideId};
    use serde_json::json;

    fn request(body: Value) -> PatchRequest {
        serde_json::from_value(body).unwrap()
    }

    fn block(version: u64, field_versions: &[(&str, u64)]) -> Block {
        Block {
            id: BlockId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1V").unwrap(),
            project_id: ProjectId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1W").unwrap(),
            slide_id: SlideId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1X").unwrap(),
            kind: "text".into(),
            content: json!("hi"),
            props: BTreeMap::new(),
            version,
            field_versions: field_versions.iter().map(|(f, v)| (f.to_string(), *v)).collect(),
            created_at: String::new(),
            updated_at: String::new(),
            updated_by: crate::identity::UserId::parse("alice").unwrap(),
        }
    }

    #[test]
    fn a_base_version_patch_parses_its_fields() {
        let patch = BlockPatch::parse(
            request(
                json!({"baseVersion": 3, "set": {"content": "x", "props.color": "red"}, "unset": ["props.shadow"]}),
            ),
            None,
        )
        .unwrap();
        assert_eq!(patch.precondition, Precondition::FieldsUnchangedSince(3));
        assert_eq!(patch.touched().map(Field::path).collect::<Vec<_>>(), ["content", "props.color", "props.shadow"]);
    }

    #[test]
    fn a_patch_without_a_precondition_is_refused_unless_it_asks_to_overwrite() {
        let set = json!({"set": {"content": "x"}});
        assert_eq!(BlockPatch::parse(request(set.clone()), None), Err(PatchError::PreconditionRequired));
        let overwrite = json!({"set": {"content": "x"}, "overwrite": true});
        assert_eq!(BlockPatch::parse(request(overwrite), None).unwrap().precondition, Precondition::Overwrite);
        assert_eq!(BlockPatch::parse(request(set), Some(4)).unwrap().precondition, Precondition::WholeVersion(4));
    }

    #[test]
    fn two_preconditions_at_once_are_refused() {
        let both = json!({"baseVersion": 1, "set": {"content": "x"}});
        assert_eq!(BlockPatch::parse(request(both), Some(1)), Err(PatchError::ConflictingPreconditions));
    }

    #[test]
    fn bad_patches_say_what_is_wrong() {
        let cases = [
            (json!({"baseVersion": 1, "set": {"type": "image"}}), PatchError::UnknownField("type".into())),
            (json!({"baseVersion": 1, "unset": ["content"]}), PatchError::ContentUnset),
            (
                json!({"baseVersion": 1, "set": {"props.a": 1}, "unset": ["props.a"]}),
                PatchError::SetAndUnset("props.a".into()),
            ),
            (json!({"baseVersion": 1}), PatchError::Empty),
        ];
        for (body, error) in cases {
            assert_eq!(BlockPatch::parse(request(body), None), Err(error));
        }
        assert!(
            serde_json::from_value::<PatchRequest>(json!({"baseVersion": 1, "sett": {}})).is_err(),
            "unknown fields"
        );
    }

    #[test]
    fn only_fields_changed_after_the_base_conflict() {
        let current = block(5, &[("content", 5), ("props.color", 2)]);
        let patch = BlockPatch::parse(
            request(json!({"baseVersion": 3, "set": {"content": "x", "props.color": "red", "props.size": 2}})),
            None,
        )
        .unwrap();
        assert_eq!(patch.conflicting_fields(&current), [Field::Content]);
    }

    #[test]
    fn if_match_conflicts_on_any_change_to_the_block() {
        let current = block(5, &[("content", 5)]);
        let stale = BlockPatch::parse(request(json!({"set": {"props.color": "red"}})), Some(4)).unwrap();
        let fresh = BlockPatch::parse(request(json!({"set": {"props.color": "red"}})), Some(5)).unwrap();
        assert_eq!(stale.conflicting_fields(&current).len(), 1);
        assert!(fresh.conflicting_fields(&current).is_empty());
    }
}
