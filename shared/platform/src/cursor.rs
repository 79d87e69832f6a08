//! Opaque page cursors: DynamoDB's `LastEvaluatedKey`, as base64url JSON.
//! A cursor is checked against the query it continues, so a tampered one
//! cannot read another project's or user's items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::http::ApiError;

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this list gave")]
pub struct BadCursor;

/// Why a page of a list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A cursor this list did not give (the client's mistake: 400).
    #[error(transparent)]
    BadCursor(#[from] BadCursor),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::BadCursor(bad) => ApiError::BadRequest(bad.to_string()),
            ListError::Unexpected(error) => error.into(),
        }
    }
}

/// Page size bounds for every list: 1 to 100, 25 when left out.
pub fn page_size(limit: Option<i32>) -> Result<i32, ApiError> {
    match limit.unwrap_or(25) {
        limit @ 1..=100 => Ok(limit),
        _ => Err(ApiError::BadRequest("`limit` must be 1 to 100".into())),
    }
}

/// A page of items and the cursor to the next, if any.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

pub fn encode(key: &Item) -> String {
    let strings: HashMap<&str, &str> =
        key.iter().filter_map(|(name, value)| Some((name.as_str(), value.as_s().ok()?.as_str()))).collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&strings).unwrap_or_default())
}

/// The key a cursor stands for, provided it has exactly `names` and agrees
/// with every `(name, value)` in `fixed`.
pub fn decode(raw: &str, names: &[&str], fixed: &[(&str, &str)]) -> Result<Item, BadCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| BadCursor)?;
    let strings: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| BadCursor)?;
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort_unstable();
    let mut given: Vec<&str> = strings.keys().map(String::as_str).collect();
    given.sort_unstable();
    if given != expected || fixed.iter().any(|(name, value)| strings.get(*name).map(String::as_str) != Some(value)) {
        return Err(BadCursor);
    }
    Ok(strings.into_iter().map(|(name, value)| (name, AttributeValue::S(value))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string()))).collect()
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_query() {
        let last = key(&[("pk", "PROJECT#p"), ("sk", "BLOCK#b"), ("lsi1sk", "SLIDE#s#BLOCK#b")]);
        let cursor = encode(&last);
        assert_eq!(decode(&cursor, &["pk", "sk", "lsi1sk"], &[("pk", "PROJECT#p")]), Ok(last));
    }

    #[test]
    fn a_cursor_for_another_partition_or_shape_or_garbage_is_refused() {
        let cursor = encode(&key(&[("pk", "PROJECT#other"), ("sk", "BLOCK#b"), ("lsi1sk", "x")]));
        assert_eq!(decode(&cursor, &["pk", "sk", "lsi1sk"], &[("pk", "PROJECT#p")]), Err(BadCursor));
        assert_eq!(decode(&cursor, &["pk", "sk"], &[]), Err(BadCursor));
        assert_eq!(decode("!!", &["pk"], &[]), Err(BadCursor));
    }
}
