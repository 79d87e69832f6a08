//! Who is calling: the claims API Gateway verified, parsed into types that can
//! only hold valid values.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why the verified claims do not make an identity we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the request carries no verified identity")]
    Missing,
    #[error("the `sub` claim is missing or empty")]
    MissingSubject,
    #[error("the `sub` claim is not a valid user id")]
    BadSubject,
    #[error("the `tier` claim `{0}` is not one of free, pro, enterprise")]
    BadTier(String),
}

/// A user id: the JWT `sub`, 1 to 128 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        if raw.is_empty() {
            return Err(IdentityError::MissingSubject);
        }
        let printable = raw.bytes().all(|b| b.is_ascii_graphic());
        if raw.len() > Self::MAX_LEN || !printable {
            return Err(IdentityError::BadSubject);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = IdentityError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The plan a user is on; rate limits and quotas scale with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Free,
    Pro,
    Enterprise,
}

impl Tier {
    /// The name `from_str` reads (and the `tier` claim carries).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }
}

impl FromStr for Tier {
    type Err = IdentityError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "free" => Ok(Self::Free),
            "pro" => Ok(Self::Pro),
            "enterprise" => Ok(Self::Enterprise),
            other => Err(IdentityError::BadTier(other.to_owned())),
        }
    }
}

/// Platform-wide roles (project roles live with projects, not here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
}

impl Role {
    /// The name `parse` reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
        }
    }

    /// Unknown role names are ignored, not errors: an identity provider may
    /// carry roles meant for other systems.
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub user_id: UserId,
    pub tier: Tier,
    pub roles: Vec<Role>,
    pub source_ip: Option<IpAddr>,
}

impl Identity {
    /// Builds an identity from verified JWT claims as API Gateway passes them
    /// on: every claim a string. A missing `tier` means free; `roles` may be a
    /// JSON array, API Gateway's flattened `[a b]`, or a comma or space list.
    pub fn from_claims(
        sub: Option<&str>,
        tier: Option<&str>,
        roles: Option<&str>,
        source_ip: Option<&str>,
    ) -> Result<Self, IdentityError> {
        let user_id = UserId::parse(sub.unwrap_or_default().trim())?;
        let tier = match tier.map(str::trim) {
            None | Some("") => Tier::default(),
            Some(raw) => raw.parse()?,
        };
        Ok(Self {
            user_id,
            tier,
            roles: roles.map(parse_roles).unwrap_or_default(),
            source_ip: source_ip.and_then(|ip| ip.parse().ok()),
        })
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

fn parse_roles(raw: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = raw
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split([',', ' '])
        .map(|name| name.trim().trim_matches('"'))
        .filter_map(Role::parse)
        .collect();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, tier: Option<&str>, roles: Option<&str>) -> Result<Identity, IdentityError> {
        Identity::from_claims(Some(sub), tier, roles, Some("203.0.113.7"))
    }

    #[test]
    fn a_full_set_of_claims_makes_an_identity() {
        let identity = claims("alice", Some("pro"), Some("[admin]")).unwrap();
        assert_eq!(identity.user_id.as_str(), "alice");
        assert_eq!(identity.tier, Tier::Pro);
        assert!(identity.has_role(Role::Admin));
        assert_eq!(identity.source_ip, Some("203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn a_missing_subject_is_refused() {
        let missing = Identity::from_claims(None, Some("pro"), None, None);
        assert_eq!(missing, Err(IdentityError::MissingSubject));
        assert_eq!(claims("  ", None, None), Err(IdentityError::MissingSubject));
    }

    #[test]
    fn a_subject_with_control_characters_or_too_long_is_refused() {
        assert_eq!(claims("al\nice", None, None), Err(IdentityError::BadSubject));
        let long = "a".repeat(UserId::MAX_LEN + 1);
        assert_eq!(claims(&long, None, None), Err(IdentityError::BadSubject));
    }

    #[test]
    fn tier_and_role_names_read_back_as_themselves() {
        for tier in [Tier::Free, Tier::Pro, Tier::Enterprise] {
            assert_eq!(tier.as_str().parse::<Tier>().unwrap(), tier);
        }
        assert_eq!(Role::parse(Role::Admin.as_str()), Some(Role::Admin));
    }

    #[test]
    fn an_unknown_tier_is_refused_and_a_missing_one_is_free() {
        assert_eq!(claims("bob", Some("platinum"), None), Err(IdentityError::BadTier("platinum".into())));
        assert_eq!(claims("bob", None, None).unwrap().tier, Tier::Free);
    }

    #[test]
    fn roles_are_read_from_every_shape_api_gateway_passes() {
        for raw in ["[admin]", "[reader admin]", "[\"admin\",\"reader\"]", "admin", "reader,admin"] {
            assert!(claims("carol", None, Some(raw)).unwrap().has_role(Role::Admin), "{raw}");
        }
        for raw in ["", "[]", "[reader]", "administrator"] {
            assert!(!claims("carol", None, Some(raw)).unwrap().has_role(Role::Admin), "{raw}");
        }
    }

    #[test]
    fn an_unparseable_source_ip_is_dropped_not_fatal() {
        let identity = Identity::from_claims(Some("dave"), None, None, Some("not-an-ip")).unwrap();
        assert_eq!(identity.source_ip, None);
    }
}
