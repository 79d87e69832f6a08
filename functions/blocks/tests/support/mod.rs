//! The blocks router on a provisioned stack, driven with requests shaped as
//! API Gateway sends them.

#![allow(dead_code, reason = "each test binary uses its own part of this")]

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_blocks::{AppState, Config, router};
use tessera_platform::aws::Aws;
use tessera_platform::config::Vars;
use tessera_testkit::rate_limits::roomy_policy_file;
use tessera_testkit::{GatewayRequest, LocalServices, Stack, provision_stack};
use tower::ServiceExt;

pub struct App {
    pub router: Router,
    pub state: AppState,
    pub config: Config,
}

pub struct Answer {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub body: Value,
}

impl App {
    /// On a stack of its own and the shared local services.
    pub async fn spawn() -> Self {
        Self::on(&provision_stack().await, &[]).await
    }

    /// On `stack`, with the function's environment from the template and
    /// then `overrides`. Rate limits are the roomy ones: these tests are
    /// about content, and drive one user far past the real limits.
    pub async fn on(stack: &Stack, overrides: &[(&str, &str)]) -> Self {
        let mut env = stack.function_environment("BlocksFunction").unwrap();
        env.push(("RATE_LIMIT_POLICY_FILE".into(), roomy_policy_file().display().to_string()));
        env.extend(overrides.iter().map(|(name, value)| (name.to_string(), value.to_string())));
        let config = Config::from_vars(&Vars::from_map(env)).unwrap();
        let state = AppState::new(Aws::with_config(LocalServices::shared().sdk_config()), &config).unwrap();
        Self { router: router(state.clone(), &config), state, config }
    }

    pub async fn send(&self, request: GatewayRequest) -> Answer {
        let response = self.router.clone().oneshot(request.into_request()).await.unwrap();
        let status = response.status();
        let etag = response.headers().get("etag").map(|e| e.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer { status, etag, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    pub async fn as_user(&self, user: &str, method: &'static str, path: &str, body: Option<Value>) -> Answer {
        let mut request = GatewayRequest::new(method, path).as_user(user, "pro", &[]);
        if let Some(body) = body {
            request = request.json_body(&body);
        }
        self.send(request).await
    }

    /// `as_user`'s status and body.
    pub async fn call(&self, user: &str, method: &'static str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let answer = self.as_user(user, method, path, body).await;
        (answer.status, answer.body)
    }

    /// A project owned by `owner` with one slide and one text block: their ids.
    pub async fn project_with_block(&self, owner: &str) -> (String, String, String) {
        let project = self.as_user(owner, "POST", "/projects", Some(json!({"title": "Deck"}))).await;
        assert_eq!(project.status, StatusCode::CREATED, "{}", project.body);
        let project = project.body["id"].as_str().unwrap().to_owned();
        let slide =
            self.as_user(owner, "POST", &format!("/projects/{project}/slides"), Some(json!({"title": "One"}))).await;
        let slide = slide.body["id"].as_str().unwrap().to_owned();
        let block = self
            .as_user(
                owner,
                "POST",
                &format!("/projects/{project}/slides/{slide}/blocks"),
                Some(json!({"type": "text", "content": "hello", "props": {"color": "black"}})),
            )
            .await;
        assert_eq!(block.status, StatusCode::CREATED, "{}", block.body);
        (project, slide, block.body["id"].as_str().unwrap().to_owned())
    }

    pub async fn add_member(&self, owner: &str, project: &str, user: &str, role: &str) -> Answer {
        self.as_user(owner, "PUT", &format!("/projects/{project}/members/{user}"), Some(json!({"role": role}))).await
    }
}
