//! Every operation of the contract, called as an owner, an editor, a
//! viewer, a stranger and an admin, against the real routers on a
//! provisioned stack. The table must name exactly the operations the code
//! declares: a route cannot be added without deciding who may call it.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_notifications::inbox::{InboxConfig, InboxStore, Notification};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_testkit::rate_limits::roomy_policy_file;
use tessera_testkit::{GatewayRequest, LocalServices, Stack, provision_stack};
use tower::ServiceExt;

const ROLES: [&str; 5] = ["owner", "editor", "viewer", "stranger", "admin"];

/// Statuses for owner, editor, viewer, stranger, admin.
struct Row {
    method: &'static str,
    path: &'static str,
    expect: [u16; 5],
    body: Option<fn() -> Value>,
}

const fn row(method: &'static str, path: &'static str, expect: [u16; 5]) -> Row {
    Row { method, path, expect, body: None }
}

const fn with_body(method: &'static str, path: &'static str, expect: [u16; 5], body: fn() -> Value) -> Row {
    Row { method, path, expect, body: Some(body) }
}

/// Members see; owners and editors write; owners manage; a stranger (and an
/// admin, who is no member) is told nothing exists.
const MATRIX: &[Row] = &[
    row("GET", "/health", [200, 200, 200, 200, 200]),
    row("GET", "/health/ready", [200, 200, 200, 200, 200]),
    row("GET", "/health/detailed", [403, 403, 403, 403, 200]),
    row("GET", "/openapi.json", [200, 200, 200, 200, 200]),
    row("GET", "/rate-limits", [200, 200, 200, 200, 200]),
    row("GET", "/admin/rate-limits/policies", [403, 403, 403, 403, 200]),
    row("GET", "/admin/rate-limits/blocks", [403, 403, 403, 403, 200]),
    with_body("PUT", "/admin/rate-limits/blocks/{scope}/{key}", [403, 403, 403, 403, 200], || json!({"seconds": 60})),
    row("DELETE", "/admin/rate-limits/blocks/{scope}/{key}", [403, 403, 403, 403, 204]),
    with_body("POST", "/projects", [201, 201, 201, 201, 201], || json!({"title": "Another"})),
    row("GET", "/projects", [200, 200, 200, 200, 200]),
    row("GET", "/projects/{projectId}", [200, 200, 200, 404, 404]),
    with_body(
        "PATCH",
        "/projects/{projectId}",
        [200, 200, 403, 404, 404],
        || json!({"version": 1, "title": "Renamed"}),
    ),
    row("DELETE", "/projects/{projectId}", [204, 403, 403, 404, 404]),
    row("GET", "/projects/{projectId}/members", [200, 200, 200, 404, 404]),
    with_body("PUT", "/projects/{projectId}/members/{userId}", [200, 403, 403, 404, 404], || json!({"role": "viewer"})),
    row("DELETE", "/projects/{projectId}/members/{userId}", [204, 403, 403, 404, 404]),
    with_body("POST", "/projects/{projectId}/slides", [201, 201, 403, 404, 404], || json!({"title": "Two"})),
    with_body(
        "PATCH",
        "/projects/{projectId}/slides/{slideId}",
        [200, 200, 403, 404, 404],
        || json!({"version": 1, "title": "Renamed"}),
    ),
    row("DELETE", "/projects/{projectId}/slides/{slideId}", [204, 204, 403, 404, 404]),
    with_body(
        "POST",
        "/projects/{projectId}/slides/{slideId}/blocks",
        [201, 201, 403, 404, 404],
        || json!({"type": "text", "content": "Hi"}),
    ),
    row("GET", "/projects/{projectId}/slides/{slideId}/blocks", [200, 200, 200, 404, 404]),
    with_body(
        "POST",
        "/projects/{projectId}/blocks/batch-get",
        [200, 200, 200, 404, 404],
        || json!({"ids": ["01JQ0000000000000000000000"]}),
    ),
    row("GET", "/projects/{projectId}/blocks/{blockId}", [200, 200, 200, 404, 404]),
    with_body(
        "PATCH",
        "/projects/{projectId}/blocks/{blockId}",
        [200, 200, 403, 404, 404],
        || json!({"baseVersion": 1, "set": {"content": "Edited"}}),
    ),
    row("DELETE", "/projects/{projectId}/blocks/{blockId}", [204, 204, 403, 404, 404]),
    // Everyone has an inbox of their own; the fixture's notification is the owner's.
    row("GET", "/notifications", [200, 200, 200, 200, 200]),
    row("GET", "/notifications/unread-count", [200, 200, 200, 200, 200]),
    row("POST", "/notifications/read-all", [200, 200, 200, 200, 200]),
    row("POST", "/notifications/{notificationId}/read", [200, 404, 404, 404, 404]),
];

struct Routers {
    health: Router,
    blocks: Router,
    ratelimit: Router,
    inbox: Router,
    inbox_store: InboxStore,
}

impl Routers {
    fn on(stack: &Stack) -> Self {
        let env = |logical_id: &str| {
            let mut env = stack.function_environment(logical_id).unwrap();
            env.push(("RATE_LIMIT_POLICY_FILE".into(), roomy_policy_file().display().to_string()));
            Vars::from_map(env)
        };
        let aws = Aws::with_config(LocalServices::shared().sdk_config());
        let health = tessera_health::Config::from_vars(&env("HealthFunction")).unwrap();
        let blocks = tessera_blocks::Config::from_vars(&env("BlocksFunction")).unwrap();
        let ratelimit = tessera_ratelimit::Config::from_vars(&env("RateLimitFunction")).unwrap();
        let inbox = InboxConfig::from_vars(&env("NotificationsApiFunction")).unwrap();
        Self {
            inbox: tessera_notifications::inbox::router(aws.clone(), &inbox).unwrap(),
            inbox_store: InboxStore::new(aws.clone(), &inbox.inbox_table),
            health: tessera_health::router(tessera_health::HealthState::new(&health, &aws).unwrap()),
            blocks: tessera_blocks::router(tessera_blocks::AppState::new(aws.clone(), &blocks).unwrap(), &blocks),
            ratelimit: tessera_ratelimit::router(&ratelimit).unwrap(),
        }
    }

    async fn call(&self, role: &str, method: &'static str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let router = if path.starts_with("/health") || path == "/openapi.json" {
            &self.health
        } else if path.starts_with("/rate-limits") || path.starts_with("/admin") {
            &self.ratelimit
        } else if path.starts_with("/notifications") {
            &self.inbox
        } else {
            &self.blocks
        };
        let roles: &[&str] = if role == "admin" { &["admin"] } else { &[] };
        let mut request = GatewayRequest::new(method, path).as_user(role, "free", roles);
        if let Some(body) = body {
            request = request.json_body(&body);
        }
        let response = router.clone().oneshot(request.into_request()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

/// A project owned by `owner` with an editor, a viewer, a slide and a
/// block; and a notification in the owner's inbox.
struct Fixture {
    project: String,
    slide: String,
    block: String,
    notification: String,
}

impl Fixture {
    async fn new(routers: &Routers) -> Self {
        let (_, project) = routers.call("owner", "POST", "/projects", Some(json!({"title": "Deck"}))).await;
        let project = project["id"].as_str().unwrap().to_owned();
        for (user, role) in [("editor", "editor"), ("viewer", "viewer")] {
            let path = format!("/projects/{project}/members/{user}");
            let (status, _) = routers.call("owner", "PUT", &path, Some(json!({"role": role}))).await;
            assert_eq!(status, StatusCode::OK);
        }
        let (_, slide) =
            routers.call("owner", "POST", &format!("/projects/{project}/slides"), Some(json!({"title": "One"}))).await;
        let slide = slide["id"].as_str().unwrap().to_owned();
        let path = format!("/projects/{project}/slides/{slide}/blocks");
        let (_, block) = routers.call("owner", "POST", &path, Some(json!({"type": "text", "content": "Hello"}))).await;
        let block = block["id"].as_str().unwrap().to_owned();
        let event = json!({"type": "member.added", "projectId": project, "userId": "owner", "role": "owner"});
        let owner = tessera_core::UserId::parse("owner").unwrap();
        let notification = Notification::new(owner, event, &project, time::OffsetDateTime::now_utc());
        routers.inbox_store.deliver(&notification, Duration::from_secs(3600)).await.unwrap();
        Self { project, slide, block, notification: notification.id.to_string() }
    }

    fn path(&self, template: &str) -> String {
        template
            .replace("{projectId}", &self.project)
            .replace("{slideId}", &self.slide)
            .replace("{blockId}", &self.block)
            .replace("{userId}", "viewer")
            .replace("{notificationId}", &self.notification)
            .replace("{scope}/{key}", "user/someone")
    }
}

#[tokio::test]
async fn the_matrix_names_every_operation_of_the_contract_and_no_other() {
    let document = tessera_openapi::document();
    let declared: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase())))
        .collect();
    let tabled: BTreeSet<String> = MATRIX.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(tabled.len(), MATRIX.len(), "an operation is in the matrix twice");
    let missing: Vec<&String> = declared.difference(&tabled).collect();
    let extra: Vec<&String> = tabled.difference(&declared).collect();
    assert!(missing.is_empty(), "decide who may call these: {missing:?}");
    assert!(extra.is_empty(), "no such operations: {extra:?}");
}

#[tokio::test]
async fn every_operation_answers_each_role_as_the_matrix_says() {
    let stack = provision_stack().await;
    let routers = Routers::on(&stack);
    let shared = Fixture::new(&routers).await;
    let mut wrong = Vec::new();
    for row in MATRIX {
        for (role, expected) in ROLES.iter().zip(row.expect) {
            // A fresh project for every call that may change one.
            let fresh = if row.method == "GET" { None } else { Some(Fixture::new(&routers).await) };
            let fixture = fresh.as_ref().unwrap_or(&shared);
            if row.method == "DELETE" && row.path.starts_with("/admin") {
                routers.call("admin", "PUT", &fixture.path(row.path), Some(json!({"seconds": 60}))).await;
            }
            let (status, body) = routers.call(role, row.method, &fixture.path(row.path), row.body.map(|b| b())).await;
            if status.as_u16() != expected {
                wrong.push(format!("{} {} as {role}: {status} (expected {expected}) {body}", row.method, row.path));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
