//! Lambda's event filtering (`FilterCriteria`) for SQS and DynamoDB Streams
//! event sources: a record goes to the function when any of the filters'
//! patterns matches it; the others are dropped (an SQS message is deleted, a
//! stream record skipped), as in AWS.
//!
//! A pattern is the EventBridge-style JSON Lambda takes: objects follow the
//! record's fields, and each leaf is a list of matchers of which one must
//! match: a literal (string, number, boolean, null), `{"prefix": ..}`,
//! `{"suffix": ..}`, `{"equals-ignore-case": ..}`, `{"exists": ..}`,
//! `{"anything-but": ..}` or `{"numeric": [">", 0, "<=", 5]}`. When the
//! record's field is a list, a matcher matching any element matches it.

use anyhow::{Context as _, anyhow, bail, ensure};
use serde_json::{Map, Value};

/// The filters of one event source; none means every record passes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    patterns: Vec<Pattern>,
}

impl EventFilter {
    /// Reads a `FilterCriteria` property: `{Filters: [{Pattern: "<json>"}]}`.
    pub fn from_criteria(criteria: &serde_yaml::Value) -> anyhow::Result<Self> {
        let filters = criteria.get("Filters").and_then(serde_yaml::Value::as_sequence).context("Filters")?;
        let patterns = filters
            .iter()
            .map(|filter| {
                let text = filter.get("Pattern").and_then(serde_yaml::Value::as_str).context("a filter's Pattern")?;
                let json: Value = serde_json::from_str(text).with_context(|| format!("pattern {text} is not JSON"))?;
                Pattern::parse(&json).with_context(|| format!("pattern {text}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { patterns })
    }

    pub fn matches(&self, record: &Value) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|pattern| pattern.matches(Some(record)))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Fields(Vec<(String, Pattern)>),
    AnyOf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Equals(Value),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    Exists(bool),
    AnythingBut(Vec<Matcher>),
    /// (operator, operand) pairs, all of which must hold.
    Numeric(Vec<(String, f64)>),
}

impl Pattern {
    fn parse(json: &Value) -> anyhow::Result<Self> {
        match json {
            Value::Object(fields) => Ok(Self::Fields(
                fields
                    .iter()
                    .map(|(name, value)| Ok((name.clone(), Self::parse(value).with_context(|| name.clone())?)))
                    .collect::<anyhow::Result<_>>()?,
            )),
            Value::Array(matchers) => {
                Ok(Self::AnyOf(matchers.iter().map(Matcher::parse).collect::<anyhow::Result<_>>()?))
            }
            other => bail!("{other} is neither an object of fields nor a list of matchers"),
        }
    }

    /// `value` is `None` where the record has no such field.
    fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Self::Fields(fields) => {
                let object = value.and_then(Value::as_object);
                fields.iter().all(|(name, pattern)| pattern.matches(object.and_then(|o| o.get(name))))
            }
            Self::AnyOf(matchers) => matchers.iter().any(|matcher| matcher.matches_field(value)),
        }
    }
}

impl Matcher {
    fn parse(json: &Value) -> anyhow::Result<Self> {
        let Value::Object(operator) = json else { return Ok(Self::Equals(json.clone())) };
        let (name, operand) = single_entry(operator)?;
        let text = || operand.as_str().map(str::to_owned).with_context(|| format!("{name} takes a string"));
        Ok(match name {
            "prefix" => Self::Prefix(text()?),
            "suffix" => Self::Suffix(text()?),
            "equals-ignore-case" => Self::EqualsIgnoreCase(text()?),
            "exists" => Self::Exists(operand.as_bool().context("exists takes true or false")?),
            "anything-but" => Self::AnythingBut(match operand {
                Value::Array(values) => values.iter().map(|v| Self::Equals(v.clone())).collect(),
                Value::Object(_) => vec![Self::parse(operand)?],
                value => vec![Self::Equals(value.clone())],
            }),
            "numeric" => Self::Numeric(numeric_conditions(operand)?),
            other => bail!("the {other} matcher is not emulated"),
        })
    }

    fn matches_field(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Self::Exists(wanted), value) => value.is_some() == *wanted,
            (_, None) => false,
            (_, Some(Value::Array(elements))) => elements.iter().any(|element| self.matches(element)),
            (_, Some(value)) => self.matches(value),
        }
    }

    fn matches(&self, value: &Value) -> bool {
        match self {
            Self::Equals(Value::Number(wanted)) => {
                number(value).is_some_and(|n| wanted.as_f64().is_some_and(|w| (n - w).abs() < f64::EPSILON))
            }
            Self::Equals(wanted) => value == wanted,
            Self::Prefix(prefix) => value.as_str().is_some_and(|s| s.starts_with(prefix.as_str())),
            Self::Suffix(suffix) => value.as_str().is_some_and(|s| s.ends_with(suffix.as_str())),
            Self::EqualsIgnoreCase(text) => value.as_str().is_some_and(|s| s.eq_ignore_ascii_case(text)),
            Self::Exists(wanted) => *wanted,
            Self::AnythingBut(excluded) => !excluded.iter().any(|matcher| matcher.matches(value)),
            Self::Numeric(conditions) => number(value).is_some_and(|n| {
                conditions.iter().all(|(operator, operand)| match operator.as_str() {
                    "<" => n < *operand,
                    "<=" => n <= *operand,
                    ">" => n > *operand,
                    ">=" => n >= *operand,
                    _ => (n - operand).abs() < f64::EPSILON,
                })
            }),
        }
    }
}

fn single_entry(object: &Map<String, Value>) -> anyhow::Result<(&str, &Value)> {
    ensure!(object.len() == 1, "a matcher has exactly one operator, not {}", Value::Object(object.clone()));
    let (name, operand) = object.iter().next().expect("one entry");
    Ok((name.as_str(), operand))
}

fn numeric_conditions(operand: &Value) -> anyhow::Result<Vec<(String, f64)>> {
    let terms = operand.as_array().context("numeric takes a list")?;
    ensure!(!terms.is_empty() && terms.len() % 2 == 0, "numeric takes operator and number pairs");
    terms
        .chunks(2)
        .map(|pair| {
            let operator = pair[0].as_str().filter(|op| ["<", "<=", ">", ">=", "="].contains(op));
            let operator = operator.ok_or_else(|| anyhow!("{} is not a numeric operator", pair[0]))?;
            let operand = pair[1].as_f64().ok_or_else(|| anyhow!("{} is not a number", pair[1]))?;
            Ok((operator.to_owned(), operand))
        })
        .collect()
}

/// Numbers in records are JSON numbers, or strings where the source writes
/// them so (DynamoDB's `{"N": "5"}`).
fn number(value: &Value) -> Option<f64> {
    value.as_f64().or_else(|| value.as_str()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filter(patterns: &[Value]) -> EventFilter {
        let filters: Vec<_> = patterns.iter().map(|p| serde_json::json!({ "Pattern": p.to_string() })).collect();
        let criteria = serde_yaml::to_value(json!({ "Filters": filters })).unwrap();
        EventFilter::from_criteria(&criteria).unwrap()
    }

    fn removal(sk: &str) -> Value {
        json!({ "eventName": "REMOVE", "dynamodb": { "Keys": { "pk": { "S": "PROJECT#p" }, "sk": { "S": sk } } } })
    }

    #[test]
    fn literals_follow_nested_fields_and_every_field_must_match() {
        let meta_removals =
            filter(&[json!({ "eventName": ["REMOVE"], "dynamodb": { "Keys": { "sk": { "S": ["META"] } } } })]);

        assert!(meta_removals.matches(&removal("META")));
        assert!(!meta_removals.matches(&removal("SLIDE#s")));
        let mut insert = removal("META");
        insert["eventName"] = json!("INSERT");
        assert!(!meta_removals.matches(&insert));
    }

    #[test]
    fn any_filter_may_match_and_no_filter_lets_everything_through() {
        let either = filter(&[json!({ "eventName": ["INSERT"] }), json!({ "eventName": ["REMOVE"] })]);

        assert!(either.matches(&removal("META")));
        assert!(!either.matches(&json!({ "eventName": "MODIFY" })));
        assert!(EventFilter::default().matches(&json!({ "eventName": "MODIFY" })));
    }

    #[test]
    fn string_matchers_compare_text() {
        let slides = filter(&[json!({ "dynamodb": { "Keys": { "sk": { "S": [{ "prefix": "SLIDE#" }] } } } })]);
        let kinds = filter(&[json!({ "kind": [{ "suffix": ".done" }, { "equals-ignore-case": "FAILED" }] })]);

        assert!(slides.matches(&removal("SLIDE#s")));
        assert!(!slides.matches(&removal("META")));
        assert!(kinds.matches(&json!({ "kind": "job.done" })));
        assert!(kinds.matches(&json!({ "kind": "failed" })));
        assert!(!kinds.matches(&json!({ "kind": "job.started" })));
    }

    #[test]
    fn exists_tells_a_missing_field_from_a_present_one() {
        let with_old_image = filter(&[json!({ "dynamodb": { "OldImage": [{ "exists": true }] } })]);
        let without_user = filter(&[json!({ "userIdentity": [{ "exists": false }] })]);

        assert!(!with_old_image.matches(&removal("META")));
        assert!(with_old_image.matches(&json!({ "dynamodb": { "OldImage": {} } })));
        assert!(without_user.matches(&removal("META")));
        assert!(!without_user.matches(&json!({ "userIdentity": { "type": "Service" } })));
    }

    #[test]
    fn anything_but_and_numeric_ranges() {
        let not_meta = filter(&[json!({ "dynamodb": { "Keys": { "sk": { "S": [{ "anything-but": ["META"] }] } } } })]);
        let small = filter(&[json!({ "size": [{ "numeric": [">", 0, "<=", 5] }] })]);

        assert!(not_meta.matches(&removal("SLIDE#s")));
        assert!(!not_meta.matches(&removal("META")));
        assert!(small.matches(&json!({ "size": 5 })));
        assert!(small.matches(&json!({ "size": "3" })), "DynamoDB writes numbers as strings");
        assert!(!small.matches(&json!({ "size": 6 })));
        assert!(!small.matches(&json!({ "size": "many" })));
    }

    #[test]
    fn a_list_in_the_record_matches_when_any_element_does() {
        let tagged = filter(&[json!({ "tags": ["urgent"] })]);

        assert!(tagged.matches(&json!({ "tags": ["later", "urgent"] })));
        assert!(!tagged.matches(&json!({ "tags": ["later"] })));
    }

    #[test]
    fn a_pattern_the_devstack_cannot_read_is_an_error() {
        let criteria = |pattern: &str| serde_yaml::to_value(json!({ "Filters": [{ "Pattern": pattern }] })).unwrap();

        assert!(EventFilter::from_criteria(&criteria("{not json")).is_err());
        assert!(EventFilter::from_criteria(&criteria(r#"{"a": [{"wildcard": "x*"}]}"#)).is_err());
        assert!(EventFilter::from_criteria(&criteria(r#"{"a": "bare"}"#)).is_err());
    }
}
