use std::convert::Infallible;

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use tessera_authorizer::{Verifier, authorize};
use tessera_platform::config::Vars;
use tessera_platform::{StartError, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    // One verifier per execution environment: its key set is fetched once.
    let verifier = Verifier::from_vars(&Vars::from_env())?;
    let verifier = &verifier;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
            Ok::<_, Infallible>(authorize(verifier, &event.payload).await)
        },
    ))
    .await
}
