//! JetStream with the database below it: one [`BuildLog`] whose reads come from JetStream
//! while it holds the cursor, and from the database for what JetStream no longer holds (its
//! age limit, a purge), then JetStream again. A database that cannot answer counts as
//! holding nothing: streams go on from JetStream.

use std::sync::Arc;

use buildwire_schemas::api::BuildProgress;

use super::{BuildLog, LogError, Since, build_log, fold};

/// A newer log (JetStream) over an older, longer one (the database).
#[derive(Clone)]
pub struct Layered {
    newer: Arc<dyn BuildLog>,
    older: Option<Arc<dyn BuildLog>>,
}

fn unavailable(build_id: &str, err: &LogError) {
    tracing::warn!(%build_id, %err, "database unavailable for build history: JetStream only");
}

impl Layered {
    /// `newer` alone, or over `older`.
    pub fn new(newer: Arc<dyn BuildLog>, older: Option<Arc<dyn BuildLog>>) -> Layered {
        Layered { newer, older }
    }

    async fn read(&self, build_id: &str, after: u64, limit: usize) -> Result<Since, LogError> {
        let newer = self.newer.since(build_id, after, limit).await?;
        let Some(older) = &self.older else {
            return Ok(newer);
        };
        // The newer log holds the cursor: everything after it is there.
        if after > 0 && newer.complete {
            return Ok(newer);
        }
        // It lacks the cursor, or this read starts from the beginning: the older log may
        // hold what the newer one dropped. One event is asked first, so the common case
        // (nothing older) costs one short query.
        let until = newer.frames.first().map_or(u64::MAX, |f| f.seq);
        let probe = match older.since(build_id, after, 1).await {
            Ok(probe) => probe,
            Err(err) => {
                unavailable(build_id, &err);
                return Ok(newer);
            }
        };
        let held = probe.complete && (!probe.frames.is_empty() || probe.head() == after);
        let complete = match (after, &newer.position) {
            (0, _) => true,
            (_, None) => probe.complete,
            _ => held,
        };
        let position = newer.position.clone().or_else(|| probe.position.clone());
        if probe.frames.first().is_none_or(|f| f.seq >= until) {
            return Ok(Since {
                frames: newer.frames,
                position,
                complete,
            });
        }
        let page = if limit <= 1 {
            probe
        } else {
            match older.since(build_id, after, limit).await {
                Ok(page) => page,
                Err(err) => {
                    unavailable(build_id, &err);
                    return Ok(newer);
                }
            }
        };
        let full = page.frames.len() >= limit;
        let mut frames: Vec<_> = page.frames.into_iter().filter(|f| f.seq < until).collect();
        if !full {
            let room = limit.saturating_sub(frames.len());
            frames.extend(newer.frames.into_iter().take(room));
        }
        Ok(Since {
            frames,
            position,
            complete,
        })
    }

    /// The recorded progress when the recorder is up to date, else folded from the events.
    async fn recorded_or_folded(&self, build_id: &str) -> Result<Option<BuildProgress>, LogError> {
        if let Some(older) = &self.older {
            match older.progress(build_id).await {
                Ok(Some(recorded)) => {
                    // The recorder may be behind JetStream: its row only when it is not.
                    let newer = self.newer.since(build_id, recorded.last_seq, 1).await?;
                    if newer.position.is_none_or(|p| p.seq <= recorded.last_seq) {
                        return Ok(Some(recorded));
                    }
                }
                Ok(None) => {}
                Err(err) => unavailable(build_id, &err),
            }
        }
        fold(self, build_id).await
    }
}

build_log!(Layered, progress: recorded_or_folded);

#[cfg(test)]
mod tests {
    use buildwire_schemas::EventBody;
    use buildwire_schemas::events::{Heartbeat, StatusCode, StatusUpdate};

    use super::*;
    use crate::log::memory::MemoryLog;

    const BUILD: &str = "01JF3KX0W8R4Y6T2N5M7P9Q1ZB";

    /// JetStream and the database with the same 6 events; JetStream purged through the 3rd.
    fn stores() -> (Arc<MemoryLog>, Arc<MemoryLog>, Vec<u64>) {
        let (jetstream, database) = (MemoryLog::new(), MemoryLog::new());
        let mut seqs = Vec::new();
        for n in 0..6 {
            let body = || {
                EventBody::Status(StatusUpdate {
                    code: StatusCode::Write,
                    message: format!("step {n}"),
                    progress: None,
                    build_status: None,
                })
            };
            seqs.push(jetstream.append(BUILD, body()).seq);
            database.append(BUILD, body());
        }
        jetstream.purge(BUILD, seqs[2]);
        (jetstream, database, seqs)
    }

    fn seqs(since: &Since) -> Vec<u64> {
        since.frames.iter().map(|f| f.seq).collect()
    }

    #[tokio::test]
    async fn the_database_fills_in_what_jetstream_purged() {
        let (jetstream, database, stored) = stores();
        let log = Layered::new(jetstream.clone(), Some(database));
        let all = log.since(BUILD, 0, 100).await.expect("read");
        assert_eq!(
            (seqs(&all), all.complete, all.head()),
            (stored.clone(), true, stored[5])
        );
        let purged = log.since(BUILD, stored[1], 100).await.expect("read");
        assert_eq!(seqs(&purged), stored[2..].to_vec());
        assert!(purged.complete, "the database holds the cursor");
        let paged = log.since(BUILD, 0, 2).await.expect("read");
        assert_eq!(seqs(&paged), stored[..2].to_vec());
        assert!(paged.has_more());
        let held = log.since(BUILD, stored[3], 100).await.expect("read");
        assert_eq!((seqs(&held), held.complete), (stored[4..].to_vec(), true));
        // JetStream alone cannot vouch for a purged cursor: the client gets a snapshot.
        let alone = Layered::new(jetstream, None);
        let gone = alone.since(BUILD, stored[1], 100).await.expect("read");
        assert_eq!((seqs(&gone), gone.complete), (stored[3..].to_vec(), false));
    }

    #[tokio::test]
    async fn a_database_that_fails_leaves_jetstream_s_answer() {
        let (jetstream, database, stored) = stores();
        database.fail(true);
        let log = Layered::new(jetstream, Some(database));
        let read = log.since(BUILD, stored[1], 100).await.expect("read");
        assert_eq!((seqs(&read), read.complete), (stored[3..].to_vec(), false));
        let progress = log.progress(BUILD).await.expect("fold").expect("known");
        assert_eq!(progress.last_seq, stored[5]);
    }

    #[tokio::test]
    async fn every_store_purged_is_an_unknown_build_and_the_cursor_at_the_head_is_whole() {
        let (jetstream, database, stored) = stores();
        let log = Layered::new(jetstream.clone(), Some(database.clone()));
        let head = log.since(BUILD, stored[5], 100).await.expect("read");
        assert!(head.complete && head.frames.is_empty());
        jetstream.purge(BUILD, u64::MAX);
        database.purge(BUILD, u64::MAX);
        let none = log.since(BUILD, 0, 100).await.expect("read");
        assert!(none.position.is_none());
        assert!(log.progress(BUILD).await.expect("fold").is_none());
        let other = jetstream.append(
            "01JF3KX0W8R4Y6T2N5M7P9Q1ZC",
            EventBody::Heartbeat(Heartbeat {}),
        );
        assert!(other.seq > stored[5]);
    }
}
