//! The sweeper against a real nats-server and a SQLite store: a build whose `QUEUED` was
//! stored with no plan command after it (the edge lost NATS between the two) is ended with
//! `plan_failed` and `failed` (`SUBMISSION_LOST`), once however many sweepers run; a build
//! whose command waits, or that moved on, is left alone.

mod common;

use std::time::Duration;

use buildwire_record::{Store, recorder, sweep};
use buildwire_runtime::{
    nats::{Nats, Role},
    publish::Publisher,
};
use buildwire_schemas::{BuildStatus, EventBody, Stage, StageCommand, events::StatusCode};
use buildwire_testkit::{NatsFixture, applied, connect, eventually, stored_events};
use common::{TestDb, events};
use tokio_util::sync::CancellationToken;

async fn queued(nats: &Nats, build_id: &str) {
    let event = events::status(build_id, StatusCode::Queued, BuildStatus::Queued);
    Publisher::new(nats.js.clone())
        .event(&event, &format!("{build_id}:edge:queued"))
        .await
        .expect("QUEUED stored");
}

async fn command(nats: &Nats, build_id: &str) {
    let command = StageCommand {
        build_id: build_id.into(),
        request_id: format!("req-{build_id}"),
        user_id: "user-1".into(),
        prompt: "Create a todo app".into(),
        project_id: None,
        parent_build_id: None,
        restore_from_build_id: None,
        plan: None,
        extra: Default::default(),
    };
    Publisher::new(nats.js.clone())
        .command(Stage::Plan, &command, &format!("{build_id}:submit"))
        .await
        .expect("command stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_queued_without_a_command_is_failed_once_and_others_are_left_alone() {
    common::logs();
    let fixture = NatsFixture::start();
    let nats = applied(&fixture.url()).await;
    let db = TestDb::sqlite();
    let store: Store = db.store().await;
    let stop = CancellationToken::new();
    // The record service's own NATS user: its permissions must cover the sweeper.
    let as_record = connect(&fixture.url_as(Role::Record)).await;
    tokio::spawn(recorder::run(
        as_record.clone(),
        store.clone(),
        stop.clone(),
    ));

    let lost = events::build_id();
    let waiting = events::build_id();
    let started = events::build_id();
    queued(&nats, &lost).await;
    queued(&nats, &waiting).await;
    command(&nats, &waiting).await;
    queued(&nats, &started).await;
    Publisher::new(nats.js.clone())
        .event(
            &events::status(&started, StatusCode::Analyze, BuildStatus::Planning),
            &format!("{started}:plan:1"),
        )
        .await
        .expect("stored");
    for id in [&lost, &waiting, &started] {
        eventually(Duration::from_secs(10), "recorded", || async {
            store.progress(id).await.ok().flatten()
        })
        .await;
    }

    // Two sweepers, as two record services would run.
    let options = sweep::SweepOptions {
        every: Duration::from_millis(200),
        grace: Duration::from_millis(500),
    };
    for _ in 0..2 {
        tokio::spawn(sweep::run(
            as_record.clone(),
            store.clone(),
            options,
            stop.clone(),
        ));
    }
    let ended = eventually(Duration::from_secs(15), "the lost build ended", || async {
        let events = stored_events(&nats, &lost).await;
        events
            .iter()
            .any(|e| matches!(e.body, EventBody::Failed(_)))
            .then_some(events)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ended_again = stored_events(&nats, &lost).await;
    assert_eq!(ended.len(), ended_again.len(), "reported once");
    let types: Vec<_> = ended_again.iter().map(|e| e.type_name()).collect();
    assert_eq!(types, ["status", "plan_failed", "failed"]);
    let EventBody::Failed(failed) = &ended_again[2].body else {
        unreachable!()
    };
    assert_eq!(failed.code, sweep::SUBMISSION_LOST);
    let progress = eventually(Duration::from_secs(10), "progress failed", || async {
        store
            .progress(&lost)
            .await
            .ok()
            .flatten()
            .filter(|p| p.status == BuildStatus::Failed)
    })
    .await;
    assert_eq!(progress.status, BuildStatus::Failed);

    for id in [&waiting, &started] {
        let events = stored_events(&nats, id).await;
        assert!(
            events
                .iter()
                .all(|e| !matches!(e.body, EventBody::Failed(_))),
            "{id} left alone: {events:?}"
        );
    }
    assert!(
        fixture.violations().is_empty(),
        "{:?}",
        fixture.violations()
    );
    stop.cancel();
}
