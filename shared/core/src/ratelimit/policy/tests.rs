use super::*;

const SHIPPED: &str = include_str!("../../../../../infra/rate-limits.yaml");

fn http<'a>(method: &'a str, path: &'a str) -> Target<'a> {
    Target::Http { method, path }
}

fn applicable(policies: &Policies, target: Target<'_>) -> Vec<(String, u64)> {
    policies.applicable(target).map(|(rule, cost)| (rule.name.clone(), cost)).collect()
}

#[test]
fn the_shipped_policies_are_valid_and_hold_the_starting_defaults() {
    let policies = Policies::parse(SHIPPED).unwrap();
    let api = policies.rule("api-per-user").unwrap();
    assert_eq!((api.limit, api.window_ms, api.scope), (60, 60_000, Scope::User));
    let generation = policies.rule("generation-per-user").unwrap();
    assert_eq!((generation.limit, generation.window_ms), (10, 300_000));
    let ip = policies.rule("api-per-ip").unwrap();
    assert_eq!((ip.limit, ip.window_ms, ip.scope), (1000, 900_000, Scope::Ip));
    let admin = policies.rule("admin-per-ip").unwrap();
    assert_eq!((admin.limit, admin.window_ms, admin.scope), (5, 900_000, Scope::Ip));
    assert_eq!([Tier::Free, Tier::Pro, Tier::Enterprise].map(|tier| policies.multiplier(tier)), [1, 5, 20]);
}

#[test]
fn a_request_gets_every_rule_it_matches_with_its_cost() {
    let policies = Policies::parse(SHIPPED).unwrap();
    assert_eq!(
        applicable(&policies, http("POST", "/projects/p1/generations")),
        [("api-per-user".into(), 1), ("generation-per-user".into(), 1), ("api-per-ip".into(), 1)]
    );
    assert_eq!(applicable(&policies, http("DELETE", "/projects/p1"))[0], ("api-per-user".into(), 5));
    assert_eq!(applicable(&policies, http("GET", "/admin/rate-limits/blocks")).len(), 3);
    assert_eq!(applicable(&policies, Target::Socket(SocketEvent::Connect)), [("ws-connect-per-ip".into(), 1)]);
}

#[test]
fn liveness_is_exempt_but_readiness_is_not() {
    let policies = Policies::parse(SHIPPED).unwrap();
    assert!(applicable(&policies, http("GET", "/health")).is_empty());
    assert_eq!(applicable(&policies, http("GET", "/health/ready")).len(), 2);
}

#[test]
fn tiers_scale_per_user_limits_only() {
    let policies = Policies::parse(SHIPPED).unwrap();
    let pro = policies.multiplier(Tier::Pro);
    assert_eq!(policies.rule("api-per-user").unwrap().quota(pro).limit, 300);
    assert_eq!(policies.rule("api-per-ip").unwrap().quota(pro).limit, 1000);
}

/// The shipped file with one rule's field replaced.
fn with_rule_field(rule: &str, field: &str, value: &str) -> String {
    edit_rule(SHIPPED, rule, field, value)
}

fn edit_rule(yaml: &str, rule: &str, field: &str, value: &str) -> String {
    let mut file: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    let rules = file["rules"].as_sequence_mut().unwrap();
    let target = rules.iter_mut().find(|r| r["name"].as_str() == Some(rule)).unwrap();
    target[field] = serde_yaml::from_str(value).unwrap();
    serde_yaml::to_string(&file).unwrap()
}

#[test]
fn each_bad_rule_is_refused_with_a_message_naming_it() {
    let cases = [
        ("api-per-user", "limit", "0", "limit 0 must be from 1"),
        ("api-per-user", "window", "10min", "needs a unit"),
        ("api-per-user", "window", "500ms", "must be from 1s to 1d"),
        ("api-per-user", "algorithm", "token-bucket", "unknown variant `token-bucket`"),
        ("api-per-user", "scope", "team", "unknown variant `team`"),
        ("api-per-user", "cost", "61", "cost 61 must be from 1 to the limit"),
        ("api-per-user", "match", "{groups: [nope]}", "unknown group `nope`"),
        ("api-per-user", "match", "{}", "needs routes, groups or websocket"),
        ("api-per-user", "match", "{routes: [\"GET projects\"]}", "must start with `/`"),
        ("api-per-user", "match", "{websocket: [disconnect]}", "unknown variant `disconnect`"),
        ("api-per-user", "limt", "5", "unknown field `limt`"),
        ("api-per-ip", "scope", "connection", "websocket messages only"),
        ("admin-per-ip", "name", "api-per-user", "used by another rule"),
        ("admin-per-ip", "name", "Admin Rule", "a name is 1 to 64"),
    ];
    for (rule, field, value, reason) in cases {
        let Err(err) = Policies::parse(&with_rule_field(rule, field, value)) else {
            panic!("{rule}: {field}: {value} was accepted");
        };
        let expected_rule = if field == "name" { value } else { rule };
        assert_eq!(err.rule.as_deref(), Some(expected_rule), "{field}: {value}: {err}");
        assert!(err.to_string().contains(reason), "{field}: {value}: `{err}` lacks `{reason}`");
        assert!(err.to_string().contains(&format!("rule `{expected_rule}`")), "{err}");
    }
}

#[test]
fn a_rule_too_large_to_count_exactly_in_lua_is_refused() {
    let day_long = edit_rule(SHIPPED, "api-per-user", "window", "1d");
    assert!(Policies::parse(&edit_rule(&day_long, "api-per-user", "limit", "100000")).is_ok());
    let err = Policies::parse(&edit_rule(&day_long, "api-per-user", "limit", "1000000")).unwrap_err();
    assert!(err.to_string().contains("rule `api-per-user`: limit × window"), "{err}");
}

#[test]
fn a_rule_without_a_name_is_named_by_its_position() {
    let yaml = SHIPPED.replacen("  - name: api-per-user\n", "  - \n", 1);
    let err = Policies::parse(&yaml).unwrap_err();
    assert_eq!(err.rule.as_deref(), Some("#1"));
}

#[test]
fn bad_file_level_settings_are_refused() {
    for (from, to, reason) in [
        ("  pro: 5\n", "  pro: 0\n", "tier Pro"),
        ("  factor: 5\n", "  factor: 1\n", "abuse factor"),
        ("  block: 15m\n", "  block: soon\n", "abuse block"),
        ("  - GET /health\n", "  - GET health\n", "exempt"),
    ] {
        let err = Policies::parse(&SHIPPED.replacen(from, to, 1)).unwrap_err();
        assert!(err.rule.is_none());
        assert!(err.to_string().contains(reason), "`{err}` lacks `{reason}`");
    }
}

#[test]
fn durations_read_their_unit() {
    assert_eq!(parse_duration("250ms"), Ok(250));
    assert_eq!(parse_duration("15m"), Ok(900_000));
    assert_eq!(parse_duration("1d"), Ok(86_400_000));
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("m").is_err());
}
