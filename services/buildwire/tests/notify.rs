//! `buildwire notify` as a process (its own NATS user, `notify`): SIGKILLed while a webhook
//! is in flight and started again, every event still arrives, in order per build, under
//! one `webhook-id` each (the in-flight one may arrive twice with the same id, as the
//! Standard Webhooks specification allows); its `/metrics` served on
//! `BUILDWIRE_METRICS_ADDR`; a private target refused at start without
//! `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::time::Duration;

use buildwire_runtime::nats::Role;
use buildwire_runtime::publish::Publisher;
use buildwire_schemas::events::{Complete, DeployLog, Severity, StatusCode, StatusUpdate};
use buildwire_schemas::{BuildStatus, Event, EventBody};
use buildwire_testkit::{NatsFixture, applied, eventually};
use buildwire_webhook_receiver::{Receiver, secret};
use tokio::process::{Child, Command};

fn notify(
    nats_url: &str,
    receiver: &Receiver,
    key: &str,
    metrics: &str,
    data: &std::path::Path,
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_buildwire"))
        .arg("notify")
        .env("NATS_URL", nats_url)
        .env("BUILDWIRE_DATA_DIR", data)
        .env("MAIN_APP_URL", receiver.url())
        .env("MAIN_APP_WEBHOOK_SECRET", key)
        .env("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "1")
        .env("BUILDWIRE_WEBHOOK_STATUS_EVENTS", "1")
        .env("BUILDWIRE_METRICS_ADDR", metrics)
        .env("BUILDWIRE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("buildwire notify starts")
}

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

fn body(n: usize) -> EventBody {
    match n {
        0 => EventBody::Status(StatusUpdate {
            code: StatusCode::Queued,
            message: "Queued".into(),
            progress: Some(0),
            build_status: Some(BuildStatus::Queued),
        }),
        1 => EventBody::DeployLog(DeployLog {
            message: "not sent".into(),
            level: Severity::Info,
        }),
        2 => EventBody::Status(StatusUpdate {
            code: StatusCode::Deploy,
            message: "Deploying".into(),
            progress: Some(90),
            build_status: Some(BuildStatus::Deploying),
        }),
        _ => EventBody::Complete(Complete {
            preview_url: "https://example.pages.dev/".into(),
            message: "Your app is ready!".into(),
            build_log_url: None,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_notifier_loses_nothing_and_never_changes_an_id() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fixture = NatsFixture::start();
    let admin = applied(&fixture.url()).await;
    let key = secret();
    let receiver = Receiver::start(&key).await;
    // Each answer takes a while, so the kill lands while a POST is in flight.
    receiver.delay(Duration::from_millis(700));
    let data = tempfile::tempdir().expect("tmp");
    let metrics = free_addr();
    let url = fixture.url_as(Role::Notify);
    let mut first = notify(&url, &receiver, &key, &metrics, data.path());

    let publisher = Publisher::new(admin.js.clone());
    let mut builds = Vec::new();
    for _ in 0..4 {
        let id = ulid::Ulid::generate().to_string();
        for n in 0..4 {
            let event = Event::new(&id, format!("req-{id}"), body(n));
            publisher
                .event(&event, &format!("{id}:test:{n}"))
                .await
                .expect("stored");
        }
        builds.push(id);
    }
    // Three webhooks per build: two statuses and the end, in stream order.
    let mut expected = Vec::new();
    for id in &builds {
        for event in buildwire_testkit::stored_events(&admin, id).await {
            if !matches!(event.body, EventBody::DeployLog(_)) {
                expected.push((format!("evt_{}_{}", event.build_id, event.seq), event));
            }
        }
    }
    assert_eq!(expected.len(), 12);

    eventually(
        Duration::from_secs(30),
        "a POST in flight after two answers",
        || async {
            (receiver.accepted().len() >= 2 && receiver.started() > receiver.deliveries().len())
                .then_some(())
        },
    )
    .await;
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("reaped");
    let sent_before_kill = receiver.started();
    let mut second = notify(&url, &receiver, &key, &metrics, data.path());

    let ids: Vec<&String> = expected.iter().map(|(id, _)| id).collect();
    let got = eventually(
        Duration::from_secs(60),
        "every webhook after the restart",
        || async {
            let accepted = receiver.accepted();
            ids.iter()
                .all(|id| accepted.iter().any(|d| &&d.id == id))
                .then_some(accepted)
        },
    )
    .await;

    // Signed, each body the event as on the wire under its one id.
    let bodies: HashMap<&String, String> = expected
        .iter()
        .map(|(id, event)| (id, serde_json::to_string(event).expect("json")))
        .collect();
    for delivery in receiver.deliveries() {
        assert_eq!(delivery.verified, Ok(()), "{delivery:#?}");
        assert_eq!(
            bodies.get(&delivery.id),
            Some(&delivery.body),
            "one id per event: {delivery:#?}"
        );
    }
    // In order per build (first arrival of each id).
    let mut first_seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for delivery in &got {
        if seen.insert(delivery.id.clone()) {
            let seq = delivery.event["seq"].as_u64().expect("seq");
            let build = delivery.event["buildId"]
                .as_str()
                .expect("buildId")
                .to_string();
            first_seen.entry(build).or_default().push(seq);
        }
    }
    for (build, seqs) in &first_seen {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{build}: {seqs:?}");
    }
    let duplicates = got.len() - seen.len();
    eprintln!(
        "notify SIGKILL: {} webhooks, {} POSTs before the kill, {duplicates} duplicate(s) with the same id",
        expected.len(),
        sent_before_kill
    );
    assert!(
        duplicates <= 1,
        "only the in-flight webhook may come twice: {got:#?}"
    );

    // The restarted notifier serves its metrics.
    let text = common::metrics(&format!("http://{metrics}/metrics")).await;
    assert!(
        text.contains("buildwire_notify_webhooks_total{outcome=\"delivered\"}"),
        "{text}"
    );
    common::stop(&mut second).await;
    assert_eq!(fixture.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_private_target_is_refused_at_start_without_the_setting() {
    let key = secret();
    let data = tempfile::tempdir().expect("tmp");
    let output = Command::new(env!("CARGO_BIN_EXE_buildwire"))
        .arg("notify")
        .env("BUILDWIRE_DATA_DIR", data.path())
        .env("NATS_URL", "nats://127.0.0.1:1")
        .env("MAIN_APP_URL", "http://localhost:9/hooks")
        .env("MAIN_APP_WEBHOOK_SECRET", &key)
        .env_remove("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE")
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("MAIN_APP_URL") && stderr.contains("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_buildwire"))
        .arg("notify")
        .env_remove("MAIN_APP_URL")
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("MAIN_APP_URL is not set"));
}
