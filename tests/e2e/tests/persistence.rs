//! Issue 5 through the edge: with the recorder running, status and history come from the
//! database, and a viewer resuming from 0 after the build's subject was purged from
//! `EVENTS` still gets everything (database first, then JetStream and live), on SQLite and
//! on PostgreSQL.

use std::time::Duration;

use buildwire_record::Store;
use buildwire_testkit::{NatsFixture, connect, eventually};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::edge_clients::{
    Node, SERVICE_KEY, Stages, http, stored_seqs, submit, watch_sse, watch_ws,
};

/// A PostgreSQL database of its own on the local server (dropped at the end).
struct Postgres {
    admin: Store,
    name: String,
}

impl Postgres {
    async fn create() -> (Postgres, String) {
        let server = std::env::var("BUILDWIRE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let admin = Store::connect(&format!("{server}/test"))
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        let name = format!(
            "bw_edge_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        admin
            .connection()
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let url = format!("{server}/{name}");
        (Postgres { admin, name }, url)
    }

    async fn drop_it(self) {
        let _ = self
            .admin
            .connection()
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

async fn resume_after_purge(database_url: Option<&str>) {
    let fixture = NatsFixture::start();
    let extra: Vec<(&str, &str)> = database_url
        .map(|url| ("DATABASE_URL", url))
        .into_iter()
        .collect();
    let node = Node::with_env(&fixture.url(), crate::edge_clients::KEYS, &extra).await;
    let nats = connect(&fixture.url()).await;
    let url = match database_url {
        Some(url) => url.to_string(),
        None => buildwire_record::store::default_url(node.data.path()),
    };
    let store = Store::connect(&url).await.expect("database");
    store.migrate().await.expect("migrate");
    let stop = CancellationToken::new();
    let recorder = tokio::spawn(buildwire_record::recorder::run(
        nats.clone(),
        store.clone(),
        stop.clone(),
    ));

    let accepted = submit(&node, "Create a notes app").await;
    let build_id = accepted["buildId"].as_str().expect("id").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let mut stages = Stages::new(&nats, &build_id);
    for i in 0..10 {
        stages.step(&format!("step {i}")).await;
    }
    let before = stored_seqs(&nats, &build_id).await;
    let last = *before.last().expect("seq");
    eventually(
        Duration::from_secs(20),
        "the recorder to catch up",
        || async {
            store
                .progress(&build_id)
                .await
                .ok()
                .flatten()
                .filter(|p| p.last_seq >= last)
                .map(|_| ())
        },
    )
    .await;
    // An operator purges the build's oldest events from JetStream.
    let purge =
        serde_json::json!({ "filter": format!("build.{build_id}.events"), "seq": before[6] });
    let answer = nats
        .client
        .request("$JS.API.STREAM.PURGE.EVENTS", purge.to_string().into())
        .await
        .expect("purge");
    assert!(String::from_utf8_lossy(&answer.payload).contains("\"success\":true"));
    assert_eq!(stored_seqs(&nats, &build_id).await.len(), before.len() - 6);

    // Viewers from 0 over both transports: database, then JetStream, then live.
    let ws = node.ws(&build_id, &token, 0);
    let ws_viewer = tokio::spawn(async move { watch_ws(&ws).await });
    let sse = node.sse(&build_id, &token);
    let sse_viewer = tokio::spawn(async move { watch_sse(&sse, None).await.1 });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut expected = before.clone();
    for i in 0..3 {
        expected.push(stages.step(&format!("late {i}")).await);
    }
    expected.push(stages.complete().await);
    let seen = ws_viewer.await.expect("ws viewer");
    assert_eq!(seen.messages[0]["recovered"], true);
    assert_eq!(
        seen.seqs, expected,
        "ws: every event once, purged ones from the database"
    );
    assert_eq!(sse_viewer.await.expect("sse viewer").seqs, expected, "sse");

    // The API answers from the database too.
    eventually(
        Duration::from_secs(20),
        "the recorder to finish",
        || async {
            store
                .progress(&build_id)
                .await
                .ok()
                .flatten()
                .filter(|p| p.status.is_terminal())
                .map(|_| ())
        },
    )
    .await;
    let get = |path: String| {
        http()
            .get(format!("{}{path}", node.http()))
            .bearer_auth(SERVICE_KEY)
            .send()
    };
    let status: Value = get(format!("/v1/builds/{build_id}"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "completed");
    assert_eq!(status["lastSeq"], *expected.last().expect("seq"));
    let page: Value = get(format!("/v1/builds/{build_id}/events?limit=1000"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let seqs: Vec<u64> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs, expected,
        "history from the database, purged events included"
    );
    stop.cancel();
    let _ = recorder.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_zero_after_a_purge_comes_from_the_database_on_sqlite() {
    resume_after_purge(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_zero_after_a_purge_comes_from_the_database_on_postgresql() {
    let (db, url) = Postgres::create().await;
    resume_after_purge(Some(&url)).await;
    db.drop_it().await;
}

/// The database gone while the edge runs (its PostgreSQL database dropped, connections
/// killed): viewers opening from 0 still get every event, from JetStream alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_stream_from_jetstream_while_the_database_is_gone() {
    let fixture = NatsFixture::start();
    let (db, url) = Postgres::create().await;
    let node = Node::with_env(
        &fixture.url(),
        crate::edge_clients::KEYS,
        &[("DATABASE_URL", url.as_str())],
    )
    .await;
    let nats = connect(&fixture.url()).await;
    // Another build first, so this one's first seq is past 1 and every viewer from 0
    // opens below it: the feed's first read asks the database for anything older, and
    // must go on from JetStream when it cannot answer.
    submit(&node, "Create a todo app").await;
    let build_id = ulid::Ulid::generate().to_string();
    let token = node.token(&build_id);
    let mut stages = Stages::new(&nats, &build_id);
    for i in 0..5 {
        stages.step(&format!("step {i}")).await;
    }
    stages.complete().await;
    db.drop_it().await;

    let stored = stored_seqs(&nats, &build_id).await;
    assert!(stored[0] > 1, "{stored:?}");
    let seen = watch_ws(&node.ws(&build_id, &token, 0)).await;
    assert_eq!(seen.seqs, stored, "WebSocket from 0 without a database");
    let (status, seen) = watch_sse(&node.sse(&build_id, &token), None).await;
    assert_eq!(status, 200);
    assert_eq!(seen.seqs, stored, "SSE from 0 without a database");
    let metrics = node.edge.state.metrics.render();
    let starts: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("buildwire_edge_stream_starts_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(starts, 2, "both streams opened:\n{metrics}");
}
