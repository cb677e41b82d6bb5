//! One nullable column added to (or dropped from) `build_progress`: what every migration
//! after the table's creation does, written once.

use sea_orm_migration::prelude::*;

/// Adds `column` to `build_progress`.
pub(crate) async fn add(manager: &SchemaManager<'_>, column: ColumnDef) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(BuildProgress::Table)
                .add_column(column)
                .to_owned(),
        )
        .await
}

/// Drops `column` from `build_progress`.
pub(crate) async fn drop(
    manager: &SchemaManager<'_>,
    column: impl IntoIden + 'static,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(BuildProgress::Table)
                .drop_column(column)
                .to_owned(),
        )
        .await
}

/// The table's name.
#[derive(DeriveIden)]
enum BuildProgress {
    Table,
}
