//! The publisher: emits build events into `build.<id>.events` through the stages' own
//! `Publisher` (JetStream, `Nats-Msg-Id` per event), round-robin over many builds, at a
//! fixed rate or as fast as the stream acknowledges; one build's events are stored one
//! after another, as a stage stores them. It records the `seq` the stream
//! gave each event, which the gap checks compare deliveries against.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use buildwire_runtime::Config;
use buildwire_runtime::nats::Nats;
use buildwire_runtime::publish::Publisher;
use tokio::sync::Semaphore;

use crate::marker;

/// Publishes awaiting their acknowledgement at once, at most.
const MAX_IN_FLIGHT: usize = 512;

/// One build's published events.
#[derive(Debug, Default)]
struct BuildLog {
    /// Held while one event of the build is published: like a stage, a build's events
    /// are stored one after another, so `n` order is `seq` order.
    turn: tokio::sync::Mutex<()>,
    next_n: AtomicU32,
    /// `(n, seq)` as acknowledged, in acknowledgement order.
    acked: Mutex<Vec<(u32, u64)>>,
}

/// The builds of one run and every event published to them.
#[derive(Debug)]
pub struct Builds {
    ids: Vec<String>,
    logs: Vec<BuildLog>,
}

impl Builds {
    /// `count` fresh build ids (ULIDs).
    pub fn new(count: usize) -> Arc<Builds> {
        Arc::new(Builds {
            ids: (0..count)
                .map(|_| ulid::Ulid::generate().to_string())
                .collect(),
            logs: (0..count).map(|_| BuildLog::default()).collect(),
        })
    }

    /// How many builds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Build `index`'s id.
    pub fn id(&self, index: usize) -> &str {
        &self.ids[index]
    }

    /// Events published to build `index` so far (the next event's `n`).
    pub fn published(&self, index: usize) -> u32 {
        self.logs[index].next_n.load(Ordering::Acquire)
    }

    /// Build `index`'s acknowledged events as `seq` by `n` (`0` where not acknowledged).
    pub fn seqs(&self, index: usize) -> Vec<u64> {
        let acked = self.logs[index]
            .acked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let len = acked
            .iter()
            .map(|(n, _)| *n as usize + 1)
            .max()
            .unwrap_or(0);
        let mut seqs = vec![0; len];
        for (n, seq) in acked.iter() {
            seqs[*n as usize] = *seq;
        }
        seqs
    }
}

/// Publishes the benchmark's events.
#[derive(Clone)]
pub struct Feeder {
    publisher: Publisher,
    builds: Arc<Builds>,
    padding: usize,
    failures: Arc<AtomicU64>,
}

impl Feeder {
    /// Connects to `nats_url`, applying the stream definitions as every service does.
    pub async fn connect(nats_url: &str, builds: Arc<Builds>, padding: usize) -> Result<Feeder> {
        let config = Config {
            nats_url: Some(nats_url.to_string()),
            ..Config::default()
        };
        let nats = Nats::setup(&config, "buildwire-bench")
            .await
            .context("connecting the publisher to NATS")?;
        Ok(Feeder {
            publisher: Publisher::new(nats.js),
            builds,
            padding,
            failures: Arc::default(),
        })
    }

    /// The builds this feeder publishes to.
    pub fn builds(&self) -> &Arc<Builds> {
        &self.builds
    }

    /// Publishes the next event of build `index` and records its `seq`.
    async fn publish(&self, index: usize) {
        let log = &self.builds.logs[index];
        let _turn = log.turn.lock().await;
        let n = log.next_n.fetch_add(1, Ordering::AcqRel);
        let id = self.builds.id(index);
        let event = marker::event(id, n, self.padding);
        match self
            .publisher
            .event(&event, &format!("{id}:bench:{n}"))
            .await
        {
            Ok(published) => log
                .acked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((n, published.seq)),
            Err(err) => {
                if self.failures.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("bench: publish failed: {err}");
                }
            }
        }
    }

    /// Publishes one event per build (`n = 0`), as the first event a stage stores.
    pub async fn seed(&self) -> Result<()> {
        self.burst(1).await.map(|_| ())
    }

    /// Publishes `per_build` events to every build as fast as the stream acknowledges
    /// (at most [`MAX_IN_FLIGHT`] at once), interleaving builds; returns the time taken.
    pub async fn burst(&self, per_build: u32) -> Result<Duration> {
        let started = Instant::now();
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        for _ in 0..per_build {
            for index in 0..self.builds.len() {
                self.spawn(index, &slots).await?;
            }
        }
        self.settle(&slots).await?;
        Ok(started.elapsed())
    }

    /// Publishes `rate` events per second round-robin over the builds for `duration`
    /// (or until `stop` fires); returns how many were published.
    pub async fn at_rate(
        &self,
        rate: f64,
        duration: Duration,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Result<u64> {
        if self.builds.is_empty() {
            return Ok(0);
        }
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let total = (rate * duration.as_secs_f64()).round() as u64;
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut sent = 0u64;
        let builds = self.builds.len() as u64;
        while sent < total && !stop.is_cancelled() {
            tick.tick().await;
            let due = ((started.elapsed().as_secs_f64() * rate) as u64).min(total);
            while sent < due {
                self.spawn((sent % builds) as usize, &slots).await?;
                sent += 1;
            }
        }
        self.settle(&slots).await?;
        Ok(sent)
    }

    async fn spawn(&self, index: usize, slots: &Arc<Semaphore>) -> Result<()> {
        let permit = slots.clone().acquire_owned().await?;
        let feeder = self.clone();
        tokio::spawn(async move {
            feeder.publish(index).await;
            drop(permit);
        });
        Ok(())
    }

    /// Waits for every publish in flight, and fails if any failed.
    async fn settle(&self, slots: &Arc<Semaphore>) -> Result<()> {
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        drop(slots.acquire_many(all).await?);
        let failures = self.failures.load(Ordering::Relaxed);
        if failures > 0 {
            bail!("{failures} publishes failed (see above)");
        }
        Ok(())
    }
}
