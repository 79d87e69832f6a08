//! How a block is stored. Its attributes are DynamoDB types, except its
//! values (`content` and each prop), which are kept as JSON text: any JSON
//! a client may send then round-trips exactly, where DynamoDB's own types
//! would refuse numbers past 38 digits or ±1e125 and maps nested deeper
//! than 32 levels. Each prop stays its own map entry, so a patch still
//! writes one field without reading the others.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use tessera_core::content::{Block, PropKey};

use super::ContentStore;
use super::items::Item;
use super::keys::{block_sort_key, project_partition};

/// A block value as stored.
pub(super) fn value_attribute(value: &Value) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// A block as a Content-table item (keys and entity included).
pub(super) fn block_item(block: &Block) -> anyhow::Result<Item> {
    let mut item =
        ContentStore::item_of(block, project_partition(&block.project_id), block_sort_key(&block.id), "block")?;
    item.insert("content".into(), value_attribute(&block.content));
    let props = block.props.iter().map(|(key, value)| (key.as_str().to_owned(), value_attribute(value))).collect();
    item.insert("props".into(), AttributeValue::M(props));
    Ok(item)
}

/// A stored block, back from its item.
pub(super) fn block_of(mut item: Item) -> anyhow::Result<Block> {
    let content = item.remove("content").ok_or_else(|| anyhow!("a stored block without content"))?;
    let content = value_of(&content).context("reading a block's content")?;
    let props = match item.remove("props") {
        Some(AttributeValue::M(props)) => props,
        None => HashMap::new(),
        Some(_) => return Err(anyhow!("a stored block's props are not a map")),
    };
    // The rest is plain attributes; the values are put back parsed.
    item.insert("content".into(), AttributeValue::Null(true));
    item.insert("props".into(), AttributeValue::M(HashMap::new()));
    let mut block: Block = serde_dynamo::from_item(item).context("reading a stored block")?;
    block.content = content;
    for (key, value) in props {
        let parsed = value_of(&value).with_context(|| format!("reading prop {key}"))?;
        let key = PropKey::parse(&key).ok_or_else(|| anyhow!("a stored prop key `{key}` is not valid"))?;
        block.props.insert(key, parsed);
    }
    Ok(block)
}

fn value_of(attribute: &AttributeValue) -> anyhow::Result<Value> {
    let text = attribute.as_s().map_err(|_| anyhow!("a stored value is not JSON text"))?;
    Ok(serde_json::from_str(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tessera_core::content::{BlockId, ProjectId, SlideId};
    use tessera_core::identity::UserId;

    fn block(content: Value, props: &[(&str, Value)]) -> Block {
        Block {
            id: BlockId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1V").unwrap(),
            project_id: ProjectId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1W").unwrap(),
            slide_id: SlideId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1X").unwrap(),
            kind: "text".into(),
            content,
            props: props.iter().map(|(k, v)| (PropKey::parse(k).unwrap(), v.clone())).collect(),
            version: 3,
            field_versions: [("content".to_owned(), 2)].into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-02T00:00:00Z".into(),
            updated_by: UserId::parse("alice").unwrap(),
        }
    }

    #[test]
    fn values_dynamodb_types_cannot_hold_round_trip() {
        let deep = (0..40).fold(json!("core"), |inner, _| json!({ "N": inner }));
        let original = block(
            json!({"huge": 1.7976931348623157e308, "tiny": 5e-324, "S": ["", {"M": null}], "deep": deep}),
            &[("color", json!("red")), ("size", json!(1e200))],
        );

        let item = block_item(&original).unwrap();

        assert!(item["content"].as_s().is_ok() && item["props"].as_m().unwrap()["color"].as_s().is_ok());
        assert_eq!(block_of(item).unwrap(), original);
    }

    #[test]
    fn a_block_item_that_is_not_json_text_is_an_error_not_a_guess() {
        let mut item = block_item(&block(json!("hi"), &[])).unwrap();
        item.insert("content".into(), AttributeValue::S("not json".into()));

        assert!(block_of(item).is_err());
    }
}
