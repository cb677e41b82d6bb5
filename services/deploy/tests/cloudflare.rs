//! The deploy stage's Cloudflare Pages target against the fake Pages API
//! (`tests/fakes-cloudflare`) and a real nats-server, the stage running as the `deploy`
//! NATS user: a build deployed and served by the fake, its stage logs as `deploy_log`
//! events and in bucket `logs`; a follow-up uploading only the files that changed; a
//! project created per buildwire project; 429s, 503s and an expired upload token
//! survived; and each failure (refused token, missing project, failed deploy stage,
//! timeout while deploying, timeout while rate limited) ending the build with its code.

use std::time::Duration;

use buildwire_deploy::DeployStage;
use buildwire_fakes_cloudflare::FakeCloudflare;
use buildwire_runtime::Config;
use buildwire_runtime::nats::{Nats, Role};
use buildwire_runtime::objects::{Artifacts, Bucket};
use buildwire_runtime::publish::Publisher;
use buildwire_runtime::stage::{self, WorkerOptions};
use buildwire_schemas::events::{DeployUpdate, ErrorSeverity};
use buildwire_schemas::{Event, EventBody, Stage, StageCommand};
use buildwire_testkit::{NatsFixture, applied, connect, eventually, stored_events};
use tokio_util::sync::CancellationToken;

const ACCOUNT: &str = "acc0123";
const TOKEN: &str = "cf-token-0123456789";

struct Env {
    fixture: NatsFixture,
    admin: Nats,
    deployer: Nats,
    fake: FakeCloudflare,
    data: tempfile::TempDir,
}

async fn env() -> Env {
    let fixture = NatsFixture::start();
    let admin = applied(&fixture.url()).await;
    let deployer = connect(&fixture.url_as(Role::Deploy)).await;
    Env {
        fixture,
        admin,
        deployer,
        fake: FakeCloudflare::start(ACCOUNT, TOKEN).await,
        data: tempfile::tempdir().expect("tmp"),
    }
}

impl Env {
    fn config(&self, project: Option<&str>, timeout_ms: u64) -> Config {
        Config {
            deploy_target: "cloudflare".into(),
            cloudflare_account_id: Some(ACCOUNT.into()),
            cloudflare_api_token: Some(TOKEN.into()),
            cloudflare_api_base: self.fake.api_base(),
            cloudflare_pages_project: project.map(str::to_string),
            deploy_timeout_ms: timeout_ms,
            jwt_keys: Some("k1:0123456789abcdef0123456789abcdef".into()),
            public_url: Some("http://edge.test".into()),
            data_dir: self.data.path().to_path_buf(),
            ..Config::default()
        }
    }

    /// Stores `files` as `build_id`'s artifacts (as the build stage does).
    async fn artifacts(&self, build_id: &str, files: &[(&str, &str)]) {
        let artifacts = Artifacts::open(&self.admin).await.expect("bucket");
        for (path, content) in files {
            artifacts
                .put(build_id, path, content.as_bytes())
                .await
                .expect("put");
        }
    }

    /// Runs the deploy stage with `config` on one command of `build_id`; answers the
    /// build's events once it ended.
    async fn deploy(
        &self,
        config: &Config,
        build_id: &str,
        project_id: Option<&str>,
    ) -> Vec<Event> {
        let handler = DeployStage::from_config(config, &self.deployer)
            .await
            .expect("the stage starts");
        let stop = CancellationToken::new();
        let options = WorkerOptions {
            concurrency: 1,
            drain_timeout: Duration::from_secs(1),
            interrupt_grace: Duration::from_secs(1),
            pull_wait: Duration::from_millis(500),
        };
        let worker = tokio::spawn(stage::run(
            handler,
            self.deployer.clone(),
            options,
            stop.clone(),
        ));
        let command = StageCommand {
            build_id: build_id.into(),
            request_id: format!("req-{build_id}"),
            user_id: "user-1".into(),
            prompt: "Create a todo app".into(),
            project_id: project_id.map(str::to_string),
            parent_build_id: None,
            restore_from_build_id: None,
            plan: None,
            extra: serde_json::Map::new(),
        };
        Publisher::new(self.admin.js.clone())
            .command(Stage::Deploy, &command, &format!("{build_id}:test:cmd"))
            .await
            .expect("command stored");
        let events = eventually(Duration::from_secs(60), "the build to end", || async {
            let events = stored_events(&self.admin, build_id).await;
            events.iter().any(Event::is_terminal).then_some(events)
        })
        .await;
        stop.cancel();
        worker.await.expect("joins").expect("the worker ran");
        events
    }
}

fn build_id() -> String {
    ulid::Ulid::generate().to_string()
}

const APP: &[(&str, &str)] = &[
    (
        "index.html",
        "<!doctype html><title>todo</title><script src=\"./assets/app.js\"></script>",
    ),
    ("assets/app.js", "console.log('todo v1')"),
    ("assets/style.css", "body{color:#111}"),
    ("favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
];

fn completed(events: &[Event]) -> DeployUpdate {
    events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::DeployCompleted(update) => Some(update.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("deploy_completed in {events:#?}"))
}

fn failed(events: &[Event]) -> DeployUpdate {
    events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::DeployFailed(update) => Some(update.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("deploy_failed in {events:#?}"))
}

fn deploy_log(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::DeployLog(log) => Some(log.message.clone()),
            _ => None,
        })
        .flat_map(|m| m.lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.expect("GET");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_build_is_deployed_served_and_a_follow_up_uploads_only_what_changed() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = env().await;
    env.fake.add_project("site");
    let config = env.config(Some("site"), 60_000);

    let first = build_id();
    env.artifacts(&first, APP).await;
    let events = env.deploy(&config, &first, Some("p1")).await;
    let done = completed(&events);
    let deployment = env.fake.deployments().pop().expect("a deployment");
    assert_eq!(done.deployment_id.as_deref(), Some(deployment.id.as_str()));
    assert_eq!(done.preview_url.as_deref(), Some(deployment.url.as_str()));
    assert_eq!(deployment.branch.as_deref(), Some("preview"));
    let Some(EventBody::Complete(complete)) = events.last().map(|e| &e.body) else {
        panic!("complete last: {events:#?}");
    };
    assert_eq!(complete.preview_url, deployment.url);

    // Served by the fake at the deployment's URL.
    let (status, kind, body) = get(&deployment.url).await;
    assert_eq!((status, kind.as_str()), (200, "text/html"));
    assert_eq!(body, APP[0].1);
    let (status, kind, body) = get(&format!("{}assets/app.js", deployment.url)).await;
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (200, "application/javascript", APP[1].1)
    );

    // The stage logs streamed as deploy_log events, and stored behind a signed link.
    let lines = deploy_log(&events);
    assert!(
        lines
            .iter()
            .any(|l| l == "Initializing build environment..."),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Success: Your site was deployed!")
    );
    // A reference the edge signs on the way out, as the build log's.
    assert_eq!(
        done.deploy_log_url.as_deref(),
        Some(format!("/v1/builds/{first}/logs/deploy").as_str())
    );
    let stored = Bucket::open(&env.admin, "logs")
        .await
        .expect("logs")
        .get(&format!("{first}/deploy.log"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        String::from_utf8_lossy(&stored).lines().collect::<Vec<_>>(),
        lines
    );
    assert_eq!(env.fake.files_uploaded(), APP.len());

    // A follow-up: two files changed, two the same.
    let second = build_id();
    let changed = [
        (
            "index.html",
            "<!doctype html><title>todo + search</title><script src=\"./assets/app.js\"></script>",
        ),
        ("assets/app.js", "console.log('todo v2 with search')"),
        APP[2],
        APP[3],
    ];
    env.artifacts(&second, &changed).await;
    let events = env.deploy(&config, &second, Some("p1")).await;
    let done = completed(&events);
    assert_eq!(
        env.fake.files_uploaded(),
        APP.len() + 2,
        "only the changed files are uploaded again: {:?}",
        env.fake.uploads()
    );
    let url = done.preview_url.expect("previewUrl");
    assert_eq!(get(&format!("{url}assets/app.js")).await.2, changed[1].1);
    assert_eq!(get(&format!("{url}assets/style.css")).await.2, APP[2].1);
    // The first deployment still serves the first version.
    assert_eq!(
        get(&format!("{}assets/app.js", deployment.url)).await.2,
        APP[1].1
    );
    let progress: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::DeployProgress(update) => update.message.clone(),
            _ => None,
        })
        .collect();
    assert!(
        progress
            .iter()
            .any(|m| m.starts_with("Uploading 2 of 4 files") && m.contains("(2 already there)")),
        "{progress:?}"
    );
    assert_eq!(env.fake.problems(), Vec::<String>::new());
    assert_eq!(env.fixture.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn projects_are_created_per_buildwire_project_and_transient_errors_are_retried() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = env().await;
    let config = env.config(None, 60_000);
    env.fake.script(|s| {
        s.rate_limit_next = 2;
        s.server_errors_next = 2;
        s.expire_upload_token_once = true;
    });
    let build = build_id();
    env.artifacts(&build, APP).await;
    let events = env.deploy(&config, &build, Some("Todo App #7")).await;
    let done = completed(&events);
    let projects = env.fake.projects();
    assert_eq!(projects.len(), 1, "{projects:?}");
    assert!(projects[0].starts_with("bw-todo-app-7-"), "{projects:?}");
    let deployment = env.fake.deployments().pop().expect("deployment");
    assert_eq!(deployment.project, projects[0]);
    assert_eq!(deployment.branch.as_deref(), Some("main"));
    assert_eq!(done.preview_url.as_deref(), Some(deployment.url.as_str()));
    let requests = env.fake.requests();
    for status in [" 429", " 503", " 401"] {
        assert!(
            requests.iter().any(|r| r.ends_with(status)),
            "{status} in {requests:#?}"
        );
    }
    let tokens = requests
        .iter()
        .filter(|r| r.contains("/upload-token 200"))
        .count();
    assert_eq!(
        tokens, 2,
        "a fresh upload token after the expired one: {requests:#?}"
    );
    assert_eq!(env.fake.problems(), Vec::<String>::new());
}

/// One failure case: what to change, and what `deploy_failed` must say.
struct Case {
    name: &'static str,
    token: &'static str,
    project: Option<&'static str>,
    timeout_ms: u64,
    script: fn(&mut buildwire_fakes_cloudflare::Script),
    code: &'static str,
    retryable: bool,
    within: Duration,
    detail: &'static str,
}

#[tokio::test]
async fn each_failure_ends_the_build_with_its_code() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = env().await;
    env.fake.add_project("site");
    let cases = [
        Case {
            name: "refused token",
            token: "wrong-token",
            project: Some("site"),
            timeout_ms: 60_000,
            script: |_| {},
            code: "CLOUDFLARE_UNAUTHORIZED",
            retryable: false,
            within: Duration::from_secs(10),
            detail: "401",
        },
        Case {
            name: "missing project",
            token: TOKEN,
            project: Some("nope"),
            timeout_ms: 60_000,
            script: |_| {},
            code: "PAGES_PROJECT_NOT_FOUND",
            retryable: false,
            within: Duration::from_secs(10),
            detail: "\"nope\"",
        },
        Case {
            name: "failed deploy stage",
            token: TOKEN,
            project: Some("site"),
            timeout_ms: 60_000,
            script: |s| s.fail_deploy = true,
            code: "DEPLOYMENT_FAILED",
            retryable: true,
            within: Duration::from_secs(15),
            detail: "Failed: an internal error occurred",
        },
        Case {
            name: "slow deploy",
            token: TOKEN,
            project: Some("site"),
            timeout_ms: 3_000,
            script: |s| {
                s.fail_deploy = false;
                s.deploy_takes = Duration::from_secs(60);
            },
            code: "DEPLOY_TIMEOUT",
            retryable: true,
            within: Duration::from_secs(8),
            detail: "still in its deploy (active) stage",
        },
        Case {
            name: "rate limited throughout",
            token: TOKEN,
            project: Some("site"),
            timeout_ms: 3_000,
            script: |s| s.rate_limit_next = 1_000,
            code: "DEPLOY_TIMEOUT",
            retryable: true,
            within: Duration::from_secs(8),
            detail: "429",
        },
    ];
    for case in cases {
        env.fake.script(case.script);
        let mut config = env.config(case.project, case.timeout_ms);
        config.cloudflare_api_token = Some(case.token.into());
        let build = build_id();
        env.artifacts(&build, APP).await;
        let started = std::time::Instant::now();
        let events = env.deploy(&config, &build, None).await;
        let took = started.elapsed();
        let failure = failed(&events);
        let stage_failure = failure.failure.clone().expect("failure fields");
        assert_eq!(stage_failure.code, case.code, "{}: {failure:#?}", case.name);
        assert_eq!(stage_failure.retryable, case.retryable, "{}", case.name);
        assert!(
            stage_failure.error.contains(case.detail),
            "{}: {}",
            case.name,
            stage_failure.error
        );
        assert!(
            failure.suggested_action.is_some(),
            "{}: suggestedAction",
            case.name
        );
        assert!(took < case.within, "{}: ended in {took:?}", case.name);
        let Some(EventBody::Failed(terminal)) = events.last().map(|e| &e.body) else {
            panic!("{}: failed last: {events:#?}", case.name);
        };
        assert_eq!(terminal.code, case.code, "{}", case.name);
        assert_eq!(terminal.stage, Stage::Deploy);
        assert_eq!(
            terminal.severity,
            ErrorSeverity::Soft,
            "{}: never the user's breaker",
            case.name
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e.body, EventBody::DeployFailed(_)))
                .count(),
            1,
            "{}: one deploy_failed",
            case.name
        );
        if case.code == "DEPLOYMENT_FAILED" {
            assert!(failure.deployment_id.is_some() && failure.deploy_log_url.is_some());
            let lines = deploy_log(&events);
            assert!(lines.iter().any(|l| l.starts_with("Failed:")), "{lines:?}");
        }
        env.fake
            .script(|s| *s = buildwire_fakes_cloudflare::Script::default());
    }
    assert_eq!(env.fake.problems(), Vec::<String>::new());
}
