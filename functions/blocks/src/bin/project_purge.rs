use std::convert::Infallible;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use tessera_blocks::purge::{self, PurgeConfig};
use tessera_blocks::store::ContentStore;
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::{StartError, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = PurgeConfig::from_vars(&Vars::from_env())?;
    let store = ContentStore::new(Aws::from_env(), &config.content_table);
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Infallible>(purge::handle(store, event.payload).await)
    }))
    .await
}
