//! The proxy events API Gateway's WebSocket API sends, as far as this
//! function reads them. The authorizer's context arrives flattened into
//! `requestContext.authorizer` (`userId`, `tier`, `roles`), a shape
//! `aws_lambda_events`' WebSocket request keeps only behind its catch-all
//! feature; these few fields are read here instead.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_core::identity::Identity;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocketEvent {
    pub request_context: SocketContext,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub headers: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocketContext {
    pub route_key: String,
    pub connection_id: String,
    #[serde(default)]
    pub connected_at: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub authorizer: Map<String, Value>,
    #[serde(default)]
    pub identity: SourceIdentity,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceIdentity {
    #[serde(default)]
    pub source_ip: Option<String>,
}

impl SocketEvent {
    /// Who the authorizer said the caller is; `None` if it said nothing usable.
    pub fn caller(&self) -> Option<Identity> {
        let context = &self.request_context;
        let text = |name: &str| context.authorizer.get(name).and_then(Value::as_str);
        let ip = context.identity.source_ip.as_deref();
        Identity::from_claims(text("userId"), text("tier"), text("roles"), ip).ok()
    }

    pub fn source_ip(&self) -> Option<IpAddr> {
        self.request_context.identity.source_ip.as_deref().and_then(|ip| ip.parse().ok())
    }

    /// A header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
