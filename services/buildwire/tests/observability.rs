//! Issue 19: one build is one trace, and every service serves its metrics. Builds run with
//! real npm against a real nats-server; spans go to a real OTLP receiver (`otlp/`):
//! - `buildwire up` exporting over gRPC: the main app's `traceparent` is the parent of the
//!   submit span, and every stage attempt, LLM call, npm step, upload, recorder write and
//!   the edge's first delivery to a viewer (`deliver`) of the build hangs below it;
//!   `GET /v1/builds/{id}` answers that trace id (`traceId`), and the edge's own when no
//!   `traceparent` came; the edge's `/metrics` (OpenMetrics, one `# EOF`) carries every
//!   service's series, the notifier's included, labelled series at zero, and every metric
//!   the alert rules and the dashboard use exists.
//! - The services as separate processes (the commands `compose.yaml` runs, each as its own
//!   NATS user, the notifier included) exporting over HTTP/protobuf: the same trace across
//!   seven processes, each named by its service; each serves `/metrics` on
//!   `BUILDWIRE_METRICS_ADDR` (the edge on its own port) with the OpenMetrics content type
//!   and its series at zero before the build; log lines carry the trace id.

mod common;
mod exposition;
mod otlp;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use buildwire_runtime::nats::Role;
use buildwire_runtime::nats::server::free_port;
use buildwire_testkit::{NatsFixture, eventually};
use buildwire_webhook_receiver::{Receiver, secret};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use common::KEY;
use otlp::Span;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const JWT_KEYS: &str = "k1:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The main app's span: a `traceparent` it sends with the submission.
struct Parent {
    trace_id: String,
    span_id: String,
}

impl Parent {
    fn random() -> Parent {
        let trace = ulid::Ulid::generate().0;
        let span = ulid::Ulid::generate().0 as u64 | 1;
        Parent {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{span:016x}"),
        }
    }

    fn header(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Submits the todo prompt with `parent`'s `traceparent` (none without one); answers the
/// build id and its build token.
async fn submit(http: &reqwest::Client, base: &str, parent: Option<&Parent>) -> (String, String) {
    let mut request = http.post(format!("{base}/v1/builds")).bearer_auth(KEY);
    if let Some(parent) = parent {
        request = request
            .header("traceparent", parent.header())
            .header("tracestate", "mainapp=1");
    }
    let body = json!({"prompt": "Create a todo app with dark mode", "userId": "u-otel"});
    let answer = common::submitted(request, &body).await;
    let field = |name: &str| {
        answer[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {answer}"))
            .to_string()
    };
    (field("buildId"), field("buildToken"))
}

/// A viewer: reads the build's SSE stream to its end in the background, so the edge
/// delivers its events live.
fn watch(
    http: &reqwest::Client,
    base: &str,
    build_id: &str,
    token: &str,
) -> tokio::task::JoinHandle<()> {
    let request = http.get(format!("{base}/events/{build_id}?token={token}"));
    tokio::spawn(async move {
        let Ok(mut response) = request.send().await else {
            return;
        };
        while let Ok(Some(_)) = response.chunk().await {}
    })
}

/// `GET /v1/builds/{id}`'s `traceId`.
async fn trace_id_of(http: &reqwest::Client, base: &str, build_id: &str) -> Value {
    let progress = common::progress(http, base, KEY, build_id).await;
    assert!(
        progress
            .as_object()
            .is_some_and(|p| p.contains_key("traceId")),
        "traceId is always present: {progress}"
    );
    progress["traceId"].clone()
}

/// Waits (up to 240 s: real npm) for the build's `complete`.
async fn completed(http: &reqwest::Client, base: &str, build_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let page = common::events_page(http, base, KEY, build_id).await;
        let types: Vec<&str> = page["events"]
            .as_array()
            .map(|events| events.iter().filter_map(|e| e["type"].as_str()).collect())
            .unwrap_or_default();
        if types.contains(&"complete") {
            return;
        }
        assert!(
            !types.contains(&"failed") && Instant::now() < deadline,
            "the build did not complete: {page}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The spans named `name` (of this build when they carry `buildId`).
fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// Waits until the trace holds the build's last spans, then checks its shape: the submit
/// span under the main app's, each stage attempt under the previous one, LLM calls under
/// plan and execute, npm and the upload under build, recorder writes under the spans that
/// published the events. Answers the spans by name.
async fn one_trace(receiver: &otlp::Receiver, parent: &Parent, build_id: &str) -> Vec<Span> {
    let spans = eventually(Duration::from_secs(30), "the build's spans", || async {
        let spans = receiver.trace(&parent.trace_id);
        let last_written = spans
            .iter()
            .any(|s| s.name == "record event" && s.attr("eventType") == Some("complete"));
        // The build attempt ends last: it removes its work dir (node_modules) after
        // handing the build to deploy.
        let attempts = ["plan", "execute", "build", "deploy"]
            .iter()
            .all(|stage| !named(&spans, &format!("{stage} attempt")).is_empty());
        (last_written && attempts).then_some(spans)
    })
    .await;
    // Nothing of this build went to another trace.
    let strays: Vec<Span> = receiver
        .spans()
        .into_iter()
        .filter(|s| s.attr("buildId") == Some(build_id) && s.trace_id != parent.trace_id)
        .collect();
    assert!(
        strays.is_empty(),
        "spans of the build in other traces: {strays:#?}"
    );
    let one = |name: &str| -> &Span {
        let found = named(&spans, name);
        assert!(
            !found.is_empty(),
            "no {name:?} span in {:#?}",
            names(&spans)
        );
        found[0]
    };
    let submit = one("submit build");
    assert_eq!(
        submit.parent_span_id, parent.span_id,
        "the main app's span is the parent"
    );
    assert_eq!(submit.attr("buildId"), Some(build_id));
    let mut above = submit;
    for stage in ["plan", "execute", "build", "deploy"] {
        let attempt = one(&format!("{stage} attempt"));
        assert_eq!(
            attempt.parent_span_id, above.span_id,
            "{stage} attempt's parent is {}",
            above.name
        );
        assert_eq!(attempt.attr("buildId"), Some(build_id));
        above = attempt;
    }
    let id_of = |name: &str| one(name).span_id.clone();
    let children = |parent: &str| -> BTreeSet<String> {
        spans
            .iter()
            .filter(|s| s.parent_span_id == parent)
            .map(|s| s.name.clone())
            .collect()
    };
    for (stage, wanted) in [
        ("plan attempt", &["llm call"][..]),
        ("execute attempt", &["llm call"][..]),
        (
            "build attempt",
            // No `npm rebuild`: the offline app's packages have no install scripts.
            &["npm install", "npm run build", "upload artifacts"][..],
        ),
    ] {
        let below = children(&id_of(stage));
        for name in wanted {
            assert!(
                below.contains(*name),
                "{stage} has no {name:?} child: {below:?}"
            );
        }
    }
    for call in named(&spans, "llm call") {
        assert_eq!(call.attr("gen_ai.system"), Some("offline"), "{call:?}");
    }
    // The recorder writes every event under the span that published it.
    let writes = named(&spans, "record event");
    let queued = writes
        .iter()
        .find(|w| w.attr("seq").is_some() && w.parent_span_id == submit.span_id);
    assert!(
        queued.is_some(),
        "the queued event's write is under the submit span"
    );
    let complete = writes
        .iter()
        .find(|w| w.attr("eventType") == Some("complete"))
        .expect("complete written");
    assert_eq!(complete.parent_span_id, id_of("deploy attempt"));
    let npm_logs = writes
        .iter()
        .filter(|w| w.attr("eventType") == Some("build_progress"))
        .count();
    assert!(npm_logs > 0, "npm's log batches are written in the trace");
    // The edge's first live delivery to the viewer: one per node, under the span that
    // published the event, as the recorder's write of that event is.
    let delivered = named(&spans, "deliver");
    assert_eq!(
        delivered.len(),
        1,
        "one first delivery: {:#?}",
        names(&spans)
    );
    let deliver = delivered[0];
    assert_eq!(deliver.attr("buildId"), Some(build_id));
    let written = writes
        .iter()
        .find(|w| w.attr("seq").is_some() && w.attr("seq") == deliver.attr("seq"))
        .unwrap_or_else(|| panic!("no write of the delivered event: {deliver:?}"));
    assert_eq!(
        deliver.parent_span_id, written.parent_span_id,
        "the delivery hangs under the event's publisher"
    );
    assert!(
        spans.iter().any(|s| s.span_id == deliver.parent_span_id),
        "the delivery's parent is in the trace"
    );
    spans
}

fn names(spans: &[Span]) -> Vec<String> {
    spans
        .iter()
        .map(|s| {
            format!(
                "{} [{}] {} <- {}",
                s.name,
                s.service(),
                s.span_id,
                s.parent_span_id
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_through_up_is_one_trace_and_the_edge_serves_every_metric() {
    let receiver = otlp::Receiver::grpc().await;
    let key = secret();
    let main_app = Receiver::start(&key).await;
    let main_app_url = main_app.url();
    let nats = NatsFixture::start();
    let (base, _data, _up) = common::up(
        &nats.url(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            // The notifier runs in `up` too: its series belong on the same endpoint.
            ("MAIN_APP_URL", main_app_url.as_str()),
            ("MAIN_APP_WEBHOOK_SECRET", key.as_str()),
            ("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "1"),
        ],
    )
    .await;
    let http = http();
    let parent = Parent::random();
    let started = Instant::now();
    let (build_id, token) = submit(&http, &base, Some(&parent)).await;
    let viewer = watch(&http, &base, &build_id, &token);
    completed(&http, &base, &build_id).await;
    let spans = one_trace(&receiver, &parent, &build_id).await;
    assert!(
        spans.iter().all(|s| s.service() == "buildwire"),
        "{:#?}",
        names(&spans)
    );
    assert_eq!(
        trace_id_of(&http, &base, &build_id).await,
        json!(parent.trace_id),
        "GET /v1/builds/{{id}} answers the main app's trace"
    );
    eprintln!(
        "up: build and {} spans in one trace after {:.1}s",
        spans.len(),
        started.elapsed().as_secs_f64()
    );
    viewer.abort();

    let (kind, text) = eventually(
        Duration::from_secs(30),
        "the complete webhook counted",
        || async {
            let (kind, text) = get(&http, &format!("{base}/metrics")).await?;
            text.contains("buildwire_notify_webhooks_total{outcome=\"delivered\"} 1")
                .then_some((kind, text))
        },
    )
    .await;
    assert_eq!(kind, OPENMETRICS);
    assert_eq!(OPENMETRICS, buildwire_runtime::metrics::CONTENT_TYPE);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    for line in [
        "buildwire_builds_finished_total{outcome=\"completed\"} 1",
        "buildwire_builds_finished_total{outcome=\"failed\"} 0",
        "buildwire_stage_duration_seconds_count{stage=\"deploy\",outcome=\"ok\"} 1",
        "buildwire_stage_errors_total{stage=\"build\",code=\"NPM_BUILD_FAILED\"} 0",
        "buildwire_stage_workers{stage=\"execute\"} 1",
        "buildwire_recorder_events_stored_total{type=\"complete\"} 1",
        "buildwire_breaker_trips_total 0",
        "buildwire_llm_tokens_total{provider=\"anthropic\",kind=\"input\"} 0",
        "buildwire_edge_builds_submitted_total 1",
        "buildwire_edge_connections_opened_total{transport=\"sse\"} 1",
        "buildwire_edge_connections{transport=\"ws\"} 0",
        "buildwire_edge_sse_fallbacks_total 0",
        "buildwire_edge_slow_viewer_closes_total{transport=\"sse\"} 0",
        "buildwire_edge_history_refetches_total{reason=\"gap\"} 0",
        "buildwire_edge_stream_starts_total{from=\"window\"}",
        "buildwire_edge_rate_limited_total{scope=\"viewers_user\"} 0",
        "buildwire_edge_events_delivered_total{type=\"heartbeat\"}",
        "buildwire_edge_circuit_open_refusals_total 0",
        "buildwire_recorder_events_stored_total{type=\"file_progress\"}",
        "buildwire_notify_webhooks_total{outcome=\"gone\"} 0",
        "buildwire_notify_webhook_attempts_total{result=\"2xx\"} 1",
        "buildwire_notify_webhook_attempts_total{result=\"5xx\"} 0",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    for series in [
        "buildwire_stage_queue_depth{stage=\"plan\"}",
        "buildwire_recorder_lag_messages",
        "buildwire_stage_commands_in_flight{stage=\"deploy\"}",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    // Every family has its series from the start, so everything ops/ queries is exposed.
    let exposed = exposition::names(&text);
    let missing: Vec<String> = exposition::referenced_by_ops()
        .into_iter()
        .filter(|name| !exposed.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "alerts or dashboard query metrics nobody exposes: {missing:?}"
    );
    for family in exposition::KEY_METRICS {
        assert!(exposed.contains(*family), "{family} missing:\n{text}");
    }

    // Without the main app's traceparent the build's trace is the submit span's own.
    let (unparented, _) = submit(&http, &base, None).await;
    let trace_id = trace_id_of(&http, &base, &unparented).await;
    let trace_id = trace_id
        .as_str()
        .expect("a trace id once the build is stored");
    assert!(
        trace_id.len() == 32 && trace_id != parent.trace_id,
        "{trace_id}"
    );
    eventually(Duration::from_secs(30), "its submit span", || async {
        receiver
            .trace(trace_id)
            .iter()
            .any(|s| s.name == "submit build" && s.attr("buildId") == Some(unparented.as_str()))
            .then_some(())
    })
    .await;
}

/// One service process started as `compose.yaml` runs it.
struct Service {
    name: String,
    child: Child,
    metrics: Option<String>,
    log: PathBuf,
}

/// `compose.yaml`'s services that run the buildwire image: name, command, NATS user.
fn compose_services() -> Vec<(String, Vec<String>, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compose.yaml");
    let mut compose: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("compose.yaml")).expect("YAML");
    for _ in 0..4 {
        compose.apply_merge().expect("merge keys"); // nested merges, as Compose resolves them
    }
    let services = compose["services"].as_mapping().expect("services");
    services
        .iter()
        .filter(|(_, s)| s["image"].as_str() == Some("buildwire:latest"))
        .map(|(name, s)| {
            let command = s["command"]
                .as_sequence()
                .expect("command")
                .iter()
                .map(|a| a.as_str().expect("arg").to_string())
                .collect();
            let user = s["environment"]["NATS_USER"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (name.as_str().expect("name").to_string(), command, user)
        })
        .collect()
}

fn role(user: &str) -> Role {
    Role::ALL
        .into_iter()
        .find(|r| r.user() == user)
        .unwrap_or_else(|| panic!("unknown NATS user {user}"))
}

fn service_command(args: &[String], env: &[(&str, String)], log: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_buildwire"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

async fn get(http: &reqwest::Client, url: &str) -> Option<(String, String)> {
    let response = http.get(url).send().await.ok()?;
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Some((kind, response.text().await.ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_as_separate_processes_make_one_trace_and_serve_openmetrics() {
    let receiver = otlp::Receiver::http().await;
    let nats = NatsFixture::start();
    let data = tempfile::tempdir().expect("tmp");
    let http = http();
    let edge_port = free_port().expect("port");
    let base = format!("http://127.0.0.1:{edge_port}");
    let common_env = |role: Role| -> Vec<(&'static str, String)> {
        vec![
            ("NATS_URL", nats.url_as(role)),
            ("BUILDWIRE_DATA_DIR", data.path().display().to_string()),
            ("BUILDWIRE_JWT_KEYS", JWT_KEYS.into()),
            ("BUILDWIRE_SERVICE_KEYS", KEY.into()),
            ("BUILDWIRE_PUBLIC_URL", base.clone()),
            ("BUILDWIRE_HTTP_ADDR", format!("127.0.0.1:{edge_port}")),
            ("BUILDWIRE_LOG_FORMAT", "json".into()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200".into()),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=test".into(),
            ),
        ]
    };
    let services = compose_services();
    // compose's one-shot setup first: definitions as the admin, migrations.
    let (_, setup_args, setup_user) = services
        .iter()
        .find(|(name, ..)| name == "setup")
        .expect("a setup service");
    let output = service_command(
        setup_args,
        &common_env(role(setup_user)),
        &data.path().join("setup.log"),
    )
    .output()
    .await
    .expect("setup runs");
    assert!(output.status.success(), "setup: {output:?}");

    let key = secret();
    let main_app = Receiver::start(&key).await;
    let mut running: Vec<Service> = Vec::new();
    let mut commands_started = BTreeSet::new();
    for (name, args, user) in &services {
        // One edge node is enough here.
        if name == "setup" || name == "edge-2" {
            continue;
        }
        let mut env = common_env(role(user));
        if args[0] == "notify" {
            env.push(("MAIN_APP_URL", main_app.url()));
            env.push(("MAIN_APP_WEBHOOK_SECRET", key.clone()));
            env.push(("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "1".into()));
        }
        // The edge serves /metrics beside its API; every other service on its own address.
        let metrics = if args[0] == "edge" {
            Some(format!("{base}/metrics"))
        } else {
            let addr = format!("127.0.0.1:{}", free_port().expect("port"));
            env.push(("BUILDWIRE_METRICS_ADDR", addr.clone()));
            Some(format!("http://{addr}/metrics"))
        };
        let log = data.path().join(format!("{name}.log"));
        let child = service_command(args, &env, &log)
            .spawn()
            .expect("service starts");
        commands_started.insert(args[0].clone());
        running.push(Service {
            name: name.clone(),
            child,
            metrics,
            log,
        });
    }
    assert_eq!(
        commands_started,
        [
            "build", "deploy", "edge", "execute", "notify", "plan", "record"
        ]
        .map(String::from)
        .into(),
        "compose runs every service"
    );

    // Each service's /metrics: OpenMetrics, its series at zero before any build.
    let expected: HashMap<&str, &[&str]> = HashMap::from([
        (
            "plan",
            &[
                "buildwire_stage_workers{stage=\"plan\"} 1",
                "buildwire_stage_duration_seconds_count{stage=\"plan\",outcome=\"ok\"} 0",
                "buildwire_stage_errors_total{stage=\"plan\",code=\"LLM_UNAVAILABLE\"} 0",
                "buildwire_llm_tokens_total{provider=\"openai\",kind=\"output\"} 0",
            ][..],
        ),
        (
            "execute",
            &["buildwire_stage_redeliveries_total{stage=\"execute\"} 0"][..],
        ),
        (
            "build",
            &["buildwire_stage_commands_in_flight{stage=\"build\"} 0"][..],
        ),
        (
            "deploy",
            &["buildwire_stage_duration_seconds_count{stage=\"deploy\",outcome=\"failed\"} 0"][..],
        ),
        (
            "record",
            &[
                "buildwire_builds_finished_total{outcome=\"completed\"} 0",
                "buildwire_recorder_events_stored_total{type=\"task_completed\"} 0",
                "buildwire_recorder_lag_messages",
            ][..],
        ),
        (
            "edge-1",
            &[
                "buildwire_edge_connections{transport=\"sse\"} 0",
                "buildwire_edge_connections_opened_total{transport=\"ws\"} 0",
                "buildwire_edge_sse_fallbacks_total 0",
                "buildwire_edge_rate_limited_total{scope=\"user\"} 0",
                "buildwire_edge_history_refetches_total{reason=\"reconnect\"} 0",
                "buildwire_edge_events_delivered_total{type=\"complete\"} 0",
                "buildwire_edge_delivery_latency_seconds_count 0",
            ][..],
        ),
        (
            "notify",
            &[
                "buildwire_notify_webhooks_total{outcome=\"delivered\"} 0",
                "buildwire_notify_webhook_attempts_total{result=\"error\"} 0",
                "buildwire_notify_delivery_latency_seconds_count 0",
            ][..],
        ),
    ]);
    for service in &running {
        let Some(url) = &service.metrics else {
            continue;
        };
        let lines = expected[service.name.as_str()];
        let (kind, text) = eventually(Duration::from_secs(60), "/metrics", || async {
            let (kind, text) = get(&http, url).await?;
            // Stages and the recorder sample consumer info after start.
            let sampled = !lines[0].starts_with("buildwire_stage")
                || text.contains("buildwire_stage_queue_depth");
            sampled.then_some((kind, text))
        })
        .await;
        assert_eq!(kind, OPENMETRICS, "{}", service.name);
        assert!(text.ends_with("# EOF\n"), "{}: {text}", service.name);
        for line in lines {
            assert!(
                text.contains(line),
                "{}: {line} missing:\n{text}",
                service.name
            );
        }
    }
    eventually(Duration::from_secs(60), "the edge", || async {
        let (_, text) = get(&http, &format!("{base}/readyz")).await?;
        (text == "ready").then_some(())
    })
    .await;

    let parent = Parent::random();
    let (build_id, token) = submit(&http, &base, Some(&parent)).await;
    let viewer = watch(&http, &base, &build_id, &token);
    completed(&http, &base, &build_id).await;
    let spans = one_trace(&receiver, &parent, &build_id).await;
    viewer.abort();
    assert_eq!(
        trace_id_of(&http, &base, &build_id).await,
        json!(parent.trace_id),
        "GET /v1/builds/{{id}} answers the main app's trace"
    );
    for (name, service) in [
        ("submit build", "buildwire-edge"),
        ("deliver", "buildwire-edge"),
        ("plan attempt", "buildwire-plan"),
        ("execute attempt", "buildwire-execute"),
        ("npm install", "buildwire-build"),
        ("deploy attempt", "buildwire-deploy"),
        ("record event", "buildwire-record"),
    ] {
        let span = named(&spans, name)[0];
        assert_eq!(span.service(), service, "{name}");
        assert_eq!(
            span.resource
                .get("deployment.environment")
                .map(String::as_str),
            Some("test"),
            "OTEL_RESOURCE_ATTRIBUTES"
        );
    }

    // The stage's metrics moved; the recorder counted the finished build.
    let plan = running.iter().find(|s| s.name == "plan").expect("plan");
    let (_, text) = get(&http, plan.metrics.as_deref().expect("url"))
        .await
        .expect("plan metrics");
    assert!(
        text.contains("buildwire_stage_duration_seconds_count{stage=\"plan\",outcome=\"ok\"} 1"),
        "{text}"
    );
    let record = running.iter().find(|s| s.name == "record").expect("record");
    eventually(
        Duration::from_secs(10),
        "the finished build counted",
        || async {
            let (_, text) = get(&http, record.metrics.as_deref()?).await?;
            text.contains("buildwire_builds_finished_total{outcome=\"completed\"} 1")
                .then_some(())
        },
    )
    .await;
    let notify = running.iter().find(|s| s.name == "notify").expect("notify");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = get(&http, notify.metrics.as_deref().expect("url")).await;
        let text = text.map(|(_, text)| text).unwrap_or_default();
        if text.contains("buildwire_notify_webhooks_total{outcome=\"delivered\"} 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the complete webhook was not counted:\n{text}\nnotify's log:\n{}",
            std::fs::read_to_string(&notify.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Log lines of the build carry its trace id.
    let plan_log = plan.log.clone();
    for service in running.iter_mut() {
        let status = common::stop(&mut service.child).await;
        assert!(
            status.success(),
            "{} exits cleanly: {status:?}",
            service.name
        );
    }
    let plan_log = std::fs::read_to_string(&plan_log).expect("plan log");
    let of_build: Vec<Value> = plan_log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["span"]["buildId"] == build_id.as_str())
        .collect();
    assert!(!of_build.is_empty(), "{plan_log}");
    assert!(
        of_build
            .iter()
            .all(|l| l["span"]["traceId"] == parent.trace_id.as_str()),
        "{plan_log}"
    );
}
