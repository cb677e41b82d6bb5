//! Sorting database errors into "retry later" and "bad data": the recorder holds an event
//! back for the first and drops it for the second, so the split decides whether an outage
//! loses events (it must not) and whether a poison event blocks a build (it must not).

use sea_orm::{DbErr, RuntimeErr, sqlx};

use crate::RecordError;

/// Classifies `err`, keeping its message.
pub(crate) fn db_error(err: DbErr) -> RecordError {
    if is_bad_data(&err) {
        RecordError::BadData(err.to_string())
    } else {
        RecordError::Unavailable(err.to_string())
    }
}

/// Errors that repeat whatever the database's health: constraint and data errors, values
/// that do not convert. Everything else (connection, pool, I/O, locks, shutdown, unknown)
/// is treated as an outage, so an event is retried rather than lost.
fn is_bad_data(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_bad_data(e)
        }
        DbErr::TryIntoErr { .. }
        | DbErr::ConvertFromU64(_)
        | DbErr::Type(_)
        | DbErr::Json(_)
        | DbErr::AttrNotSet(_) => true,
        _ => false,
    }
}

fn sqlx_bad_data(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            if !matches!(db.kind(), sqlx::error::ErrorKind::Other) {
                return true; // unique, foreign key, not null, check violations
            }
            let code = db.code().unwrap_or_default();
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // Class 22: data exception (value too long, bad JSON); 23: integrity.
                return code.starts_with("22") || code.starts_with("23");
            }
            // SQLite: primary result code in the low byte. TOOBIG, CONSTRAINT,
            // MISMATCH, RANGE.
            code.parse::<i32>()
                .is_ok_and(|c| matches!(c & 0xff, 18 | 19 | 20 | 25))
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnAcquireErr;

    #[test]
    fn outages_are_retried_and_conversions_are_bad_data() {
        assert!(db_error(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)).is_unavailable());
        assert!(db_error(DbErr::Conn(RuntimeErr::Internal("refused".into()))).is_unavailable());
        let io = sqlx::Error::Io(std::io::Error::other("reset"));
        assert!(db_error(DbErr::Exec(RuntimeErr::SqlxError(io.into()))).is_unavailable());
        assert!(db_error(DbErr::Json("not json".into())).is_bad_data());
    }
}
