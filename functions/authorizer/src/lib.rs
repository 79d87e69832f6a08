//! The WebSocket API's `$connect` authorizer. It verifies the caller's JWT
//! with the HTTP API's rules and hands the identity to the connection as
//! authorizer context (`userId`, `tier`, `roles`), which every later message
//! on the socket carries. A missing or bad token is denied: the handshake
//! fails and no function behind the API runs.

pub mod keys;
pub mod token;
pub mod verify;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Value, json};
use tessera_core::identity::Identity;

pub use verify::{Rejected, Verifier};

/// Allows the connection as the token's identity, or denies it.
pub async fn authorize(
    verifier: &Verifier,
    request: &ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> ApiGatewayCustomAuthorizerResponse {
    let protocols = request.headers.get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
    let token = token::token_of(request.query_string_parameters.first("token"), protocols);
    let resource = request.method_arn.clone().unwrap_or_default();
    let verified = match token {
        Some(token) => verifier.verify(token).await,
        None => Err(Rejected::NoToken),
    };
    match verified {
        Ok(identity) => allow(&identity, resource),
        Err(reason) => {
            tracing::info!(%reason, "connection refused");
            deny(resource)
        }
    }
}

fn allow(identity: &Identity, resource: String) -> ApiGatewayCustomAuthorizerResponse {
    let mut answer = answer(IamPolicyEffect::Allow, resource);
    answer.principal_id = Some(identity.user_id.as_str().to_owned());
    // API Gateway passes on strings, numbers and booleans only.
    answer.context = json!({
        "userId": identity.user_id.as_str(),
        "tier": identity.tier.as_str(),
        "roles": identity.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(","),
    });
    answer
}

fn deny(resource: String) -> ApiGatewayCustomAuthorizerResponse {
    let mut answer = answer(IamPolicyEffect::Deny, resource);
    answer.principal_id = Some("anonymous".into());
    answer
}

fn answer(effect: IamPolicyEffect, resource: String) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut answer = ApiGatewayCustomAuthorizerResponse::<Value>::default();
    answer.policy_document = policy;
    answer
}
