//! Converting between the wire types (`Event`, `BuildProgress`) and table rows, with the
//! checks that keep SQLite and PostgreSQL equally strict (column lengths, i64 range).

use buildwire_schemas::{BuildStatus, Event, api::BuildProgress};
use sea_orm::ActiveValue::{NotSet, Set};

use crate::RecordError;
use crate::entity::{build_event, build_progress};

/// `build_events.build_id` and `build_progress.build_id` length.
const BUILD_ID_MAX: usize = 26;
/// `build_events.event_type` and `build_progress.status` length.
const NAME_MAX: usize = 50;

/// A new `build_events` row for `event`, which must carry its stream sequence.
pub(crate) fn event_row(event: &Event) -> Result<build_event::ActiveModel, RecordError> {
    check_build_id(&event.build_id)?;
    if event.seq == 0 {
        return Err(bad(&event.build_id, "the event has no stream sequence"));
    }
    let seq = to_i64(event.seq, &event.build_id)?;
    let event_type = event.type_name();
    if event_type.len() > NAME_MAX {
        return Err(bad(&event.build_id, "event type longer than 50 characters"));
    }
    let mut data = serde_json::to_value(event).map_err(|e| bad(&event.build_id, &e.to_string()))?;
    // Stored as published: the sequence lives in its own column.
    if let Some(object) = data.as_object_mut() {
        object.remove("seq");
    }
    Ok(build_event::ActiveModel {
        id: NotSet,
        build_id: Set(event.build_id.clone()),
        seq: Set(seq),
        event_type: Set(event_type.to_string()),
        event_data: Set(data),
        created_at: Set(event.timestamp),
    })
}

/// The event a row holds, its `seq` set.
pub(crate) fn event_of(row: build_event::Model) -> Result<Event, RecordError> {
    let mut event: Event = serde_json::from_value(row.event_data).map_err(|e| {
        bad(
            &row.build_id,
            &format!("stored event {} does not parse: {e}", row.seq),
        )
    })?;
    event.seq = u64::try_from(row.seq)
        .map_err(|_| bad(&row.build_id, &format!("negative seq {}", row.seq)))?;
    Ok(event)
}

/// The progress a row holds.
pub(crate) fn progress_of(row: build_progress::Model) -> Result<BuildProgress, RecordError> {
    let status: BuildStatus = serde_json::from_value(serde_json::Value::String(row.status))
        .map_err(|e| bad(&row.build_id, &format!("stored status: {e}")))?;
    let list = |value: serde_json::Value, what: &str| {
        serde_json::from_value::<Vec<String>>(value)
            .map_err(|e| bad(&row.build_id, &format!("stored {what}: {e}")))
    };
    Ok(BuildProgress {
        status,
        steps: list(row.steps, "steps")?,
        completed_steps: list(row.completed_steps, "completed_steps")?,
        preview_url: row.preview_url,
        error_message: row.error_message,
        build_log_url: row.build_log_url,
        last_seq: u64::try_from(row.last_seq)
            .map_err(|_| bad(&row.build_id, "negative last_seq"))?,
        updated_at: row.updated_at,
        usage: match row.usage {
            Some(usage) if !usage.is_null() => Some(
                serde_json::from_value(usage)
                    .map_err(|e| bad(&row.build_id, &format!("stored usage: {e}")))?,
            ),
            _ => None,
        },
        deploy_log_url: row.deploy_log_url,
        // Not stored: the edge reads it from the build's first event's headers.
        trace_id: None,
        build_id: row.build_id,
    })
}

/// The `build_progress` row holding `progress`, every column set.
pub(crate) fn progress_row(
    progress: &BuildProgress,
) -> Result<build_progress::ActiveModel, RecordError> {
    let id = &progress.build_id;
    check_build_id(id)?;
    let status = match serde_json::to_value(progress.status) {
        Ok(serde_json::Value::String(status)) => status,
        other => return Err(bad(id, &format!("status does not serialize: {other:?}"))),
    };
    let list = |steps: &[String]| serde_json::Value::from(steps.to_vec());
    Ok(build_progress::ActiveModel {
        build_id: Set(id.clone()),
        status: Set(status),
        steps: Set(list(&progress.steps)),
        completed_steps: Set(list(&progress.completed_steps)),
        preview_url: Set(progress.preview_url.clone()),
        error_message: Set(progress.error_message.clone()),
        build_log_url: Set(progress.build_log_url.clone()),
        deploy_log_url: Set(progress.deploy_log_url.clone()),
        last_seq: Set(to_i64(progress.last_seq, id)?),
        updated_at: Set(progress.updated_at),
        usage: Set(match &progress.usage {
            Some(usage) => {
                Some(serde_json::to_value(usage).map_err(|e| bad(id, &format!("usage: {e}")))?)
            }
            None => None,
        }),
    })
}

/// Refuses build ids the columns cannot hold (PostgreSQL would refuse them; SQLite would
/// not, so the check is here for both).
pub(crate) fn check_build_id(build_id: &str) -> Result<(), RecordError> {
    if build_id.is_empty() || build_id.chars().count() > BUILD_ID_MAX {
        return Err(bad(build_id, "build id must be 1 to 26 characters"));
    }
    Ok(())
}

/// A sequence as the `BIGINT` columns store it.
pub(crate) fn to_i64(seq: u64, build_id: &str) -> Result<i64, RecordError> {
    i64::try_from(seq).map_err(|_| bad(build_id, &format!("sequence {seq} exceeds i64")))
}

fn bad(build_id: &str, reason: &str) -> RecordError {
    RecordError::BadData(format!("build {build_id:?}: {reason}"))
}
