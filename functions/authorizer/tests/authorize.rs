//! The authorizer's answer to `$connect` requests shaped as API Gateway
//! sends them, verifying with a dev key as under the devstack.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_authorizer::keys::Keys;
use tessera_authorizer::{Verifier, authorize};

const SECRET: &[u8] = b"a test-only dev key";
const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/local/$connect";

fn verifier() -> Verifier {
    Verifier::new("https://issuer.test/", vec!["tessera".into()], Keys::Dev(DecodingKey::from_secret(SECRET)))
}

fn token(user: &str) -> String {
    let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 600;
    let claims = json!({"sub": user, "tier": "enterprise", "roles": ["admin"], "iss": "https://issuer.test/", "aud": "tessera", "exp": exp});
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn connect(query: Value, headers: Value) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": ARN,
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1", "apiId": "abc123", "stage": "local"},
    }))
    .unwrap()
}

async fn answer(request: ApiGatewayCustomAuthorizerRequestTypeRequest) -> Value {
    serde_json::to_value(authorize(&verifier(), &request).await).unwrap()
}

#[tokio::test]
async fn a_valid_token_allows_the_connection_with_the_identity_as_context() {
    let answer = answer(connect(json!({"token": token("alice")}), json!({}))).await;

    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Resource"], json!([ARN]));
    assert_eq!(answer["principalId"], "alice");
    assert_eq!(answer["context"], json!({"userId": "alice", "tier": "enterprise", "roles": "admin"}));
}

#[tokio::test]
async fn a_browser_may_send_the_token_as_a_subprotocol() {
    let protocols = format!("tessera.v1, bearer.{}", token("bob"));
    let answer = answer(connect(json!({}), json!({"Sec-WebSocket-Protocol": protocols}))).await;

    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(answer["context"]["userId"], "bob");
}

#[tokio::test]
async fn no_token_or_a_bad_one_is_denied_with_no_identity() {
    for query in [json!({}), json!({"token": "garbage"}), json!({"token": format!("{}x", token("eve"))})] {
        let answer = answer(connect(query.clone(), json!({}))).await;

        assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Deny", "{query}");
        assert_eq!(answer["principalId"], "anonymous");
        assert!(answer["context"].get("userId").is_none(), "{query}");
    }
}
