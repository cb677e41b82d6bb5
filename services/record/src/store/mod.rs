//! The database side of persistence: connect (SQLite or PostgreSQL), migrate, record an
//! event with its build's progress in one transaction, and read events and progress back.

mod classify;
mod location;
mod record;
mod rows;

use std::time::Duration;

use buildwire_migrations::{Migrator, MigratorTrait};
use buildwire_schemas::{Event, api::BuildProgress};
use sea_orm::{
    ColumnTrait, ConnectOptions, Database, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sqlx::sqlite::SqliteJournalMode,
};

use crate::RecordError;
use crate::entity::{build_event, build_progress};
pub use location::default_url;
pub use record::Recorded;

/// How long a query waits for a pooled connection (or a new one) before the database
/// counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The event store: `build_events` and `build_progress` behind one connection pool.
/// Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `url`: `sqlite:///abs/path/buildwire.db?mode=rwc` (the folder is
    /// created), `sqlite::memory:`, or `postgres://user[:password]@host:port/database`.
    /// A malformed or unsupported URL is [`RecordError::BadUrl`]; a database that does not
    /// answer is [`RecordError::Unavailable`].
    pub async fn connect(url: &str) -> Result<Store, RecordError> {
        let backend = location::prepare(url)?;
        let mut options = ConnectOptions::new(url.to_string());
        options
            .max_connections(8)
            .min_connections(0)
            .connect_timeout(ACQUIRE_TIMEOUT)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .sqlx_logging(false);
        if backend == location::Backend::Sqlite {
            // WAL lets readers (the API) run beside the recorder's writes.
            options.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5))
            });
        }
        let db = Database::connect(options).await.map_err(|err| {
            let reason = err.to_string();
            if reason.contains("no supporting driver") || reason.contains("invalid") {
                RecordError::BadUrl {
                    url: location::redact(url),
                    reason,
                }
            } else {
                RecordError::Unavailable(format!("{}: {reason}", location::redact(url)))
            }
        })?;
        Ok(Store { db })
    }

    /// The configured database (`DATABASE_URL`, else SQLite under the data dir), migrated:
    /// what every service that reads or writes it does at start.
    pub async fn from_config(config: &buildwire_runtime::Config) -> Result<Store, RecordError> {
        let url = match &config.database_url {
            Some(url) => url.clone(),
            None => {
                let dir =
                    std::path::absolute(&config.data_dir).map_err(|e| RecordError::BadUrl {
                        url: config.data_dir.display().to_string(),
                        reason: e.to_string(),
                    })?;
                default_url(&dir)
            }
        };
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Brings the schema up to date (idempotent; every service start may run it).
    pub async fn migrate(&self) -> Result<(), RecordError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(classify::db_error)
    }

    /// Up to `limit` events of `build_id` with `seq` above `after`, oldest first, each
    /// with its `seq`, and whether more follow.
    pub async fn events_after(
        &self,
        build_id: &str,
        after: u64,
        limit: u64,
    ) -> Result<(Vec<Event>, bool), RecordError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = build_event::Entity::find()
            .filter(build_event::Column::BuildId.eq(build_id))
            .filter(build_event::Column::Seq.gt(after))
            .order_by_asc(build_event::Column::Seq)
            .limit(limit.saturating_add(1))
            .all(&self.db)
            .await
            .map_err(classify::db_error)?;
        let has_more = u64::try_from(rows.len()).unwrap_or(u64::MAX) > limit;
        let events = rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(rows::event_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((events, has_more))
    }

    /// The stored progress of `build_id`, if any event of it was recorded.
    pub async fn progress(&self, build_id: &str) -> Result<Option<BuildProgress>, RecordError> {
        build_progress::Entity::find_by_id(build_id.to_string())
            .one(&self.db)
            .await
            .map_err(classify::db_error)?
            .map(rows::progress_of)
            .transpose()
    }

    /// Up to `limit` builds still `queued` whose progress last changed before `before`,
    /// with the `seq` of their last event: the sweeper's candidates.
    pub async fn stale_queued(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u64,
    ) -> Result<Vec<(String, u64)>, RecordError> {
        let rows = build_progress::Entity::find()
            .filter(build_progress::Column::Status.eq("queued"))
            .filter(build_progress::Column::UpdatedAt.lt(before))
            .order_by_asc(build_progress::Column::UpdatedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(classify::db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.build_id, u64::try_from(row.last_seq).unwrap_or(0)))
            .collect())
    }

    /// The underlying connection, for queries this API does not cover.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}
