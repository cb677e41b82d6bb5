//! `build_progress`: one row per build holding its events folded into a
//! `BuildProgress`, so status queries need not replay history.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `build_progress`, keyed by build id.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BuildProgress::Table)
                    .if_not_exists()
                    .col(string_len(BuildProgress::BuildId, 26).primary_key())
                    .col(string_len(BuildProgress::Status, 50))
                    .col(json(BuildProgress::Steps))
                    .col(json(BuildProgress::CompletedSteps))
                    .col(text_null(BuildProgress::PreviewUrl))
                    .col(text_null(BuildProgress::ErrorMessage))
                    .col(text_null(BuildProgress::BuildLogUrl))
                    .col(big_integer(BuildProgress::LastSeq))
                    .col(timestamp_with_time_zone(BuildProgress::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BuildProgress::Table).to_owned())
            .await
    }
}

/// Table and column names.
#[derive(DeriveIden)]
enum BuildProgress {
    Table,
    BuildId,
    Status,
    Steps,
    CompletedSteps,
    PreviewUrl,
    ErrorMessage,
    BuildLogUrl,
    LastSeq,
    UpdatedAt,
}
