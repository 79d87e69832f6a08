use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use tessera_notifications::ws::{SocketEvent, WsApp, WsConfig, handle};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::{StartError, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = WsConfig::from_vars(&Vars::from_env())?;
    let app = WsApp::new(Aws::from_env(), &config)?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SocketEvent>| async move {
        Ok::<_, Infallible>(handle(app, event.payload).await)
    }))
    .await
}
