//! The WebSocket API of the template: its raw `AWS::ApiGatewayV2` routes,
//! integrations, authorizer and stage.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use serde_yaml::Value;
use tessera_testkit::template::scalar_string;

use super::reader::{Reader, function_of_uri};
use super::{WebSocketAuthorizer, WebSocketPlan, WebSocketRoute};

impl Reader<'_> {
    pub(super) fn websocket(&self, unsupported: &mut Vec<String>) -> anyhow::Result<Option<WebSocketPlan>> {
        let template = &self.stack.template;
        let apis: Vec<&str> = template
            .resources_of_type("AWS::ApiGatewayV2::Api")
            .filter(|(_, p)| p.get("ProtocolType").and_then(Value::as_str) == Some("WEBSOCKET"))
            .map(|(id, _)| id)
            .collect();
        if apis.len() > 1 {
            unsupported.push(format!("{} WebSocket APIs: the devstack serves one", apis.len()));
        }
        let Some(api) = apis.first().map(|a| a.to_string()) else { return Ok(None) };
        let properties = self.resolved_properties(&api)?;
        let expression =
            properties.get("RouteSelectionExpression").and_then(Value::as_str).unwrap_or("$request.body.action");
        let selection_field = expression
            .strip_prefix("$request.body.")
            .with_context(|| format!("{api}: RouteSelectionExpression {expression} is not $request.body.<field>"))?
            .to_owned();
        let of_this_api = |kind: &'static str| {
            template
                .resources_of_type(kind)
                .map(|(id, _)| id.to_owned())
                .filter_map(|id| self.resolved_properties(&id).ok().map(|p| (id, p)))
                .filter(|(_, p)| p.get("ApiId").and_then(Value::as_str) == Some(api.as_str()))
                .collect::<Vec<_>>()
        };
        let stage = of_this_api("AWS::ApiGatewayV2::Stage")
            .first()
            .and_then(|(_, p)| p.get("StageName").and_then(scalar_string))
            .unwrap_or_else(|| "$default".into());
        let integrations: HashMap<String, String> = of_this_api("AWS::ApiGatewayV2::Integration")
            .into_iter()
            .filter_map(|(id, p)| Some((id, function_of_uri(p.get("IntegrationUri")?.as_str()?)?)))
            .collect();
        let authorizer = of_this_api("AWS::ApiGatewayV2::Authorizer").into_iter().next().and_then(|(id, p)| {
            let function = function_of_uri(p.get("AuthorizerUri")?.as_str()?);
            if function.is_none() || p.get("AuthorizerType").and_then(Value::as_str) != Some("REQUEST") {
                unsupported.push(format!("{id}: only REQUEST Lambda authorizers are emulated"));
            }
            let identity_sources = p
                .get("IdentitySource")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(scalar_string)
                .collect();
            Some(WebSocketAuthorizer { function: function?, identity_sources })
        });
        let mut routes = BTreeMap::new();
        for (id, route) in of_this_api("AWS::ApiGatewayV2::Route") {
            let key = route.get("RouteKey").and_then(Value::as_str).with_context(|| format!("{id}: RouteKey"))?;
            let target = route.get("Target").and_then(Value::as_str).unwrap_or_default();
            let integration = target.strip_prefix("integrations/").unwrap_or(target);
            let Some(function) = integrations.get(integration) else {
                unsupported.push(format!("{id}: target {target} is not a Lambda proxy integration"));
                continue;
            };
            let authorized = route.get("AuthorizationType").and_then(Value::as_str) == Some("CUSTOM");
            let two_way = route.get("RouteResponseSelectionExpression").is_some();
            routes.insert(key.to_owned(), WebSocketRoute { function: function.clone(), two_way, authorized });
        }
        Ok(Some(WebSocketPlan { api, stage, selection_field, routes, authorizer }))
    }
}
