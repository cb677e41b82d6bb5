//! `build_progress.deploy_log_url`: the reference to a build's deploy log (a deploy target
//! that keeps one, Cloudflare Pages), so `GET /v1/builds/{id}` links it from the row.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds the nullable `deploy_log_url` column (text).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BuildProgress::Table)
                    .add_column(text_null(BuildProgress::DeployLogUrl))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BuildProgress::Table)
                    .drop_column(BuildProgress::DeployLogUrl)
                    .to_owned(),
            )
            .await
    }
}

/// Table and column names.
#[derive(DeriveIden)]
enum BuildProgress {
    Table,
    DeployLogUrl,
}
