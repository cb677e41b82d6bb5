//! `build_progress.usage`: the LLM tokens a build used (its `usage` events summed, a
//! `TokenUsage` as JSON), so `GET /v1/builds/{id}` reports them from the row.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds the nullable `usage` column (JSON / JSONB).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BuildProgress::Table)
                    .add_column(json_null(BuildProgress::Usage))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BuildProgress::Table)
                    .drop_column(BuildProgress::Usage)
                    .to_owned(),
            )
            .await
    }
}

/// Table and column names.
#[derive(DeriveIden)]
enum BuildProgress {
    Table,
    Usage,
}
