//! The Redis client against a real redis-server: lazy, and reconnecting on
//! its own after an outage.

use std::time::Duration;

use redis::RedisResult;
use tessera_platform::redis::{Redis, RedisConfig};
use tessera_testkit::RedisServer;

fn client(url: &str) -> Redis {
    Redis::new(&RedisConfig { url: url.to_owned(), cluster: false, timeout: Duration::from_millis(500) }).unwrap()
}

async fn ping(redis: &Redis) -> RedisResult<String> {
    let mut connection = redis.connection().await?;
    redis::cmd("PING").query_async(&mut connection).await
}

#[tokio::test]
async fn creating_a_client_connects_to_nothing() {
    let unreachable = client("redis://127.0.0.1:1");
    assert!(ping(&unreachable).await.is_err(), "the first command is what connects");
}

#[tokio::test]
async fn a_malformed_url_is_refused_at_creation() {
    let config = RedisConfig { url: "http://not-redis".into(), cluster: false, timeout: Duration::from_millis(500) };
    assert!(Redis::new(&config).is_err());
}

#[tokio::test]
async fn the_client_reconnects_on_its_own_after_redis_comes_back() {
    let mut server = RedisServer::start().unwrap();
    let redis = client(&server.url());
    assert_eq!(ping(&redis).await.unwrap(), "PONG");

    server.stop();
    assert!(ping(&redis).await.is_err(), "commands fail while Redis is down");

    server.restart().unwrap();
    // The connection notices the outage on a failed command and reconnects in
    // the background; a bounded number of attempts, not a deadline.
    let mut answer = ping(&redis).await;
    for _ in 0..50 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = ping(&redis).await;
    }
    assert_eq!(answer.unwrap(), "PONG", "the same client works again without being rebuilt");
}
