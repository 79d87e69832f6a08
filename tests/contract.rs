//! The contract fuzzed against the running system. Schemathesis reads the
//! served `/openapi.json` and drives the devstack through the gateway as an
//! owner, an editor, a viewer, a stranger and an admin: every operation, its
//! examples, generated and malformed cases, and (as the owner) chains of
//! calls that follow the document's links from a new project to its slides
//! and blocks. Each response must not be a 5xx, must have a status the
//! document declares for the operation, and must match its schemas.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tessera_e2e::{RunningDevstack, roomy_product_devstack};
use tessera_testkit::workspace_root;

/// One schemathesis run: who it acts as and what it is given.
struct Run {
    user: &'static str,
    roles: &'static [&'static str],
    /// The role this user has in a project made for the run; `None`: no
    /// project is made (the owner creates its own through the links).
    member_as: Option<Membership>,
    /// The operations to run, by path; all when `None`.
    paths: Option<&'static str>,
    phases: &'static str,
}

#[derive(Clone, Copy)]
enum Membership {
    Editor,
    Viewer,
    /// Not a member: every project route must answer as if it did not exist.
    Stranger,
}

const ALL_PHASES: &str = "examples,coverage,fuzzing,stateful";

const RUNS: [Run; 5] = [
    Run { user: "st-owner", roles: &[], member_as: None, paths: None, phases: ALL_PHASES },
    Run { user: "st-editor", roles: &[], member_as: Some(Membership::Editor), paths: None, phases: ALL_PHASES },
    Run { user: "st-viewer", roles: &[], member_as: Some(Membership::Viewer), paths: None, phases: ALL_PHASES },
    Run { user: "st-stranger", roles: &[], member_as: Some(Membership::Stranger), paths: None, phases: ALL_PHASES },
    // Last, as it may block users and addresses. Its operations link
    // nowhere, so there is no stateful phase.
    Run {
        user: "st-admin",
        roles: &["admin"],
        member_as: None,
        paths: Some("^/(admin|health)/"),
        phases: "examples,coverage,fuzzing",
    },
];

#[tokio::test]
async fn schemathesis_finds_no_failure_as_any_role() {
    let devstack = roomy_product_devstack();
    let mut failed = Vec::new();
    for run in &RUNS {
        let project = match run.member_as {
            Some(membership) => Some(Project::made_for(devstack, run.user, membership).await),
            None => None,
        };
        let (passed, report) = schemathesis(devstack, run, project.as_ref());
        println!("==== schemathesis as {} ====\n{report}", run.user);
        if !passed {
            failed.push(run.user);
        }
    }
    assert!(failed.is_empty(), "schemathesis found failures as {failed:?}; its reports are above");
}

/// A project owned by someone else, where the run's user has a role: it
/// gives member runs valid ids to reach deep routes with. Deletes aim at
/// spares, so the rest of the run still finds what it reads and patches.
struct Project {
    id: String,
    slide: String,
    block: String,
    spare_slide: String,
    spare_block: String,
    /// The run's user was told in their inbox they were added: its id lets
    /// `markNotificationRead` reach a notification of theirs (200).
    notification: Option<String>,
}

impl Project {
    async fn made_for(devstack: &RunningDevstack, user: &str, membership: Membership) -> Self {
        let lead = Caller { devstack, token: token(devstack, "st-lead", &[]) };
        let id = lead.created("/projects", json!({"title": "Fuzzed"})).await;
        let role = match membership {
            Membership::Editor => Some("editor"),
            Membership::Viewer => Some("viewer"),
            Membership::Stranger => None,
        };
        if let Some(role) = role {
            let path = format!("/projects/{id}/members/{user}");
            let (status, answer) = lead.send(reqwest::Method::PUT, &path, json!({"role": role})).await;
            assert_eq!(status, reqwest::StatusCode::OK, "PUT {path}: {answer}");
        }
        let slides = format!("/projects/{id}/slides");
        let (slide, spare_slide) = (
            lead.created(&slides, json!({"title": "One"})).await,
            lead.created(&slides, json!({"title": "Two"})).await,
        );
        let blocks = format!("/projects/{id}/slides/{slide}/blocks");
        let block = lead.created(&blocks, json!({"type": "text", "content": "Hello", "props": {"color": "red"}})).await;
        let spare_block = lead.created(&blocks, json!({"type": "text", "content": "Spare"})).await;
        let notification = match role {
            Some(_) => Some(Caller { devstack, token: token(devstack, user, &[]) }.told_of_membership(&id).await),
            None => None,
        };
        Self { id, slide, block, spare_slide, spare_block, notification }
    }

    /// Schemathesis configuration that pins the path ids to this project's
    /// (and the notification to the run's user's own).
    fn pinned_ids(&self) -> String {
        let notification = match &self.notification {
            Some(id) => format!("\"path.notificationId\" = \"{id}\"\n"),
            None => String::new(),
        };
        format!(
            r#"
[parameters]
"path.projectId" = "{project}"
"path.slideId" = "{slide}"
"path.blockId" = "{block}"
{notification}
[[operations]]
include-operation-id = "deleteSlide"
parameters = {{ "path.slideId" = "{spare_slide}" }}

[[operations]]
include-operation-id = "deleteBlock"
parameters = {{ "path.blockId" = "{spare_block}" }}
"#,
            project = self.id,
            slide = self.slide,
            block = self.block,
            spare_slide = self.spare_slide,
            spare_block = self.spare_block,
        )
    }
}

struct Caller<'d> {
    devstack: &'d RunningDevstack,
    token: String,
}

impl Caller<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.devstack.http_url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The id of the `member.added` notification for `project` in the
    /// caller's inbox, once the fan-out has put it there (it follows the
    /// Content table's stream, so it lands a moment after the write).
    async fn told_of_membership(&self, project: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let response = reqwest::Client::new()
                .get(format!("{}/notifications", self.devstack.http_url))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            let inbox: Value = response.json().await.unwrap_or(Value::Null);
            let told = inbox["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|n| n["type"] == "member.added" && n["projectId"] == project)
                .and_then(|n| n["id"].as_str());
            if let Some(id) = told {
                return id.to_owned();
            }
            assert!(tokio::time::Instant::now() < deadline, "no member.added for {project} in the inbox: {inbox}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// POSTs `body` and returns the new item's id.
    async fn created(&self, path: &str, body: Value) -> String {
        let (status, item) = self.send(reqwest::Method::POST, path, body).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "POST {path}: {item}");
        item["id"].as_str().expect("an id").to_owned()
    }
}

/// A token that outlives any run.
fn token(devstack: &RunningDevstack, user: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    devstack.tokens.issue(user, "pro", &roles, Duration::from_secs(3600))
}

/// Runs schemathesis with the shared settings of `tests/schemathesis.toml`;
/// returns whether it passed and what it printed.
fn schemathesis(devstack: &RunningDevstack, run: &Run, project: Option<&Project>) -> (bool, String) {
    let root = workspace_root();
    let binary = root.join(".venv/bin/st");
    assert!(binary.exists(), "schemathesis is not installed at {}: run `make install`", binary.display());
    let mut config = std::fs::read_to_string(root.join("tests/schemathesis.toml")).expect("tests/schemathesis.toml");
    if let Some(project) = project {
        config.push_str(&project.pinned_ids());
    }
    let config_file =
        std::env::temp_dir().join(format!("tessera-schemathesis-{}-{}.toml", run.user, std::process::id()));
    std::fs::write(&config_file, config).expect("writing the run's configuration");

    let mut command = Command::new(binary);
    command
        .arg("--config-file")
        .arg(&config_file)
        .args(["--no-color", "run", &format!("{}/openapi.json", devstack.http_url)])
        .args(["--url", &devstack.http_url])
        .args(["--phases", run.phases, "--workers", "2"])
        .env("TESSERA_TOKEN", token(devstack, run.user, run.roles))
        .current_dir(report_dir(run.user));
    if let Some(paths) = run.paths {
        command.args(["--include-path-regex", paths]);
    }
    let output = command.output().expect("running schemathesis");
    let _ = std::fs::remove_file(&config_file);
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), report)
}

/// Where a run may write (schemathesis keeps reports in its working directory).
fn report_dir(user: &str) -> PathBuf {
    let dir = workspace_root().join("target/schemathesis").join(user);
    std::fs::create_dir_all(&dir).expect("creating the report directory");
    dir
}
