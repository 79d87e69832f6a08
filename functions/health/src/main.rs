use tessera_health::{Config, HealthState, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::{StartError, http, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = Config::from_vars(&Vars::from_env())?;
    let state = HealthState::new(&config, &Aws::from_env())?;
    http::serve(router(state)).await
}
