//! Presence and the broadcast throttle against a real redis-server.

use std::time::Duration;

use serde_json::json;
use tessera_core::UserId;
use tessera_core::content::ProjectId;
use tessera_notifications::presence::{Presence, Present};
use tessera_notifications::throttle::{Throttle, Verdict};
use tessera_platform::redis::{Redis, RedisConfig};
use tessera_testkit::LocalServices;
use ulid::Ulid;

fn redis() -> Redis {
    let url = LocalServices::shared().redis_url.clone();
    Redis::new(&RedisConfig { url, cluster: false, timeout: Duration::from_secs(2) }).unwrap()
}

fn project() -> ProjectId {
    ProjectId::parse(&Ulid::new().to_string()).unwrap()
}

fn present(connection: &str, user: &str, seen_at: u64) -> Present {
    Present {
        connection_id: connection.into(),
        user_id: UserId::parse(user).unwrap(),
        state: json!({"cursor": [1, 2]}),
        seen_at,
    }
}

#[tokio::test]
async fn moves_inside_a_window_are_coalesced_to_the_latest() {
    // One a second: the window is long enough that every later move lands in it.
    let throttle = Throttle::new(redis(), format!("t{}", Ulid::new()), 1);
    let project = project();

    let first = throttle.admit("c1", &project, "m0".into()).await.unwrap();
    let mut waiting = Vec::new();
    for n in 1..=5 {
        let (throttle, project) = (throttle.clone(), project.clone());
        waiting.push(tokio::spawn(async move { throttle.admit("c1", &project, format!("m{n}")).await.unwrap() }));
        // Offered in order: each replaces the one before it.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut later = Vec::new();
    for task in waiting {
        later.push(task.await.unwrap());
    }

    assert_eq!(first, Verdict::Send("m0".into()));
    let sent: Vec<&Verdict> = later.iter().filter(|v| **v != Verdict::Coalesced).collect();
    assert_eq!(sent, [&Verdict::Send("m5".into())], "only the latest waiting move is sent: {later:?}");
}

#[tokio::test]
async fn another_connection_has_its_own_window() {
    let throttle = Throttle::new(redis(), format!("t{}", Ulid::new()), 1);
    let project = project();

    let one = throttle.admit("c1", &project, "a".into()).await.unwrap();
    let two = throttle.admit("c2", &project, "b".into()).await.unwrap();

    assert_eq!((one, two), (Verdict::Send("a".into()), Verdict::Send("b".into())));
}

#[tokio::test]
async fn presence_tells_a_join_from_a_heartbeat_and_prunes_the_stale() {
    let presence = Presence::new(redis(), format!("p{}", Ulid::new()), Duration::from_secs(60));
    let project = project();

    let joined = presence.beat(&project, &present("c1", "ann", 1_000_000)).await.unwrap();
    let again = presence.beat(&project, &present("c1", "ann", 1_010_000)).await.unwrap();
    presence.beat(&project, &present("c2", "ben", 1_000_000)).await.unwrap();
    // Ben's last heartbeat is 70 s old at this moment; Ann's 60 s.
    let roster = presence.roster(&project, 1_070_000).await.unwrap();
    let after = presence.roster(&project, 1_070_000).await.unwrap();
    let left = presence.leave(&project, "c1").await.unwrap();
    let empty = presence.roster(&project, 1_070_000).await.unwrap();

    assert_eq!(joined, None);
    assert_eq!(again.map(|p| p.seen_at), Some(1_000_000));
    assert_eq!(roster.here.iter().map(|p| p.user_id.as_str()).collect::<Vec<_>>(), ["ann"]);
    assert_eq!(roster.stale.iter().map(|p| p.user_id.as_str()).collect::<Vec<_>>(), ["ben"]);
    assert!(after.stale.is_empty(), "the stale were pruned once");
    assert_eq!(left.map(|p| p.connection_id), Some("c1".to_owned()));
    assert!(empty.here.is_empty());
}
