//! The OpenAPI document against a running edge: schemathesis 4 (PyPI; `scripts/setup`
//! installs it into `.tools/venv`) reads `/openapi.json`, generates requests for every
//! documented operation (valid and invalid ones) and checks every answer against the
//! document: status, content type, headers and body schema, plus no server errors.
//!
//! The edge runs on a real nats-server with the examples of the spec stored as a real
//! build (`buildwire_schemas::openapi::examples`: every event type, a preview), so the
//! example ids answer with data. The stream routes (`/ws/builds/{id}`, `/events/{id}`)
//! are documented but left out: a WebSocket upgrade and an endless event stream are not
//! request/response operations schemathesis can judge; `edge.rs` and `edge_api.rs`
//! test them with real clients.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use buildwire_runtime::objects::Artifacts;
use buildwire_runtime::publish::Publisher;
use buildwire_schemas::openapi::examples;
use buildwire_testkit::{NatsFixture, connect};
use serde_json::Value;

use crate::edge_clients::{KEYS, Node, SERVICE_KEY};

/// Test cases per operation and phase (keeps the run to about a minute on 2 cores).
const MAX_EXAMPLES: &str = "100";
/// A fixed seed, so a failure reproduces.
const SEED: &str = "20261120";
/// The whole run's limit.
const LIMIT: Duration = Duration::from_secs(300);
/// Operations schemathesis leaves out (see the module docs).
const EXCLUDED: &str = "^/(ws/builds|events)/";

fn schemathesis() -> PathBuf {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.tools/venv/bin/schemathesis"
    ));
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup",
        path.display()
    );
    path
}

/// Stores the spec's example build: its events (the first with the submitting user, as
/// the edge stores it) and two preview files.
async fn store_examples(url: &str) {
    let nats = connect(url).await;
    let publisher = Publisher::new(nats.js.clone());
    for (n, mut event) in examples::events().into_iter().enumerate() {
        event.seq = 0;
        let mut headers = HeaderMap::new();
        if n == 0 {
            headers.insert(buildwire_edge::api::submit::USER_HEADER, "user-42");
        }
        publisher
            .event_with_headers(&event, &format!("{}:example:{n}", event.build_id), headers)
            .await
            .expect("example event stored");
    }
    let artifacts = Artifacts::open(&nats).await.expect("artifacts");
    for (path, body) in [
        ("index.html", "<!doctype html><title>Todo</title>"),
        ("assets/index.js", "console.log('todo')"),
    ] {
        artifacts
            .put(examples::BUILD_ID, path, body.as_bytes())
            .await
            .expect("preview file stored");
    }
}

/// schemathesis' settings beyond the command line: two documented refusals it does not
/// expect by default.
///
/// - 413 rejects an invalid body too (when it is over 64 KiB).
/// - A valid submission may be refused 422 `IDEMPOTENCY_KEY_REUSED` when its
///   `Idempotency-Key` was used before with another body, which
///   `positive_data_acceptance` would count as a rejected valid request.
const CONFIG: &str = r#"
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]

[[operations]]
include-path-regex = "^/(v1/builds|build-preview)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"#;

/// The run's figures, from schemathesis' JSON report and HAR log.
#[derive(Debug, Default)]
struct Figures {
    operations: u64,
    test_cases: u64,
    calls: usize,
    server_errors: usize,
    failures: u64,
    errors: usize,
}

fn figures(report: &Value, har: &Value) -> Figures {
    let count = |v: &Value| v.as_u64().unwrap_or_default();
    let entries = har["log"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Figures {
        operations: count(&report["operations"]["tested"]),
        test_cases: count(&report["test_cases"]["generated"]),
        calls: entries.len(),
        server_errors: entries
            .iter()
            .filter(|e| e["response"]["status"].as_u64().is_some_and(|s| s >= 500))
            .count(),
        failures: report["failures"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| count(&f["count"]))
            .sum(),
        errors: report["errors"].as_array().map_or(0, Vec::len),
    }
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_matches_the_openapi_document() {
    let binary = schemathesis();
    let fixture = NatsFixture::start();
    // Limits out of the way, so submissions reach the code behind them (429s are
    // documented and would still conform).
    let node = Node::with_env(
        &fixture.url(),
        KEYS,
        &[
            ("BUILDWIRE_RATE_USER_PER_MIN", "1000000"),
            ("BUILDWIRE_RATE_USER_BURST", "1000000"),
            ("BUILDWIRE_RATE_GLOBAL_PER_MIN", "1000000"),
            ("BUILDWIRE_CONNECT_RATE_PER_MIN", "1000000"),
        ],
    )
    .await;
    store_examples(&fixture.url()).await;
    // The spec served is the checked-in one (`buildwire openapi`), plus this node's URL.
    let mut served: Value = crate::edge_clients::http()
        .get(format!("{}/openapi.json", node.http()))
        .send()
        .await
        .expect("spec")
        .json()
        .await
        .expect("spec json");
    assert_eq!(served["servers"][0]["url"], node.http());
    served["servers"] = Value::Array(Vec::new());
    let checked_in = read_json(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/openapi.json"
    )));
    assert!(
        served == checked_in,
        "/openapi.json differs from schemas/openapi.json"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("config written");
    let (report, har) = (dir.path().join("report.json"), dir.path().join("calls.har"));
    let started = Instant::now();
    let mut command = tokio::process::Command::new(&binary);
    command
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", node.http())])
        .args(["--url", &node.http()])
        .args(["--header", &format!("Authorization: Bearer {SERVICE_KEY}")])
        .args(["--checks", "all"])
        // Off: poem answers an undeclared method with 405 (right) but without `Allow`,
        // which only an app-wide middleware could add.
        .args(["--exclude-checks", "unsupported_method"])
        .args(["--exclude-path-regex", EXCLUDED])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        // One worker: hypothesis parses lambdas' sources with `ast`, which Python 3.11
        // can get wrong when threads do it at once.
        .args(["--workers", "1", "--no-color"])
        .args(["--report", "json,har", "--report-json-path"])
        .arg(&report)
        .arg("--report-har-path")
        .arg(&har)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .kill_on_drop(true);
    let output = tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("schemathesis finishes in time")
        .expect("schemathesis runs");
    let elapsed = started.elapsed();
    println!("{}", String::from_utf8_lossy(&output.stdout));
    let figures = figures(&read_json(&report), &read_json(&har));
    println!(
        "openapi conformance: {} operations, {} test cases, {} calls, {} failures, {} errors, \
         {} server errors in {:.0} s (not run: {EXCLUDED})",
        figures.operations,
        figures.test_cases,
        figures.calls,
        figures.failures,
        figures.errors,
        figures.server_errors,
        elapsed.as_secs_f64()
    );
    assert!(figures.calls > 0, "schemathesis made no calls");
    assert!(
        output.status.success()
            && figures.failures == 0
            && figures.errors == 0
            && figures.server_errors == 0,
        "schemathesis found answers that contradict the spec (exit {:?}); see above",
        output.status.code()
    );
}
