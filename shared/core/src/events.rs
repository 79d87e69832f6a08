//! Events that are not writes (writes travel on the Content table's stream):
//! published to the events queue for notifications to deliver.

use serde::{Deserialize, Serialize};

use crate::content::{BlockId, ProjectId};
use crate::identity::UserId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A patch lost to concurrent edits of the same fields.
    #[serde(rename = "block.conflict", rename_all = "camelCase")]
    BlockConflict {
        project_id: ProjectId,
        block_id: BlockId,
        /// Whose patch was refused.
        actor: UserId,
        /// Field paths (`content`, `props.color`).
        fields: Vec<String>,
        /// The block's version when the patch was refused.
        current_version: u64,
        at: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_serializes_with_its_type_tag() {
        let event = Event::BlockConflict {
            project_id: ProjectId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1V").unwrap(),
            block_id: BlockId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1W").unwrap(),
            actor: UserId::parse("alice").unwrap(),
            fields: vec!["content".into()],
            current_version: 3,
            at: "2026-11-23T00:00:00Z".into(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "block.conflict");
        assert_eq!(json["currentVersion"], 3);
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }
}
