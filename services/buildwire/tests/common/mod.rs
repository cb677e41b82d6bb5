//! Running the `buildwire` binary as a process in tests: with a managed nats-server under
//! a temp data dir, or `up` against a test's own nats-server; reading its first stdout
//! line, stopping it with SIGTERM. Each test crate uses a part of it.
#![allow(dead_code)]

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `buildwire <args>` with `NATS_URL` unset (so it manages its own server) under `data`.
pub fn managed(args: &[&str], data: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_buildwire"));
    command
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("BUILDWIRE_SERVICE_KEYS")
        .env("BUILDWIRE_DATA_DIR", data)
        .env("BUILDWIRE_HTTP_ADDR", "127.0.0.1:0")
        .env(
            "BUILDWIRE_NATS_SERVER",
            buildwire_testkit::nats_server_binary(),
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The first line the process prints on stdout, within `limit`.
pub async fn first_line(child: &mut Child, limit: Duration) -> String {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    tokio::time::timeout(limit, lines.next_line())
        .await
        .expect("a line in time")
        .expect("stdout readable")
        .expect("a line")
}

/// SIGTERM, then its exit status (within 20 s).
pub async fn stop(child: &mut Child) -> ExitStatus {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id().expect("pid")).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("it exits")
        .expect("status")
}

/// The service key of stacks started by [`up`].
pub const KEY: &str = "test-service-key-0123456789";

/// `buildwire up` against `nats_url` (plus `env`) under a temp data dir, once it printed
/// `buildwire ready <base>`: its base URL, data dir and process (killed on drop).
pub async fn up(nats_url: &str, env: &[(&str, &str)]) -> (String, tempfile::TempDir, Child) {
    let data = tempfile::tempdir().expect("tmp");
    let mut command = Command::new(env!("CARGO_BIN_EXE_buildwire"));
    command
        .arg("up")
        .env("NATS_URL", nats_url)
        .env("BUILDWIRE_DATA_DIR", data.path())
        .env("BUILDWIRE_HTTP_ADDR", "127.0.0.1:0")
        .env("BUILDWIRE_SERVICE_KEYS", KEY)
        .env("BUILDWIRE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("buildwire up starts");
    let base = ready(&mut child, Duration::from_secs(60)).await;
    (base, data, child)
}

/// The base URL `buildwire up` announces in its first stdout line,
/// `buildwire ready <base>`, within `limit`.
pub async fn ready(child: &mut Child, limit: Duration) -> String {
    let line = first_line(child, limit).await;
    line.strip_prefix("buildwire ready ")
        .expect("the ready line")
        .to_string()
}

/// The Prometheus exposition a `GET` of `url` answers.
pub async fn metrics(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// Whether `event` ends its build (`complete`, `failed` or `cancelled`).
pub fn ended(event: &serde_json::Value) -> bool {
    matches!(
        event["type"].as_str(),
        Some("complete" | "failed" | "cancelled")
    )
}

/// `POST <base>/v1/builds` with `body` as `key`: the answer's build id (any status).
pub async fn submit(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    body: &serde_json::Value,
) -> String {
    let request = http.post(format!("{base}/v1/builds")).bearer_auth(key);
    let answer = submitted(request, body).await;
    answer["buildId"].as_str().expect("buildId").to_string()
}

/// Sends `request` (a submission) with `body`: its JSON answer, whatever the status.
pub async fn submitted(
    request: reqwest::RequestBuilder,
    body: &serde_json::Value,
) -> serde_json::Value {
    request
        .json(body)
        .send()
        .await
        .expect("submit")
        .json()
        .await
        .expect("json")
}

/// `GET <base>/v1/builds/<build_id>` as `key`: the build's progress.
pub async fn progress(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    build_id: &str,
) -> serde_json::Value {
    http.get(format!("{base}/v1/builds/{build_id}"))
        .bearer_auth(key)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json")
}

/// `POST <base>/v1/builds/<build_id>/cancel` as `key`: the answer's status.
pub async fn cancel(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    build_id: &str,
) -> reqwest::StatusCode {
    http.post(format!("{base}/v1/builds/{build_id}/cancel"))
        .bearer_auth(key)
        .send()
        .await
        .expect("cancel")
        .status()
}

/// The page of the build's stored events (up to 1000), read as `key`.
pub async fn events_page(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    build_id: &str,
) -> serde_json::Value {
    http.get(format!("{base}/v1/builds/{build_id}/events?limit=1000"))
        .bearer_auth(key)
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json")
}

/// The build's stored events (up to 1000), read as `key`.
pub async fn events(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    build_id: &str,
) -> Vec<serde_json::Value> {
    let page = events_page(http, base, key, build_id).await;
    page["events"].as_array().cloned().unwrap_or_default()
}

/// Runs `node tests/browser/<script> <args>` (Chromium through playwright-core) with `env`,
/// within `limit`; panics with its output unless it exits 0, else answers the output.
pub async fn browser_script(
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> String {
    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    for module in ["playwright-core", "esbuild", "react-dom"] {
        assert!(
            browser.join("node_modules").join(module).is_dir(),
            "{module} is missing from tests/browser: run scripts/setup"
        );
    }
    let mut command = Command::new("node");
    command
        .arg(browser.join(script))
        .args(args)
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within {limit:?}"))
        .expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} in Chromium:\n{report}");
    report
}

/// The main app's calls on a stack started by [`up`] (service key [`KEY`]).
pub struct Api {
    /// The edge's base URL.
    pub base: String,
    /// The client.
    pub http: reqwest::Client,
}

impl Api {
    /// Calls to `base`.
    pub fn new(base: &str) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// `POST /v1/builds` with `body`: its `202` answer.
    pub async fn submit(&self, body: &serde_json::Value) -> serde_json::Value {
        let response = self
            .http
            .post(format!("{}/v1/builds", self.base))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("submit");
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.expect("json");
        assert_eq!(status, 202, "{answer}");
        answer
    }

    /// The build's stored events (up to 1000).
    pub async fn events(&self, build_id: &str) -> Vec<serde_json::Value> {
        events(&self.http, &self.base, KEY, build_id).await
    }

    /// The build's events once it ended (within 4 minutes: real npm).
    pub async fn finished(&self, build_id: &str) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(240);
        loop {
            let events = self.events(build_id).await;
            if events.iter().any(ended) {
                return events;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "build {build_id} unfinished: {events:#?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
