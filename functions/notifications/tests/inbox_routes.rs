//! The inbox's HTTP API (`notifications-api`) through its router, in the
//! platform layers, on a provisioned stack, with requests shaped as API
//! Gateway sends them. Notifications are put in place through the store,
//! as the fan-out does.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_core::UserId;
use tessera_notifications::inbox::{InboxConfig, InboxStore, Notification, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_testkit::rate_limits::roomy_policy_file;
use tessera_testkit::{GatewayRequest, LocalServices, provision_stack};
use time::OffsetDateTime;
use tower::ServiceExt;

struct App {
    router: Router,
    store: InboxStore,
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

impl App {
    /// The function as template.yaml configures it, on a stack of its own;
    /// rate limits are the roomy ones (these tests are about the inbox).
    async fn spawn() -> Self {
        let stack = provision_stack().await;
        let mut env = stack.function_environment("NotificationsApiFunction").unwrap();
        env.push(("RATE_LIMIT_POLICY_FILE".into(), roomy_policy_file().display().to_string()));
        let config = InboxConfig::from_vars(&Vars::from_map(env)).unwrap();
        let aws = Aws::with_config(LocalServices::shared().sdk_config());
        Self { router: router(aws.clone(), &config).unwrap(), store: InboxStore::new(aws, &config.inbox_table) }
    }

    async fn send(&self, request: GatewayRequest) -> Answer {
        let response = self.router.clone().oneshot(request.into_request()).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer { status, content_type, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    async fn call(&self, user: &str, method: &'static str, path: &str) -> Answer {
        self.send(GatewayRequest::new(method, path).as_user(user, "free", &[])).await
    }

    /// `count` notifications for `user`, a second apart: their ids, oldest first.
    async fn notify(&self, user: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for n in 0..count {
            let at = OffsetDateTime::from_unix_timestamp(1_764_000_000 + n as i64).unwrap();
            let event = json!({"type": "block.conflict", "projectId": "01JF3Z8Q9W6X2K7M4N5P8R0T1V", "n": n});
            let notification = Notification::new(UserId::parse(user).unwrap(), event, &format!("{user}-{n}"), at);
            assert!(self.store.deliver(&notification, Duration::from_secs(3600)).await.unwrap());
            ids.push(notification.id.to_string());
        }
        ids
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

fn assert_problem(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(answer.body["status"], status.as_u16());
}

#[tokio::test]
async fn the_inbox_is_listed_newest_first_with_a_cursor_to_the_next_page() {
    let app = App::spawn().await;
    let delivered = app.notify("ann", 3).await;

    let first = app.call("ann", "GET", "/notifications?limit=2").await;
    let cursor = first.body["cursor"].as_str().expect("a cursor to the rest").to_owned();
    let rest = app.call("ann", "GET", &format!("/notifications?limit=2&cursor={cursor}")).await;

    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(ids(&first.body), [delivered[2].clone(), delivered[1].clone()]);
    assert_eq!((rest.status, ids(&rest.body)), (StatusCode::OK, vec![delivered[0].clone()]));
    assert!(rest.body.get("cursor").is_none(), "the last page has no cursor: {}", rest.body);
    let newest = &first.body["items"][0];
    assert_eq!(newest["userId"], "ann");
    assert_eq!(newest["type"], "block.conflict");
    assert_eq!(newest["projectId"], "01JF3Z8Q9W6X2K7M4N5P8R0T1V");
    assert_eq!(newest["event"]["n"], 2);
    assert_eq!((newest["read"].as_bool(), newest["readAt"].is_null()), (Some(false), true));
    assert!(newest["createdAt"].is_string());
}

#[tokio::test]
async fn marking_one_read_answers_it_read_and_takes_it_off_the_unread() {
    let app = App::spawn().await;
    let delivered = app.notify("ann", 2).await;

    let marked = app.call("ann", "POST", &format!("/notifications/{}/read", delivered[0])).await;
    let unread = app.call("ann", "GET", "/notifications?unread=true").await;
    let count = app.call("ann", "GET", "/notifications/unread-count").await;

    assert_eq!(marked.status, StatusCode::OK, "{}", marked.body);
    assert_eq!((marked.body["id"].as_str(), marked.body["read"].as_bool()), (Some(delivered[0].as_str()), Some(true)));
    assert!(marked.body["readAt"].is_string());
    assert_eq!(ids(&unread.body), [delivered[1].clone()]);
    assert_eq!((count.status, count.body.clone()), (StatusCode::OK, json!({"unread": 1})));
}

#[tokio::test]
async fn read_all_answers_how_many_it_marked_and_leaves_none_unread() {
    let app = App::spawn().await;
    app.notify("ann", 3).await;
    app.notify("ben", 2).await;

    let before = app.call("ann", "GET", "/notifications/unread-count").await;
    let marked = app.call("ann", "POST", "/notifications/read-all").await;
    let again = app.call("ann", "POST", "/notifications/read-all").await;
    let after = app.call("ann", "GET", "/notifications/unread-count").await;
    let bens = app.call("ben", "GET", "/notifications/unread-count").await;

    assert_eq!(before.body, json!({"unread": 3}));
    assert_eq!((marked.status, marked.body), (StatusCode::OK, json!({"marked": 3})));
    assert_eq!(again.body, json!({"marked": 0}));
    assert_eq!(after.body, json!({"unread": 0}));
    assert_eq!(bens.body, json!({"unread": 2}), "ben's inbox is his own");
}

#[tokio::test]
async fn another_users_notification_is_not_found_and_stays_unread() {
    let app = App::spawn().await;
    let anns = app.notify("ann", 1).await;
    app.notify("ben", 1).await;

    let by_ben = app.call("ben", "POST", &format!("/notifications/{}/read", anns[0])).await;
    let unknown = app.call("ann", "POST", "/notifications/01JF3Z8Q9W6X2K7M4N5P8R0T1V/read").await;
    let bens_list = app.call("ben", "GET", "/notifications").await;
    let anns_unread = app.call("ann", "GET", "/notifications/unread-count").await;

    assert_problem(&by_ben, StatusCode::NOT_FOUND);
    assert_problem(&unknown, StatusCode::NOT_FOUND);
    assert!(!ids(&bens_list.body).contains(&anns[0]));
    assert_eq!(ids(&bens_list.body).len(), 1);
    assert_eq!(anns_unread.body, json!({"unread": 1}));
}

#[tokio::test]
async fn a_malformed_id_a_bad_cursor_or_limit_is_a_400_problem() {
    let app = App::spawn().await;
    app.notify("ann", 2).await;
    let page = app.call("ann", "GET", "/notifications?limit=1").await;
    let anns_cursor = page.body["cursor"].as_str().unwrap().to_owned();

    for (user, method, path) in [
        ("ann", "POST", "/notifications/not-a-ulid/read".to_owned()),
        ("ann", "GET", "/notifications?cursor=garbage".to_owned()),
        ("ben", "GET", format!("/notifications?cursor={anns_cursor}")),
        ("ann", "GET", format!("/notifications?unread=true&cursor={anns_cursor}")),
        ("ann", "GET", "/notifications?limit=0".to_owned()),
        ("ann", "GET", "/notifications?limit=101".to_owned()),
        ("ann", "GET", "/notifications?unread=maybe".to_owned()),
        ("ann", "GET", "/notifications?colour=red".to_owned()),
    ] {
        let answer = app.call(user, method, &path).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {path} as {user}: {}", answer.body);
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn every_route_wants_a_signed_in_caller() {
    let app = App::spawn().await;
    let anns = app.notify("ann", 1).await;

    for (method, path) in [
        ("GET", "/notifications".to_owned()),
        ("GET", "/notifications/unread-count".to_owned()),
        ("POST", "/notifications/read-all".to_owned()),
        ("POST", format!("/notifications/{}/read", anns[0])),
    ] {
        let answer = app.send(GatewayRequest::new(method, &path)).await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
    }
    let still = app.call("ann", "GET", "/notifications/unread-count").await;
    assert_eq!(still.body, json!({"unread": 1}));
}
