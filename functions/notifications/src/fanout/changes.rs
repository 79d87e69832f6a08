//! Content-table stream records as typed events. Each item carries its
//! `entity` (`project`, `member`, `slide`, `block`); the old and new images
//! say what changed. A block's `fieldVersions` name the fields the write
//! touched: those whose version is the block's new version.

use std::collections::BTreeMap;

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tessera_core::UserId;
use tessera_core::content::ProjectId;

use super::Outgoing;

/// The attributes events are made of; every item has a subset.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Image {
    entity: Option<String>,
    pk: String,
    sk: String,
    id: Option<String>,
    slide_id: Option<String>,
    user_id: Option<String>,
    role: Option<String>,
    title: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    position: Option<String>,
    version: Option<u64>,
    updated_by: Option<String>,
    field_versions: BTreeMap<String, u64>,
    /// JSON text (see the blocks store).
    content: Option<String>,
    /// Each value JSON text.
    props: BTreeMap<String, String>,
}

/// What a record means for the project's channel; `None` for writes
/// nobody listens to (a new project: it has no subscribers yet).
pub fn outgoing(record: &EventRecord) -> Option<Outgoing> {
    let image = |item: &serde_dynamo::Item| -> Option<Image> {
        if item.is_empty() { None } else { serde_dynamo::from_item(item.clone()).ok() }
    };
    let old = image(&record.change.old_image);
    let new = image(&record.change.new_image);
    let current = new.as_ref().or(old.as_ref())?;
    let project = ProjectId::parse(current.pk.strip_prefix("PROJECT#")?).ok()?;
    let verb = match record.event_name.as_str() {
        "INSERT" => "created",
        "MODIFY" => "updated",
        "REMOVE" => "deleted",
        _ => return None,
    };
    let mut message = Map::new();
    message.insert("projectId".into(), project.as_str().into());
    let mut outgoing = Outgoing::to_channel(project, Value::Null);
    let kind = match current.entity.as_deref()? {
        "project" => {
            if verb == "created" {
                return None;
            }
            insert_version_and_actor(&mut message, current);
            if let Some(title) = &current.title {
                message.insert("title".into(), title.clone().into());
            }
            format!("project.{verb}")
        }
        "slide" => {
            message.insert("slideId".into(), current.id.clone()?.into());
            insert_version_and_actor(&mut message, current);
            if verb != "deleted" {
                message.insert("title".into(), current.title.clone().into());
                message.insert("position".into(), current.position.clone().into());
            }
            format!("slide.{verb}")
        }
        "block" => {
            message.insert("slideId".into(), current.slide_id.clone()?.into());
            message.insert("blockId".into(), current.id.clone()?.into());
            insert_version_and_actor(&mut message, current);
            if verb == "created" {
                message.insert("blockType".into(), current.kind.clone().into());
            }
            if verb == "updated" {
                let (fields, changes) = block_changes(current);
                message.insert("fields".into(), fields.into());
                message.insert("changes".into(), changes.into());
            }
            format!("block.{verb}")
        }
        "member" => {
            let user = UserId::parse(current.user_id.as_deref()?).ok()?;
            message.insert("userId".into(), user.as_str().into());
            let kind = match verb {
                "created" => {
                    // Told in their inbox (they may not be subscribed yet),
                    // unless they added themselves by creating the project.
                    if current.updated_by.as_deref() != Some(user.as_str()) {
                        outgoing.inbox_for.push(user.clone());
                    }
                    "member.added"
                }
                "updated" => "member.updated",
                _ => {
                    // Their sockets stop receiving the project's events.
                    outgoing.unsubscribe = Some(user.clone());
                    "member.removed"
                }
            };
            if verb != "deleted" {
                message.insert("role".into(), current.role.clone().into());
                insert_version_and_actor(&mut message, current);
            }
            kind.to_owned()
        }
        _ => return None,
    };
    let mut typed = Map::from_iter([("type".to_owned(), Value::String(kind))]);
    typed.extend(message);
    outgoing.message = Value::Object(typed);
    Some(outgoing)
}

fn insert_version_and_actor(message: &mut Map<String, Value>, image: &Image) {
    if let Some(version) = image.version {
        message.insert("version".into(), version.into());
    }
    if let Some(actor) = &image.updated_by {
        message.insert("actor".into(), actor.clone().into());
    }
}

/// The fields this version of the block wrote, and their new values
/// (`null` for a removed prop).
fn block_changes(block: &Image) -> (Vec<String>, Map<String, Value>) {
    let version = block.version.unwrap_or(0);
    let fields: Vec<String> =
        block.field_versions.iter().filter(|(_, v)| **v == version).map(|(path, _)| path.clone()).collect();
    let parse = |text: Option<&String>| text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null);
    let changes = fields
        .iter()
        .map(|path| {
            let value = match path.strip_prefix("props.") {
                Some(key) => parse(block.props.get(key)),
                None if path == "content" => parse(block.content.as_ref()),
                None => Value::Null,
            };
            (path.clone(), value)
        })
        .collect();
    (fields, changes)
}

/// Where a client fetches what a message too large to send would have said.
pub fn reference(message: &Value) -> Option<String> {
    let project = message.get("projectId")?.as_str()?;
    match message.get("blockId").and_then(Value::as_str) {
        Some(block) => Some(format!("/projects/{project}/blocks/{block}")),
        None => Some(format!("/projects/{project}")),
    }
}

/// The message with its bulky part (`changes`) replaced by a reference.
pub fn as_reference(mut message: Value) -> Value {
    let href = reference(&message);
    if let Some(object) = message.as_object_mut() {
        object.remove("changes");
        object.insert("truncated".into(), true.into());
        object.insert("href".into(), json!(href));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "01JF3Z8Q9W6X2K7M4N5P8R0T1V";
    const SLIDE: &str = "01JF3Z8Q9W6X2K7M4N5P8R0T1W";
    const BLOCK: &str = "01JF3Z8Q9W6X2K7M4N5P8R0T1X";

    /// A record as Lambda delivers it from the stream.
    fn record(name: &str, old: Value, new: Value) -> EventRecord {
        serde_json::from_value(json!({
            "eventID": "1", "eventName": name, "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {}, "OldImage": old, "NewImage": new, "SequenceNumber": "100",
                "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES", "ApproximateCreationDateTime": 1.7e9
            }
        }))
        .unwrap()
    }

    fn block(version: u64, field_versions: Value, content: &str) -> Value {
        json!({
            "pk": {"S": format!("PROJECT#{PROJECT}")}, "sk": {"S": format!("BLOCK#{BLOCK}")},
            "entity": {"S": "block"}, "id": {"S": BLOCK}, "slideId": {"S": SLIDE}, "type": {"S": "text"},
            "version": {"N": version.to_string()}, "updatedBy": {"S": "ann"},
            "fieldVersions": field_versions, "content": {"S": content},
            "props": {"M": {"color": {"S": "\"red\""}}}
        })
    }

    #[test]
    fn a_block_write_names_the_fields_of_its_version_with_their_values() {
        let old = block(1, json!({"M": {"content": {"N": "1"}}}), "\"Hi\"");
        let new = block(2, json!({"M": {"content": {"N": "2"}, "props.color": {"N": "2"}}}), "{\"n\":1}");

        let out = outgoing(&record("MODIFY", old, new)).unwrap();

        assert_eq!(out.project.as_str(), PROJECT);
        assert_eq!(out.message["type"], "block.updated");
        assert_eq!(out.message["version"], 2);
        assert_eq!(out.message["actor"], "ann");
        assert_eq!(out.message["fields"], json!(["content", "props.color"]));
        assert_eq!(out.message["changes"], json!({"content": {"n": 1}, "props.color": "red"}));
    }

    #[test]
    fn a_removed_member_is_unsubscribed_and_an_added_one_told_in_their_inbox() {
        let member = json!({
            "pk": {"S": format!("PROJECT#{PROJECT}")}, "sk": {"S": "MEMBER#ben"},
            "entity": {"S": "member"}, "userId": {"S": "ben"}, "role": {"S": "editor"}, "updatedBy": {"S": "ann"}
        });

        let removed = outgoing(&record("REMOVE", member.clone(), json!({}))).unwrap();
        let added = outgoing(&record("INSERT", json!({}), member)).unwrap();

        assert_eq!(removed.message, json!({"type": "member.removed", "projectId": PROJECT, "userId": "ben"}));
        assert_eq!(removed.unsubscribe.unwrap().as_str(), "ben");
        assert_eq!(added.message["type"], "member.added");
        assert_eq!(added.message["role"], "editor");
        assert_eq!(added.message["actor"], "ann");
        assert_eq!(added.inbox_for.iter().map(UserId::as_str).collect::<Vec<_>>(), ["ben"]);
    }

    #[test]
    fn the_owner_who_created_the_project_is_not_told_they_were_added() {
        let owner = json!({
            "pk": {"S": format!("PROJECT#{PROJECT}")}, "sk": {"S": "MEMBER#ann"},
            "entity": {"S": "member"}, "userId": {"S": "ann"}, "role": {"S": "owner"}, "updatedBy": {"S": "ann"}
        });

        let added = outgoing(&record("INSERT", json!({}), owner)).unwrap();

        assert_eq!(added.message["type"], "member.added");
        assert!(added.inbox_for.is_empty(), "{:?}", added.inbox_for);
    }

    #[test]
    fn a_new_project_and_foreign_items_are_nobodys_news() {
        let project = json!({
            "pk": {"S": format!("PROJECT#{PROJECT}")}, "sk": {"S": "META"}, "entity": {"S": "project"},
            "version": {"N": "1"}
        });
        let stranger = json!({"pk": {"S": "SOMETHING#else"}, "sk": {"S": "X"}, "entity": {"S": "block"}});

        assert_eq!(outgoing(&record("INSERT", json!({}), project)), None);
        assert_eq!(outgoing(&record("INSERT", json!({}), stranger)), None);
    }

    #[test]
    fn an_oversized_message_becomes_a_reference_to_fetch() {
        let big = json!({
            "type": "block.updated", "projectId": PROJECT, "blockId": BLOCK,
            "changes": {"content": "x".repeat(200 * 1024)}
        });

        let sent: Value = serde_json::from_str(&super::super::fit(&big)).unwrap();

        assert_eq!(sent.get("changes"), None);
        assert_eq!(sent["truncated"], true);
        assert_eq!(sent["href"], format!("/projects/{PROJECT}/blocks/{BLOCK}"));
    }
}
