//! One JetStream delivery's acknowledgements, shared by the stage loop and the recorder.
//!
//! - [`confirm`]: an ack, nak or term with the server's confirmation. While NATS is away
//!   it is retried with backoff, so finished work is not redone once NATS is back, but
//!   never past [`PATIENCE`] or once the caller gives up (shutdown): an unconfirmed
//!   message only comes back after its ack wait, which every consumer keeps short.
//! - [`keep_alive`]: in-progress acks while work goes on, so a short ack wait (a killed
//!   worker's command is redelivered within seconds) does not redeliver live work.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, consumer};
use tokio_util::sync::CancellationToken;

/// Longest time [`confirm`] keeps trying while NATS does not answer.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// Longest wait for one confirmation.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Sends `kind` for `message` and waits for the server to confirm it. Retries while NATS is
/// unreachable, up to [`PATIENCE`]; once `give_up` has fired (shutdown) it makes one short
/// attempt. Returns whether the server confirmed.
pub async fn confirm(
    message: &jetstream::Message,
    kind: AckKind,
    give_up: &CancellationToken,
) -> bool {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    for attempt in 1u32.. {
        let limit = if give_up.is_cancelled() {
            if !connected(message) {
                // Nothing can confirm it: spend no more of the shutdown on it.
                break;
            }
            Duration::from_millis(500)
        } else {
            ATTEMPT_TIMEOUT
        };
        match tokio::time::timeout(limit, message.double_ack_with(kind)).await {
            Ok(Ok(())) => return true,
            Ok(Err(err)) => tracing::warn!(%err, attempt, ?kind, "ack not confirmed"),
            Err(_) => tracing::warn!(attempt, ?kind, "ack not confirmed in time"),
        }
        if give_up.is_cancelled() || started.elapsed() >= PATIENCE {
            break;
        }
        tokio::select! {
            _ = give_up.cancelled() => {}
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
    tracing::warn!(
        ?kind,
        "giving up on the ack; the message comes back after its ack wait"
    );
    false
}

fn connected(message: &jetstream::Message) -> bool {
    message.context.client().connection_state() == async_nats::connection::State::Connected
}

/// Flushes what `client` still buffers before the process exits: up to a second while
/// connected, nothing while NATS is away (nothing would take it).
pub async fn flush_before_exit(client: &async_nats::Client) {
    if client.connection_state() != async_nats::connection::State::Connected {
        tracing::warn!("NATS is away: exiting without flushing");
        return;
    }
    match tokio::time::timeout(Duration::from_secs(1), client.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(%err, "flush before exit failed"),
        Err(_) => tracing::warn!("NATS did not take the last messages before exit"),
    }
}

/// Tells the server every `every` that `message` is still being worked on. Never returns;
/// run it beside the work and drop it when the work ends.
pub async fn keep_alive(message: &jetstream::Message, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if let Err(err) = message.ack_with(AckKind::Progress).await {
            tracing::warn!(%err, "in-progress ack failed");
        }
    }
}

/// How often to send in-progress acks on `config`'s consumer: a quarter of its shortest ack
/// timer (the ack wait, or the shortest backoff step, which replaces it), at least 100 ms.
pub fn keep_alive_period(config: &consumer::Config) -> Duration {
    config
        .backoff
        .iter()
        .copied()
        .chain([config.ack_wait])
        .filter(|d| !d.is_zero())
        .min()
        .map_or(Duration::from_secs(1), |shortest| shortest / 4)
        .max(Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alives_come_four_times_per_shortest_ack_timer() {
        let config = consumer::Config {
            ack_wait: Duration::from_secs(4),
            backoff: vec![Duration::from_secs(8), Duration::from_secs(2)],
            ..Default::default()
        };
        assert_eq!(keep_alive_period(&config), Duration::from_millis(500));
        let tiny = consumer::Config {
            ack_wait: Duration::from_millis(100),
            ..Default::default()
        };
        assert_eq!(keep_alive_period(&tiny), Duration::from_millis(100));
    }
}
