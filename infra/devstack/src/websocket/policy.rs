//! Evaluates the IAM policy a Lambda authorizer returns, as API Gateway
//! does: an explicit Deny wins, otherwise an Allow matching the action and
//! the resource is needed. `*` and `?` wildcards are honoured; conditions
//! are not emulated.

use serde_json::Value;

/// The action API Gateway checks before invoking a route.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// Whether `policy` (a `policyDocument`) allows `action` on `resource`.
pub fn allows(policy: &Value, action: &str, resource: &str) -> bool {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(statements)) => statements.iter().collect(),
        Some(statement @ Value::Object(_)) => vec![statement],
        _ => return false,
    };
    let matching = |effect: &str| {
        statements.iter().any(|statement| {
            statement.get("Effect").and_then(Value::as_str) == Some(effect)
                && any_matches(statement.get("Action"), action, false)
                && any_matches(statement.get("Resource"), resource, true)
        })
    };
    !matching("Deny") && matching("Allow")
}

/// A statement's `Action` or `Resource`: one pattern or a list of them.
/// Actions compare without regard to case, as IAM compares them.
fn any_matches(patterns: Option<&Value>, value: &str, case_sensitive: bool) -> bool {
    let matches = |pattern: &Value| {
        pattern.as_str().is_some_and(|pattern| {
            if case_sensitive {
                wildcard_match(pattern.as_bytes(), value.as_bytes())
            } else {
                wildcard_match(pattern.to_ascii_lowercase().as_bytes(), value.to_ascii_lowercase().as_bytes())
            }
        })
    };
    match patterns {
        Some(Value::Array(patterns)) => patterns.iter().any(matches),
        Some(pattern) => matches(pattern),
        None => false,
    }
}

/// `*` matches any run of characters, `?` any one character.
fn wildcard_match(pattern: &[u8], value: &[u8]) -> bool {
    let (mut p, mut v) = (0, 0);
    // Where the last `*` was, and where in `value` it started matching.
    let mut backtrack: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, v));
                p += 1;
            }
            Some(&c) if c == b'?' || c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match backtrack {
                Some((star, matched_from)) => {
                    p = star + 1;
                    v = matched_from + 1;
                    backtrack = Some((star, matched_from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:WebSocketApi/local/$connect";

    fn policy(effect: &str, resource: Value) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [{ "Effect": effect, "Action": INVOKE_ACTION, "Resource": resource }] })
    }

    #[test]
    fn an_allow_of_the_exact_arn_allows() {
        assert!(allows(&policy("Allow", json!(ARN)), INVOKE_ACTION, ARN));
    }

    #[test]
    fn a_wildcard_resource_allows() {
        let resource = json!(["arn:aws:execute-api:us-east-1:123456789012:WebSocketApi/*"]);

        assert!(allows(&policy("Allow", resource), INVOKE_ACTION, ARN));
    }

    #[test]
    fn a_deny_refuses_even_with_an_allow() {
        let mut both = policy("Allow", json!("*"));
        let deny = json!({ "Effect": "Deny", "Action": "execute-api:*", "Resource": ARN });
        both["Statement"].as_array_mut().unwrap().push(deny);

        assert!(!allows(&both, INVOKE_ACTION, ARN));
    }

    #[test]
    fn an_allow_of_another_resource_refuses() {
        let other = "arn:aws:execute-api:us-east-1:123456789012:OtherApi/local/$connect";

        assert!(!allows(&policy("Allow", json!(other)), INVOKE_ACTION, ARN));
    }

    #[test]
    fn no_statement_refuses() {
        assert!(!allows(&json!({}), INVOKE_ACTION, ARN));
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(wildcard_match(b"a*c", b"abbbc"));
        assert!(wildcard_match(b"a?c", b"abc"));
        assert!(wildcard_match(b"*", b""));
        assert!(!wildcard_match(b"a?c", b"ac"));
        assert!(!wildcard_match(b"a*d", b"abc"));
    }
}
