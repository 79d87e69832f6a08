use tessera_platform::config::Vars;
use tessera_platform::{StartError, http, telemetry};
use tessera_ratelimit::{Config, router};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = Config::from_vars(&Vars::from_env())?;
    http::serve(router(&config)?).await
}
