use tessera_blocks::cache::TreeCache;
use tessera_blocks::events::EventQueue;
use tessera_blocks::store::ContentStore;
use tessera_blocks::{AppState, Config, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_platform::redis::Redis;
use tessera_platform::{StartError, http, telemetry};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    telemetry::init();
    let config = Config::from_vars(&Vars::from_env())?;
    let aws = Aws::from_env();
    let store = ContentStore::new(aws.clone(), &config.content_table);
    let cache = TreeCache::new(Redis::new(&config.redis)?, config.tree_cache_ttl);
    let events = EventQueue::new(aws, &config.events_queue_url);
    http::serve(router(AppState::new(store, cache, events), &config)).await
}
