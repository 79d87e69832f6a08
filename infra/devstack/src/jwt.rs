//! Dev tokens: JWTs signed locally and verified by the HTTP gateway the way
//! API Gateway's JWT authorizer verifies real ones (signature, expiry,
//! issuer, audience). The signing key only exists on this machine.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use crate::plan::JwtAuthorizer;

/// Local only: a token signed with it is worthless anywhere else.
const DEV_SIGNING_KEY: &[u8] = b"tessera-devstack-local-signing-key";

/// What functions that verify tokens themselves (the WebSocket authorizer)
/// are given instead of the issuer's keys: the variable and its value.
pub fn function_environment() -> (String, String) {
    ("DEV_JWT_SIGNING_KEY".into(), String::from_utf8_lossy(DEV_SIGNING_KEY).into_owned())
}

#[derive(Debug, Clone)]
pub struct DevTokens {
    issuer: String,
    audiences: Vec<String>,
}

impl DevTokens {
    /// Tokens for the template's JWT authorizer (its issuer and audience).
    pub fn for_authorizer(authorizer: Option<&JwtAuthorizer>) -> Self {
        match authorizer {
            Some(jwt) => Self { issuer: jwt.issuer.clone(), audiences: jwt.audiences.clone() },
            None => Self { issuer: "https://auth.tessera.local/".into(), audiences: vec!["tessera".into()] },
        }
    }

    pub fn issue(&self, user: &str, tier: &str, roles: &[String], lifetime: Duration) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = json!({
            "sub": user,
            "tier": tier,
            "roles": roles,
            "iss": self.issuer,
            "aud": self.audiences.first().cloned().unwrap_or_default(),
            "iat": now,
            "exp": now + lifetime.as_secs(),
        });
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(DEV_SIGNING_KEY))
            .expect("HS256 signing of a JSON object cannot fail")
    }

    /// The verified claims of a bearer token.
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &DecodingKey::from_secret(DEV_SIGNING_KEY), &validation)?;
        Ok(data.claims)
    }
}

/// Claims as API Gateway hands them to a function: every value a string,
/// arrays flattened to `[a b]`.
pub fn flatten_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(name, value)| {
            let flat = match value {
                Value::String(text) => text.clone(),
                Value::Array(items) => {
                    let items: Vec<String> =
                        items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect();
                    format!("[{}]", items.join(" "))
                }
                other => other.to_string(),
            };
            (name.clone(), Value::String(flat))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> DevTokens {
        DevTokens { issuer: "https://issuer/".into(), audiences: vec!["tessera".into()] }
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let token = tokens().issue("alice", "pro", &["admin".into()], Duration::from_secs(60));
        let claims = tokens().verify(&token).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(flatten_claims(&claims)["roles"], "[admin]");
        assert_eq!(flatten_claims(&claims)["tier"], "pro");
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_is_refused() {
        let token = tokens().issue("alice", "pro", &[], Duration::from_secs(60));
        let other_issuer = DevTokens { issuer: "https://elsewhere/".into(), ..tokens() };
        let other_audience = DevTokens { audiences: vec!["other".into()], ..tokens() };
        assert!(other_issuer.verify(&token).is_err());
        assert!(other_audience.verify(&token).is_err());
    }

    #[test]
    fn a_tampered_or_garbage_token_is_refused() {
        let token = tokens().issue("alice", "pro", &[], Duration::from_secs(60));
        let (head, _) = token.rsplit_once('.').unwrap();
        assert!(tokens().verify(&format!("{head}.AAAA")).is_err());
        assert!(tokens().verify("not-a-jwt").is_err());
    }
}
