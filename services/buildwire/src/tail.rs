//! `buildwire tail [buildId]`: an operator's live view of build events, read from `EVENTS`
//! with an ordered consumer (history first for one build, new events for all).

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use buildwire_runtime::{Config, Error, Result, nats::Nats};
use buildwire_schemas::{Event, subjects};
use futures::StreamExt;

/// Prints events until Ctrl-C.
pub async fn run(config: Config, build_id: Option<String>, json: bool) -> Result<()> {
    if let Some(id) = &build_id {
        subjects::check_build_id(id).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    }
    let nats = Nats::from_config(&config, "buildwire-tail").await?;
    let api = |e: String| Error::JetStream {
        subject: "EVENTS".into(),
        reason: e,
    };
    let stream = nats
        .js
        .get_stream("EVENTS")
        .await
        .map_err(|e| api(e.to_string()))?;
    let (filter, deliver) = match &build_id {
        Some(id) => (subjects::events(id), DeliverPolicy::All),
        None => ("build.*.events".to_string(), DeliverPolicy::New),
    };
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: filter,
            deliver_policy: deliver,
            ..Default::default()
        })
        .await
        .map_err(|e| api(e.to_string()))?;
    let mut messages = consumer.messages().await.map_err(|e| api(e.to_string()))?;
    let stop = buildwire_runtime::shutdown::on_signal();
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            m = messages.next() => match m {
                Some(Ok(m)) => m,
                Some(Err(err)) => { tracing::warn!(%err, "tail: consumer error"); continue }
                None => return Ok(()),
            },
        };
        let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        match serde_json::from_slice::<Event>(&message.payload) {
            Ok(mut event) => {
                event.seq = seq;
                if json {
                    println!("{}", serde_json::to_string(&event)?);
                } else {
                    println!("{}", summary(&event));
                }
                if build_id.is_some() && event.is_terminal() {
                    return Ok(());
                }
            }
            Err(err) => println!("{seq:>8} (unreadable event on {}: {err})", message.subject),
        }
    }
}

fn summary(event: &Event) -> String {
    let mut body = serde_json::to_value(&event.body).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        map.remove("type");
    }
    format!(
        "{:>8} {} {} {:<16} {}",
        event.seq,
        event.timestamp.format("%H:%M:%S%.3f"),
        event.build_id,
        event.type_name(),
        body
    )
}
