//! Reads `template.yaml`, so that tests, the local stack and the deployed
//! stack are built from one description and cannot drift.
//!
//! CloudFormation intrinsics are resolved against a set of [`Physical`]
//! resources: short tags (`!Ref`, `!GetAtt`, `!Sub`, `!Join`) and their long
//! forms. Anything else is reported as unsupported rather than guessed.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_yaml::{Mapping, Value};

use crate::account::{ACCOUNT_ID, REGION};
use crate::workspace::workspace_root;

/// What a created resource is called, as `!Ref` and `!GetAtt` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Physical {
    /// The value of `!Ref` (table name, queue URL, ...).
    pub reference: String,
    /// `!GetAtt` attributes (`Arn`, `QueueName`, `StreamArn`, ...).
    pub attributes: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The value refers to a resource not created yet.
    #[error("`{0}` is not created yet")]
    Pending(String),
    #[error("`{0}` is neither a parameter nor a resource of the template")]
    Unknown(String),
    #[error("`{0}` has no attribute `{1}` here")]
    UnknownAttribute(String, String),
    #[error("unsupported intrinsic {0}")]
    Unsupported(String),
}

/// A function declared in the template.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// The cargo binary, from `Metadata.BuildProperties.Binary`.
    pub binary: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

impl Template {
    /// The workspace's own `template.yaml`.
    pub fn workspace() -> anyhow::Result<Self> {
        Self::load(&workspace_root().join("template.yaml"))
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let root: Value = serde_yaml::from_str(text)?;
        if !root.get("Resources").is_some_and(Value::is_mapping) {
            bail!("the template has no Resources section");
        }
        Ok(Self { root })
    }

    /// Every resource as (logical id, type, properties).
    pub fn resources(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        static NONE: Value = Value::Null;
        self.section("Resources").filter_map(|(id, resource)| {
            let kind = resource.get("Type")?.as_str()?;
            Some((id, kind, resource.get("Properties").unwrap_or(&NONE)))
        })
    }

    pub fn resources_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources().filter(move |(_, k, _)| *k == kind).map(|(id, _, props)| (id, props))
    }

    pub fn functions(&self) -> anyhow::Result<Vec<FunctionSpec>> {
        self.section("Resources")
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Function"))
            .map(|(id, resource)| {
                let binary = resource
                    .get("Metadata")
                    .and_then(|m| m.get("BuildProperties"))
                    .and_then(|b| b.get("Binary"))
                    .and_then(Value::as_str)
                    .with_context(|| format!("function {id} has no Metadata.BuildProperties.Binary"))?;
                Ok(FunctionSpec { logical_id: id.to_owned(), binary: binary.to_owned() })
            })
            .collect()
    }

    /// A function's environment as the template gives it: Globals first,
    /// the function's own variables over them. Values are unresolved.
    pub fn function_environment(&self, logical_id: &str) -> anyhow::Result<Mapping> {
        let function = self
            .root
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .with_context(|| format!("no resource {logical_id}"))?;
        let variables = |props: Option<&Value>| {
            props
                .and_then(|p| p.get("Environment"))
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping)
                .cloned()
                .unwrap_or_default()
        };
        let mut env = variables(self.root.get("Globals").and_then(|g| g.get("Function")));
        env.extend(variables(function.get("Properties")));
        Ok(env)
    }

    /// A function property as SAM applies it: the function's own, else the
    /// one from `Globals.Function`. Unresolved.
    pub fn function_property(&self, logical_id: &str, name: &str) -> Option<&Value> {
        let own = self.root.get("Resources")?.get(logical_id)?.get("Properties").and_then(|p| p.get(name));
        own.or_else(|| self.root.get("Globals")?.get("Function")?.get(name))
    }

    /// Parameter defaults, as strings (lists joined with commas as
    /// CloudFormation passes them).
    pub fn parameter_defaults(&self) -> HashMap<String, String> {
        self.section("Parameters")
            .filter_map(|(name, p)| Some((name.to_owned(), scalar_string(p.get("Default")?)?)))
            .collect()
    }

    /// Stand-ins for every resource, for resolving without creating them
    /// (benchmarks, and the devstack for what it emulates itself): a
    /// resource is referred to by its logical id, and a function has a
    /// Lambda-shaped ARN (see [`function_arn`]).
    pub fn placeholder_resources(&self) -> HashMap<String, Physical> {
        self.resources()
            .map(|(id, kind, _)| {
                let arn = match kind {
                    "AWS::Serverless::Function" => function_arn(id),
                    _ => format!("arn:aws:local:{REGION}:{ACCOUNT_ID}:{id}"),
                };
                let attributes = ["Arn", "StreamArn", "QueueArn"]
                    .map(|a| (a.to_owned(), arn.clone()))
                    .into_iter()
                    .chain([
                        ("QueueName".to_owned(), id.to_owned()),
                        ("QueueUrl".to_owned(), format!("http://127.0.0.1/{id}")),
                    ])
                    .collect();
                (id.to_owned(), Physical { reference: id.to_owned(), attributes })
            })
            .collect()
    }

    fn section(&self, name: &str) -> impl Iterator<Item = (&str, &Value)> {
        self.root
            .get(name)
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    fn is_resource(&self, logical_id: &str) -> bool {
        self.root.get("Resources").and_then(|r| r.get(logical_id)).is_some()
    }
}

/// The ARN a function stands in as: `…:function:<logical id>`.
pub fn function_arn(logical_id: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}")
}

/// Resolves intrinsics for one stack.
pub struct Resolver<'a> {
    pub template: &'a Template,
    pub stack_name: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
    pub parameters: &'a HashMap<String, String>,
    pub resources: &'a HashMap<String, Physical>,
}

impl Resolver<'_> {
    /// A copy of `value` with every intrinsic replaced by its value.
    pub fn resolve(&self, value: &Value) -> Result<Value, ResolveError> {
        match value {
            Value::Tagged(tagged) => {
                let name = tagged.tag.to_string();
                self.intrinsic(name.trim_start_matches('!'), &tagged.value)
            }
            Value::Mapping(map) if map.len() == 1 => {
                let (key, inner) = map.iter().next().expect("one entry");
                match key.as_str() {
                    Some("Ref") => self.intrinsic("Ref", inner),
                    Some(name) if name.starts_with("Fn::") => self.intrinsic(&name[4..], inner),
                    _ => self.resolve_mapping(map),
                }
            }
            Value::Mapping(map) => self.resolve_mapping(map),
            Value::Sequence(items) => {
                items.iter().map(|item| self.resolve(item)).collect::<Result<_, _>>().map(Value::Sequence)
            }
            scalar => Ok(scalar.clone()),
        }
    }

    /// Resolves to a string, as environment variables need.
    pub fn resolve_string(&self, value: &Value) -> Result<String, ResolveError> {
        let resolved = self.resolve(value)?;
        scalar_string(&resolved).ok_or_else(|| ResolveError::Unsupported(format!("non-scalar value {resolved:?}")))
    }

    fn resolve_mapping(&self, map: &Mapping) -> Result<Value, ResolveError> {
        map.iter().map(|(k, v)| Ok((k.clone(), self.resolve(v)?))).collect::<Result<Mapping, _>>().map(Value::Mapping)
    }

    fn intrinsic(&self, name: &str, arg: &Value) -> Result<Value, ResolveError> {
        match name {
            "Ref" => self.reference(arg.as_str().unwrap_or_default()).map(Value::String),
            "GetAtt" => {
                let (id, attribute) = match self.resolve(arg)? {
                    Value::String(dotted) => dotted.split_once('.').map(|(a, b)| (a.to_owned(), b.to_owned())),
                    Value::Sequence(parts) if parts.len() == 2 => Some((
                        scalar_string(&parts[0]).unwrap_or_default(),
                        scalar_string(&parts[1]).unwrap_or_default(),
                    )),
                    _ => None,
                }
                .ok_or_else(|| ResolveError::Unsupported(format!("!GetAtt {arg:?}")))?;
                self.attribute(&id, &attribute).map(Value::String)
            }
            "Sub" => {
                let (text, locals) = match arg {
                    Value::Sequence(parts) if parts.len() == 2 => (parts[0].as_str(), parts[1].as_mapping()),
                    other => (other.as_str(), None),
                };
                let text = text.ok_or_else(|| ResolveError::Unsupported(format!("!Sub {arg:?}")))?;
                self.substitute(text, locals).map(Value::String)
            }
            "Join" => {
                let parts = arg.as_sequence().filter(|p| p.len() == 2);
                let (separator, items) = parts
                    .and_then(|p| Some((p[0].as_str()?, self.resolve(&p[1]).ok()?)))
                    .ok_or_else(|| ResolveError::Unsupported(format!("!Join {arg:?}")))?;
                // `!Ref` of a CommaDelimitedList parameter is a list; its
                // default is known here as the comma-separated text.
                let strings: Vec<String> = match &items {
                    Value::String(list) => list.split(',').map(|item| item.trim().to_owned()).collect(),
                    other => other.as_sequence().into_iter().flatten().filter_map(scalar_string).collect(),
                };
                Ok(Value::String(strings.join(separator)))
            }
            other => Err(ResolveError::Unsupported(format!("!{other}"))),
        }
    }

    fn reference(&self, name: &str) -> Result<String, ResolveError> {
        match name {
            "AWS::StackName" => return Ok(self.stack_name.to_owned()),
            "AWS::Region" => return Ok(self.region.to_owned()),
            "AWS::AccountId" => return Ok(self.account_id.to_owned()),
            "AWS::Partition" => return Ok("aws".into()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".into()),
            _ => {}
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        if let Some(physical) = self.resources.get(name) {
            return Ok(physical.reference.clone());
        }
        Err(self.missing(name))
    }

    fn attribute(&self, id: &str, attribute: &str) -> Result<String, ResolveError> {
        let physical = self.resources.get(id).ok_or_else(|| self.missing(id))?;
        physical
            .attributes
            .get(attribute)
            .cloned()
            .ok_or_else(|| ResolveError::UnknownAttribute(id.into(), attribute.into()))
    }

    fn missing(&self, name: &str) -> ResolveError {
        if self.template.is_resource(name) {
            ResolveError::Pending(name.into())
        } else {
            ResolveError::Unknown(name.into())
        }
    }

    /// `${Name}`, `${Resource.Attribute}` and `${!Literal}`, as `!Sub` does.
    fn substitute(&self, text: &str, locals: Option<&Mapping>) -> Result<String, ResolveError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| ResolveError::Unsupported(format!("unclosed ${{ in {text}")))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(local) = locals.and_then(|l| l.get(name)) {
                out.push_str(&self.resolve_string(local)?);
            } else if let Some((id, attribute)) = name.split_once('.').filter(|_| !name.starts_with("AWS::")) {
                out.push_str(&self.attribute(id, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// A scalar as the string CloudFormation would pass; lists join with commas.
pub fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Sequence(items) => Some(items.iter().filter_map(scalar_string).collect::<Vec<_>>().join(",")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Stage: {Type: String, Default: dev}
  Audience: {Type: CommaDelimitedList, Default: [a, b]}
Globals:
  Function:
    Environment:
      Variables: {STAGE: !Ref Stage, SHARED: global}
Resources:
  Dlq:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "${AWS::StackName}-dlq"}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-work"
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 3}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: worker}}
    Properties:
      Environment:
        Variables:
          QUEUE: {Ref: Queue}
          DLQ_ARN: {"Fn::GetAtt": [Dlq, Arn]}
          SHARED: own
          JOINED: !Join [":", [!Ref Stage, x]]
          AUDIENCES: !Join [" ", !Ref Audience]
          LITERAL: !Sub "${!NotMe}-${Dlq.Arn}"
"#;

    fn physical(reference: &str, arn: &str) -> Physical {
        Physical { reference: reference.into(), attributes: HashMap::from([("Arn".into(), arn.into())]) }
    }

    fn resolve_env(
        template: &Template,
        resources: &HashMap<String, Physical>,
    ) -> Result<HashMap<String, String>, ResolveError> {
        let parameters = template.parameter_defaults();
        let resolver = Resolver {
            template,
            stack_name: "s1",
            region: "us-east-1",
            account_id: "000000000000",
            parameters: &parameters,
            resources,
        };
        let env = template.function_environment("Fn").unwrap();
        env.iter().map(|(k, v)| Ok((k.as_str().unwrap().to_owned(), resolver.resolve_string(v)?))).collect()
    }

    #[test]
    fn short_and_long_intrinsics_resolve_against_created_resources() {
        let template = Template::parse(TEMPLATE).unwrap();
        let resources = HashMap::from([
            ("Dlq".to_owned(), physical("http://q/s1-dlq", "arn:aws:sqs:us-east-1:0:s1-dlq")),
            ("Queue".to_owned(), physical("http://q/s1-work", "arn:aws:sqs:us-east-1:0:s1-work")),
        ]);
        let env = resolve_env(&template, &resources).unwrap();
        assert_eq!(env["STAGE"], "dev");
        assert_eq!(env["QUEUE"], "http://q/s1-work");
        assert_eq!(env["DLQ_ARN"], "arn:aws:sqs:us-east-1:0:s1-dlq");
        assert_eq!(env["SHARED"], "own", "the function's variables win over Globals");
        assert_eq!(env["JOINED"], "dev:x");
        assert_eq!(env["AUDIENCES"], "a b");
        assert_eq!(env["LITERAL"], "${NotMe}-arn:aws:sqs:us-east-1:0:s1-dlq");
    }

    #[test]
    fn a_reference_to_a_resource_not_yet_created_is_pending() {
        let template = Template::parse(TEMPLATE).unwrap();
        // Variables keep template order: QUEUE is the first to need a resource.
        assert_eq!(resolve_env(&template, &HashMap::new()), Err(ResolveError::Pending("Queue".into())));
    }

    #[test]
    fn an_unknown_intrinsic_is_reported_not_ignored() {
        let template =
            Template::parse("Resources:\n  X:\n    Type: T\n    Properties: {A: !FindInMap [m, k, v]}\n").unwrap();
        let (_, _, props) = template.resources().next().unwrap();
        let parameters = HashMap::new();
        let resources = HashMap::new();
        let resolver = Resolver {
            template: &template,
            stack_name: "s",
            region: "r",
            account_id: "a",
            parameters: &parameters,
            resources: &resources,
        };
        assert_eq!(resolver.resolve(props), Err(ResolveError::Unsupported("!FindInMap".into())));
    }

    #[test]
    fn functions_are_listed_with_their_binaries_and_list_parameters_join() {
        let template = Template::parse(TEMPLATE).unwrap();
        let functions = template.functions().unwrap();
        assert_eq!(functions.len(), 1);
        assert_eq!((functions[0].logical_id.as_str(), functions[0].binary.as_str()), ("Fn", "worker"));
        assert_eq!(template.parameter_defaults()["Audience"], "a,b");
    }

    #[test]
    fn the_workspace_template_parses() {
        let template = Template::workspace().unwrap();
        assert!(template.functions().unwrap().iter().any(|f| f.binary == "health"));
    }
}
