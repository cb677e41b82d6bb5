//! `build_progress.usage`: the LLM tokens a build used (its `usage` events summed, a
//! `TokenUsage` as JSON), so `GET /v1/builds/{id}` reports them from the row.

use sea_orm_migration::{prelude::*, schema::*};

use crate::progress_column;

/// Adds the nullable `usage` column (JSON / JSONB).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        progress_column::add(manager, json_null(Column::Usage)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        progress_column::drop(manager, Column::Usage).await
    }
}

/// The column's name.
#[derive(DeriveIden)]
enum Column {
    Usage,
}
