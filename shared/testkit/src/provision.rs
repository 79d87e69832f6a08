//! Creates the DynamoDB tables and SQS queues `template.yaml` declares, under
//! a stack name of the caller's choosing, in moto server (or any endpoint).
//!
//! Resources are created in dependency order: one that refers to another
//! (a queue's redrive policy naming its DLQ) waits for it.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow, bail};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;

use crate::account::{ACCOUNT_ID, REGION};
use crate::template::{Physical, ResolveError, Resolver, Template, scalar_string};

const TABLE: &str = "AWS::DynamoDB::Table";
const QUEUE: &str = "AWS::SQS::Queue";

/// The resources of one provisioned stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub template: Template,
    pub parameters: HashMap<String, String>,
    pub resources: HashMap<String, Physical>,
}

impl Stack {
    /// Creates every table and queue of `template` named for `stack_name`.
    /// `parameters` override the template's defaults.
    pub async fn provision(
        template: Template,
        stack_name: &str,
        parameters: HashMap<String, String>,
        sdk: &SdkConfig,
    ) -> anyhow::Result<Self> {
        let mut parameters_with_defaults = template.parameter_defaults();
        parameters_with_defaults.extend(parameters);
        let mut stack = Self {
            name: stack_name.to_owned(),
            template,
            parameters: parameters_with_defaults,
            resources: HashMap::new(),
        };
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);

        let mut pending: Vec<(String, String)> = stack
            .template
            .resources()
            .filter(|(_, kind, _)| [TABLE, QUEUE].contains(kind))
            .map(|(id, kind, _)| (id.to_owned(), kind.to_owned()))
            .collect();
        while !pending.is_empty() {
            let mut waiting = Vec::new();
            let round = pending.len();
            for (id, kind) in pending {
                let props = stack.template.resources().find(|(i, _, _)| *i == id).map(|(_, _, p)| p.clone());
                let resolved = match stack.resolver().resolve(&props.unwrap_or(Value::Null)) {
                    Err(ResolveError::Pending(_)) => {
                        waiting.push((id, kind));
                        continue;
                    }
                    other => other.with_context(|| format!("resolving {id}"))?,
                };
                let physical = match kind.as_str() {
                    TABLE => create_table(&dynamodb, &stack.name, &id, &resolved).await,
                    _ => create_queue(&sqs, &stack.name, &id, &resolved).await,
                }
                .with_context(|| format!("creating {id} of stack {}", stack.name))?;
                stack.resources.insert(id, physical);
            }
            if waiting.len() == round {
                bail!("these resources wait on each other or on resources that are never created: {waiting:?}");
            }
            pending = waiting;
        }
        Ok(stack)
    }

    /// The stack as it would be named, with nothing created: for reading
    /// what resolves without resources (parameters, names).
    pub fn unprovisioned(template: Template, stack_name: &str) -> Self {
        let parameters = template.parameter_defaults();
        Self { name: stack_name.to_owned(), template, parameters, resources: HashMap::new() }
    }

    pub fn resolver(&self) -> Resolver<'_> {
        Resolver {
            template: &self.template,
            stack_name: &self.name,
            region: REGION,
            account_id: ACCOUNT_ID,
            parameters: &self.parameters,
            resources: &self.resources,
        }
    }

    /// The `!Ref` value of a resource: a table's name, a queue's URL.
    pub fn reference(&self, logical_id: &str) -> &str {
        self.resources
            .get(logical_id)
            .map(|p| p.reference.as_str())
            .unwrap_or_else(|| panic!("no resource {logical_id} in the stack"))
    }

    /// A function's environment variables as deployed: the template's, with
    /// every intrinsic resolved to this stack's resources.
    pub fn function_environment(&self, logical_id: &str) -> anyhow::Result<Vec<(String, String)>> {
        let resolver = self.resolver();
        self.template
            .function_environment(logical_id)?
            .iter()
            .map(|(name, value)| {
                let name = name.as_str().ok_or_else(|| anyhow!("non-string variable name in {logical_id}"))?;
                let value = resolver.resolve_string(value).with_context(|| format!("{logical_id}: {name}"))?;
                Ok((name.to_owned(), value))
            })
            .collect()
    }
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    stack: &str,
    id: &str,
    props: &Value,
) -> anyhow::Result<Physical> {
    let name = str_prop(props, "TableName").unwrap_or_else(|| format!("{stack}-{id}"));
    let key_schema = |value: Option<&Value>| -> anyhow::Result<Vec<KeySchemaElement>> {
        items(value)
            .map(|key| {
                Ok(KeySchemaElement::builder()
                    .attribute_name(str_prop(key, "AttributeName").context("AttributeName")?)
                    .key_type(KeyType::from(str_prop(key, "KeyType").context("KeyType")?.as_str()))
                    .build()?)
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(&name)
        .set_key_schema(Some(key_schema(props.get("KeySchema"))?))
        .billing_mode(BillingMode::from(str_prop(props, "BillingMode").unwrap_or("PROVISIONED".into()).as_str()));
    for attribute in items(props.get("AttributeDefinitions")) {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(str_prop(attribute, "AttributeName").context("AttributeName")?)
                .attribute_type(ScalarAttributeType::from(
                    str_prop(attribute, "AttributeType").context("AttributeType")?.as_str(),
                ))
                .build()?,
        );
    }
    request = request.set_provisioned_throughput(props.get("ProvisionedThroughput").map(throughput).transpose()?);
    for index in items(props.get("GlobalSecondaryIndexes")) {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(str_prop(index, "IndexName").context("IndexName")?)
            .set_key_schema(Some(key_schema(index.get("KeySchema"))?))
            .projection(projection(index));
        if let Some(value) = index.get("ProvisionedThroughput") {
            gsi = gsi.provisioned_throughput(throughput(value)?);
        }
        request = request.global_secondary_indexes(gsi.build()?);
    }
    for index in items(props.get("LocalSecondaryIndexes")) {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(str_prop(index, "IndexName").context("IndexName")?)
                .set_key_schema(Some(key_schema(index.get("KeySchema"))?))
                .projection(projection(index))
                .build()?,
        );
    }
    if let Some(view) = props.get("StreamSpecification").and_then(|s| str_prop(s, "StreamViewType")) {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()?,
        );
    }
    let description = request.send().await?.table_description.context("no table description")?;

    if let Some(ttl) =
        props.get("TimeToLiveSpecification").filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
    {
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(str_prop(ttl, "AttributeName").context("AttributeName")?)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await?;
    }
    let pitr = props
        .get("PointInTimeRecoverySpecification")
        .and_then(|p| p.get("PointInTimeRecoveryEnabled"))
        .and_then(Value::as_bool);
    if pitr == Some(true) {
        client
            .update_continuous_backups()
            .table_name(&name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(true).build()?,
            )
            .send()
            .await?;
    }

    let mut attributes = HashMap::from([("Arn".to_owned(), description.table_arn.clone().unwrap_or_default())]);
    if let Some(stream) = description.latest_stream_arn {
        attributes.insert("StreamArn".into(), stream);
    }
    Ok(Physical { reference: name, attributes })
}

/// An index's projection (ALL unless the template says otherwise).
fn projection(index: &Value) -> Projection {
    let projection = index.get("Projection");
    let kind = projection.and_then(|p| str_prop(p, "ProjectionType")).unwrap_or("ALL".into());
    let attributes = projection.and_then(|p| p.get("NonKeyAttributes"));
    Projection::builder()
        .projection_type(ProjectionType::from(kind.as_str()))
        .set_non_key_attributes(attributes.map(|a| items(Some(a)).filter_map(scalar_string).collect()))
        .build()
}

fn throughput(value: &Value) -> anyhow::Result<ProvisionedThroughput> {
    let units = |name: &str| value.get(name).and_then(Value::as_i64).unwrap_or(1);
    Ok(ProvisionedThroughput::builder()
        .read_capacity_units(units("ReadCapacityUnits"))
        .write_capacity_units(units("WriteCapacityUnits"))
        .build()?)
}

/// Queue properties that become queue attributes, as CloudFormation maps them.
const QUEUE_ATTRIBUTES: [&str; 9] = [
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
    "RedrivePolicy",
];

async fn create_queue(client: &aws_sdk_sqs::Client, stack: &str, id: &str, props: &Value) -> anyhow::Result<Physical> {
    let fifo = props.get("FifoQueue").and_then(Value::as_bool) == Some(true);
    let name =
        str_prop(props, "QueueName").unwrap_or_else(|| format!("{stack}-{id}{}", if fifo { ".fifo" } else { "" }));
    let mut request = client.create_queue().queue_name(&name);
    for attribute in QUEUE_ATTRIBUTES {
        let Some(value) = props.get(attribute) else { continue };
        let value = match value {
            // RedrivePolicy is an object in the template and a JSON string in the API.
            Value::Mapping(_) => serde_json::to_string(&serde_yaml::from_value::<serde_json::Value>(value.clone())?)?,
            scalar => scalar_string(scalar).with_context(|| format!("{attribute} must be a scalar"))?,
        };
        request = request.attributes(QueueAttributeName::from(attribute), value);
    }
    let url = request.send().await?.queue_url.context("no queue url")?;
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("no queue arn")?;
    let attributes =
        HashMap::from([("Arn".to_owned(), arn), ("QueueName".to_owned(), name), ("QueueUrl".to_owned(), url.clone())]);
    Ok(Physical { reference: url, attributes })
}

fn str_prop(value: &Value, name: &str) -> Option<String> {
    value.get(name).and_then(scalar_string)
}

fn items(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_sequence).into_iter().flatten()
}
