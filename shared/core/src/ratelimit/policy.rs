//! The rate-limit policy file (`infra/rate-limits.yaml`): parsed and
//! validated at start-up, failing with a message that names the bad rule.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::algorithm::{Algorithm, Quota};
use super::routes::RoutePattern;
use crate::identity::Tier;

/// Bounds that keep every product the algorithms form exact in Lua's doubles.
const MAX_LIMIT: u64 = 1_000_000;
const MAX_WINDOW_MS: u64 = 86_400_000;
const MAX_MULTIPLIER: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "rate-limit policy, rule `{rule}`: {}", self.message),
            None => write!(f, "rate-limit policy: {}", self.message),
        }
    }
}

/// Whose requests a rule counts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Per user; per IP for a request without identity.
    User,
    Ip,
    Global,
    /// Per WebSocket connection (message rules).
    Connection,
}

/// WebSocket events a rule can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketEvent {
    Connect,
    Message,
}

/// What a request is, as far as rules are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Http { method: &'a str, path: &'a str },
    Socket(SocketEvent),
}

/// The validated policies.
#[derive(Debug, Clone)]
pub struct Policies {
    /// The file as read; its tiers are validated.
    source: PolicyFile,
    abuse: Abuse,
    exempt: Vec<RoutePattern>,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abuse {
    /// Attempts of this many times the limit within one window block the subject.
    pub factor: u64,
    pub block_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub scope: Scope,
    pub limit: u64,
    pub window_ms: u64,
    pub algorithm: Algorithm,
    routes: Vec<RoutePattern>,
    events: Vec<SocketEvent>,
    cost: u64,
    costs: Vec<(RoutePattern, u64)>,
}

impl Rule {
    /// The quota for a caller on `tier`: per-user and per-connection limits
    /// scale with the tier; an IP may hold many users, and global is global.
    pub fn quota(&self, multiplier: u64) -> Quota {
        let limit = match self.scope {
            Scope::User | Scope::Connection => self.limit * multiplier,
            Scope::Ip | Scope::Global => self.limit,
        };
        Quota { limit, window_ms: self.window_ms }
    }

    /// What a request of `target` costs this rule, if the rule applies.
    fn cost_of(&self, target: Target<'_>) -> Option<u64> {
        match target {
            Target::Http { method, path } => self.routes.iter().any(|route| route.matches(method, path)).then(|| {
                self.costs.iter().find(|(route, _)| route.matches(method, path)).map_or(self.cost, |(_, c)| *c)
            }),
            Target::Socket(event) => self.events.contains(&event).then_some(self.cost),
        }
    }
}

impl Policies {
    /// The rules that apply to `target`, each with what it costs; none for
    /// an exempt route.
    pub fn applicable<'p>(&'p self, target: Target<'_>) -> impl Iterator<Item = (&'p Rule, u64)> {
        let exempt = match target {
            Target::Http { method, path } => self.exempt.iter().any(|route| route.matches(method, path)),
            Target::Socket(_) => false,
        };
        self.rules.iter().filter(move |_| !exempt).filter_map(move |rule| Some((rule, rule.cost_of(target)?)))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.name == name)
    }

    pub fn multiplier(&self, tier: Tier) -> u64 {
        let name = match tier {
            Tier::Free => TierName::Free,
            Tier::Pro => TierName::Pro,
            Tier::Enterprise => TierName::Enterprise,
        };
        self.source.tiers[&name]
    }

    pub fn abuse(&self) -> Abuse {
        self.abuse
    }

    /// The file as it was read, for the admin API.
    pub fn source(&self) -> &PolicyFile {
        &self.source
    }

    pub fn parse(yaml: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = serde_yaml::from_str(yaml).map_err(|err| general(err.to_string()))?;
        file.validate()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TierName {
    Free,
    Pro,
    Enterprise,
}

/// The file's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    tiers: BTreeMap<TierName, u64>,
    abuse: AbuseFile,
    #[serde(default)]
    exempt: Vec<String>,
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
    rules: Vec<serde_yaml::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AbuseFile {
    factor: u64,
    block: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(rename = "match")]
    matcher: MatchFile,
    scope: Scope,
    limit: u64,
    window: String,
    #[serde(default = "sliding_window")]
    algorithm: Algorithm,
    #[serde(default = "one")]
    cost: u64,
    #[serde(default)]
    costs: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchFile {
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    websocket: Vec<SocketEvent>,
}

fn sliding_window() -> Algorithm {
    Algorithm::SlidingWindow
}

fn one() -> u64 {
    1
}

fn general(message: impl Into<String>) -> PolicyError {
    PolicyError { rule: None, message: message.into() }
}

impl PolicyFile {
    fn validate(self) -> Result<Policies, PolicyError> {
        for tier in [TierName::Free, TierName::Pro, TierName::Enterprise] {
            match self.tiers.get(&tier) {
                Some(1..=MAX_MULTIPLIER) => {}
                _ => return Err(general(format!("tier {tier:?} needs a multiplier from 1 to {MAX_MULTIPLIER}"))),
            }
        }
        let abuse = Abuse {
            factor: self.abuse.factor,
            block_ms: parse_duration(&self.abuse.block).map_err(|m| general(format!("abuse block: {m}")))?,
        };
        if !(2..=MAX_MULTIPLIER).contains(&abuse.factor) {
            return Err(general(format!("the abuse factor must be from 2 to {MAX_MULTIPLIER}")));
        }
        let routes = |keys: &[String]| -> Result<Vec<RoutePattern>, String> {
            keys.iter().map(|key| RoutePattern::parse(key)).collect()
        };
        let exempt = routes(&self.exempt).map_err(|m| general(format!("exempt: {m}")))?;
        let mut groups = BTreeMap::new();
        for (name, keys) in &self.groups {
            groups.insert(name.as_str(), routes(keys).map_err(|m| general(format!("group `{name}`: {m}")))?);
        }
        let max_tier = self.tiers.values().copied().max().unwrap_or(1);
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(self.rules.len());
        for (index, value) in self.rules.iter().enumerate() {
            let label =
                value.get("name").and_then(|n| n.as_str()).map_or_else(|| format!("#{}", index + 1), str::to_owned);
            let fail = |message: String| PolicyError { rule: Some(label.clone()), message };
            let raw: RuleFile = serde_yaml::from_value(value.clone()).map_err(|err| fail(err.to_string()))?;
            let rule = raw.validate(&groups, max_tier).map_err(fail)?;
            if !names.insert(rule.name.clone()) {
                return Err(fail("the name is used by another rule".into()));
            }
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err(general("there are no rules"));
        }
        Ok(Policies { abuse, exempt, rules, source: self })
    }
}

impl RuleFile {
    fn validate(self, groups: &BTreeMap<&str, Vec<RoutePattern>>, max_tier: u64) -> Result<Rule, String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err("a name is 1 to 64 of a-z, 0-9 and `-`".into());
        }
        let window_ms = parse_duration(&self.window)?;
        if !(1_000..=MAX_WINDOW_MS).contains(&window_ms) {
            return Err(format!("window `{}` must be from 1s to 1d", self.window));
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(format!("limit {} must be from 1 to {MAX_LIMIT}", self.limit));
        }
        // Exactness in Lua: count × window stays below 2^53 at the highest tier.
        if self.limit * max_tier * window_ms > 1 << 50 {
            return Err("limit × window × the highest tier is too large to count exactly".into());
        }
        for cost in std::iter::once(&self.cost).chain(self.costs.values()) {
            if *cost == 0 || *cost > self.limit {
                return Err(format!("cost {cost} must be from 1 to the limit ({})", self.limit));
            }
        }
        let mut routes = Vec::new();
        for key in &self.matcher.routes {
            routes.push(RoutePattern::parse(key)?);
        }
        for group in &self.matcher.groups {
            routes
                .extend(groups.get(group.as_str()).ok_or_else(|| format!("unknown group `{group}`"))?.iter().cloned());
        }
        let events = self.matcher.websocket;
        if routes.is_empty() && events.is_empty() {
            return Err("`match` needs routes, groups or websocket events".into());
        }
        if self.scope == Scope::Connection && (!routes.is_empty() || events != [SocketEvent::Message]) {
            return Err("the connection scope applies to websocket messages only".into());
        }
        let mut costs = Vec::new();
        for (key, cost) in self.costs {
            costs.push((RoutePattern::parse(&key)?, cost));
        }
        Ok(Rule {
            name: self.name,
            scope: self.scope,
            limit: self.limit,
            window_ms,
            algorithm: self.algorithm,
            routes,
            events,
            cost: self.cost,
            costs,
        })
    }
}

/// `500ms`, `30s`, `15m`, `1h`, `1d` in milliseconds.
pub fn parse_duration(raw: &str) -> Result<u64, String> {
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("duration `{raw}` needs a unit: ms, s, m, h or d")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|ms| *ms > 0)
        .ok_or_else(|| format!("duration `{raw}` is not a positive number of {unit}"))
}

#[cfg(test)]
mod tests;
