//! Shared by the store and recorder tests: real databases (a SQLite file, a fresh
//! database on the local PostgreSQL; a PostgreSQL server of the test's own is
//! `buildwire_testkit::OwnPostgres`) and events.
#![allow(dead_code)]

pub mod events;

use buildwire_record::Store;
use rand::Rng;
use sea_orm::{ConnectionTrait, Database};

/// Sends the crate's logs to the test's output (shown when a test fails, or with
/// `--nocapture`); `RUST_LOG` overrides the filter.
pub fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("buildwire_record=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The PostgreSQL database tests create their own databases from: database `test` on the
/// server `BUILDWIRE_TEST_POSTGRES` names (default the local one, which trusts `postgres` on
/// 127.0.0.1:5432; `scripts/test` starts a project-local one when none answers).
pub fn admin_url() -> String {
    let server = std::env::var("BUILDWIRE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    format!("{}/test", server.trim_end_matches('/'))
}

/// A database of one test, removed when dropped.
pub struct TestDb {
    /// Where it is.
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { name: String },
}

impl TestDb {
    /// A SQLite file in a temporary folder.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = buildwire_record::store::default_url(dir.path());
        TestDb {
            url,
            kind: Kind::Sqlite(dir),
        }
    }

    /// A new database `bw_<random>` on the local PostgreSQL.
    pub async fn postgres() -> TestDb {
        let name = format!("bw_{:016x}", rand::rng().random::<u64>());
        let admin = Database::connect(admin_url())
            .await
            .expect("the local PostgreSQL (127.0.0.1:5432, database test) answers");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        admin.close().await.expect("close admin connection");
        let base = admin_url();
        let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
        TestDb {
            url: format!("{server}/{name}"),
            kind: Kind::Postgres { name },
        }
    }

    /// A migrated store on it.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url).await.expect("connects");
        store.migrate().await.expect("migrates");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Kind::Postgres { name } = &self.kind else {
            return;
        };
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let admin = Database::connect(admin_url()).await?;
                admin.execute_unprepared(&sql).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {name}: {dropped:?}");
        }
    }
}
