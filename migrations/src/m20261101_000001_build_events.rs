//! `build_events`: every stored event of every build, one row per (build, stream
//! sequence), so history outlives the stream's retention and can be paged by SQL.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `build_events` with its unique (build_id, seq) key and build_id index.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BuildEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(BuildEvents::Id))
                    .col(string_len(BuildEvents::BuildId, 26))
                    .col(big_integer(BuildEvents::Seq))
                    .col(string_len(BuildEvents::EventType, 50))
                    // JSONB on PostgreSQL; SQLite keeps the JSON text.
                    .col(json_binary(BuildEvents::EventData))
                    .col(timestamp_with_time_zone(BuildEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // The recorder's idempotency: a replayed event conflicts here and is skipped.
        manager
            .create_index(
                Index::create()
                    .name("build_events_build_id_seq_key")
                    .table(BuildEvents::Table)
                    .col(BuildEvents::BuildId)
                    .col(BuildEvents::Seq)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("build_events_build_id_idx")
                    .table(BuildEvents::Table)
                    .col(BuildEvents::BuildId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BuildEvents::Table).to_owned())
            .await
    }
}

/// Table and column names.
#[derive(DeriveIden)]
enum BuildEvents {
    Table,
    Id,
    BuildId,
    Seq,
    EventType,
    EventData,
    CreatedAt,
}
