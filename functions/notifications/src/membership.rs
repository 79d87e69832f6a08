//! Who may listen to a project: its members, as the Content table says at
//! the moment of asking (roles are never cached). The same read returns the
//! project's version, which a subscriber compares with the one it last saw.

use std::collections::HashMap;

use anyhow::anyhow;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole};
use tessera_platform::aws::Aws;

type Item = HashMap<String, AttributeValue>;

/// A member's view of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub role: ProjectRole,
    /// The project's version: bumped by every change of its meta.
    pub version: u64,
}

#[derive(Clone)]
pub struct Members {
    aws: Aws,
    content_table: String,
}

impl Members {
    pub fn new(aws: Aws, content_table: impl Into<String>) -> Self {
        Self { aws, content_table: content_table.into() }
    }

    /// The user's membership of the project; `None` when either is missing.
    pub async fn of(&self, project: &ProjectId, user: &UserId) -> anyhow::Result<Option<Membership>> {
        let key = |sk: String| {
            Item::from([
                ("pk".to_owned(), AttributeValue::S(format!("PROJECT#{project}"))),
                ("sk".to_owned(), AttributeValue::S(sk)),
            ])
        };
        let keys = KeysAndAttributes::builder()
            .keys(key("META".into()))
            .keys(key(format!("MEMBER#{user}")))
            .consistent_read(true)
            .projection_expression("sk, #role, version")
            .expression_attribute_names("#role", "role")
            .build()?;
        let output = self
            .aws
            .dynamodb()
            .await
            .batch_get_item()
            .request_items(&self.content_table, keys)
            .send()
            .await
            .map_err(|err| anyhow!("reading membership of {project}: {}", DisplayErrorContext(err)))?;
        let items = output.responses.and_then(|mut all| all.remove(&self.content_table)).unwrap_or_default();
        if output.unprocessed_keys.is_some_and(|left| !left.is_empty()) {
            return Err(anyhow!("reading membership of {project}: throttled"));
        }
        let sk = |item: &Item| item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let meta = items.iter().find(|item| sk(item) == "META");
        let member = items.iter().find(|item| sk(item).starts_with("MEMBER#"));
        let (Some(meta), Some(member)) = (meta, member) else { return Ok(None) };
        let role = member.get("role").and_then(|v| v.as_s().ok()).and_then(|r| ProjectRole::parse(r));
        let version = meta.get("version").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
        Ok(role.map(|role| Membership { role, version }))
    }
}
