//! What the derived JSON Schemas cannot say on their own: maps whose keys
//! follow a pattern (`props` keys, patch field paths). The patterns are the
//! parsers' rules, so a client generated from the contract sends what the
//! API accepts.

use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{Object, RefOr, Schema};

/// `props` keys, as [`super::PropKey::parse`] accepts them.
pub const PROP_KEY_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// Field paths, as [`super::Field::parse`] accepts them.
pub const FIELD_PATTERN: &str = r"^(content|props\.[A-Za-z0-9_-]{1,64})$";

fn string_matching(pattern: &str) -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).build()
}

/// An object of any JSON values keyed by `key_pattern`, of at most `max` entries.
pub fn keyed_values(key_pattern: &str, max: Option<usize>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(string_matching(key_pattern)))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .max_properties(max)
        .into()
}

/// `unset` of a patch: field paths.
pub fn field_paths() -> RefOr<Schema> {
    ArrayBuilder::new().items(string_matching(FIELD_PATTERN)).max_items(Some(super::patch::MAX_FIELDS)).into()
}

/// The `props` of a stored block (patches may grow them past what a new
/// block may have).
pub fn props() -> RefOr<Schema> {
    keyed_values(PROP_KEY_PATTERN, None)
}

/// `set` of a patch: field paths to their new values.
pub fn field_values() -> RefOr<Schema> {
    keyed_values(FIELD_PATTERN, Some(super::patch::MAX_FIELDS))
}
