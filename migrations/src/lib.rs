//! The database schema of buildwire's persistence layer, as sea-orm migrations: the
//! recorder runs them at start, so a fresh SQLite file or PostgreSQL database gets the
//! `build_events` and `build_progress` tables without a separate tool.

pub use sea_orm_migration::prelude::*;

mod m20261101_000001_build_events;
mod m20261101_000002_build_progress;
mod m20261201_000003_build_progress_usage;
mod m20261202_000004_build_progress_deploy_log;
mod progress_column;

/// Every migration, oldest first: what `Migrator::up` applies to bring a database to the
/// schema the record service expects.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261101_000001_build_events::Migration),
            Box::new(m20261101_000002_build_progress::Migration),
            Box::new(m20261201_000003_build_progress_usage::Migration),
            Box::new(m20261202_000004_build_progress_deploy_log::Migration),
        ]
    }
}
