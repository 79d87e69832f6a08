//! Verification against an issuer's key set served over HTTP, as in
//! production: the signing keys in `tests/keys` are for these tests only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_authorizer::keys::{Jwks, Keys};
use tessera_authorizer::{Rejected, Verifier};
use tessera_core::identity::{Role, Tier};

const ISSUER: &str = "https://issuer.test/";

/// A JWKS endpoint whose key set a test can change, counting its fetches.
#[derive(Clone, Default)]
struct Issuer {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    async fn serve(&self) -> String {
        let issuer = self.clone();
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || async move {
                issuer.fetches.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({ "keys": *issuer.keys.lock().unwrap() }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn publish(&self, key: &str) {
        self.keys.lock().unwrap().push(public_key(key));
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn public_key(name: &str) -> Value {
    let path = format!("{}/tests/keys/{name}.jwk.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims() -> Value {
    json!({"sub": "alice", "tier": "pro", "roles": ["admin"], "iss": ISSUER, "aud": "tessera", "exp": now() + 600})
}

fn signed(key: &str, claims: &Value) -> String {
    let pem = std::fs::read(format!("{}/tests/keys/{key}.pem", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(format!("key-{key}"));
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

async fn verifier(issuer: &Issuer, refetch_pause: Duration) -> Verifier {
    let jwks = Jwks::new(issuer.serve().await).with_refetch_pause(refetch_pause);
    Verifier::new(ISSUER, vec!["tessera".into()], Keys::Issuer(jwks))
}

/// An issuer publishing key `a`, and a verifier that never refetches.
async fn issuer_of_a() -> (Issuer, Verifier) {
    let issuer = Issuer::default();
    issuer.publish("a");
    let verifier = verifier(&issuer, Duration::from_secs(3600)).await;
    (issuer, verifier)
}

#[tokio::test]
async fn a_token_signed_by_the_issuer_gives_its_identity_and_the_key_set_is_fetched_once() {
    let (issuer, verifier) = issuer_of_a().await;

    let first = verifier.verify(&signed("a", &claims())).await.unwrap();
    let second =
        verifier.verify(&signed("a", &json!({"sub": "bob", "iss": ISSUER, "aud": "tessera", "exp": now() + 60}))).await;

    assert_eq!((first.user_id.as_str(), first.tier, first.roles), ("alice", Tier::Pro, vec![Role::Admin]));
    assert_eq!(second.unwrap().tier, Tier::Free);
    assert_eq!(issuer.fetches(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_first_sight_and_made_up_kids_do_not_hammer_the_issuer() {
    let issuer = Issuer::default();
    issuer.publish("a");
    let patient = verifier(&issuer, Duration::from_secs(3600)).await;
    let eager = verifier(&issuer, Duration::ZERO).await;
    patient.verify(&signed("a", &claims())).await.unwrap();
    eager.verify(&signed("a", &claims())).await.unwrap();
    assert_eq!(issuer.fetches(), 2);

    issuer.publish("b");
    // Within its pause, an unknown kid is refused without a fetch...
    let refused = patient.verify(&signed("b", &claims())).await;
    assert!(matches!(refused, Err(Rejected::Key(_))), "{refused:?}");
    assert_eq!(issuer.fetches(), 2);
    // ...after it, the rotated key is fetched and accepted.
    eager.verify(&signed("b", &claims())).await.unwrap();
    assert_eq!(issuer.fetches(), 3);
}

#[tokio::test]
async fn expired_early_foreign_and_misaddressed_tokens_are_refused() {
    let (_issuer, verifier) = issuer_of_a().await;
    let with = |name: &str, value: Value| {
        let mut claims = claims();
        claims[name] = value;
        signed("a", &claims)
    };

    for (case, token) in [
        ("expired", with("exp", json!(now() - 120))),
        ("not yet valid", with("nbf", json!(now() + 120))),
        ("another issuer", with("iss", json!("https://elsewhere.test/"))),
        ("another audience", with("aud", json!("someone-else"))),
        ("no subject", with("sub", json!(""))),
        ("an unknown tier", with("tier", json!("gold"))),
    ] {
        assert!(verifier.verify(&token).await.is_err(), "{case} was accepted");
    }
}

#[tokio::test]
async fn only_the_pinned_algorithm_is_accepted() {
    let (_issuer, verifier) = issuer_of_a().await;
    // Signed with the public key's text as an HMAC secret: the classic
    // algorithm confusion.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("key-a".into());
    let secret = serde_json::to_vec(&public_key("a")).unwrap();
    let confused = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&secret)).unwrap();
    // {"alg":"none","kid":"key-a"} and no signature.
    let payload = signed("a", &claims()).split('.').nth(1).unwrap().to_owned();
    let unsigned = format!("eyJhbGciOiJub25lIiwia2lkIjoia2V5LWEifQ.{payload}.");

    assert!(matches!(verifier.verify(&confused).await, Err(Rejected::Invalid(_))));
    assert!(verifier.verify(&unsigned).await.is_err());
    assert!(verifier.verify("not a token").await.is_err());
}
