//! A block and its fields. A field is the unit of conflict: `content`, or
//! one key of `props`. Every write bumps the block's `version` and records,
//! for each field it touched, the version that last changed it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{BlockId, ProjectId, SlideId};
use crate::identity::UserId;

/// A `props` key: 1 to 64 of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$")]
pub struct PropKey(String);

impl PropKey {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PropKey {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("`{raw}` is not a valid property name"))
    }
}

impl From<PropKey> for String {
    fn from(key: PropKey) -> String {
        key.0
    }
}

/// What a write can touch, and what a conflict is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Content,
    Prop(PropKey),
}

impl Field {
    /// `content` or `props.<key>`.
    pub fn parse(path: &str) -> Option<Self> {
        match path {
            "content" => Some(Self::Content),
            _ => path.strip_prefix("props.").and_then(PropKey::parse).map(Self::Prop),
        }
    }

    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Content => f.write_str("content"),
            Self::Prop(key) => write!(f, "props.{}", key.as_str()),
        }
    }
}

/// A block as stored and as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub id: BlockId,
    pub project_id: ProjectId,
    pub slide_id: SlideId,
    #[serde(rename = "type")]
    pub kind: String,
    pub content: Value,
    #[schema(schema_with = super::schema::props)]
    pub props: BTreeMap<PropKey, Value>,
    pub version: u64,
    /// For each field path, the version that last changed it.
    pub field_versions: BTreeMap<String, u64>,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: UserId,
}

impl Block {
    /// The version that last changed `field`; 0 if no write ever touched it.
    pub fn field_version(&self, field: &Field) -> u64 {
        self.field_versions.get(&field.path()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_content_or_one_valid_prop() {
        assert_eq!(Field::parse("content"), Some(Field::Content));
        assert_eq!(Field::parse("props.color").unwrap().path(), "props.color");
        for bad in
            ["props.", "props", "type", "props.a.b", "props.has space", "version", &format!("props.{}", "k".repeat(65))]
        {
            assert_eq!(Field::parse(bad), None, "{bad}");
        }
    }
}
