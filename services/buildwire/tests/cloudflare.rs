//! `buildwire up` (managed nats-server, each service as its own NATS user) with
//! `BUILDWIRE_DEPLOY_TARGET=cloudflare` against the fake Pages API, real npm, and the
//! notifier on: a todo app deployed to a Pages project created for its buildwire project,
//! served from the fake and driven in Chromium; its deploy logs streamed as `deploy_log`
//! events; a follow-up uploading only the files whose hashes are new; and the main app
//! told of both builds by signed webhooks.

mod common;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use buildwire_fakes_cloudflare::FakeCloudflare;
use buildwire_webhook_receiver::{Receiver, secret};
use serde_json::{Value, json};

use common::KEY;

const ACCOUNT: &str = "acc-test";
const TOKEN: &str = "cf-api-token-test";

struct Stack {
    base: String,
    http: reqwest::Client,
    data: tempfile::TempDir,
    up: tokio::process::Child,
}

impl Stack {
    async fn start(fake: &FakeCloudflare, receiver: &Receiver, key: &str) -> Stack {
        let data = tempfile::tempdir().expect("tmp");
        let log = std::fs::File::create(data.path().join("up.log")).expect("log file");
        let mut up = common::managed(&["up"], data.path())
            .env("BUILDWIRE_SERVICE_KEYS", KEY)
            .env("BUILDWIRE_LOG_FORMAT", "json")
            .env("BUILDWIRE_DEPLOY_TARGET", "cloudflare")
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("CLOUDFLARE_API_BASE", fake.api_base())
            .env_remove("CLOUDFLARE_PAGES_PROJECT")
            .env("MAIN_APP_URL", receiver.url())
            .env("MAIN_APP_WEBHOOK_SECRET", key)
            .env("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "1")
            .stderr(Stdio::from(log))
            .spawn()
            .expect("buildwire up starts");
        let base = common::ready(&mut up, Duration::from_secs(90)).await;
        Stack {
            base,
            http: reqwest::Client::new(),
            data,
            up,
        }
    }

    async fn submit(&self, body: Value) -> String {
        common::submit(&self.http, &self.base, KEY, &body).await
    }

    /// The build's events once it ended (within 4 minutes: real npm).
    async fn finished(&self, id: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let events = common::events(&self.http, &self.base, KEY, id).await;
            if events.iter().any(common::ended) {
                return events;
            }
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.data.path().join("up.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                panic!(
                    "build {id} unfinished: {events:#?}\nup.log (last lines, newest first):\n{tail:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// `tests/browser/todo.mjs <url>`: adds and completes todos, toggles dark mode, reloads.
async fn in_chromium(url: &str) {
    common::browser_script("todo.mjs", &[url], &[], Duration::from_secs(120)).await;
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_deploy_to_cloudflare_pages_and_the_main_app_hears_of_them() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeCloudflare::start(ACCOUNT, TOKEN).await;
    let key = secret();
    let receiver = Receiver::start(&key).await;
    let mut stack = Stack::start(&fake, &receiver, &key).await;

    let first = stack
        .submit(json!({ "prompt": "Create a todo app with dark mode", "userId": "user-1", "projectId": "proj-cf" }))
        .await;
    let events = stack.finished(&first).await;
    let last = events.last().expect("events");
    assert_eq!(last["type"], "complete", "{events:#?}");
    let deployments = fake.deployments();
    assert_eq!(deployments.len(), 1);
    let deployment = &deployments[0];
    assert!(
        deployment.project.starts_with("bw-proj-cf-"),
        "{}",
        deployment.project
    );
    assert_eq!(
        fake.projects(),
        vec![deployment.project.clone()],
        "created on first deploy"
    );
    let preview = last["previewUrl"].as_str().expect("previewUrl");
    assert_eq!(
        preview, deployment.url,
        "the deployment's URL is the preview"
    );
    let completed = of_type(&events, "deploy_completed");
    assert_eq!(completed[0]["deploymentId"], deployment.id.as_str());
    assert!(
        completed[0]["deployLogUrl"]
            .as_str()
            .is_some_and(|u| u.contains("/logs/deploy?"))
    );

    // Deploy logs streamed before the deployment completed.
    let position = |kind: &str| events.iter().position(|e| e["type"] == kind);
    let logs = of_type(&events, "deploy_log");
    assert!(!logs.is_empty(), "deploy_log events");
    let first_log = position("deploy_log").expect("a log");
    assert!(first_log > position("deploy_started").expect("started"));
    assert!(first_log < position("deploy_completed").expect("completed"));
    let text: String = logs
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("Success: Your site was deployed!"), "{text}");

    // Served by the fake; the app works in Chromium.
    let html = reqwest::get(preview)
        .await
        .expect("preview")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("<script") && html.contains("./assets/"),
        "{html}"
    );
    in_chromium(preview).await;
    let status = common::progress(&stack.http, &stack.base, KEY, &first).await;
    assert_eq!(status["previewUrl"], preview);
    // The progress links the deploy log too, signed afresh, and the link serves it.
    let link = status["deployLogUrl"]
        .as_str()
        .expect("deployLogUrl in the progress");
    assert!(link.contains("/logs/deploy?"), "{link}");
    let log = stack.http.get(link).send().await.expect("deploy log");
    assert_eq!(log.status().as_u16(), 200);
    let log = log.text().await.expect("text");
    assert!(log.contains("Success: Your site was deployed!"), "{log}");
    let uploaded_first = fake.files_uploaded();
    assert_eq!(uploaded_first, deployment.manifest.len(), "every file once");

    // A follow-up: only files whose hashes Cloudflare lacks are uploaded.
    let second = stack
        .submit(json!({ "prompt": "Add a search feature", "userId": "user-1", "projectId": "proj-cf", "parentBuildId": first }))
        .await;
    let events = stack.finished(&second).await;
    assert_eq!(
        events.last().expect("events")["type"],
        "complete",
        "{events:#?}"
    );
    let deployments = fake.deployments();
    assert_eq!(deployments.len(), 2);
    assert_eq!(
        deployments[1].project, deployment.project,
        "the same Pages project"
    );
    let before: HashSet<&String> = deployments[0].manifest.values().collect();
    let new_hashes = deployments[1]
        .manifest
        .values()
        .filter(|h| !before.contains(h))
        .count();
    let uploaded_second = fake.files_uploaded() - uploaded_first;
    eprintln!(
        "follow-up: {} files, {uploaded_second} uploaded, {} unchanged",
        deployments[1].manifest.len(),
        deployments[1].manifest.len() - uploaded_second
    );
    assert_eq!(
        uploaded_second, new_hashes,
        "exactly the files Cloudflare lacked"
    );
    assert!(
        uploaded_second < deployments[1].manifest.len()
            || new_hashes == deployments[1].manifest.len()
    );
    assert_eq!(fake.problems(), Vec::<String>::new());

    // The main app heard of both builds, signed, with the Cloudflare preview.
    let hooks = buildwire_testkit::eventually(Duration::from_secs(20), "two webhooks", || async {
        let accepted = receiver.accepted();
        (accepted.len() >= 2).then_some(accepted)
    })
    .await;
    for (hook, build) in hooks.iter().zip([&first, &second]) {
        assert_eq!(hook.verified, Ok(()));
        assert_eq!(hook.event["type"], "complete");
        assert_eq!(hook.event["buildId"], build.as_str());
        assert!(
            hook.event["previewUrl"]
                .as_str()
                .is_some_and(|u| u.starts_with("http://127.0.0.1"))
        );
        let seq = hook.event["seq"].as_u64().expect("seq");
        assert_eq!(hook.id, format!("evt_{build}_{seq}"));
    }
    // Counted on the edge's /metrics (it appends the process's other services').
    let metrics = common::metrics(&format!("{}/metrics", stack.base)).await;
    assert!(
        metrics.contains("buildwire_notify_webhooks_total{outcome=\"delivered\"} 2"),
        "{metrics}"
    );
    common::stop(&mut stack.up).await;
}
