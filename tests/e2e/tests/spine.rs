//! Issue 2: definitions applied idempotently, server checks, and the stage loop's fault
//! handling (killed workers, exhausted deliveries, duplicates, SIGTERM, cluster fail-over).

use std::time::{Duration, Instant};

use buildwire_e2e::ProbeStage;
use buildwire_runtime::{
    Error,
    nats::{Definitions, Nats, Outcome},
    publish::Publisher,
    stage::{self, WorkerOptions},
};
use buildwire_schemas::{Event, EventBody, Stage};
use buildwire_testkit::{
    NatsCluster, NatsFixture, connect, eventually, quick_definitions, stored_events,
};
use nix::sys::signal::Signal;
use serde_json::json;

use crate::support::{Worker, build_id, commands_waiting, log_lines, submit};

fn status_messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Status(s) => Some(s.message.clone()),
            _ => None,
        })
        .collect()
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::type_name).collect()
}

/// Applies quick definitions to the fixture and writes them where worker processes read them.
async fn prepared(
    fixture: &NatsFixture,
    step: Duration,
    max_deliver: u64,
) -> (Nats, std::path::PathBuf) {
    let nats = connect(&fixture.url()).await;
    let defs = quick_definitions(step, max_deliver);
    defs.apply(&nats, None).await.expect("definitions apply");
    let dir = fixture.scratch("defs");
    defs.write_to_dir(&dir).expect("definitions written");
    (nats, dir)
}

#[tokio::test]
async fn definitions_apply_idempotently_and_follow_changes() {
    let fixture = NatsFixture::start();
    let nats = connect(&fixture.url()).await;
    let defs = Definitions::embedded().expect("built-in definitions");
    let total = defs.streams.len() + defs.consumers.len();

    let first = defs.apply(&nats, None).await.expect("first apply");
    assert_eq!(first.0.len(), total);
    assert!(
        first.0.iter().all(|(_, o)| *o == Outcome::Created),
        "{first:?}"
    );
    let before = nats
        .js
        .get_stream("EVENTS")
        .await
        .expect("EVENTS")
        .cached_info()
        .config
        .clone();

    let second = defs.apply(&nats, None).await.expect("second apply");
    assert!(
        second.unchanged(),
        "applying twice changes nothing: {second:?}"
    );
    let mut events = nats.js.get_stream("EVENTS").await.expect("EVENTS");
    let info = events.info().await.expect("info").clone();
    assert_eq!(info.config, before);
    assert_eq!(info.config.max_consumers, 256);
    assert!(info.config.discard_new_per_subject);
    assert!(info.config.allow_direct);
    assert_eq!(info.config.num_replicas, 1, "a single server gets R1");
    let republish = info.config.republish.expect("republish");
    assert_eq!(republish.destination, "live.build.{{wildcard(1)}}.events");

    // A changed definition is updated, and only it.
    let mut changed = defs.clone();
    let week = 7u64 * 86_400 * 1_000_000_000;
    changed
        .stream_mut("EVENTS")
        .expect("EVENTS")
        .insert("max_age".into(), json!(week));
    changed
        .consumer_mut("CMDS", "plan")
        .expect("plan")
        .insert("max_deliver".into(), json!(7));
    let third = changed.apply(&nats, None).await.expect("apply changes");
    assert_eq!(third.outcome("EVENTS"), Some(Outcome::Updated));
    assert_eq!(third.outcome("CMDS/plan"), Some(Outcome::Updated));
    assert_eq!(
        third
            .0
            .iter()
            .filter(|(_, o)| *o == Outcome::Unchanged)
            .count(),
        total - 2
    );
    let info = events.info().await.expect("info");
    assert_eq!(info.config.max_age, Duration::from_secs(7 * 86_400));
    let consumer = nats
        .js
        .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
            "plan", "CMDS",
        )
        .await
        .expect("plan");
    assert_eq!(consumer.cached_info().config.max_deliver, 7);
    assert!(changed.apply(&nats, None).await.expect("again").unchanged());

    // A change the server cannot make is refused loudly, never skipped.
    let mut impossible = changed.clone();
    impossible
        .stream_mut("CMDS")
        .expect("CMDS")
        .insert("storage".into(), json!("memory"));
    let err = impossible
        .apply(&nats, None)
        .await
        .expect_err("storage cannot change");
    assert!(
        matches!(&err, Error::DefinitionRejected { name, .. } if name.contains("CMDS")),
        "{err}"
    );

    // The files a service reads from a folder are the ones it wrote.
    let dir = fixture.scratch("roundtrip");
    changed.write_to_dir(&dir).expect("write");
    assert_eq!(Definitions::from_dir(&dir).expect("read back"), changed);
}

#[tokio::test]
async fn servers_without_jetstream_or_too_old_are_refused() {
    let fixture = NatsFixture::without_jetstream();
    let err = Nats::connect(&fixture.url(), "test", Duration::from_secs(5))
        .await
        .expect_err("no JetStream");
    assert!(
        matches!(err, Error::UnsupportedServer(ref m) if m.contains("JetStream")),
        "{err}"
    );

    // A service process refuses to start, with a clear message, and a failing exit code.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_probe-stage"))
        .env("NATS_URL", fixture.url())
        .output()
        .await
        .expect("probe-stage runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without JetStream"), "{stderr}");

    // Debian's nats-server 2.9 (present on these machines) is too old.
    let old = std::path::Path::new("/usr/sbin/nats-server");
    if old.exists() {
        let dir = tempfile::tempdir().expect("tmp");
        let options = buildwire_runtime::nats::server::ServerOptions::single("old", dir.path())
            .expect("port");
        let server = buildwire_runtime::nats::server::ServerProcess::start_and_wait(old, options)
            .expect("old server runs");
        let err = Nats::connect(&server.url(), "test", Duration::from_secs(5))
            .await
            .expect_err("too old");
        assert!(
            matches!(err, Error::UnsupportedServer(ref m) if m.contains("too old")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn duplicate_msg_ids_are_stored_once() {
    let fixture = NatsFixture::start();
    let (nats, _) = prepared(&fixture, Duration::from_secs(2), 3).await;
    let publisher = Publisher::new(nats.js.clone());
    let id = build_id();
    let event = Event::new(&id, "r", EventBody::Heartbeat(Default::default()));
    let first = publisher
        .event(&event, &format!("{id}:plan:1"))
        .await
        .expect("first");
    let again = publisher
        .event(&event, &format!("{id}:plan:1"))
        .await
        .expect("second");
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.seq, first.seq);
    let other = publisher
        .event(&event, &format!("{id}:plan:2"))
        .await
        .expect("third");
    assert!(!other.duplicate);
    assert_eq!(stored_events(&nats, &id).await.len(), 2);
}

#[tokio::test]
async fn a_killed_worker_s_command_completes_exactly_once_on_another() {
    let fixture = NatsFixture::start();
    let (nats, defs) = prepared(&fixture, Duration::from_secs(2), 5).await;
    let log = fixture.scratch("log").join("probe.log");
    let log_env = log.to_string_lossy().into_owned();
    let mut first = Worker::start(
        &fixture.url(),
        &defs,
        &[("PROBE_STEP_DELAY_MS", "1500"), ("PROBE_LOG", &log_env)],
    )
    .await;
    let id = build_id();
    submit(&nats, &id, json!({"steps": 4})).await;

    // Kill it (SIGKILL) once it is mid-task: two of four steps stored.
    eventually(
        Duration::from_secs(20),
        "two steps from the first worker",
        || async { (stored_events(&nats, &id).await.len() >= 2).then_some(()) },
    )
    .await;
    first.signal(Signal::SIGKILL);
    let _ = first.child.wait().await;
    let first_pid = first.pid_before_exit();

    let _second = Worker::start(
        &fixture.url(),
        &defs,
        &[("PROBE_STEP_DELAY_MS", "0"), ("PROBE_LOG", &log_env)],
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "completion on the second worker",
        || async {
            log_lines(&log)
                .iter()
                .any(|l| l.starts_with("completed"))
                .then_some(())
        },
    )
    .await;

    let events = stored_events(&nats, &id).await;
    assert_eq!(
        status_messages(&events),
        [
            "probe step 1/4",
            "probe step 2/4",
            "probe step 3/4",
            "probe step 4/4"
        ],
        "each event once, in order"
    );
    let lines = log_lines(&log);
    let completed: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("completed"))
        .collect();
    assert_eq!(completed.len(), 1, "{lines:?}");
    assert!(
        !completed[0].contains(&format!(" {first_pid} ")),
        "completed by the other worker: {lines:?}"
    );
    assert!(
        completed[0].ends_with(" 2"),
        "on the second delivery: {lines:?}"
    );
    assert_eq!(
        commands_waiting(&nats, &id, Stage::Execute).await,
        1,
        "forwarded once"
    );
    assert_eq!(commands_waiting(&nats, &id, Stage::Plan).await, 0, "acked");
}

#[tokio::test]
async fn a_command_that_always_fails_fails_the_build_after_max_deliver() {
    let fixture = NatsFixture::start();
    let (nats, defs) = prepared(&fixture, Duration::from_millis(500), 3).await;
    let _worker = Worker::start(&fixture.url(), &defs, &[]).await;

    let id = build_id();
    let started = Instant::now();
    submit(&nats, &id, json!({"fail": "always"})).await;
    // Bound: 3 deliveries with 0.5 s backoff, plus scheduling slack.
    let events = eventually(Duration::from_secs(10), "a failed build", || async {
        let events = stored_events(&nats, &id).await;
        events.iter().any(Event::is_terminal).then_some(events)
    })
    .await;
    let elapsed = started.elapsed();
    eprintln!(
        "measured: always-failing command -> failed build in {elapsed:?} (3 deliveries, 0.5 s backoff)"
    );
    assert_eq!(
        types(&events),
        ["plan_failed", "failed"],
        "after {elapsed:?}"
    );
    let EventBody::PlanFailed(failure) = &events[0].body else {
        unreachable!()
    };
    assert_eq!(failure.attempts, 3);
    assert_eq!(failure.code, "PROBE_FAILS");
    assert!(failure.retryable);
    let EventBody::Failed(failed) = &events[1].body else {
        unreachable!()
    };
    assert_eq!(failed.stage, Stage::Plan);
    assert_eq!(
        commands_waiting(&nats, &id, Stage::Plan).await,
        0,
        "no command left to stall"
    );

    // A fatal error fails at once, on the first delivery.
    let id = build_id();
    submit(&nats, &id, json!({"fail": "fatal"})).await;
    let events = eventually(Duration::from_secs(5), "a fatal failure", || async {
        let events = stored_events(&nats, &id).await;
        events.iter().any(Event::is_terminal).then_some(events)
    })
    .await;
    let EventBody::PlanFailed(failure) = &events[0].body else {
        panic!("{events:?}")
    };
    assert_eq!((failure.attempts, failure.retryable), (1, false));
}

#[tokio::test]
async fn a_command_whose_worker_dies_every_time_still_fails_the_build() {
    let fixture = NatsFixture::start();
    let (nats, defs) = prepared(&fixture, Duration::from_millis(700), 3).await;
    let id = build_id();
    submit(&nats, &id, json!({"fail": "crash", "steps": 2})).await;
    // An orchestrator restarts crashed workers; here the test does.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut crashes = 0;
    let events = loop {
        assert!(
            Instant::now() < deadline,
            "no failure after {crashes} crashes"
        );
        let mut worker = Worker::start(&fixture.url(), &defs, &[]).await;
        let outcome = tokio::time::timeout(Duration::from_secs(3), worker.child.wait()).await;
        if outcome.is_ok() {
            crashes += 1;
        }
        let events = stored_events(&nats, &id).await;
        if events.iter().any(Event::is_terminal) {
            break events;
        }
    };
    assert_eq!(crashes, 3, "one crash per delivery");
    assert_eq!(
        types(&events),
        ["status", "plan_failed", "failed"],
        "the step is stored once although it ran three times"
    );
    let EventBody::PlanFailed(failure) = &events[1].body else {
        unreachable!()
    };
    assert_eq!(
        (failure.code.as_str(), failure.attempts),
        ("MAX_DELIVER", 3)
    );
    assert_eq!(commands_waiting(&nats, &id, Stage::Plan).await, 0);
}

/// A worker mid-way through a `steps`-step command (one step a second... or `delay_ms`)
/// after SIGTERM, and how it exited.
struct SigtermedWorker {
    fixture: NatsFixture,
    nats: Nats,
    defs: std::path::PathBuf,
    log: std::path::PathBuf,
    id: String,
    status: std::process::ExitStatus,
}

async fn sigterm_mid_task(
    ack_wait: Duration,
    delay_ms: &str,
    drain_ms: &str,
    steps: u32,
) -> SigtermedWorker {
    let fixture = NatsFixture::start();
    let (nats, defs) = prepared(&fixture, ack_wait, 5).await;
    let log = fixture.scratch("log").join("probe.log");
    let log_env = log.to_string_lossy().into_owned();
    let env = [
        ("PROBE_STEP_DELAY_MS", delay_ms),
        ("PROBE_LOG", log_env.as_str()),
        ("BUILDWIRE_DRAIN_TIMEOUT_MS", drain_ms),
    ];
    let mut worker = Worker::start(&fixture.url(), &defs, &env).await;
    let id = build_id();
    submit(&nats, &id, json!({ "steps": steps })).await;
    eventually(Duration::from_secs(10), "work under way", || async {
        (!stored_events(&nats, &id).await.is_empty()).then_some(())
    })
    .await;
    worker.signal(Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(25), worker.child.wait())
        .await
        .expect("exits")
        .expect("status");
    SigtermedWorker {
        fixture,
        nats,
        defs,
        log,
        id,
        status,
    }
}

fn completions(log: &std::path::Path) -> usize {
    log_lines(log)
        .iter()
        .filter(|l| l.starts_with("completed"))
        .count()
}

#[tokio::test]
async fn sigterm_lets_in_flight_work_finish() {
    let run = sigterm_mid_task(Duration::from_secs(2), "400", "20000", 5).await;
    assert!(run.status.success(), "{:?}", run.status);
    assert_eq!(
        status_messages(&stored_events(&run.nats, &run.id).await).len(),
        5,
        "finished before exiting"
    );
    assert_eq!(completions(&run.log), 1);
    assert_eq!(commands_waiting(&run.nats, &run.id, Stage::Plan).await, 0);
}

#[tokio::test]
async fn sigterm_past_the_drain_timeout_hands_work_back() {
    let run = sigterm_mid_task(Duration::from_secs(30), "1000", "300", 6).await;
    let SigtermedWorker {
        fixture,
        nats,
        defs,
        log,
        id,
        status,
    } = &run;
    assert!(status.success(), "{status:?}");
    assert!(
        status_messages(&stored_events(nats, id).await).len() < 6,
        "interrupted mid-task"
    );
    let log_env = log.to_string_lossy().into_owned();

    // Handed back (nak), so another worker takes it at once, not after the 30 s ack wait.
    let handed_back = Instant::now();
    let _next = Worker::start(
        &fixture.url(),
        defs,
        &[("PROBE_STEP_DELAY_MS", "0"), ("PROBE_LOG", &log_env)],
    )
    .await;
    eventually(
        Duration::from_secs(15),
        "completion by the next worker",
        || async { (completions(log) == 1).then_some(()) },
    )
    .await;
    assert!(
        handed_back.elapsed() < Duration::from_secs(15),
        "redelivered without waiting out the 30 s ack wait"
    );
    let messages = status_messages(&stored_events(nats, id).await);
    let expected: Vec<String> = (1..=6).map(|i| format!("probe step {i}/6")).collect();
    assert_eq!(messages, expected, "nothing lost, nothing twice");
}

#[tokio::test]
async fn a_three_node_cluster_replicates_and_survives_a_node_loss() {
    let mut cluster = NatsCluster::start(3);
    let nats = connect(&cluster.urls()).await;
    assert!(nats.is_clustered());
    let defs = quick_definitions(Duration::from_secs(2), 5);
    defs.apply(&nats, None).await.expect("apply on the cluster");
    for stream in ["EVENTS", "CMDS", "KV_cancel", "OBJ_artifacts"] {
        let info = nats
            .js
            .get_stream(stream)
            .await
            .expect("stream")
            .cached_info()
            .clone();
        assert_eq!(info.config.num_replicas, 3, "{stream} is R3");
        let replicas = info.cluster.as_ref().map(|c| c.replicas.len()).unwrap_or(0);
        assert_eq!(replicas, 2, "{stream}: a leader and two replicas");
    }
    assert!(defs.apply(&nats, None).await.expect("again").unchanged());

    let stop = tokio_util_token();
    let worker_nats = connect(&cluster.urls()).await;
    let probe = ProbeStage {
        stage: Stage::Plan,
        step_delay: Duration::ZERO,
        log: None,
    };
    let options = WorkerOptions {
        concurrency: 2,
        drain_timeout: Duration::from_secs(5),
        interrupt_grace: Duration::from_secs(1),
        pull_wait: Duration::from_secs(1),
    };
    let worker = tokio::spawn(stage::run(probe, worker_nats, options, stop.clone()));

    let id = build_id();
    submit(&nats, &id, json!({"steps": 2})).await;
    eventually(Duration::from_secs(20), "first build done", || async {
        (commands_waiting(&nats, &id, Stage::Execute).await == 1).then_some(())
    })
    .await;

    // Kill the node that leads CMDS: the hardest one to lose.
    let leader = nats
        .js
        .get_stream("CMDS")
        .await
        .expect("CMDS")
        .cached_info()
        .cluster
        .clone()
        .and_then(|c| c.leader)
        .expect("leader");
    let index = cluster
        .nodes
        .iter()
        .position(|n| n.options().name == leader)
        .expect("leader is a node");
    cluster.nodes[index].kill();
    let killed = Instant::now();

    let id = build_id();
    eventually(
        Duration::from_secs(30),
        "submission after the node loss",
        || async {
            let submitted =
                tokio::time::timeout(Duration::from_secs(3), submit_quiet(&nats, &id)).await;
            matches!(submitted, Ok(true)).then_some(())
        },
    )
    .await;
    let events = eventually(Duration::from_secs(40), "second build done", || async {
        let events = stored_events(&nats, &id).await;
        (events.len() == 2 && commands_waiting(&nats, &id, Stage::Execute).await == 1)
            .then_some(events)
    })
    .await;
    assert_eq!(
        status_messages(&events),
        ["probe step 1/2", "probe step 2/2"]
    );
    eprintln!(
        "measured: build after losing the CMDS leader completed {:?} after the kill",
        killed.elapsed()
    );
    stop.cancel();
    worker
        .await
        .expect("worker task")
        .expect("worker stops cleanly");
}

fn tokio_util_token() -> tokio_util::sync::CancellationToken {
    tokio_util::sync::CancellationToken::new()
}

async fn submit_quiet(nats: &Nats, id: &str) -> bool {
    let command = buildwire_schemas::StageCommand {
        build_id: id.into(),
        request_id: "r".into(),
        user_id: "u".into(),
        prompt: "p".into(),
        project_id: None,
        parent_build_id: None,
        restore_from_build_id: None,
        plan: None,
        extra: [("probe".to_string(), json!({"steps": 2}))]
            .into_iter()
            .collect(),
    };
    Publisher::new(nats.js.clone())
        .command(Stage::Plan, &command, &format!("{id}:submit"))
        .await
        .is_ok()
}

#[tokio::test]
async fn long_work_is_kept_alive_by_in_progress_acks() {
    let fixture = NatsFixture::start();
    // Ack wait 1 s; the task takes 4 s. Without in-progress acks the second worker would
    // receive it after 1 s.
    let (nats, defs) = prepared(&fixture, Duration::from_secs(1), 5).await;
    let log = fixture.scratch("log").join("probe.log");
    let log_env = log.to_string_lossy().into_owned();
    let env = [
        ("PROBE_STEP_DELAY_MS", "1000"),
        ("PROBE_LOG", log_env.as_str()),
    ];
    let _a = Worker::start(&fixture.url(), &defs, &env).await;
    let _b = Worker::start(&fixture.url(), &defs, &env).await;
    let id = build_id();
    submit(&nats, &id, json!({"steps": 4})).await;
    eventually(Duration::from_secs(20), "completion", || async {
        log_lines(&log)
            .iter()
            .any(|l| l.starts_with("completed"))
            .then_some(())
    })
    .await;
    let lines = log_lines(&log);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("started")).count(),
        1,
        "never redelivered: {lines:?}"
    );
    assert_eq!(status_messages(&stored_events(&nats, &id).await).len(), 4);
}

/// A command redelivered while its first attempt still runs (in-progress acks lost in a
/// NATS leader change, found by the chaos test) is finished by one attempt; the other then
/// publishes nothing more (its events would land after the build's end) and stops.
#[tokio::test]
async fn an_attempt_whose_command_another_delivery_finished_publishes_nothing_more() {
    let fixture = NatsFixture::start();
    let (nats, defs) = prepared(&fixture, Duration::from_secs(2), 5).await;
    let _worker = Worker::start(&fixture.url(), &defs, &[("PROBE_STEP_DELAY_MS", "300")]).await;
    let id = build_id();
    submit(&nats, &id, json!({"steps": 10})).await;
    eventually(Duration::from_secs(20), "the attempt under way", || async {
        (!stored_events(&nats, &id).await.is_empty()).then_some(())
    })
    .await;
    // Another delivery finished the command: acked, it left the work queue.
    let cmds = nats.js.get_stream("CMDS").await.expect("CMDS");
    let command = cmds
        .get_last_raw_message_by_subject(&buildwire_schemas::subjects::command(&id, Stage::Plan))
        .await
        .expect("the command");
    assert!(
        cmds.delete_message(command.sequence)
            .await
            .expect("deleted")
    );
    let at_finish = stored_events(&nats, &id).await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let events = stored_events(&nats, &id).await;
    assert!(
        events.len() <= at_finish + 1,
        "at most the event in flight, then nothing: {:?}",
        status_messages(&events)
    );
    assert_eq!(
        commands_waiting(&nats, &id, Stage::Execute).await,
        0,
        "nothing forwarded"
    );
}

#[tokio::test]
async fn every_log_line_of_a_build_s_work_carries_build_and_request_ids() {
    let fixture = NatsFixture::start();
    let (nats, defs) = prepared(&fixture, Duration::from_millis(500), 2).await;
    let log = fixture.scratch("log").join("worker.jsonl");
    let mut worker = Worker::start_logging_to(
        &fixture.url(),
        &defs,
        &[
            ("BUILDWIRE_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug,async_nats=warn"),
        ],
        &log,
    )
    .await;
    let ok = build_id();
    submit(&nats, &ok, json!({"steps": 2})).await;
    let failing = build_id();
    submit(&nats, &failing, json!({"fail": "always"})).await;
    for id in [&ok, &failing] {
        eventually(Duration::from_secs(15), "both builds handled", || async {
            let events = stored_events(&nats, id).await;
            (events.iter().any(Event::is_terminal) || events.len() == 2).then_some(())
        })
        .await;
    }
    worker.signal(Signal::SIGTERM);
    let _ = worker.child.wait().await;

    let text = std::fs::read_to_string(&log).expect("log written");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let of_build = |id: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| l["span"]["buildId"] == id)
            .collect()
    };
    for id in [&ok, &failing] {
        let mine = of_build(id);
        assert!(mine.len() >= 2, "lines for {id}: {text}");
        assert!(
            mine.iter()
                .all(|l| l["span"]["requestId"] == format!("req-{id}")),
            "{text}"
        );
    }
    let messages = |id: &str| {
        of_build(id)
            .iter()
            .filter_map(|l| l["fields"]["message"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(
        messages(&ok).contains(&"command done".to_string()),
        "{text}"
    );
    assert!(
        messages(&failing)
            .iter()
            .any(|m| m.contains("failing the build")),
        "{text}"
    );
}

#[tokio::test]
async fn a_cancelled_build_stops_its_running_command_and_drops_queued_ones() {
    let fixture = NatsFixture::start();
    let (nats, defs) = prepared(&fixture, Duration::from_secs(2), 5).await;
    let _worker = Worker::start(&fixture.url(), &defs, &[("PROBE_STEP_DELAY_MS", "300")]).await;
    let flags = nats.js.get_key_value("cancel").await.expect("KV cancel");

    // Running: stops within a poll of the flag, acked, no failure reported.
    let id = build_id();
    submit(&nats, &id, json!({"steps": 40})).await;
    eventually(Duration::from_secs(20), "two steps", || async {
        (stored_events(&nats, &id).await.len() >= 2).then_some(())
    })
    .await;
    let cancelled_at = Instant::now();
    flags.put(&id, "{}".into()).await.expect("flag");
    eventually(Duration::from_secs(10), "the command dropped", || async {
        (commands_waiting(&nats, &id, Stage::Plan).await == 0).then_some(())
    })
    .await;
    let stopped_after = cancelled_at.elapsed();
    let count = stored_events(&nats, &id).await.len();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let events = stored_events(&nats, &id).await;
    assert_eq!(events.len(), count, "no event after the stop");
    assert!(count < 40, "stopped early ({count} of 40 steps)");
    assert!(
        types(&events).iter().all(|t| *t == "status"),
        "{:?}",
        types(&events)
    );
    assert_eq!(
        commands_waiting(&nats, &id, Stage::Execute).await,
        0,
        "not forwarded"
    );
    eprintln!("cancelled work stopped {stopped_after:?} after the flag");

    // Queued: a command of a cancelled build is dropped without running.
    let queued = build_id();
    flags.put(&queued, "{}".into()).await.expect("flag");
    submit(&nats, &queued, json!({"steps": 2})).await;
    eventually(
        Duration::from_secs(10),
        "the queued command dropped",
        || async { (commands_waiting(&nats, &queued, Stage::Plan).await == 0).then_some(()) },
    )
    .await;
    assert!(stored_events(&nats, &queued).await.is_empty());
}
