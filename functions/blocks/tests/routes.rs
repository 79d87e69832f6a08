//! The blocks router against moto server, through requests shaped as API
//! Gateway sends them: roles, versioned patches over HTTP, and bad input
//! that gets a clear problem+json and writes nothing.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::App;
use tessera_testkit::{GatewayRequest, LocalServices};

#[tokio::test]
async fn a_block_is_created_read_and_patched_with_versions_and_etags() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let path = format!("/projects/{project}/blocks/{block}");

    let read = app.as_user("alice", "GET", &path, None).await;
    let patched =
        app.as_user("alice", "PATCH", &path, Some(json!({"baseVersion": 1, "set": {"props.color": "red"}}))).await;

    assert_eq!((read.status, read.etag.as_deref()), (StatusCode::OK, Some("\"1\"")));
    for field in ["version", "fieldVersions", "updatedAt", "updatedBy"] {
        assert!(read.body.get(field).is_some(), "{field} in {}", read.body);
    }
    assert_eq!((patched.status, patched.etag.as_deref()), (StatusCode::OK, Some("\"2\"")));
    assert_eq!(patched.body["props"]["color"], "red");
    assert_eq!(patched.body["fieldVersions"]["props.color"], 2);
}

#[tokio::test]
async fn a_stale_patch_of_the_same_field_is_409_with_the_current_block_and_fields() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let path = format!("/projects/{project}/blocks/{block}");
    app.as_user("alice", "PATCH", &path, Some(json!({"baseVersion": 1, "set": {"content": "mine"}}))).await;

    let conflict =
        app.as_user("alice", "PATCH", &path, Some(json!({"baseVersion": 1, "set": {"content": "theirs"}}))).await;

    let sqs = aws_sdk_sqs::Client::new(&LocalServices::shared().sdk_config());
    let received =
        sqs.receive_message().queue_url(&app.config.events_queue_url).wait_time_seconds(5).send().await.unwrap();
    let event: Value = serde_json::from_str(received.messages()[0].body().unwrap()).unwrap();

    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.body["type"], "urn:tessera:problem:conflict");
    assert_eq!(event["type"], "block.conflict", "the conflict was published for notifications");
    assert_eq!((event["blockId"].as_str(), event["actor"].as_str()), (Some(block.as_str()), Some("alice")));
    assert_eq!(event["fields"], json!(["content"]));
    assert_eq!(conflict.body["conflictingFields"], json!(["content"]));
    assert_eq!(conflict.body["current"]["content"], "mine");
    assert_eq!(conflict.body["current"]["version"], 2);
}

#[tokio::test]
async fn if_match_is_412_when_stale_and_no_precondition_is_428() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let path = format!("/projects/{project}/blocks/{block}");
    app.as_user("alice", "PATCH", &path, Some(json!({"baseVersion": 1, "set": {"props.size": 2}}))).await;
    let with_if_match = |etag: &str| {
        GatewayRequest::new("PATCH", &path)
            .as_user("alice", "pro", &[])
            .header("if-match", etag)
            .json_body(&json!({"set": {"content": "x"}}))
    };

    let stale = app.send(with_if_match("\"1\"")).await;
    let fresh = app.send(with_if_match("\"2\"")).await;
    let unconditional = app.as_user("alice", "PATCH", &path, Some(json!({"set": {"content": "y"}}))).await;

    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.body["current"]["version"], 2);
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(unconditional.status, StatusCode::PRECONDITION_REQUIRED);
}

/// Found by schemathesis: DynamoDB's own number and map types refused these
/// (a 500), and moto could not even list a map with a key named like a type.
#[tokio::test]
async fn any_json_a_client_sends_is_stored_and_read_back_exactly() {
    let app = App::spawn().await;
    let (project, slide, _) = app.project_with_block("alice").await;
    let deep = (0..40).fold(json!("core"), |inner, _| json!({ "N": inner }));
    let content = json!({"huge": 1.7976931348623157e308, "tiny": 5e-324, "S": ["", {"M": null}], "deep": deep});

    let (created, block) = app
        .call(
            "alice",
            "POST",
            &format!("/projects/{project}/slides/{slide}/blocks"),
            Some(json!({"type": "text", "content": content, "props": {"size": 1e200}})),
        )
        .await;
    let path = format!("/projects/{project}/blocks/{}", block["id"].as_str().unwrap());
    let (patched, _) =
        app.call("alice", "PATCH", &path, Some(json!({"baseVersion": 1, "set": {"props.N": {"S": 1e-200}}}))).await;
    let (_, read) = app.call("alice", "GET", &path, None).await;
    let (_, listed) = app.call("alice", "GET", &format!("/projects/{project}/slides/{slide}/blocks"), None).await;

    assert_eq!((created, patched), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(read["content"], content);
    assert_eq!((read["props"]["size"].as_f64(), &read["props"]["N"]), (Some(1e200), &json!({"S": 1e-200})));
    assert_eq!(listed["items"].as_array().unwrap().iter().find(|b| b["id"] == block["id"]), Some(&read));
}

#[tokio::test]
async fn a_base_version_ahead_of_the_block_is_422_and_changes_nothing() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let path = format!("/projects/{project}/blocks/{block}");

    let ahead = app.as_user("alice", "PATCH", &path, Some(json!({"baseVersion": 7, "set": {"content": "x"}}))).await;
    let after = app.as_user("alice", "GET", &path, None).await;

    assert_eq!(ahead.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ahead.body["type"], "urn:tessera:problem:base-version-ahead");
    assert_eq!(ahead.body["currentVersion"], 1);
    assert!(ahead.body["detail"].as_str().unwrap().contains("at most the block's version, 1"), "{}", ahead.body);
    assert_eq!((after.body["version"].as_u64(), after.body["content"].as_str()), (Some(1), Some("hello")));
}

#[tokio::test]
async fn a_non_member_gets_404_for_anything_in_the_project() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let path = format!("/projects/{project}/blocks/{block}");

    let read = app.as_user("mallory", "GET", &path, None).await;
    let write =
        app.as_user("mallory", "PATCH", &path, Some(json!({"overwrite": true, "set": {"content": "pwned"}}))).await;
    let join = app.add_member("mallory", &project, "mallory", "owner").await;

    for answer in [read, write, join] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    }
    let intact = app.as_user("alice", "GET", &path, None).await;
    assert_eq!(intact.body["content"], "hello");
}

#[tokio::test]
async fn a_viewer_reads_but_every_write_is_403_and_only_owners_manage_members() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    app.add_member("alice", &project, "victor", "viewer").await;
    app.add_member("alice", &project, "eddie", "editor").await;
    let path = format!("/projects/{project}/blocks/{block}");

    let read = app.as_user("victor", "GET", &path, None).await;
    let patch = app.as_user("victor", "PATCH", &path, Some(json!({"overwrite": true, "set": {"content": "x"}}))).await;
    let delete = app.as_user("victor", "DELETE", &path, None).await;
    let slide =
        app.as_user("victor", "POST", &format!("/projects/{project}/slides"), Some(json!({"title": "x"}))).await;
    let editor_manages = app.add_member("eddie", &project, "eve", "editor").await;
    let editor_writes =
        app.as_user("eddie", "PATCH", &path, Some(json!({"baseVersion": 1, "set": {"props.size": 1}}))).await;

    assert_eq!(read.status, StatusCode::OK);
    for answer in [patch, delete, slide, editor_manages] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    }
    assert_eq!(editor_writes.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_a_clear_problem_and_writes_nothing() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    let path = format!("/projects/{project}/blocks/{block}");
    let slides = format!("/projects/{project}/slides");
    let raw = |method: &'static str, path: &str, body: &str| {
        let mut request =
            GatewayRequest::new(method, path).as_user("alice", "pro", &[]).header("content-type", "application/json");
        request = request.raw_body(body);
        request
    };
    let cases: Vec<(GatewayRequest, StatusCode)> = vec![
        (raw("PATCH", &path, "{\"baseVersion\": 1, \"set\": "), StatusCode::BAD_REQUEST),
        (raw("PATCH", &path, r#"{"baseVersion": "one", "set": {"content": "x"}}"#), StatusCode::BAD_REQUEST),
        (raw("PATCH", &path, r#"{"baseVersion": 1, "sett": {"content": "x"}}"#), StatusCode::BAD_REQUEST),
        (raw("PATCH", &path, r#"{"baseVersion": 1, "set": {"type": "image"}}"#), StatusCode::BAD_REQUEST),
        (
            raw("PATCH", &path, &format!(r#"{{"baseVersion": 1, "set": {{"content": "{}"}}}}"#, "x".repeat(70_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            raw(
                "PATCH",
                &format!("/projects/{project}/blocks/not-an-id"),
                r#"{"overwrite": true, "set": {"content": "x"}}"#,
            ),
            StatusCode::NOT_FOUND,
        ),
        (
            raw("PATCH", &format!("/projects/bad/blocks/{block}"), r#"{"overwrite": true, "set": {"content": "x"}}"#),
            StatusCode::NOT_FOUND,
        ),
        (raw("POST", "/projects", r#"{"title": ""}"#), StatusCode::BAD_REQUEST),
        (raw("POST", "/projects", r#"{"title": 7}"#), StatusCode::BAD_REQUEST),
        (raw("POST", &slides, r#"{"title": "x", "position": 1}"#), StatusCode::BAD_REQUEST),
        (raw("POST", &format!("{slides}/not-a-slide/blocks"), r#"{"type": "text"}"#), StatusCode::NOT_FOUND),
        (raw("PUT", &format!("/projects/{project}/members/bob"), r#"{"role": "admin"}"#), StatusCode::BAD_REQUEST),
    ];

    for (request, expected) in cases {
        let answer = app.send(request).await;
        assert_eq!(answer.status, expected, "{}", answer.body);
        assert!(answer.body["type"].as_str().unwrap().starts_with("urn:tessera:problem:"), "{}", answer.body);
    }
    let after = app.as_user("alice", "GET", &path, None).await;
    assert_eq!((after.body["version"].clone(), after.body["content"].clone()), (json!(1), json!("hello")));
}

#[tokio::test]
async fn the_tree_lists_slides_in_order_and_a_move_rewrites_only_the_moved_slide() {
    let app = App::spawn().await;
    let project = app.as_user("alice", "POST", "/projects", Some(json!({"title": "Deck"}))).await.body["id"].clone();
    let project = project.as_str().unwrap();
    let mut slides = Vec::new();
    for title in ["A", "B", "C"] {
        let slide =
            app.as_user("alice", "POST", &format!("/projects/{project}/slides"), Some(json!({"title": title}))).await;
        slides.push(slide.body["id"].as_str().unwrap().to_owned());
    }
    let (a, b, c) = (&slides[0], &slides[1], &slides[2]);
    app.as_user(
        "alice",
        "POST",
        &format!("/projects/{project}/slides/{b}/blocks"),
        Some(json!({"type": "text", "content": "on B"})),
    )
    .await;
    let titles = |tree: &Value| {
        tree["slides"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let tree_path = format!("/projects/{project}");
    let tree = || app.as_user("alice", "GET", &tree_path, None);

    let before = tree().await;
    let to_front = app
        .as_user(
            "alice",
            "PATCH",
            &format!("/projects/{project}/slides/{c}"),
            Some(json!({"version": 1, "after": null})),
        )
        .await;
    let after_b = app
        .as_user("alice", "PATCH", &format!("/projects/{project}/slides/{a}"), Some(json!({"version": 1, "after": b})))
        .await;
    let moved = tree().await;
    let stale = app
        .as_user(
            "alice",
            "PATCH",
            &format!("/projects/{project}/slides/{a}"),
            Some(json!({"version": 1, "title": "A2"})),
        )
        .await;
    let nowhere = app
        .as_user(
            "alice",
            "PATCH",
            &format!("/projects/{project}/slides/{a}"),
            Some(json!({"version": 2, "after": "01JF3Z8Q9W6X2K7M4N5P8R0T1V"})),
        )
        .await;

    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(titles(&before.body), ["A", "B", "C"]);
    assert_eq!(before.body["project"]["title"], "Deck");
    assert_eq!(before.body["slides"][1]["blocks"][0]["content"], "on B");
    assert_eq!((to_front.status, after_b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(titles(&moved.body), ["C", "B", "A"]);
    let versions: Vec<u64> =
        moved.body["slides"].as_array().unwrap().iter().map(|s| s["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [2, 1, 2], "B was not rewritten by either move");
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.body["current"]["version"], 2);
    assert_eq!(nowhere.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_non_member_cannot_see_the_tree() {
    let app = App::spawn().await;
    let (project, ..) = app.project_with_block("alice").await;

    let tree = app.as_user("mallory", "GET", &format!("/projects/{project}"), None).await;

    assert_eq!(tree.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_callers_projects_come_a_page_at_a_time_and_a_foreign_cursor_is_refused() {
    let app = App::spawn().await;
    for title in ["one", "two", "three"] {
        app.as_user("alice", "POST", "/projects", Some(json!({"title": title}))).await;
    }
    app.as_user("bob", "POST", "/projects", Some(json!({"title": "bob's"}))).await;

    let first = app.as_user("alice", "GET", "/projects?limit=2", None).await;
    let cursor = first.body["cursor"].as_str().unwrap().to_owned();
    let second = app.as_user("alice", "GET", &format!("/projects?limit=2&cursor={cursor}"), None).await;
    let bobs = app.as_user("bob", "GET", "/projects", None).await;
    let stolen = app.as_user("bob", "GET", &format!("/projects?cursor={cursor}"), None).await;
    let too_many = app.as_user("alice", "GET", "/projects?limit=1000", None).await;

    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body.get("cursor").is_none());
    assert_eq!(bobs.body["items"].as_array().unwrap().len(), 1);
    assert_eq!((stolen.status, too_many.status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn a_project_is_renamed_under_its_version_and_only_owners_delete_it() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    app.add_member("alice", &project, "eddie", "editor").await;
    let path = format!("/projects/{project}");

    let renamed = app.as_user("alice", "PATCH", &path, Some(json!({"version": 1, "title": "Renamed"}))).await;
    let stale = app.as_user("alice", "PATCH", &path, Some(json!({"version": 1, "title": "Again"}))).await;
    let editor_deletes = app.as_user("eddie", "DELETE", &path, None).await;
    let owner_deletes = app.as_user("alice", "DELETE", &path, None).await;

    assert_eq!((renamed.status, renamed.body["version"].clone()), (StatusCode::OK, json!(2)));
    assert_eq!((stale.status, stale.body["current"]["title"].clone()), (StatusCode::CONFLICT, json!("Renamed")));
    assert_eq!((editor_deletes.status, owner_deletes.status), (StatusCode::FORBIDDEN, StatusCode::NO_CONTENT));
    for gone in [path.clone(), format!("{path}/blocks/{block}")] {
        assert_eq!(app.as_user("alice", "GET", &gone, None).await.status, StatusCode::NOT_FOUND, "{gone}");
    }
    assert!(app.as_user("alice", "GET", "/projects", None).await.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn owners_list_and_remove_members_but_never_the_last_owner() {
    let app = App::spawn().await;
    let (project, _, block) = app.project_with_block("alice").await;
    app.add_member("alice", &project, "victor", "viewer").await;
    let members = format!("/projects/{project}/members");

    let listed = app.as_user("victor", "GET", &members, None).await;
    let removed = app.as_user("alice", "DELETE", &format!("{members}/victor"), None).await;
    let last_owner = app.as_user("alice", "DELETE", &format!("{members}/alice"), None).await;
    let former = app.as_user("victor", "GET", &format!("/projects/{project}/blocks/{block}"), None).await;

    assert_eq!(listed.body["members"].as_array().unwrap().len(), 2);
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(last_owner.status, StatusCode::BAD_REQUEST);
    assert_eq!(former.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_slides_blocks_come_in_pages_batch_get_reports_missing_ids_and_deleting_the_slide_takes_them() {
    let app = App::spawn().await;
    let project = app.as_user("alice", "POST", "/projects", Some(json!({"title": "Deck"}))).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let slide = app
        .as_user("alice", "POST", &format!("/projects/{project}/slides"), Some(json!({"title": "S"})))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let blocks_path = format!("/projects/{project}/slides/{slide}/blocks");
    let mut ids = Vec::new();
    for n in 0..3 {
        let block = app.as_user("alice", "POST", &blocks_path, Some(json!({"type": "text", "content": n}))).await;
        ids.push(block.body["id"].as_str().unwrap().to_owned());
    }
    let unknown = "01JF3Z8Q9W6X2K7M4N5P8R0T1V";

    let first = app.as_user("alice", "GET", &format!("{blocks_path}?limit=2"), None).await;
    let cursor = first.body["cursor"].as_str().unwrap().to_owned();
    let second = app.as_user("alice", "GET", &format!("{blocks_path}?limit=2&cursor={cursor}"), None).await;
    let batch = app
        .as_user(
            "alice",
            "POST",
            &format!("/projects/{project}/blocks/batch-get"),
            Some(json!({"ids": [ids[0], ids[2], unknown]})),
        )
        .await;
    let bad_batch = app
        .as_user("alice", "POST", &format!("/projects/{project}/blocks/batch-get"), Some(json!({"ids": ["nope"]})))
        .await;
    let deleted = app.as_user("alice", "DELETE", &format!("/projects/{project}/slides/{slide}"), None).await;
    let after =
        app.as_user("alice", "POST", &format!("/projects/{project}/blocks/batch-get"), Some(json!({"ids": ids}))).await;

    let contents =
        |page: &Value| page["items"].as_array().unwrap().iter().map(|b| b["content"].clone()).collect::<Vec<_>>();
    assert_eq!(contents(&first.body), [json!(0), json!(1)]);
    assert_eq!(contents(&second.body), [json!(2)]);
    assert_eq!(batch.body["blocks"].as_array().unwrap().len(), 2);
    assert_eq!(batch.body["missing"], json!([unknown]));
    assert_eq!(bad_batch.status, StatusCode::BAD_REQUEST);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(after.body["missing"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn every_route_refuses_malformed_input_with_problem_json_and_writes_nothing() {
    let app = App::spawn().await;
    let (p, _, b) = app.project_with_block("alice").await;
    let tree = app.as_user("alice", "GET", &format!("/projects/{p}"), None).await.body;
    let s = tree["slides"][0]["id"].as_str().unwrap().to_owned();
    let members_before = app.as_user("alice", "GET", &format!("/projects/{p}/members"), None).await.body;
    let huge = format!(r#"{{"title": "{}"}}"#, "x".repeat(70_000));
    let bad = "not-an-id";
    let long_user = "u".repeat(200);

    let body_routes: Vec<(&'static str, String, &str)> = vec![
        ("POST", "/projects".into(), r#"{"title": 1}"#),
        ("PATCH", format!("/projects/{p}"), r#"{"version": "1", "title": "x"}"#),
        ("PUT", format!("/projects/{p}/members/bob"), r#"{"role": 3}"#),
        ("POST", format!("/projects/{p}/slides"), r#"{"title": ["x"]}"#),
        ("PATCH", format!("/projects/{p}/slides/{s}"), r#"{"version": 1, "after": 7}"#),
        ("POST", format!("/projects/{p}/slides/{s}/blocks"), r#"{"type": "text", "props": []}"#),
        ("POST", format!("/projects/{p}/blocks/batch-get"), r#"{"ids": "all"}"#),
        ("PATCH", format!("/projects/{p}/blocks/{b}"), r#"{"baseVersion": -1, "set": {"content": "x"}}"#),
    ];
    let mut cases: Vec<(&'static str, String, String, StatusCode)> = Vec::new();
    for (method, path, wrong_types) in &body_routes {
        cases.push((method, path.clone(), "{\"unterminated".into(), StatusCode::BAD_REQUEST));
        cases.push((method, path.clone(), wrong_types.to_string(), StatusCode::BAD_REQUEST));
        cases.push((method, path.clone(), r#"{"unknown": true}"#.into(), StatusCode::BAD_REQUEST));
        cases.push((method, path.clone(), huge.clone(), StatusCode::PAYLOAD_TOO_LARGE));
    }
    let id_routes: Vec<(&'static str, String)> = vec![
        ("GET", format!("/projects/{bad}")),
        ("PATCH", format!("/projects/{bad}")),
        ("DELETE", format!("/projects/{bad}")),
        ("GET", format!("/projects/{bad}/members")),
        ("PUT", format!("/projects/{p}/members/{long_user}")),
        ("DELETE", format!("/projects/{p}/members/{long_user}")),
        ("POST", format!("/projects/{bad}/slides")),
        ("PATCH", format!("/projects/{p}/slides/{bad}")),
        ("DELETE", format!("/projects/{p}/slides/{bad}")),
        ("GET", format!("/projects/{p}/slides/{bad}/blocks")),
        ("POST", format!("/projects/{p}/slides/{bad}/blocks")),
        ("POST", format!("/projects/{bad}/blocks/batch-get")),
        ("GET", format!("/projects/{p}/blocks/{bad}")),
        ("PATCH", format!("/projects/{p}/blocks/{bad}")),
        ("DELETE", format!("/projects/{p}/blocks/{bad}")),
    ];
    // A valid body for each, so that only the id is wrong.
    let valid_body = |method: &str, path: &str| match (method, path) {
        ("PATCH", p) if p.contains("/blocks/") => r#"{"overwrite": true, "set": {"content": "x"}}"#,
        ("PATCH", _) => r#"{"version": 1, "title": "x"}"#,
        ("PUT", _) => r#"{"role": "viewer"}"#,
        ("POST", p) if p.ends_with("/blocks") => r#"{"type": "text"}"#,
        ("POST", p) if p.ends_with("/batch-get") => r#"{"ids": ["01JF3Z8Q9W6X2K7M4N5P8R0T1V"]}"#,
        ("POST", _) => r#"{"title": "x"}"#,
        _ => "",
    };
    for (method, path) in id_routes {
        let body = valid_body(method, &path).to_owned();
        cases.push((method, path, body, StatusCode::NOT_FOUND));
    }
    cases.push(("GET", "/projects?limit=many".into(), String::new(), StatusCode::BAD_REQUEST));
    cases.push(("GET", "/projects?cursor=%21%21".into(), String::new(), StatusCode::BAD_REQUEST));

    for (method, path, body, expected) in cases {
        let mut request = GatewayRequest::new(method, &path).as_user("alice", "pro", &[]);
        if !body.is_empty() {
            request = request.header("content-type", "application/json").raw_body(&body);
        }
        let answer = app.send(request).await;
        assert_eq!(answer.status, expected, "{method} {path} {}: {}", &body[..body.len().min(60)], answer.body);
        let kind = answer.body["type"].as_str().unwrap_or_default();
        assert!(kind.starts_with("urn:tessera:problem:"), "{method} {path}: {}", answer.body);
    }
    let tree_after = app.as_user("alice", "GET", &format!("/projects/{p}"), None).await.body;
    let members_after = app.as_user("alice", "GET", &format!("/projects/{p}/members"), None).await.body;
    assert_eq!(tree_after, tree, "nothing in the project changed");
    assert_eq!(members_after, members_before, "no member changed");
}
