//! The recorder against a real nats-server and real databases: the rows equal the stream
//! after the recorder is killed and restarted mid-build (SQLite and PostgreSQL), and
//! nothing is lost or doubled when PostgreSQL crashes mid-build and comes back.

mod common;

use std::time::Duration;

use buildwire_record::{Store, recorder};
use buildwire_runtime::{nats::Definitions, nats::Nats, publish::Publisher};
use buildwire_schemas::{BuildStatus, Event, subjects};
use buildwire_testkit::OwnPostgres;
use buildwire_testkit::{NatsFixture, connect, eventually, stored_events};
use common::{TestDb, events};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The built-in definitions, with the `record` consumer's ack wait cut to 2 s so a
/// delivery lost with a killed recorder comes back within the test's time.
fn definitions() -> Definitions {
    let mut defs = Definitions::embedded().expect("built-in definitions parse");
    for consumer in &mut defs.consumers {
        if consumer.stream == recorder::STREAM && consumer.name == recorder::CONSUMER {
            consumer
                .config
                .insert("ack_wait".into(), 2_000_000_000u64.into());
        }
    }
    defs
}

async fn setup() -> (NatsFixture, Nats) {
    common::logs();
    let fixture = NatsFixture::start();
    let nats = connect(&fixture.url()).await;
    definitions()
        .apply(&nats, None)
        .await
        .expect("definitions apply");
    (fixture, nats)
}

fn spawn_recorder(nats: &Nats, store: &Store) -> (JoinHandle<()>, CancellationToken) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let (nats, store, shutdown) = (nats.clone(), store.clone(), shutdown.clone());
        async move {
            recorder::run(nats, store, shutdown)
                .await
                .expect("recorder runs");
        }
    });
    (task, shutdown)
}

/// Publishes `events` one by one, `pause` apart, as a stage would.
fn publish(nats: &Nats, events: Vec<Event>, pause: Duration) -> JoinHandle<()> {
    let publisher = Publisher::new(nats.js.clone());
    tokio::spawn(async move {
        for (n, event) in events.iter().enumerate() {
            let msg_id = format!("{}:test:{n}", event.build_id);
            publisher.event(event, &msg_id).await.expect("publishes");
            tokio::time::sleep(pause).await;
        }
    })
}

async fn consumer_info(nats: &Nats) -> async_nats::jetstream::consumer::Info {
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = nats
        .js
        .get_stream(recorder::STREAM)
        .await
        .expect("stream")
        .get_consumer(recorder::CONSUMER)
        .await
        .expect("consumer");
    consumer.info().await.expect("consumer info").clone()
}

async fn recorded(store: &Store, build_id: &str) -> usize {
    match store.events_after(build_id, 0, 10_000).await {
        Ok((events, _)) => events.len(),
        Err(_) => 0,
    }
}

/// Waits until the database holds exactly the stream's events of `build_id`, in order,
/// and its progress is final.
async fn assert_rows_equal_stream(nats: &Nats, store: &Store, build_id: &str) {
    let stream = stored_events(nats, build_id).await;
    let rows = eventually(Duration::from_secs(20), "every event recorded", || async {
        let (rows, more) = store.events_after(build_id, 0, 10_000).await.ok()?;
        (!more && rows.len() >= stream.len()).then_some(rows)
    })
    .await;
    assert_eq!(rows, stream, "rows equal the stream, in order, once each");
    let progress = store
        .progress(build_id)
        .await
        .expect("reads")
        .expect("progress row");
    assert_eq!(progress.status, BuildStatus::Completed);
    assert_eq!(progress.last_seq, stream.last().expect("events").seq);
    assert_eq!(
        progress,
        buildwire_schemas::api::BuildProgress::from_events(build_id, &stream)
    );
}

async fn rows_equal_the_stream_across_a_killed_recorder(db: TestDb) {
    let (_fixture, nats) = setup().await;
    let store = db.store().await;
    let (a, b) = (events::build_id(), events::build_id());
    let poison = events::build_id();

    let (first, _) = spawn_recorder(&nats, &store);
    // Faster than the recorder can keep up: it is killed holding unacked deliveries.
    let publishing = [
        publish(&nats, events::build(&a, 120), Duration::ZERO),
        publish(&nats, events::build(&b, 60), Duration::from_millis(10)),
    ];
    // Not an event: dropped (terminated), never blocking what follows.
    nats.js
        .publish(subjects::events(&poison), "not json".into())
        .await
        .expect("publishes")
        .await
        .expect("stored");
    eventually(Duration::from_secs(10), "a few events recorded", || async {
        (recorded(&store, &a).await >= 20).then_some(())
    })
    .await;
    // Killed mid-build: whatever it held unacked is redelivered to the next one.
    first.abort();
    let _ = first.await;
    assert!(recorded(&store, &a).await < 120, "killed mid-build");
    let held = consumer_info(&nats).await.num_ack_pending;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (second, shutdown) = spawn_recorder(&nats, &store);
    for publishing in publishing {
        publishing.await.expect("published");
    }
    assert_rows_equal_stream(&nats, &store, &a).await;
    assert_rows_equal_stream(&nats, &store, &b).await;
    assert_eq!(recorded(&store, &poison).await, 0);
    // Every delivery beyond one per stored message was a redelivery.
    let delivered = consumer_info(&nats).await.delivered;
    let redelivered = delivered.consumer_sequence - delivered.stream_sequence;
    assert!(
        held == 0 || redelivered >= held as u64,
        "the killed recorder's {held} unacked deliveries came back ({redelivered} redelivered)"
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_equal_the_stream_across_a_killed_recorder_sqlite() {
    rows_equal_the_stream_across_a_killed_recorder(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_equal_the_stream_across_a_killed_recorder_postgres() {
    rows_equal_the_stream_across_a_killed_recorder(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_mid_build_loses_and_doubles_nothing() {
    let (_fixture, nats) = setup().await;
    let postgres = OwnPostgres::start();
    let store = Store::connect(&postgres.url()).await.expect("connects");
    store.migrate().await.expect("migrates");
    let build = events::build_id();

    let (recording, shutdown) = spawn_recorder(&nats, &store);
    let publishing = publish(&nats, events::build(&build, 100), Duration::from_millis(15));
    eventually(Duration::from_secs(10), "a few events recorded", || async {
        (recorded(&store, &build).await >= 15).then_some(())
    })
    .await;
    postgres.crash();
    assert!(
        store
            .progress(&build)
            .await
            .expect_err("down")
            .is_unavailable()
    );
    // Events keep arriving while the database is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    postgres.resume();
    publishing.await.expect("published");
    assert_rows_equal_stream(&nats, &store, &build).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), recording)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
}
