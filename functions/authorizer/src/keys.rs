//! The keys tokens are verified with. In production: the issuer's JWKS,
//! fetched once per execution environment and fetched again when a token
//! names a key the set lacks (the issuer rotated its keys), at most once per
//! [`REFETCH_PAUSE`] so that made-up key ids cannot make us hammer it.
//! Locally: the devstack's dev key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

/// The shortest time between two fetches of the key set.
pub const REFETCH_PAUSE: Duration = Duration::from_secs(10);
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the token names no key (`kid`)")]
    NoKeyId,
    #[error("no key `{0}` in the issuer's key set")]
    UnknownKey(String),
    #[error("fetching the issuer's key set: {0}")]
    Fetch(#[from] reqwest::Error),
}

/// The issuer's signing keys, by key id.
pub struct Jwks {
    url: String,
    http: reqwest::Client,
    refetch_pause: Duration,
    state: Mutex<Fetched>,
}

#[derive(Default)]
struct Fetched {
    keys: HashMap<String, DecodingKey>,
    last_attempt: Option<Instant>,
}

impl Jwks {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            http: reqwest::Client::new(),
            refetch_pause: REFETCH_PAUSE,
            state: Mutex::new(Fetched::default()),
        }
    }

    pub fn with_refetch_pause(self, refetch_pause: Duration) -> Self {
        Self { refetch_pause, ..self }
    }

    /// The key `kid` names.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, KeyError> {
        let mut fetched = self.state.lock().await;
        if let Some(key) = fetched.keys.get(kid) {
            return Ok(key.clone());
        }
        if fetched.last_attempt.is_some_and(|at| at.elapsed() < self.refetch_pause) {
            return Err(KeyError::UnknownKey(kid.to_owned()));
        }
        fetched.last_attempt = Some(Instant::now());
        fetched.keys = self.fetch().await?;
        fetched.keys.get(kid).cloned().ok_or_else(|| KeyError::UnknownKey(kid.to_owned()))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, KeyError> {
        let set: JwkSet =
            self.http.get(&self.url).timeout(FETCH_TIMEOUT).send().await?.error_for_status()?.json().await?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
            .filter(|jwk| jwk.common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature))
            .filter(|jwk| jwk.common.key_algorithm.is_none_or(|a| a == KeyAlgorithm::RS256))
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect();
        tracing::info!(url = %self.url, keys = keys.len(), "fetched the issuer's key set");
        Ok(keys)
    }
}

/// How tokens are signed, and the keys to check them with.
pub enum Keys {
    /// The issuer's RS256 keys.
    Issuer(Jwks),
    /// The devstack's HS256 dev key (set only by the devstack).
    Dev(DecodingKey),
}

impl Keys {
    /// The one algorithm a token may use: a token whose header names
    /// another is refused, whatever its signature.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Issuer(_) => Algorithm::RS256,
            Self::Dev(_) => Algorithm::HS256,
        }
    }

    pub async fn for_token(&self, kid: Option<&str>) -> Result<DecodingKey, KeyError> {
        match self {
            Self::Issuer(jwks) => jwks.key(kid.ok_or(KeyError::NoKeyId)?).await,
            Self::Dev(key) => Ok(key.clone()),
        }
    }
}
