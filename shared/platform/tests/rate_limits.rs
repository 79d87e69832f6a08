//! The rate limiter against a real redis-server: exact decisions on a
//! controlled clock, concurrency, tiers, costs, blocks, NOSCRIPT, and the
//! in-process fallback through an outage and a slow Redis.

use std::net::IpAddr;
use std::time::Duration;

use tessera_core::Tier;
use tessera_core::UserId;
use tessera_core::ratelimit::{Subject, Target};
use tessera_platform::config::Vars;
use tessera_platform::ratelimit::{Clock, Decision, RateLimitConfig, RateLimiter, Requester, Source};
use tessera_platform::redis::{Redis, RedisConfig};
use tessera_testkit::{LocalServices, RedisServer};

const POLICIES: &str = r#"
tiers: {free: 1, pro: 5, enterprise: 20}
abuse: {factor: 3, block: 10m}
exempt: ["GET /health"]
rules:
  - {name: api, match: {routes: ["ANY /api/{proxy+}"]}, scope: user, limit: 10, window: 10s,
     costs: {"POST /api/heavy": 4}}
  - {name: api-ip, match: {routes: ["ANY /api/{proxy+}"]}, scope: ip, limit: 15, window: 10s}
  - {name: sliding, match: {routes: ["GET /algo/sliding"]}, scope: user, limit: 4, window: 2s}
  - {name: gcra, match: {routes: ["GET /algo/gcra"]}, scope: user, limit: 4, window: 2s, algorithm: gcra}
  - {name: fixed, match: {routes: ["GET /algo/fixed"]}, scope: user, limit: 4, window: 2s, algorithm: fixed-window}
  - {name: burst, match: {routes: ["GET /burst"]}, scope: user, limit: 60, window: 1m}
  - {name: everyone, match: {routes: ["GET /global"]}, scope: global, limit: 20, window: 1m}
"#;

/// A whole second plus change: window boundaries fall on round numbers.
const START: u64 = 1_800_000_000_000;

struct Harness {
    limiter: RateLimiter,
    clock: Clock,
}

impl Harness {
    fn on(redis_url: &str, settings: &[(&str, &str)]) -> Self {
        let path = std::env::temp_dir().join(format!("rate-limit-test-{}.yaml", ulid::Ulid::new()));
        std::fs::write(&path, POLICIES).unwrap();
        let mut vars = vec![
            ("RATE_LIMIT_POLICY_FILE".to_owned(), path.display().to_string()),
            ("RATE_LIMIT_KEY_PREFIX".to_owned(), format!("test-{}", ulid::Ulid::new())),
        ];
        vars.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = RateLimitConfig::from_vars(&Vars::from_map(vars)).unwrap();
        let redis = Redis::new(&RedisConfig { url: redis_url.into(), cluster: false, timeout: Duration::from_secs(1) })
            .unwrap();
        let clock = Clock::manual(START);
        Self { limiter: RateLimiter::with_clock(&config, redis, false, clock.clone()), clock }
    }

    fn shared() -> Self {
        Self::on(&LocalServices::shared().redis_url, &[])
    }

    async fn check(&self, who: &Requester, method: &str, path: &str) -> Decision {
        self.limiter.check(Target::Http { method, path }, who).await
    }

    /// How many of `n` requests, one after another, are allowed.
    async fn allowed_of(&self, n: usize, who: &Requester, method: &str, path: &str) -> usize {
        let mut allowed = 0;
        for _ in 0..n {
            allowed += usize::from(self.check(who, method, path).await.allowed);
        }
        allowed
    }

    fn at(&self, offset_ms: u64) {
        self.clock.set(START + offset_ms);
    }
}

fn user(name: &str, tier: Tier) -> Requester {
    Requester {
        user: Some(UserId::parse(name).unwrap()),
        tier,
        ip: Some(IpAddr::from([203, 0, 113, 9])),
        connection: None,
    }
}

fn free(name: &str) -> Requester {
    user(name, Tier::Free)
}

#[tokio::test]
async fn each_algorithm_admits_again_exactly_when_it_said_it_would() {
    for route in ["/algo/sliding", "/algo/gcra", "/algo/fixed"] {
        let harness = Harness::shared();
        let alice = free("alice");
        harness.at(1_500);
        assert_eq!(harness.allowed_of(6, &alice, "GET", route).await, 4, "{route}: the burst is the limit");
        let denied = harness.check(&alice, "GET", route).await;
        assert_eq!(denied.source, Source::Redis);
        let wait = denied.retry_after_ms().unwrap();
        harness.at(1_500 + wait - 1);
        assert!(!harness.check(&alice, "GET", route).await.allowed, "{route}: admitted 1 ms before {wait} ms");
        harness.at(1_500 + wait);
        assert!(harness.check(&alice, "GET", route).await.allowed, "{route}: not admitted after {wait} ms");
    }
}

#[tokio::test]
async fn a_fixed_window_refills_at_its_boundary_to_the_millisecond() {
    let harness = Harness::shared();
    let alice = free("alice");
    harness.at(2_000 + 5);
    assert_eq!(harness.allowed_of(5, &alice, "GET", "/algo/fixed").await, 4);
    harness.at(4_000 - 1);
    assert!(!harness.check(&alice, "GET", "/algo/fixed").await.allowed, "the last millisecond of the window");
    harness.at(4_000);
    assert_eq!(harness.allowed_of(5, &alice, "GET", "/algo/fixed").await, 4, "the first of the next");
}

#[tokio::test]
async fn the_sliding_window_weighs_the_previous_window_by_its_overlap() {
    let harness = Harness::shared();
    let alice = free("alice");
    harness.at(0);
    assert_eq!(harness.allowed_of(4, &alice, "GET", "/algo/sliding").await, 4);
    // Half way into the next window, half of the previous one's 4 still counts.
    harness.at(2_000 + 1_000);
    assert_eq!(harness.allowed_of(4, &alice, "GET", "/algo/sliding").await, 2);
}

#[tokio::test]
async fn fifty_concurrent_clients_never_get_more_than_the_limit() {
    let harness = Harness::shared();
    let alice = free("alice");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let limiter = harness.limiter.clone();
            let alice = alice.clone();
            tokio::spawn(async move {
                let mut allowed = 0;
                for _ in 0..4 {
                    let target = Target::Http { method: "GET", path: "/burst" };
                    allowed += usize::from(limiter.check(target, &alice).await.allowed);
                }
                allowed
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += task.await.unwrap();
    }
    assert_eq!(allowed, 60, "200 requests from 50 clients against a limit of 60");
}

#[tokio::test]
async fn tiers_multiply_a_users_limit() {
    let harness = Harness::shared();
    assert_eq!(harness.allowed_of(70, &free("fran"), "GET", "/burst").await, 60);
    assert_eq!(harness.allowed_of(310, &user("petra", Tier::Pro), "GET", "/burst").await, 300);
    assert_eq!(harness.allowed_of(1_210, &user("erin", Tier::Enterprise), "GET", "/burst").await, 1_200);
}

#[tokio::test]
async fn a_costly_route_takes_its_cost_from_the_quota() {
    let harness = Harness::shared();
    let alice = free("alice");
    assert_eq!(harness.allowed_of(3, &alice, "POST", "/api/heavy").await, 2, "4 + 4 of 10, then 4 does not fit");
    let cheap = harness.check(&alice, "GET", "/api/light").await;
    assert!(cheap.allowed, "2 left for a request of cost 1");
    assert_eq!(cheap.rules[0].usage.remaining, 1);
}

#[tokio::test]
async fn a_denied_request_costs_the_rules_that_allowed_it_nothing() {
    let harness = Harness::shared();
    // Ten users on one IP use up the IP's 15 between them.
    let users: Vec<Requester> = (0..10).map(|i| free(&format!("user-{i}"))).collect();
    for user in &users {
        harness.allowed_of(1, user, "GET", "/api/thing").await;
    }
    assert_eq!(harness.allowed_of(10, &users[0], "GET", "/api/thing").await, 5, "the IP's rule denies from the 16th");
    // user-0's own rule allowed every one of those, but was charged only for the 6 the IP allowed.
    let usage = harness.limiter.usage(&users[0]).await.unwrap();
    let api = usage.iter().find(|status| status.rule == "api").unwrap();
    assert_eq!(api.remaining, 10 - 6);
}

#[tokio::test]
async fn an_admin_block_stops_every_request_until_it_is_lifted() {
    let harness = Harness::shared();
    let mallory = free("mallory");
    let subject = Subject::User(UserId::parse("mallory").unwrap());
    harness.limiter.block(&subject, 600, "spam").await.unwrap();
    let denied = harness.check(&mallory, "GET", "/api/thing").await;
    assert!(!denied.allowed);
    let left = denied.blocked_ms.unwrap();
    assert!((590_000..=600_000).contains(&left), "{left} ms left of a 600 s block");
    let listed = harness.limiter.blocks().await.unwrap();
    assert!(listed.iter().any(|b| b.scope == "user" && b.key == "mallory" && b.reason == "spam"), "{listed:?}");
    assert!(harness.limiter.unblock(&subject).await.unwrap());
    assert!(harness.check(&mallory, "GET", "/api/thing").await.allowed);
    assert!(harness.limiter.blocks().await.unwrap().iter().all(|b| b.key != "mallory"));
    assert!(!harness.limiter.unblock(&subject).await.unwrap(), "nothing left to lift");
}

#[tokio::test]
async fn an_abuser_is_blocked_and_then_costs_redis_nothing() {
    // A server of its own: the test counts every script call it runs.
    let server = RedisServer::start().unwrap();
    let harness = Harness::on(&server.url(), &[]);
    let mallory = free("mallory");
    // 3 × the limit of 10 within the window: the 31st attempt blocks.
    let decisions: Vec<Decision> = {
        let mut all = Vec::new();
        for _ in 0..31 {
            all.push(harness.check(&mallory, "GET", "/api/thing").await);
        }
        all
    };
    assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 10);
    let listed = harness.limiter.blocks().await.unwrap();
    assert!(listed.iter().any(|b| b.key == "mallory" && b.reason == "abuse"), "{listed:?}");
    let before = evalsha_calls(&server.url()).await;
    for _ in 0..20 {
        let decision = harness.check(&mallory, "GET", "/api/other").await;
        assert_eq!((decision.allowed, decision.source), (false, Source::BlockCache));
        assert_eq!(decision.retry_after_ms(), Some(600_000), "the clock stands still");
    }
    assert_eq!(evalsha_calls(&server.url()).await, before, "no script call while blocked");
}

#[tokio::test]
async fn the_script_is_loaded_again_after_script_flush() {
    let mut server = RedisServer::start().unwrap();
    let harness = Harness::on(&server.url(), &[]);
    let alice = free("alice");
    assert_eq!(harness.check(&alice, "GET", "/api/thing").await.source, Source::Redis);
    let mut connection = raw(&server.url()).await;
    let () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut connection).await.unwrap();
    let decision = harness.check(&alice, "GET", "/api/thing").await;
    assert_eq!((decision.allowed, decision.source), (true, Source::Redis));
    assert_eq!(decision.rules[0].usage.remaining, 8, "the counts survived the flush");
    server.stop();
}

#[tokio::test]
async fn requests_are_decided_in_process_through_an_outage_and_redis_takes_over_again() {
    let mut server = RedisServer::start().unwrap();
    let harness = Harness::on(&server.url(), &[("RATE_LIMIT_PROBE_MS", "100")]);
    let alice = free("alice");
    assert_eq!(harness.allowed_of(3, &alice, "GET", "/algo/fixed").await, 3);
    server.stop();
    // Every request is still answered, under the same limits, by this instance.
    let during: Vec<Decision> = {
        let mut all = Vec::new();
        for _ in 0..6 {
            all.push(harness.check(&alice, "GET", "/algo/fixed").await);
        }
        all
    };
    assert!(during.iter().all(|d| d.source == Source::InProcess), "{during:?}");
    assert_eq!(during.iter().filter(|d| d.allowed).count(), 4, "in process counts from zero: its own 4");
    assert!(harness.limiter.is_degraded());
    server.restart().unwrap();
    // Past the probe interval, one request asks Redis, which decides again
    // (once the client has reconnected).
    let mut source = Source::InProcess;
    for step in 1..=50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        harness.at(step * 60);
        source = harness.check(&alice, "GET", "/burst").await.source;
        if source == Source::Redis {
            break;
        }
    }
    assert_eq!(source, Source::Redis);
    assert!(!harness.limiter.is_degraded());
}

#[tokio::test]
async fn a_redis_slower_than_the_budget_is_bypassed() {
    let mut server = RedisServer::start().unwrap();
    let harness = Harness::on(&server.url(), &[("RATE_LIMIT_REDIS_BUDGET_MS", "50")]);
    let alice = free("alice");
    assert_eq!(harness.check(&alice, "GET", "/api/thing").await.source, Source::Redis);
    // A script that spins for 500 ms stalls the server for everyone, as an
    // overloaded Redis would.
    let url = server.url();
    let stall = tokio::spawn(async move {
        let mut connection = raw(&url).await;
        let spin = "local s = redis.call('TIME') repeat local n = redis.call('TIME') \
                    until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 500000 return 1";
        let _: redis::RedisResult<i64> = redis::cmd("EVAL").arg(spin).arg(0).query_async(&mut connection).await;
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let decision = harness.check(&alice, "GET", "/api/thing").await;
    assert_eq!((decision.allowed, decision.source), (true, Source::InProcess));
    stall.await.unwrap();
    server.stop();
}

#[tokio::test]
async fn a_global_limit_in_process_is_this_instances_share() {
    let harness = Harness::on("redis://127.0.0.1:1", &[("RATE_LIMIT_GLOBAL_SHARE", "0.25")]);
    let allowed = harness.allowed_of(10, &free("alice"), "GET", "/global").await;
    assert_eq!(allowed, 5, "a quarter of 20");
}

#[tokio::test]
async fn an_exempt_route_is_never_counted() {
    let harness = Harness::shared();
    let decision = harness.check(&free("alice"), "GET", "/health").await;
    assert_eq!((decision.allowed, decision.source, decision.rules.len()), (true, Source::Exempt, 0));
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

/// How many EVALSHA calls the server has run.
async fn evalsha_calls(url: &str) -> u64 {
    let mut connection = raw(url).await;
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut connection).await.unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}
