//! Route selection: which route a client's message goes to, evaluated as
//! API Gateway evaluates `$request.body.<path>`.

use serde_json::Value;

use super::events::InboundMessage;
use crate::plan::WebSocketPlan;

/// The route key for `message`: the custom route the selection expression
/// names, else `$default`, else `None` (API Gateway answers "Forbidden").
/// A message that is not a JSON object, or lacks the field, goes to
/// `$default`; `$connect` and `$disconnect` are never selected.
pub fn select_route<'a>(api: &'a WebSocketPlan, message: &InboundMessage) -> Option<&'a str> {
    let selected = match message {
        InboundMessage::Text(text) => selection_value(text, &api.selection_field),
        InboundMessage::Binary(_) => None,
    };
    let custom = selected.filter(|key| !matches!(key.as_str(), "$connect" | "$disconnect" | "$default"));
    if let Some((key, _)) = custom.and_then(|key| api.routes.get_key_value(key.as_str())) {
        return Some(key.as_str());
    }
    api.routes.get_key_value("$default").map(|(key, _)| key.as_str())
}

/// The value at `path` (`action`, or `meta.action` for a nested field) in a
/// JSON body; numbers and booleans select by their text, as API Gateway
/// compares them.
fn selection_value(body: &str, path: &str) -> Option<String> {
    let document: Value = serde_json::from_str(body).ok()?;
    let value = path.split('.').try_fold(&document, |value, field| value.get(field))?;
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::WebSocketRoute;

    fn api(route_keys: &[&str]) -> WebSocketPlan {
        let route = WebSocketRoute { function: "Socket".into(), two_way: false, authorized: false };
        WebSocketPlan {
            api: "WebSocketApi".into(),
            stage: "local".into(),
            selection_field: "action".into(),
            routes: route_keys.iter().map(|key| ((*key).to_owned(), route.clone())).collect::<BTreeMap<_, _>>(),
            authorizer: None,
        }
    }

    fn text(body: &str) -> InboundMessage {
        InboundMessage::Text(body.to_owned())
    }

    #[test]
    fn a_known_action_selects_its_route() {
        let api = api(&["echo", "$default"]);

        assert_eq!(select_route(&api, &text(r#"{"action":"echo"}"#)), Some("echo"));
    }

    #[test]
    fn an_unknown_action_or_a_body_that_is_not_json_falls_back_to_default() {
        let api = api(&["echo", "$default"]);

        assert_eq!(select_route(&api, &text(r#"{"action":"dance"}"#)), Some("$default"));
        assert_eq!(select_route(&api, &text("hello")), Some("$default"));
        assert_eq!(select_route(&api, &InboundMessage::Binary(bytes::Bytes::from_static(b"\x00"))), Some("$default"));
    }

    #[test]
    fn without_default_an_unknown_action_selects_nothing() {
        let api = api(&["echo"]);

        assert_eq!(select_route(&api, &text(r#"{"action":"dance"}"#)), None);
    }

    #[test]
    fn lifecycle_routes_cannot_be_selected_by_a_message() {
        let api = api(&["$connect", "$disconnect"]);

        assert_eq!(select_route(&api, &text(r#"{"action":"$disconnect"}"#)), None);
    }

    #[test]
    fn a_nested_selection_field_is_followed() {
        let mut api = api(&["join"]);
        api.selection_field = "meta.action".into();

        assert_eq!(select_route(&api, &text(r#"{"meta":{"action":"join"}}"#)), Some("join"));
    }
}
