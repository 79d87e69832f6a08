//! Reads the template into a [`Plan`](super::Plan): resources resolved,
//! function events turned into routes and event sources.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use serde_yaml::Value;
use tessera_testkit::Stack;
use tessera_testkit::account::{ACCOUNT_ID, REGION};
use tessera_testkit::template::{Physical, Resolver, scalar_string};

use super::{
    DEFAULT_QUEUE_CONCURRENCY, EventFilter, HTTP_INTEGRATION_TIMEOUT, HttpRoute, JwtAuthorizer, QueueSource,
    StartingPosition, StreamSource,
};

pub(super) struct Reader<'a> {
    pub(super) stack: &'a Stack,
    /// Provisioned resources, and stand-ins for the rest: functions get
    /// Lambda-shaped ARNs so that integrations can be traced to them.
    resources: HashMap<String, Physical>,
    local_urls: &'a HashMap<String, String>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(stack: &'a Stack, local_urls: &'a HashMap<String, String>) -> Self {
        // Created resources as they are; stand-ins for what the devstack
        // emulates itself (functions, APIs).
        let mut resources = stack.template.placeholder_resources();
        resources.extend(stack.resources.clone());
        Self { stack, resources, local_urls }
    }

    pub(super) fn resolver(&self) -> Resolver<'_> {
        Resolver {
            template: &self.stack.template,
            stack_name: &self.stack.name,
            region: REGION,
            account_id: ACCOUNT_ID,
            parameters: &self.stack.parameters,
            resources: &self.resources,
        }
    }

    pub(super) fn resolved_properties(&self, id: &str) -> anyhow::Result<Value> {
        let (_, _, properties) = self
            .stack
            .template
            .resources()
            .find(|(rid, _, _)| *rid == id)
            .ok_or_else(|| anyhow!("no resource {id}"))?;
        self.resolver().resolve(properties).with_context(|| format!("resolving {id}"))
    }

    pub(super) fn timeout_seconds(&self, function: &str) -> u64 {
        let timeout = self.stack.template.function_property(function, "Timeout");
        timeout.and_then(|t| self.resolver().resolve(t).ok()).and_then(|t| t.as_u64()).unwrap_or(3)
    }

    /// The function's environment as deployed, with execute-api URLs of the
    /// template's APIs pointed at the devstack.
    pub(super) fn environment(&self, id: &str) -> anyhow::Result<Vec<(String, String)>> {
        let resolver = self.resolver();
        self.stack
            .template
            .function_environment(id)?
            .iter()
            .map(|(name, value)| {
                let name = name.as_str().ok_or_else(|| anyhow!("{id}: non-string variable name"))?;
                let mut value = resolver.resolve_string(value).with_context(|| format!("{id}: {name}"))?;
                for (api, local) in self.local_urls {
                    let remote = format!("https://{api}.execute-api.{REGION}.amazonaws.com");
                    value = value.replace(&remote, local);
                }
                Ok((name.to_owned(), value))
            })
            .collect()
    }

    pub(super) fn jwt_authorizer(&self, unsupported: &mut Vec<String>) -> anyhow::Result<Option<JwtAuthorizer>> {
        let apis: Vec<&str> =
            self.stack.template.resources_of_type("AWS::Serverless::HttpApi").map(|(id, _)| id).collect();
        if apis.len() > 1 {
            unsupported.push(format!("{} HTTP APIs: the devstack serves their routes on one port", apis.len()));
        }
        let Some(api) = apis.first() else { return Ok(None) };
        let properties = self.resolved_properties(api)?;
        let Some(auth) = properties.get("Auth") else { return Ok(None) };
        let Some(default) = auth.get("DefaultAuthorizer").and_then(Value::as_str) else { return Ok(None) };
        let authorizer =
            auth.get("Authorizers").and_then(|a| a.get(default)).context("the default authorizer is not declared")?;
        let Some(jwt) = authorizer.get("JwtConfiguration") else {
            unsupported.push(format!("{api}: authorizer {default} is not a JWT authorizer"));
            return Ok(None);
        };
        Ok(Some(JwtAuthorizer {
            issuer: jwt.get("issuer").and_then(scalar_string).context("JwtConfiguration.issuer")?,
            audiences: jwt
                .get("audience")
                .and_then(scalar_string)
                .map(|list| list.split(',').map(str::trim).map(str::to_owned).collect())
                .unwrap_or_default(),
        }))
    }

    pub(super) fn http_route(
        &self,
        function: &str,
        name: &str,
        props: &Value,
        has_authorizer: bool,
        unsupported: &mut Vec<String>,
    ) -> HttpRoute {
        let method = props.get("Method").and_then(Value::as_str).map(str::to_ascii_uppercase);
        let path = props.get("Path").and_then(Value::as_str).map(str::to_owned);
        let authorizer = props.get("Auth").and_then(|a| a.get("Authorizer")).and_then(Value::as_str);
        if props.get("PayloadFormatVersion").and_then(scalar_string).is_some_and(|v| v != "2.0") {
            unsupported.push(format!("{name}: only payload format 2.0 is emulated"));
        }
        let (method, route_key) = match (method.as_deref(), path.as_deref()) {
            (_, None) => (None, "$default".to_owned()),
            (None | Some("ANY"), Some(path)) => (None, format!("ANY {path}")),
            (Some(method), Some(path)) => (Some(method.to_owned()), format!("{method} {path}")),
        };
        HttpRoute {
            route_key,
            method,
            path,
            function: function.to_owned(),
            authorized: has_authorizer && authorizer != Some("NONE"),
            timeout: props
                .get("TimeoutInMillis")
                .and_then(Value::as_u64)
                .map_or(HTTP_INTEGRATION_TIMEOUT, |ms| Duration::from_millis(ms).min(HTTP_INTEGRATION_TIMEOUT)),
        }
    }

    pub(super) fn queue_source(
        &self,
        function: &str,
        name: &str,
        props: &Value,
        unsupported: &mut Vec<String>,
    ) -> anyhow::Result<QueueSource> {
        let arn = props.get("Queue").and_then(scalar_string).with_context(|| format!("{name}: Queue"))?;
        let (queue, physical) =
            self.by_arn(&arn).with_context(|| format!("{name}: no queue of the stack has ARN {arn}"))?;
        for property in ["MetricsConfig", "ProvisionedPollerConfig"] {
            if props.get(property).is_some() {
                unsupported.push(format!("{name}: {property} is not emulated"));
            }
        }
        let visibility = self
            .stack
            .template
            .resources()
            .find(|(id, _, _)| *id == queue)
            .and_then(|(_, _, p)| p.get("VisibilityTimeout")?.as_u64())
            .unwrap_or(30);
        let timeout = self.timeout_seconds(function);
        if visibility < timeout {
            unsupported.push(format!(
                "{name}: AWS refuses this event source: {queue}'s visibility timeout ({visibility} s) is below \
                 the function's timeout ({timeout} s)"
            ));
        }
        Ok(QueueSource {
            function: function.to_owned(),
            queue: queue.to_owned(),
            queue_url: physical.reference.clone(),
            queue_arn: arn,
            batch_size: props.get("BatchSize").and_then(Value::as_u64).unwrap_or(10) as usize,
            batching_window: Duration::from_secs(
                props.get("MaximumBatchingWindowInSeconds").and_then(Value::as_u64).unwrap_or(0),
            ),
            max_concurrency: props
                .get("ScalingConfig")
                .and_then(|s| s.get("MaximumConcurrency"))
                .and_then(Value::as_u64)
                .map_or(DEFAULT_QUEUE_CONCURRENCY, |n| n as usize),
            report_batch_item_failures: reports_item_failures(props),
            filter: event_filter(name, props)?,
        })
    }

    pub(super) fn stream_source(
        &self,
        function: &str,
        name: &str,
        props: &Value,
        unsupported: &mut Vec<String>,
    ) -> anyhow::Result<StreamSource> {
        let arn = props.get("Stream").and_then(scalar_string).with_context(|| format!("{name}: Stream"))?;
        let table = self
            .stack
            .resources
            .iter()
            .find(|(_, p)| p.attributes.get("StreamArn") == Some(&arn))
            .map(|(id, _)| id.clone())
            .with_context(|| format!("{name}: no table of the stack has stream {arn}"))?;
        let starting_position = match props.get("StartingPosition").and_then(Value::as_str) {
            Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
            Some("LATEST") => StartingPosition::Latest,
            other => bail!("{name}: StartingPosition {other:?} is not TRIM_HORIZON or LATEST"),
        };
        for property in [
            "DestinationConfig",
            "TumblingWindowInSeconds",
            "ParallelizationFactor",
            "BisectBatchOnFunctionError",
            "MaximumRecordAgeInSeconds",
            "MaximumBatchingWindowInSeconds",
        ] {
            if props.get(property).is_some() {
                unsupported.push(format!("{name}: {property} is not emulated"));
            }
        }
        Ok(StreamSource {
            function: function.to_owned(),
            table,
            stream_arn: arn,
            batch_size: props.get("BatchSize").and_then(Value::as_u64).unwrap_or(100) as usize,
            starting_position,
            max_retries: props.get("MaximumRetryAttempts").and_then(Value::as_i64).and_then(|n| u32::try_from(n).ok()),
            report_batch_item_failures: reports_item_failures(props),
            filter: event_filter(name, props)?,
        })
    }

    fn by_arn(&self, arn: &str) -> Option<(&str, &Physical)> {
        self.stack
            .resources
            .iter()
            .find(|(_, p)| p.attributes.get("Arn").map(String::as_str) == Some(arn))
            .map(|(id, p)| (id.as_str(), p))
    }
}

/// The source's `FilterCriteria`; a pattern the devstack cannot apply stops
/// it, since delivering what the filter keeps out would run the function on
/// records it never sees in AWS.
fn event_filter(name: &str, props: &Value) -> anyhow::Result<EventFilter> {
    props.get("FilterCriteria").map_or_else(
        || Ok(EventFilter::default()),
        |criteria| EventFilter::from_criteria(criteria).with_context(|| format!("{name}: FilterCriteria")),
    )
}

fn reports_item_failures(props: &Value) -> bool {
    props
        .get("FunctionResponseTypes")
        .and_then(Value::as_sequence)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures")))
}

/// The function logical id inside an integration or authorizer URI, as
/// [`tessera_testkit::template::function_arn`] shapes it
/// (`arn:aws:apigateway:...:lambda:path/2015-03-31/functions/<arn>/invocations`).
pub(super) fn function_of_uri(uri: &str) -> Option<String> {
    let arn_start = uri.find(":function:")? + ":function:".len();
    let rest = &uri[arn_start..];
    Some(rest.split(['/', ':']).next()?.to_owned())
}
