//! The crate's one error type, split by what a caller should do about it: retry later
//! (the database is unavailable), drop the input (bad data), or fix the setup.

/// What went wrong while storing or recording events.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The database URL cannot be used (unknown scheme, malformed). Fix the setup.
    #[error("database URL {url} is not usable: {reason}")]
    BadUrl {
        /// The URL, password removed.
        url: String,
        /// Why.
        reason: String,
    },
    /// The database cannot be reached or refused for a reason that may pass (down,
    /// restarting, pool exhausted, locked). Retry later; nothing was stored.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The input (or a stored row) is invalid and will never be stored or read as is.
    #[error("bad data: {0}")]
    BadData(String),
    /// NATS refused a request (the `record` consumer is missing, JetStream is down).
    #[error("NATS: {0}")]
    Nats(String),
}

/// The store's name for the crate's error: [`crate::store::Store`] returns the database
/// variants ([`RecordError::BadUrl`], [`RecordError::Unavailable`],
/// [`RecordError::BadData`]).
pub type StoreError = RecordError;

impl RecordError {
    /// Whether trying again later may succeed (the database or NATS was unavailable).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, RecordError::Unavailable(_) | RecordError::Nats(_))
    }

    /// Whether the input itself is at fault, so retrying it can never succeed.
    pub fn is_bad_data(&self) -> bool {
        matches!(self, RecordError::BadData(_))
    }
}
