//! What clients send: `{"action": …, …}`. A message that is not what its
//! action needs is refused with a reason; the connection stays.

use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_core::content::ProjectId;

use crate::messages::{ErrorReason, Reply};

/// The largest presence state (cursor, selection, a name) a client may set.
pub const MAX_STATE_BYTES: usize = 2 * 1024;
/// The largest broadcast payload.
pub const MAX_DATA_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Subscribe { project_id: ProjectId },
    Unsubscribe { project_id: ProjectId },
    Ping,
    Presence { project_id: ProjectId, state: Map<String, Value> },
    Broadcast { project_id: ProjectId, data: Map<String, Value> },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OnProject {
    project_id: ProjectId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresenceMessage {
    project_id: ProjectId,
    state: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BroadcastMessage {
    project_id: ProjectId,
    data: Map<String, Value>,
}

/// Reads a message's body. `route` is the route API Gateway chose (from
/// `action`), `$default` when no route matched.
pub fn parse(route: &str, body: Option<&str>, base64: bool) -> Result<Action, Reply> {
    if base64 {
        return Err(Reply::error(ErrorReason::InvalidJson, "binary frames are not accepted: send JSON text"));
    }
    let message: Map<String, Value> = serde_json::from_str(body.unwrap_or_default())
        .map_err(|_| Reply::error(ErrorReason::InvalidJson, "a message is a JSON object with an `action`"))?;
    let action = match message.get("action") {
        Some(Value::String(action)) => action.clone(),
        _ => return Err(Reply::error(ErrorReason::InvalidMessage, "a message needs an `action` (a string)")),
    };
    let invalid = |error: serde_json::Error| Reply::refused(ErrorReason::InvalidMessage, error.to_string(), &action);
    let message = Value::Object(message.clone());
    let parsed = match route {
        "subscribe" => Action::Subscribe { project_id: OnProject::deserialize(&message).map_err(invalid)?.project_id },
        "unsubscribe" => {
            Action::Unsubscribe { project_id: OnProject::deserialize(&message).map_err(invalid)?.project_id }
        }
        "ping" => Action::Ping,
        "presence" => {
            let PresenceMessage { project_id, state } = PresenceMessage::deserialize(&message).map_err(invalid)?;
            ensure_size(&action, &state, MAX_STATE_BYTES)?;
            Action::Presence { project_id, state }
        }
        "broadcast" => {
            let BroadcastMessage { project_id, data } = BroadcastMessage::deserialize(&message).map_err(invalid)?;
            ensure_size(&action, &data, MAX_DATA_BYTES)?;
            Action::Broadcast { project_id, data }
        }
        _ => {
            let known = "actions: subscribe, unsubscribe, ping, presence, broadcast";
            return Err(Reply::refused(ErrorReason::UnknownAction, known, &action));
        }
    };
    Ok(parsed)
}

fn ensure_size(action: &str, value: &Map<String, Value>, limit: usize) -> Result<(), Reply> {
    let size = serde_json::to_string(value).map_or(usize::MAX, |text| text.len());
    if size <= limit {
        return Ok(());
    }
    Err(Reply::refused(ErrorReason::TooLarge, format!("{size} bytes; at most {limit}"), action))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "01JF3Z8Q9W6X2K7M4N5P8R0T1V";

    fn reason(result: Result<Action, Reply>) -> ErrorReason {
        match result {
            Err(Reply::Error { reason, .. }) => reason,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn each_action_parses_its_shape() {
        let subscribe = format!(r#"{{"action":"subscribe","projectId":"{PROJECT}"}}"#);
        assert!(matches!(parse("subscribe", Some(&subscribe), false), Ok(Action::Subscribe { .. })));
        assert!(matches!(parse("ping", Some(r#"{"action":"ping"}"#), false), Ok(Action::Ping)));
        let presence = format!(r#"{{"action":"presence","projectId":"{PROJECT}","state":{{"cursor":[1,2]}}}}"#);
        assert!(matches!(parse("presence", Some(&presence), false), Ok(Action::Presence { .. })));
    }

    #[test]
    fn bad_messages_are_refused_with_their_reason() {
        assert_eq!(reason(parse("$default", Some("not json"), false)), ErrorReason::InvalidJson);
        assert_eq!(reason(parse("$default", Some("[1]"), false)), ErrorReason::InvalidJson);
        assert_eq!(reason(parse("$default", Some(r#"{"no":"action"}"#), false)), ErrorReason::InvalidMessage);
        assert_eq!(reason(parse("$default", Some(r#"{"action":"dance"}"#), false)), ErrorReason::UnknownAction);
        let bad_id = r#"{"action":"subscribe","projectId":"../etc"}"#;
        assert_eq!(reason(parse("subscribe", Some(bad_id), false)), ErrorReason::InvalidMessage);
        assert_eq!(reason(parse("ping", Some("{}"), true)), ErrorReason::InvalidJson);
    }

    #[test]
    fn an_oversized_broadcast_is_refused() {
        let big = "x".repeat(MAX_DATA_BYTES);
        let message = format!(r#"{{"action":"broadcast","projectId":"{PROJECT}","data":{{"blob":"{big}"}}}}"#);
        assert_eq!(reason(parse("broadcast", Some(&message), false)), ErrorReason::TooLarge);
    }
}
