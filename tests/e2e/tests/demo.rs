//! The demo page's server side (issue 7): served only in demo mode, its submission route
//! runs as user `demo` with the API's validation, refuses other origins, never exposes a
//! service key, and refreshes only the demo's own build tokens (also ones that expired
//! within the grace, never forged ones or another user's). The page itself is driven in
//! Chromium by `services/buildwire/tests/browser.rs` and `client_faults.rs`.

use std::time::Duration;

use buildwire_edge::tokens::Keyring;
use buildwire_testkit::NatsFixture;
use chrono::Utc;
use serde_json::{Value, json};

use crate::edge_api::problem;
use crate::edge_clients::{KEYS, Node, SERVICE_KEY, http, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_and_routes_exist_only_in_demo_mode() {
    let fixture = NatsFixture::start();
    let service = Node::start(&fixture.url()).await;
    let client = http();
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/demo/app.js"),
        ("POST", "/demo/builds"),
    ] {
        let request = match method {
            "GET" => client.get(format!("{}{path}", service.http())),
            _ => client
                .post(format!("{}{path}", service.http()))
                .json(&json!({ "prompt": "Create a todo app" })),
        };
        let (status, _) = problem(request.send().await.expect("request")).await;
        assert_eq!(status, 404, "{method} {path} on a service node");
    }
    // The client modules are served in both modes.
    for file in ["buildwire.js", "progress.js", "react.js"] {
        let response = client
            .get(format!("{}/client/{file}", service.http()))
            .send()
            .await
            .expect("module");
        assert_eq!(response.status().as_u16(), 200, "{file}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/javascript")
        );
    }
    let (status, body) = problem(
        client
            .get(format!("{}/client/..%2fCargo.toml", service.http()))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    let demo = Node::demo(&fixture.url()).await;
    let page = client
        .get(format!("{}/", demo.http()))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let html = page.text().await.expect("html");
    assert!(html.contains(r#"src="/demo/app.js""#) && html.contains("prompt"));
    for path in ["/demo/app.js", "/demo/app.css"] {
        let asset = client
            .get(format!("{}{path}", demo.http()))
            .send()
            .await
            .expect("asset");
        assert_eq!(asset.status().as_u16(), 200, "{path}");
        let text = asset.text().await.expect("text");
        assert!(!text.contains(SERVICE_KEY), "{path} holds no service key");
    }
    // The API beside it is unchanged.
    let health = client
        .get(format!("{}/healthz", demo.http()))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_submissions_are_validated_and_tokens_refresh_only_for_demo_builds() {
    let fixture = NatsFixture::start();
    let node = Node::demo(&fixture.url()).await;
    let client = http();
    let url = format!("{}/demo/builds", node.http());

    let accepted: Value = {
        let response = client
            .post(&url)
            .json(&json!({ "prompt": "Create a todo app with dark mode" }))
            .send()
            .await
            .expect("submit");
        assert_eq!(response.status().as_u16(), 202);
        response.json().await.expect("json")
    };
    let build_id = accepted["buildId"].as_str().expect("buildId").to_string();
    let project = accepted["projectId"]
        .as_str()
        .expect("projectId")
        .to_string();
    assert!(project.starts_with("demo-"), "{project}");
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let claims = node
        .edge
        .state
        .keyring
        .verify(&token, &build_id)
        .expect("a token for the build");
    assert_eq!(claims.uid, "demo");

    // A follow-up in the same project.
    let follow_up = client
        .post(&url)
        .json(&json!({ "prompt": "Add a search feature", "projectId": project, "parentBuildId": build_id }))
        .send()
        .await
        .expect("follow-up");
    assert_eq!(follow_up.status().as_u16(), 202);

    // Refusals, each typed.
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            client.post(&url).json(&json!({ "prompt": "" })),
            422,
            "INVALID_PROMPT",
        ),
        (
            client
                .post(&url)
                .json(&json!({ "prompt": "x", "parentBuildId": "../etc" })),
            422,
            "INVALID_PARENT_BUILD_ID",
        ),
        (
            client
                .post(&url)
                .json(&json!({ "prompt": "x", "userId": "admin" })),
            400,
            "BAD_REQUEST",
        ),
        (
            client
                .post(&url)
                .body("prompt=x")
                .header("content-type", "application/x-www-form-urlencoded"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            client
                .post(&url)
                .header("Origin", "https://elsewhere.example")
                .json(&json!({ "prompt": "x" })),
            403,
            "ORIGIN_NOT_ALLOWED",
        ),
        (
            // A client of its own: the server answers 413 before reading the body and
            // closes the connection, which a pooled client would reuse (broken pipe).
            http()
                .post(&url)
                .header("content-type", "application/json")
                .body("x".repeat(70_000)),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (request, want_status, want_code) in cases {
        let (status, body) = problem(request.send().await.expect("request")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (want_status, Some(want_code)),
            "{body}"
        );
    }

    // Token refresh: the build's own valid token buys a fresh one.
    let refresh = |id: &str, bearer: &str| {
        client
            .post(format!("{}/demo/builds/{id}/token", node.http()))
            .bearer_auth(bearer)
            .send()
    };
    let fresh: Value = refresh(&build_id, &token)
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let fresh_token = fresh["buildToken"].as_str().expect("fresh token");
    assert!(
        node.edge
            .state
            .keyring
            .verify(fresh_token, &build_id)
            .is_ok()
    );
    let (status, body) = problem(refresh(&build_id, "not-a-token").await.expect("request")).await;
    assert_eq!(status, 401, "{body}");
    let other = submit(&node, "Create a notes app").await; // the main app's, user-1
    let other_id = other["buildId"].as_str().expect("id");
    let (status, body) = problem(refresh(other_id, &token).await.expect("request")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("TOKEN_WRONG_BUILD")),
        "{body}"
    );
    let other_token = other["buildToken"].as_str().expect("token");
    let (status, body) = problem(refresh(other_id, other_token).await.expect("request")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("NOT_A_DEMO_BUILD")),
        "{body}"
    );

    // Expired tokens: a demo tab reopened hours later goes on; nothing else does.
    let ring = Keyring::parse(KEYS, Duration::from_secs(3600)).expect("ring");
    let forger = Keyring::parse(
        "k1:ffffffffffffffffffffffffffffffff",
        Duration::from_secs(3600),
    )
    .expect("ring");
    let issued_hours_ago = |keys: &Keyring, id: &str, user: &str, hours: i64| {
        keys.issue_at(id, user, Utc::now() - chrono::Duration::hours(hours))
            .0
    };
    let expired = issued_hours_ago(&ring, &build_id, "demo", 3); // expired 2 h ago
    let (status, body) = problem(
        client
            .get(format!("{}/events/{build_id}?token={expired}", node.http()))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("TOKEN_EXPIRED")),
        "{body}"
    );
    let renewed = refresh(&build_id, &expired).await.expect("refresh");
    assert_eq!(
        renewed.status().as_u16(),
        200,
        "an expired demo token is renewed"
    );
    let renewed: Value = renewed.json().await.expect("json");
    let renewed_token = renewed["buildToken"].as_str().expect("fresh token");
    let claims = node
        .edge
        .state
        .keyring
        .verify(renewed_token, &build_id)
        .expect("the fresh token reads the build");
    assert!(
        claims.exp > Utc::now().timestamp() + 3000,
        "a full lifetime"
    );
    let refusals = [
        (
            issued_hours_ago(&ring, &build_id, "demo", 26), // past the 24 h grace
            401,
            "TOKEN_EXPIRED",
        ),
        (
            issued_hours_ago(&forger, &build_id, "demo", 3), // not our signature
            401,
            "TOKEN_BAD_SIGNATURE",
        ),
        (
            issued_hours_ago(&ring, other_id, "demo", 3), // for another build
            403,
            "TOKEN_WRONG_BUILD",
        ),
        (
            issued_hours_ago(&ring, &build_id, "user-1", 3), // not the demo's
            403,
            "NOT_A_DEMO_BUILD",
        ),
    ];
    for (presented, want_status, want_code) in refusals {
        let (status, body) = problem(refresh(&build_id, &presented).await.expect("request")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (want_status, Some(want_code)),
            "{body}"
        );
    }
}
