//! Issue 15, faults, with the consumer definitions as shipped in `nats/` (not the tests'
//! quick ones): a killed worker's command resumes on a live worker within seconds; a
//! worker whose NATS goes away finishes within seconds of its return; SIGTERM while NATS
//! is down exits within the drain timeout, and the command is not lost.

use std::time::{Duration, Instant};

use buildwire_runtime::nats::{Definitions, Nats};
use buildwire_schemas::{Event, EventBody};
use buildwire_testkit::{NatsFixture, connect, eventually, stored_events};
use nix::sys::signal::Signal;
use serde_json::json;

use crate::support::{Worker, build_id, log_lines, submit};

/// The shipped definitions applied to `fixture`, and written where workers read them.
async fn shipped(fixture: &NatsFixture) -> (Nats, std::path::PathBuf) {
    let nats = connect(&fixture.url()).await;
    let defs = Definitions::embedded().expect("definitions parse");
    defs.apply(&nats, None).await.expect("definitions apply");
    let dir = fixture.scratch("defs");
    defs.write_to_dir(&dir).expect("definitions written");
    (nats, dir)
}

fn steps(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Status(s) => Some(s.message.clone()),
            _ => None,
        })
        .collect()
}

fn expected(n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("probe step {i}/{n}")).collect()
}

async fn completed(log: &std::path::Path, limit: Duration) {
    eventually(limit, "the command completed", || async {
        log_lines(log)
            .iter()
            .any(|l| l.starts_with("completed"))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_command_resumes_on_a_live_worker_within_five_seconds() {
    let fixture = NatsFixture::start();
    let (nats, defs) = shipped(&fixture).await;
    let log = fixture.scratch("log").join("probe.log");
    let log_env = log.to_string_lossy().into_owned();
    let first = Worker::start(
        &fixture.url(),
        &defs,
        &[("PROBE_STEP_DELAY_MS", "1500"), ("PROBE_LOG", &log_env)],
    )
    .await;
    let id = build_id();
    submit(&nats, &id, json!({"steps": 4})).await;
    eventually(Duration::from_secs(20), "the first step", || async {
        (!stored_events(&nats, &id).await.is_empty()).then_some(())
    })
    .await;
    let _live = Worker::start(
        &fixture.url(),
        &defs,
        &[("PROBE_STEP_DELAY_MS", "0"), ("PROBE_LOG", &log_env)],
    )
    .await;
    eventually(Duration::from_secs(20), "two steps", || async {
        (stored_events(&nats, &id).await.len() >= 2).then_some(())
    })
    .await;
    first.signal(Signal::SIGKILL);
    let killed = Instant::now();
    completed(&log, Duration::from_secs(30)).await;
    let resumed = killed.elapsed();
    eprintln!("a killed worker's command completed on the live worker {resumed:?} after the kill");
    assert!(
        resumed < Duration::from_secs(6),
        "resumed within the 4 s ack wait (plus pull and steps), took {resumed:?}"
    );
    assert_eq!(steps(&stored_events(&nats, &id).await), expected(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_finishes_within_five_seconds_of_nats_coming_back() {
    let mut fixture = NatsFixture::start();
    let (nats, defs) = shipped(&fixture).await;
    let log = fixture.scratch("log").join("probe.log");
    let log_env = log.to_string_lossy().into_owned();
    let _worker = Worker::start(
        &fixture.url(),
        &defs,
        &[("PROBE_STEP_DELAY_MS", "700"), ("PROBE_LOG", &log_env)],
    )
    .await;
    let id = build_id();
    submit(&nats, &id, json!({"steps": 6})).await;
    eventually(Duration::from_secs(20), "two steps", || async {
        (stored_events(&nats, &id).await.len() >= 2).then_some(())
    })
    .await;
    fixture.server.kill();
    tokio::time::sleep(Duration::from_secs(8)).await;
    fixture.server.restart().expect("NATS comes back");
    let back = Instant::now();
    completed(&log, Duration::from_secs(40)).await;
    let finished = back.elapsed();
    eprintln!("the build finished {finished:?} after NATS came back");
    assert!(
        finished < Duration::from_secs(7),
        "finished soon after NATS returned (target 5 s), took {finished:?}"
    );
    assert_eq!(steps(&stored_events(&nats, &id).await), expected(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_nats_is_down_exits_within_the_drain_timeout_and_loses_nothing() {
    let mut fixture = NatsFixture::start();
    let (nats, defs) = shipped(&fixture).await;
    let log = fixture.scratch("log").join("probe.log");
    let log_env = log.to_string_lossy().into_owned();
    let mut worker = Worker::start(
        &fixture.url(),
        &defs,
        &[
            ("PROBE_STEP_DELAY_MS", "1000"),
            ("PROBE_LOG", &log_env),
            ("BUILDWIRE_DRAIN_TIMEOUT_MS", "4000"),
        ],
    )
    .await;
    let id = build_id();
    submit(&nats, &id, json!({"steps": 8})).await;
    eventually(Duration::from_secs(20), "work under way", || async {
        (!stored_events(&nats, &id).await.is_empty()).then_some(())
    })
    .await;
    fixture.server.kill();
    worker.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(30), worker.child.wait())
        .await
        .expect("it exits")
        .expect("status");
    let took = signalled.elapsed();
    eprintln!("SIGTERM with NATS down: exited in {took:?} (drain timeout 4 s)");
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_millis(4500),
        "exited within the drain timeout, took {took:?}"
    );
    // The command was not lost: NATS back, another worker finishes it.
    fixture.server.restart().expect("NATS comes back");
    let _next = Worker::start(
        &fixture.url(),
        &defs,
        &[("PROBE_STEP_DELAY_MS", "0"), ("PROBE_LOG", &log_env)],
    )
    .await;
    completed(&log, Duration::from_secs(30)).await;
    assert_eq!(steps(&stored_events(&nats, &id).await), expected(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_while_nats_is_down_is_refused_at_once_and_leaves_nothing() {
    use crate::edge_clients::{Node, SERVICE_KEY, http};
    let mut fixture = NatsFixture::start();
    let nats = connect(&fixture.url()).await;
    let node = Node::start(&fixture.url()).await;
    fixture.server.kill();
    // The edge's client notices the loss within moments.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    let response = http()
        .post(format!("{}/v1/builds", node.http()))
        .bearer_auth(SERVICE_KEY)
        .json(&json!({ "prompt": "Create a todo app", "userId": "user-1" }))
        .send()
        .await
        .expect("answered");
    let took = asked.elapsed();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        took < Duration::from_secs(2),
        "refused at once, took {took:?}"
    );
    fixture.server.restart().expect("NATS comes back");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut events = nats.js.get_stream("EVENTS").await.expect("EVENTS");
    let stored = events.info().await.expect("info").state.messages;
    assert_eq!(stored, 0, "nothing buffered and stored later");
}
