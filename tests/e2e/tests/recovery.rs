//! Issue 15, faults, with the consumer definitions as shipped in `nats/` (not the tests'
//! quick ones): a killed worker's command resumes on a live worker within seconds; a
//! worker whose NATS goes away finishes within seconds of its return; SIGTERM while NATS
//! is down exits within the drain timeout, and the command is not lost.

use std::time::{Duration, Instant};

use buildwire_runtime::nats::{Definitions, Nats};
use buildwire_schemas::EventBody;
use buildwire_testkit::{NatsFixture, connect, eventually, stored_events};
use nix::sys::signal::Signal;
use serde_json::json;

use crate::support::{Worker, build_id, log_lines, submit};

/// A NATS server with the shipped definitions applied (and written where workers read
/// them), and the probe log workers append to.
struct Scene {
    fixture: NatsFixture,
    nats: Nats,
    defs: std::path::PathBuf,
    log: std::path::PathBuf,
}

impl Scene {
    async fn new() -> Scene {
        let fixture = NatsFixture::start();
        let nats = connect(&fixture.url()).await;
        let defs = Definitions::embedded().expect("definitions parse");
        defs.apply(&nats, None).await.expect("definitions apply");
        let dir = fixture.scratch("defs");
        defs.write_to_dir(&dir).expect("definitions written");
        let log = fixture.scratch("log").join("probe.log");
        Scene {
            fixture,
            nats,
            defs: dir,
            log,
        }
    }

    /// A probe worker taking `delay_ms` per step, with `env` added.
    async fn worker(&self, delay_ms: &str, env: &[(&str, &str)]) -> Worker {
        let log = self.log.to_string_lossy().into_owned();
        let mut all = vec![
            ("PROBE_STEP_DELAY_MS", delay_ms),
            ("PROBE_LOG", log.as_str()),
        ];
        all.extend_from_slice(env);
        Worker::start(&self.fixture.url(), &self.defs, &all).await
    }

    /// Submits a `steps`-step build and waits until `stored` of its events are stored.
    async fn build_under_way(&self, steps: u32, stored: usize) -> String {
        let id = build_id();
        submit(&self.nats, &id, json!({ "steps": steps })).await;
        eventually(Duration::from_secs(20), "work under way", || async {
            (stored_events(&self.nats, &id).await.len() >= stored).then_some(())
        })
        .await;
        id
    }

    /// Waits until a worker logged the command's completion.
    async fn completed(&self, limit: Duration) {
        eventually(limit, "the command completed", || async {
            log_lines(&self.log)
                .iter()
                .any(|l| l.starts_with("completed"))
                .then_some(())
        })
        .await;
    }

    /// The build's status messages, which must be exactly `probe step 1/n` .. `n/n`.
    async fn assert_every_step_once(&self, id: &str, n: u32) {
        let steps: Vec<String> = stored_events(&self.nats, id)
            .await
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Status(s) => Some(s.message.clone()),
                _ => None,
            })
            .collect();
        let expected: Vec<String> = (1..=n).map(|i| format!("probe step {i}/{n}")).collect();
        assert_eq!(steps, expected, "every step once, in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_command_resumes_on_a_live_worker_within_five_seconds() {
    let scene = Scene::new().await;
    let first = scene.worker("1500", &[]).await;
    let id = scene.build_under_way(4, 1).await;
    let _live = scene.worker("0", &[]).await;
    eventually(Duration::from_secs(20), "two steps", || async {
        (stored_events(&scene.nats, &id).await.len() >= 2).then_some(())
    })
    .await;
    first.signal(Signal::SIGKILL);
    let killed = Instant::now();
    scene.completed(Duration::from_secs(30)).await;
    let resumed = killed.elapsed();
    eprintln!("a killed worker's command completed on the live worker {resumed:?} after the kill");
    // Target 5 s (4 s ack wait + pull + steps); the bound leaves room for a loaded CI
    // machine and still fails the old 30 s ack wait.
    assert!(
        resumed < Duration::from_secs(15),
        "resumed after the 4 s ack wait, not the old 30 s: took {resumed:?}"
    );
    scene.assert_every_step_once(&id, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_finishes_within_five_seconds_of_nats_coming_back() {
    let mut scene = Scene::new().await;
    let _worker = scene.worker("700", &[]).await;
    let id = scene.build_under_way(6, 2).await;
    scene.fixture.server.kill();
    tokio::time::sleep(Duration::from_secs(8)).await;
    scene.fixture.server.restart().expect("NATS comes back");
    let back = Instant::now();
    scene.completed(Duration::from_secs(40)).await;
    let finished = back.elapsed();
    eprintln!("the build finished {finished:?} after NATS came back");
    // Target 5 s; the bound leaves room for a loaded CI machine and still fails the old
    // behaviour (30-35 s).
    assert!(
        finished < Duration::from_secs(18),
        "finished soon after NATS returned (target 5 s), took {finished:?}"
    );
    scene.assert_every_step_once(&id, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_nats_is_down_exits_within_the_drain_timeout_and_loses_nothing() {
    let mut scene = Scene::new().await;
    let mut worker = scene
        .worker("1000", &[("BUILDWIRE_DRAIN_TIMEOUT_MS", "4000")])
        .await;
    let id = scene.build_under_way(8, 1).await;
    scene.fixture.server.kill();
    worker.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(30), worker.child.wait())
        .await
        .expect("it exits")
        .expect("status");
    let took = signalled.elapsed();
    eprintln!("SIGTERM with NATS down: exited in {took:?} (drain timeout 4 s)");
    assert!(status.success(), "{status:?}");
    // Within the 4 s drain timeout plus scheduling slack on a loaded machine; the old
    // code did not exit within 60 s.
    assert!(
        took < Duration::from_secs(8),
        "exited within the drain timeout, took {took:?}"
    );
    // The command was not lost: NATS back, another worker finishes it.
    scene.fixture.server.restart().expect("NATS comes back");
    let _next = scene.worker("0", &[]).await;
    scene.completed(Duration::from_secs(30)).await;
    scene.assert_every_step_once(&id, 8).await;
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
    // At once, not after the old 15 s publish timeout (slack for a loaded machine).
    assert!(
        took < Duration::from_secs(5),
        "refused at once, took {took:?}"
    );
    fixture.server.restart().expect("NATS comes back");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut events = nats.js.get_stream("EVENTS").await.expect("EVENTS");
    let stored = events.info().await.expect("info").state.messages;
    assert_eq!(stored, 0, "nothing buffered and stored later");
}
