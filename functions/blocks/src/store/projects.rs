//! Projects and their members. A project is created with its owner's
//! membership in one transaction; every request checks membership with a
//! strongly consistent read.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use tessera_core::UserId;
use tessera_core::content::{ProjectId, ProjectRole};

use super::items::{entity, key};
use super::keys::{META, member_sort_key, project_partition, user_projects_partition};
use super::{ContentStore, ItemRejected, now};

/// A project's own item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: ProjectId,
    pub title: String,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: UserId,
    pub role: ProjectRole,
    pub added_at: String,
    /// Who added them or last changed their role; absent on memberships
    /// written before it was recorded.
    // The fan-out tells a person they were added only when someone else did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<UserId>,
}

impl ContentStore {
    pub async fn create_project(&self, id: ProjectId, title: String, owner: &UserId) -> anyhow::Result<Project> {
        let created = now();
        let project = Project {
            id,
            title,
            version: 1,
            created_at: created.clone(),
            updated_at: created.clone(),
            updated_by: owner.clone(),
        };
        let member = Member {
            user_id: owner.clone(),
            role: ProjectRole::Owner,
            added_at: created,
            updated_by: Some(owner.clone()),
        };
        let puts = [self.project_item(&project)?, self.member_item(&project.id, &member)?]
            .into_iter()
            .map(|item| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.client()
            .await
            .transact_write_items()
            .set_transact_items(Some(puts))
            .send()
            .await
            .map_err(|err| anyhow!("creating project {}: {}", project.id, DisplayErrorContext(err)))?;
        Ok(project)
    }

    pub async fn get_project(&self, project: &ProjectId) -> anyhow::Result<Option<Project>> {
        let item = self.get(project_partition(project), META.into()).await?;
        item.map(|item| serde_dynamo::from_item(item).context("reading a stored project")).transpose()
    }

    /// Renames a project if it is still at `version`.
    pub async fn update_project(
        &self,
        project: &ProjectId,
        title: String,
        version: u64,
        actor: &UserId,
    ) -> Result<Project, ItemRejected<Project>> {
        let values = HashMap::from([
            (":title".to_owned(), AttributeValue::S(title)),
            (":now".to_owned(), AttributeValue::S(now())),
            (":actor".to_owned(), AttributeValue::S(actor.to_string())),
        ]);
        let update = "SET title = :title, updatedAt = :now, updatedBy = :actor";
        self.update_versioned(project_partition(project), META.into(), update, HashMap::new(), values, version).await
    }

    /// The caller's role in the project; `None` when not a member, or when
    /// the project is gone (its meta deleted, the rest of its partition
    /// awaiting the purge). Both items in one strongly consistent BatchGetItem.
    pub async fn role_of(&self, project: &ProjectId, user: &UserId) -> anyhow::Result<Option<ProjectRole>> {
        let partition = project_partition(project);
        let items =
            self.batch_get(vec![key(partition.clone(), META.into()), key(partition, member_sort_key(user))]).await?;
        if !items.iter().any(|item| entity(item) == Some("project")) {
            return Ok(None);
        }
        let member = items.into_iter().find(|item| entity(item) == Some("member"));
        Ok(member
            .map(serde_dynamo::from_item::<_, Member>)
            .transpose()
            .context("reading a membership")?
            .map(|m| m.role))
    }

    /// Adds a member or changes their role, on `actor`'s word.
    pub async fn put_member(
        &self,
        project: &ProjectId,
        user: &UserId,
        role: ProjectRole,
        actor: &UserId,
    ) -> anyhow::Result<Member> {
        let member = Member { user_id: user.clone(), role, added_at: now(), updated_by: Some(actor.clone()) };
        self.client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.member_item(project, &member)?))
            .send()
            .await
            .map_err(|err| anyhow!("adding {user} to {project}: {}", DisplayErrorContext(err)))?;
        Ok(member)
    }

    fn project_item(&self, project: &Project) -> anyhow::Result<HashMap<String, AttributeValue>> {
        Self::item_of(project, project_partition(&project.id), META.into(), "project")
    }

    fn member_item(&self, project: &ProjectId, member: &Member) -> anyhow::Result<HashMap<String, AttributeValue>> {
        let mut item = Self::item_of(member, project_partition(project), member_sort_key(&member.user_id), "member")?;
        item.insert("gsi1pk".into(), AttributeValue::S(user_projects_partition(&member.user_id)));
        item.insert("gsi1sk".into(), AttributeValue::S(project_partition(project)));
        Ok(item)
    }
}
