use tessera_blocks::{AppState, Config, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::{StartError, http, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = Config::from_vars(&Vars::from_env())?;
    let state = AppState::new(Aws::from_env(), &config)?;
    http::serve(router(state, &config)).await
}
