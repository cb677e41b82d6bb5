//! A `build_progress` row: one build's events folded into its progress.

use sea_orm::entity::prelude::*;

/// One build's progress, as stored.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "build_progress")]
pub struct Model {
    /// The build (a ULID).
    #[sea_orm(primary_key, auto_increment = false)]
    pub build_id: String,
    /// `BuildStatus` in snake case.
    pub status: String,
    /// Step ids, a JSON array of strings.
    pub steps: Json,
    /// Finished step ids, a JSON array of strings.
    pub completed_steps: Json,
    /// Preview URL, once deployed.
    #[sea_orm(column_type = "Text", nullable)]
    pub preview_url: Option<String>,
    /// Why it failed.
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    /// Signed URL of the full build log.
    #[sea_orm(column_type = "Text", nullable)]
    pub build_log_url: Option<String>,
    /// Sequence of the newest event folded in.
    pub last_seq: i64,
    /// When the progress last changed.
    pub updated_at: DateTimeUtc,
    /// LLM tokens used, a `TokenUsage` as JSON (null until a `usage` event).
    pub usage: Option<Json>,
    /// Reference to the deploy log (`/v1/builds/{id}/logs/deploy`) or the target's URL.
    #[sea_orm(column_type = "Text", nullable)]
    pub deploy_log_url: Option<String>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
