//! Token verification, with the rules of the HTTP API's JWT authorizer: a
//! pinned algorithm, a known key, `exp` and `nbf`, the template's issuer and
//! audiences, and the identity claims (`sub`, `tier`, `roles`).

use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};
use tessera_core::identity::{Identity, IdentityError};
use tessera_platform::config::{ConfigError, Vars};

use crate::keys::{KeyError, Keys};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("no token: give ?token= or a `bearer.<token>` subprotocol")]
    NoToken,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("invalid identity: {0}")]
    Identity(#[from] IdentityError),
}

pub struct Verifier {
    issuer: String,
    audiences: Vec<String>,
    keys: Keys,
}

impl Verifier {
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, keys: Keys) -> Self {
        Self { issuer: issuer.into(), audiences, keys }
    }

    /// `JWT_ISSUER`, `JWT_AUDIENCE` (comma list) and `JWKS_URL` (by default
    /// the issuer's `.well-known/jwks.json`); `DEV_JWT_SIGNING_KEY` instead
    /// of the issuer's keys when the devstack runs the function.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let issuer: String = vars.required("JWT_ISSUER")?;
        let audiences: String = vars.required("JWT_AUDIENCE")?;
        let audiences = audiences.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect();
        let keys = match vars.get("DEV_JWT_SIGNING_KEY") {
            Some(secret) => {
                tracing::warn!("verifying tokens with the devstack's dev key");
                Keys::Dev(jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()))
            }
            None => {
                let default = format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'));
                Keys::Issuer(crate::keys::Jwks::new(vars.or("JWKS_URL", default)?))
            }
        };
        Ok(Self::new(issuer, audiences, keys))
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, Rejected> {
        let header = decode_header(token)?;
        let key = self.keys.for_token(header.kid.as_deref()).await?;
        let mut validation = Validation::new(self.keys.algorithm());
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = decode::<Map<String, Value>>(token, &key, &validation)?.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let roles = claims.get("roles").map(|roles| match roles {
            Value::String(list) => list.clone(),
            other => other.to_string(),
        });
        Ok(Identity::from_claims(text("sub"), text("tier"), roles.as_deref(), None)?)
    }
}
