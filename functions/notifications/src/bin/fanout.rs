use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tessera_notifications::fanout::{Fanout, FanoutConfig};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::{StartError, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let fanout = Fanout::new(Aws::from_env(), FanoutConfig::from_vars(&Vars::from_env())?);
    let fanout = &fanout;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Infallible>(fanout.handle(event.payload).await)
    }))
    .await
}
