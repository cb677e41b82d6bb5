//! What must hold after each fault: every build terminal, every viewer holding every
//! stored event once and in order, the database rows equal to the stream, no command
//! left in `CMDS` and no delivery waiting for an ack. Each failure is a line of text, so
//! one phase reports all of them at once.

use std::time::Duration;

use async_nats::jetstream::consumer::{Info, PullConsumer};
use buildwire_record::Store;
use buildwire_runtime::nats::Nats;
use buildwire_schemas::subjects;
use serde_json::Value;
use tokio::time::Instant;

use crate::viewers::Viewer;

/// A consumer's state, `None` while the cluster cannot answer.
pub async fn consumer_info(nats: &Nats, stream: &str, consumer: &str) -> Option<Info> {
    let mut consumer: PullConsumer = nats
        .js
        .get_stream(stream)
        .await
        .ok()?
        .get_consumer(consumer)
        .await
        .ok()?;
    consumer.info().await.ok().cloned()
}

/// A build's events as stored in `EVENTS`, read incrementally (stored events never
/// change), each with the moment the test first saw it.
#[derive(Debug)]
pub struct Stored {
    /// The build.
    pub build_id: String,
    /// Its events, oldest first, `seq` filled in.
    pub events: Vec<Value>,
    /// When each was first read.
    pub seen_at: Vec<Instant>,
}

impl Stored {
    /// Nothing read yet.
    pub fn new(build_id: &str) -> Stored {
        Stored {
            build_id: build_id.to_string(),
            events: Vec::new(),
            seen_at: Vec::new(),
        }
    }

    /// Reads what was stored since the last call; false when the stream did not answer
    /// (a leader election), which the next call retries.
    pub async fn refresh(&mut self, nats: &Nats) -> bool {
        let Ok(stream) = nats.js.get_stream("EVENTS").await else {
            return false;
        };
        let subject = subjects::events(&self.build_id);
        loop {
            let next = self.last_seq() + 1;
            match stream
                .direct_get_next_for_subject(&subject, Some(next))
                .await
            {
                Ok(message) => {
                    let mut event: Value =
                        serde_json::from_slice(&message.payload).expect("stored events are JSON");
                    event["seq"] = message.sequence.into();
                    self.events.push(event);
                    self.seen_at.push(Instant::now());
                }
                Err(err)
                    if err.kind()
                        == async_nats::jetstream::stream::DirectGetErrorKind::NotFound =>
                {
                    return true;
                }
                Err(_) => return false,
            }
        }
    }

    /// The `seq` of its last stored event (0: none).
    pub fn last_seq(&self) -> u64 {
        self.events
            .last()
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    }

    /// Every stored `seq`.
    pub fn seqs(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .collect()
    }

    /// Whether an event of `kind` is stored.
    pub fn has(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e["type"] == kind)
    }

    /// Its terminal event, once stored.
    pub fn terminal(&self) -> Option<&Value> {
        self.events.last().filter(|e| {
            matches!(
                e["type"].as_str(),
                Some("complete" | "failed" | "cancelled")
            )
        })
    }

    /// When the first event after `seq` was seen, if one was.
    pub fn first_after(&self, seq: u64) -> Option<Instant> {
        self.events
            .iter()
            .zip(&self.seen_at)
            .find(|(e, _)| e["seq"].as_u64().unwrap_or(0) > seq)
            .map(|(_, at)| *at)
    }
}

/// The `seq`s of a build's rows in `build_events`, `None` while the database is away.
pub async fn rows(store: &Store, build_id: &str) -> Option<Vec<u64>> {
    let (events, _) = store.events_after(build_id, 0, 100_000).await.ok()?;
    Some(events.iter().map(|e| e.seq).collect())
}

/// Every build ended with `complete`.
pub fn builds_completed(builds: &[Stored], problems: &mut Vec<String>) {
    for build in builds {
        match build.terminal() {
            Some(event) if event["type"] == "complete" => {}
            Some(event) => problems.push(format!("build {} ended with {event}", build.build_id)),
            None if build.events.iter().any(|e| {
                matches!(
                    e["type"].as_str(),
                    Some("complete" | "failed" | "cancelled")
                )
            }) =>
            {
                problems.push(format!(
                    "build {}: events stored after its terminal event: {:?}",
                    build.build_id,
                    build.events.last()
                ));
            }
            None => problems.push(format!(
                "build {} not terminal; last event {:?}",
                build.build_id,
                build.events.last()
            )),
        }
    }
}

/// Every viewer finished and holds exactly its build's stored seqs, in order, once each,
/// with no snapshot (no history was lost).
pub fn viewers_hold_the_stream(viewers: &[Viewer], builds: &[Stored], problems: &mut Vec<String>) {
    for (i, viewer) in viewers.iter().enumerate() {
        let seen = viewer.seen.lock().expect("viewer state");
        let stored = builds[viewer.build].seqs();
        if !seen.finished {
            problems.push(format!(
                "viewer {i} ({:?}) never finished",
                viewer.transport
            ));
        }
        if seen.snapshots > 0 {
            problems.push(format!("viewer {i} got {} snapshot(s)", seen.snapshots));
        }
        if seen.seqs != stored {
            problems.push(format!(
                "viewer {i} ({:?}) of build {}: {} seqs, stored {}; first difference at {:?}",
                viewer.transport,
                builds[viewer.build].build_id,
                seen.seqs.len(),
                stored.len(),
                seen.seqs.iter().zip(&stored).position(|(a, b)| a != b)
            ));
        }
    }
}

/// The database holds each build's stored events, no more, no fewer (waits up to 30 s
/// for the recorder to catch up).
pub async fn rows_equal_the_stream(store: &Store, builds: &[Stored], problems: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for build in builds {
        let stored = build.seqs();
        let mut last = None;
        while Instant::now() < deadline {
            last = rows(store, &build.build_id).await;
            if last.as_ref() == Some(&stored) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if last.as_ref() != Some(&stored) {
            problems.push(format!(
                "build {}: rows {:?} != stream {stored:?}",
                build.build_id, last
            ));
        }
    }
}

/// `CMDS` is empty and no consumer has anything pending or waiting for an ack (waits up
/// to 30 s for acks in flight).
pub async fn nothing_pending(nats: &Nats, problems: &mut Vec<String>) {
    let consumers = [
        ("CMDS", "plan"),
        ("CMDS", "execute"),
        ("CMDS", "build"),
        ("CMDS", "deploy"),
        ("EVENTS", "record"),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left = Vec::new();
    while Instant::now() < deadline {
        left.clear();
        match nats.js.get_stream("CMDS").await {
            Ok(mut cmds) => match cmds.info().await {
                Ok(info) if info.state.messages == 0 => {}
                Ok(info) => left.push(format!("CMDS holds {} command(s)", info.state.messages)),
                Err(err) => left.push(format!("CMDS info: {err}")),
            },
            Err(err) => left.push(format!("CMDS: {err}")),
        }
        for (stream, name) in consumers {
            match consumer_info(nats, stream, name).await {
                Some(info) if info.num_pending == 0 && info.num_ack_pending == 0 => {}
                Some(info) => left.push(format!(
                    "{stream}/{name}: {} pending, {} awaiting ack",
                    info.num_pending, info.num_ack_pending
                )),
                None => left.push(format!("{stream}/{name}: no answer")),
            }
        }
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    problems.append(&mut left);
}
