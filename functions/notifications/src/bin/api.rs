use tessera_notifications::inbox::{InboxConfig, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::{StartError, http, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = InboxConfig::from_vars(&Vars::from_env())?;
    http::serve(router(Aws::from_env(), &config)?).await
}
