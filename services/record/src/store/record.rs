//! Recording one event: its row and its build's progress change together in one
//! transaction, so a crash between them cannot leave the two disagreeing, and a replay
//! (the same build and sequence again) changes nothing.

use buildwire_schemas::{Event, api::BuildProgress};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, sea_query::OnConflict,
};

use super::{Store, classify::db_error, rows};
use crate::RecordError;
use crate::entity::{build_event, build_progress};

/// What [`Store::record`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// Whether the event's row was new (false: it was already stored, nothing changed).
    pub inserted: bool,
    /// The build's progress after the event.
    pub progress: BuildProgress,
}

impl Store {
    /// Stores `event` (which must carry its stream `seq`) and folds it into its build's
    /// progress, in one transaction. A duplicate (same build and `seq`) is skipped. An
    /// event older than the progress (delivered out of order after a redelivery) makes the
    /// progress be refolded from every stored event, so the result never depends on
    /// delivery order.
    pub async fn record(&self, event: &Event) -> Result<Recorded, RecordError> {
        let row = rows::event_row(event)?;
        let txn = self.db.begin().await.map_err(db_error)?;
        // Writing first takes SQLite's write lock at once (no deadlock-prone upgrade).
        let inserted = build_event::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([build_event::Column::BuildId, build_event::Column::Seq])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(db_error)?
            > 0;
        let mut progress = locked_progress(&txn, event).await?;
        if inserted {
            if event.seq < progress.last_seq {
                progress = refold(&txn, &event.build_id).await?;
            } else {
                progress.apply(event);
            }
            rows::progress_row(&progress)?
                .update(&txn)
                .await
                .map_err(db_error)?;
        }
        txn.commit().await.map_err(db_error)?;
        Ok(Recorded { inserted, progress })
    }
}

/// The build's progress row, created when missing and locked (PostgreSQL) until the
/// transaction ends, so two recorders cannot fold from the same old state.
async fn locked_progress(
    txn: &DatabaseTransaction,
    event: &Event,
) -> Result<BuildProgress, RecordError> {
    let fresh = BuildProgress::new(event.build_id.clone(), event.timestamp);
    build_progress::Entity::insert(rows::progress_row(&fresh)?)
        .on_conflict(
            OnConflict::column(build_progress::Column::BuildId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await
        .map_err(db_error)?;
    let row = build_progress::Entity::find_by_id(event.build_id.clone())
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| RecordError::Unavailable("progress row vanished".into()))?;
    rows::progress_of(row)
}

/// The progress folded from every stored event of the build, oldest first.
async fn refold(txn: &DatabaseTransaction, build_id: &str) -> Result<BuildProgress, RecordError> {
    let stored = build_event::Entity::find()
        .filter(build_event::Column::BuildId.eq(build_id))
        .order_by_asc(build_event::Column::Seq)
        .all(txn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(rows::event_of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BuildProgress::from_events(build_id, &stored))
}
