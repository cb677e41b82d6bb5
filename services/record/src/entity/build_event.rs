//! A `build_events` row: one stored event of one build.

use sea_orm::entity::prelude::*;

/// One event, as stored.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "build_events")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The build (a ULID).
    pub build_id: String,
    /// The event's JetStream stream sequence.
    pub seq: i64,
    /// The event's `type`.
    pub event_type: String,
    /// The event as published (its JSON body, without `seq`).
    #[sea_orm(column_type = "JsonBinary")]
    pub event_data: Json,
    /// The event's timestamp.
    pub created_at: DateTimeUtc,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
