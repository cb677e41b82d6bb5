//! The store's contract, run against SQLite (a temporary file) and PostgreSQL (a fresh
//! database on the local server): idempotent recording, progress that never moves back,
//! paging, and typed errors.

mod common;

use buildwire_record::{RecordError, Store};
use buildwire_schemas::{BuildStatus, Event};
use common::{TestDb, events};
use sea_orm::{ConnectionTrait, Statement};

/// Runs a suite function on both backends.
macro_rules! on_both {
    ($suite:ident) => {
        mod $suite {
            #[tokio::test]
            async fn sqlite() {
                let db = super::TestDb::sqlite();
                super::$suite(db.store().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                let db = super::TestDb::postgres().await;
                super::$suite(db.store().await).await;
            }
        }
    };
}

on_both!(recording_twice_stores_one_row);
on_both!(progress_never_moves_backwards);
on_both!(events_are_paged_in_order);
on_both!(bad_events_are_bad_data);
on_both!(usage_is_kept_in_the_progress_row);

fn with_seq(mut event: Event, seq: u64) -> Event {
    event.seq = seq;
    event
}

async fn rows(store: &Store, build_id: &str) -> i64 {
    let db = store.connection();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => {
                    "SELECT COUNT(*) AS n FROM build_events WHERE build_id = $1"
                }
                _ => "SELECT COUNT(*) AS n FROM build_events WHERE build_id = ?",
            },
            [build_id.into()],
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get("", "n").expect("n")
}

async fn recording_twice_stores_one_row(store: Store) {
    // Migrations run again at every start: nothing happens the second time.
    store.migrate().await.expect("migrates twice");
    let id = events::build_id();
    let event = with_seq(events::task(&id, "t1", false), 5);
    let first = store.record(&event).await.expect("records");
    let again = store.record(&event).await.expect("records a replay");
    assert!(first.inserted);
    assert!(!again.inserted);
    assert_eq!(first.progress, again.progress);
    assert_eq!(rows(&store, &id).await, 1);
    let (stored, more) = store.events_after(&id, 0, 10).await.expect("reads");
    assert_eq!(stored, vec![event]);
    assert!(!more);
}

async fn progress_never_moves_backwards(store: Store) {
    let id = events::build_id();
    let queued = with_seq(events::status(&id, events_code(), BuildStatus::Queued), 3);
    let started = with_seq(events::task(&id, "t1", false), 7);
    let done = with_seq(events::task(&id, "t1", true), 8);
    let complete = with_seq(events::complete(&id), 9);
    for event in [&queued, &started, &complete] {
        store.record(event).await.expect("records");
    }
    let finished = store.progress(&id).await.expect("reads").expect("exists");
    assert_eq!(finished.status, BuildStatus::Completed);
    assert_eq!(finished.last_seq, 9);
    assert_eq!(finished.steps, vec!["t1"]);
    assert!(finished.completed_steps.is_empty());

    // Replays of anything already stored change nothing.
    for event in [&queued, &started, &complete] {
        let replay = store.record(event).await.expect("records a replay");
        assert!(!replay.inserted);
        assert_eq!(replay.progress, finished);
    }
    assert_eq!(
        store.progress(&id).await.expect("reads"),
        Some(finished.clone())
    );

    // A new event older than the progress (redelivered late) is folded in order: the
    // step completes, and the status stays terminal.
    let late = store.record(&done).await.expect("records a late event");
    assert!(late.inserted);
    let refolded = store.progress(&id).await.expect("reads").expect("exists");
    assert_eq!(late.progress, refolded);
    assert_eq!(refolded.status, BuildStatus::Completed);
    assert_eq!(refolded.last_seq, 9);
    assert_eq!(refolded.completed_steps, vec!["t1"]);
    assert_eq!(refolded.preview_url, finished.preview_url);
    assert_eq!(rows(&store, &id).await, 4);
}

fn events_code() -> buildwire_schemas::events::StatusCode {
    buildwire_schemas::events::StatusCode::Queued
}

async fn events_are_paged_in_order(store: Store) {
    let id = events::build_id();
    let other = events::build_id();
    let mut recorded = Vec::new();
    // Out of order, interleaved with another build, sequences with gaps.
    let mut all: Vec<Event> = events::build(&id, 25)
        .into_iter()
        .enumerate()
        .map(|(i, e)| with_seq(e, 10 + 3 * i as u64))
        .collect();
    all.swap(3, 17);
    for event in &all {
        store.record(event).await.expect("records");
        store
            .record(&with_seq(events::log(&other, 0), event.seq + 1))
            .await
            .expect("records the other build");
        recorded.push(event.clone());
    }
    recorded.sort_by_key(|e| e.seq);

    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let (page, more) = store.events_after(&id, after, 10).await.expect("pages");
        pages.push((page.len(), more));
        after = page.last().map_or(after, |e| e.seq);
        if !more {
            break;
        }
    }
    assert_eq!(pages, vec![(10, true), (10, true), (5, false)]);
    let (everything, more) = store.events_after(&id, 0, 1000).await.expect("reads");
    assert!(!more);
    assert_eq!(everything, recorded);
    let (tail, more) = store
        .events_after(&id, recorded[22].seq, 10)
        .await
        .expect("reads");
    assert_eq!(tail, recorded[23..].to_vec());
    assert!(!more);
    let (none, more) = store.events_after(&id, 0, 0).await.expect("reads");
    assert!(none.is_empty() && more);
    let (none, more) = store
        .events_after("01JDNOTHINGHERE", 0, 10)
        .await
        .expect("reads");
    assert!(none.is_empty() && !more);
    let progress = store.progress(&id).await.expect("reads").expect("exists");
    assert_eq!(progress.status, BuildStatus::Completed);
    assert_eq!(
        progress,
        buildwire_schemas::api::BuildProgress::from_events(&id, &recorded)
    );
}

/// Issue 16: the `usage` events' sum survives the row (`build_progress.usage`).
async fn usage_is_kept_in_the_progress_row(store: Store) {
    use buildwire_schemas::events::{TokenUsage, UsageReport};
    use buildwire_schemas::{EventBody, Stage};
    let id = events::build_id();
    let usage = |seq: u64, input: u64| {
        let body = EventBody::Usage(UsageReport {
            stage: Stage::Execute,
            task_id: Some(format!("t{seq}")),
            usage: TokenUsage {
                provider: "anthropic".into(),
                model: "claude-fake".into(),
                input_tokens: input,
                output_tokens: 10,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 5,
                calls: 2,
            },
            retries: 0,
        });
        with_seq(Event::new(&id, "r", body), seq)
    };
    assert_eq!(store.progress(&id).await.expect("reads"), None);
    store.record(&usage(1, 100)).await.expect("records");
    store.record(&usage(2, 23)).await.expect("records");
    let total = store
        .progress(&id)
        .await
        .expect("reads")
        .and_then(|p| p.usage)
        .expect("usage kept");
    assert_eq!(
        (
            total.input_tokens,
            total.output_tokens,
            total.cache_read_input_tokens,
            total.calls
        ),
        (123, 20, 10, 4)
    );
    assert_eq!(total.model, "claude-fake");
}

async fn bad_events_are_bad_data(store: Store) {
    let too_long = with_seq(events::log(&"X".repeat(27), 0), 1);
    let err = store.record(&too_long).await.expect_err("refused");
    assert!(err.is_bad_data(), "{err}");
    let unsequenced = events::log(&events::build_id(), 0);
    let err = store.record(&unsequenced).await.expect_err("refused");
    assert!(err.is_bad_data(), "{err}");
    assert_eq!(
        store.progress("01JDNOTHINGHERE").await.expect("reads"),
        None
    );
}

#[tokio::test]
async fn a_bad_url_and_an_unreachable_database_are_told_apart() {
    let err = Store::connect("mysql://me@localhost/db")
        .await
        .expect_err("refused");
    assert!(matches!(err, RecordError::BadUrl { .. }), "{err}");
    let err = Store::connect("postgres://postgres:secret@127.0.0.1:1/db")
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn the_default_sqlite_file_and_folder_are_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("not").join("yet");
    let url = buildwire_record::store::default_url(&data_dir);
    assert!(url.starts_with("sqlite:///") && url.ends_with("buildwire.db?mode=rwc"));
    let store = Store::connect(&url).await.expect("connects");
    store.migrate().await.expect("migrates");
    assert!(data_dir.join("buildwire.db").exists());
}

#[tokio::test]
async fn postgres_gets_jsonb_timestamptz_and_the_unique_key() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let conn = store.connection();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
             WHERE table_name IN ('build_events', 'build_progress') ORDER BY table_name, ordinal_position",
        ))
        .await
        .expect("reads the catalog");
    let columns: Vec<String> = rows
        .iter()
        .map(|row| {
            let get = |c: &str| row.try_get::<String>("", c).expect("a text column");
            format!(
                "{}.{} {} {}",
                get("table_name"),
                get("column_name"),
                get("data_type"),
                get("is_nullable")
            )
        })
        .collect();
    for expected in [
        "build_events.id bigint NO",
        "build_events.build_id character varying NO",
        "build_events.seq bigint NO",
        "build_events.event_type character varying NO",
        "build_events.event_data jsonb NO",
        "build_events.created_at timestamp with time zone NO",
        "build_progress.build_id character varying NO",
        "build_progress.steps json NO",
        "build_progress.preview_url text YES",
        "build_progress.last_seq bigint NO",
        "build_progress.updated_at timestamp with time zone NO",
    ] {
        assert!(
            columns.iter().any(|c| c == expected),
            "{expected} in {columns:#?}"
        );
    }
    let unique = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'build_events_build_id_seq_key'",
        ))
        .await
        .expect("reads the catalog")
        .expect("the unique index exists");
    let definition: String = unique.try_get("", "indexdef").expect("text");
    assert!(
        definition.contains("UNIQUE") && definition.contains("(build_id, seq)"),
        "{definition}"
    );
}
