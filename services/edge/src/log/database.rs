//! The recorder's copy of every build's events (`build_events`) and their fold
//! (`build_progress`) as a [`BuildLog`]: what JetStream no longer holds (age limit,
//! purges) is still here.

use buildwire_record::Store;
use buildwire_schemas::api::BuildProgress;

use super::{LogError, Position, Since, ask, build_log};
use crate::frame::Frame;

/// Reads `build_events` and `build_progress`.
#[derive(Clone, Debug)]
pub struct DatabaseLog {
    store: Store,
}

impl DatabaseLog {
    /// The log of `store`.
    pub fn new(store: Store) -> DatabaseLog {
        DatabaseLog { store }
    }

    async fn read(&self, build_id: &str, after: u64, limit: usize) -> Result<Since, LogError> {
        // From the cursor itself, to learn whether it is recorded (see `log`'s docs).
        let (events, more) = self
            .store
            .events_after(build_id, after.saturating_sub(1), ask(after, limit) as u64)
            .await
            .map_err(LogError::Database)?;
        let frames = events.into_iter().map(Frame::from_event).collect();
        let newest = async {
            Ok(self.recorded(build_id).await?.map(|p| Position {
                seq: p.last_seq,
                terminal: p.status.is_terminal(),
                request_id: String::new(),
            }))
        };
        Since::from_cursor(frames, !more, after, limit, newest).await
    }

    /// The recorded row, kept by the recorder (no fold).
    async fn recorded(&self, build_id: &str) -> Result<Option<BuildProgress>, LogError> {
        self.store
            .progress(build_id)
            .await
            .map_err(LogError::Database)
    }
}

build_log!(DatabaseLog, progress: recorded);
