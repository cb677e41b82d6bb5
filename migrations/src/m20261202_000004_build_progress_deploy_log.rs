//! `build_progress.deploy_log_url`: the reference to a build's deploy log (a deploy target
//! that keeps one, Cloudflare Pages), so `GET /v1/builds/{id}` links it from the row.

use sea_orm_migration::{prelude::*, schema::*};

use crate::progress_column;

/// Adds the nullable `deploy_log_url` column (text).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        progress_column::add(manager, text_null(Column::DeployLogUrl)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        progress_column::drop(manager, Column::DeployLogUrl).await
    }
}

/// The column's name.
#[derive(DeriveIden)]
enum Column {
    DeployLogUrl,
}
