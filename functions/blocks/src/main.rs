use tessera_blocks::store::ContentStore;
use tessera_blocks::{Config, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::{StartError, http, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = Config::from_vars(&Vars::from_env())?;
    let store = ContentStore::new(Aws::from_env(), &config.content_table);
    http::serve(router(store, &config)).await
}
