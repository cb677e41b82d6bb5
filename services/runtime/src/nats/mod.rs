//! The one NATS setup path: connect with reconnect, refuse servers that cannot run
//! buildwire, apply the `nats/` definitions, and hand out the JetStream context.

pub mod definitions;
pub mod server;

use std::time::Duration;

use async_nats::jetstream;

use crate::{Config, Error, Result};

pub use definitions::{ApplyReport, Definitions, Outcome};

/// The oldest nats-server buildwire runs against (batch Direct Get, per-subject discard).
pub const MIN_SERVER_VERSION: (u64, u64) = (2, 11);

/// A connected client and its JetStream context.
#[derive(Clone, Debug)]
pub struct Nats {
    /// Core NATS (subscriptions, requests).
    pub client: async_nats::Client,
    /// JetStream (streams, consumers, KV, object store).
    pub js: jetstream::Context,
    /// Counts (re)connections and slow-consumer drops: whoever keeps core subscriptions
    /// (the edge's fan-out) watches it to refetch what a disconnect may have lost.
    pub resyncs: tokio::sync::watch::Receiver<u64>,
}

impl Nats {
    /// Connects to `url` (comma-separated for a cluster), retrying the first connection for
    /// up to `patience`, then reconnecting forever. Refuses a server older than 2.11 or one
    /// without JetStream.
    pub async fn connect(url: &str, name: &str, patience: Duration) -> Result<Nats> {
        let urls: Vec<async_nats::ServerAddr> = url
            .split(',')
            .map(|u| u.trim().parse())
            .collect::<std::result::Result<_, _>>()
            .map_err(|err| Error::Config(format!("NATS_URL {url:?}: {err}")))?;
        let deadline = tokio::time::Instant::now() + patience;
        let (resync_tx, resyncs) = tokio::sync::watch::channel(0u64);
        let resync_tx = std::sync::Arc::new(resync_tx);
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .event_callback(move |event| {
                let resync_tx = resync_tx.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            tracing::warn!("NATS disconnected; reconnecting")
                        }
                        async_nats::Event::Connected => {
                            tracing::info!("NATS connected");
                            resync_tx.send_modify(|n| *n += 1);
                        }
                        async_nats::Event::SlowConsumer(sid) => {
                            tracing::warn!(sid, "NATS dropped messages of a slow subscription");
                            resync_tx.send_modify(|n| *n += 1);
                        }
                        other => tracing::debug!(%other, "NATS event"),
                    }
                }
            })
            .connect(urls)
            .await
            .map_err(|err| Error::Connect {
                url: url.into(),
                reason: err.to_string(),
            })?;
        // With retry_on_initial_connect the handshake happens in the background.
        if !wait_connected(&client, deadline).await {
            return Err(Error::Connect {
                url: url.into(),
                reason: format!("no server answered within {patience:?}"),
            });
        }
        check_server(&client.server_info())?;
        let js = jetstream::new(client.clone());
        check_jetstream(&js).await?;
        Ok(Nats {
            client,
            js,
            resyncs,
        })
    }

    /// Connects as `Config` says (its `nats_url`, or the local default).
    pub async fn from_config(config: &Config, name: &str) -> Result<Nats> {
        Self::connect(&config.nats_url_or_default(), name, Duration::from_secs(30)).await
    }

    /// Connects and applies the configured definitions: what every service does at start.
    pub async fn setup(config: &Config, name: &str) -> Result<Nats> {
        let nats = Self::from_config(config, name).await?;
        let definitions = Definitions::load(config.nats_definitions.as_deref())?;
        let report = definitions.apply(&nats, config.nats_replicas).await?;
        tracing::info!(%report, "NATS definitions applied");
        Ok(nats)
    }

    /// Whether the server is part of a cluster (it reports a cluster name). Route
    /// membership is still forming right after start, so the member count is not used.
    pub fn is_clustered(&self) -> bool {
        self.client.server_info().cluster.is_some()
    }
}

async fn wait_connected(client: &async_nats::Client, deadline: tokio::time::Instant) -> bool {
    loop {
        if client.connection_state() == async_nats::connection::State::Connected {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Refuses a server older than [`MIN_SERVER_VERSION`] or without JetStream.
pub fn check_server(info: &async_nats::ServerInfo) -> Result<()> {
    let version = parse_version(&info.version).ok_or_else(|| {
        Error::UnsupportedServer(format!("cannot read the server version {:?}", info.version))
    })?;
    if version < MIN_SERVER_VERSION {
        return Err(Error::UnsupportedServer(format!(
            "nats-server {} is too old: buildwire needs {}.{} or newer (run scripts/setup for a managed 2.15)",
            info.version, MIN_SERVER_VERSION.0, MIN_SERVER_VERSION.1
        )));
    }
    if !info.jetstream {
        return Err(Error::UnsupportedServer(format!(
            "nats-server {} at {}:{} runs without JetStream: start it with -js (or a jetstream {{}} block)",
            info.version, info.host, info.port
        )));
    }
    Ok(())
}

/// `"2.15.1"` / `"v2.11.0-RC.1"` -> `(2, 15)`.
pub fn parse_version(text: &str) -> Option<(u64, u64)> {
    let mut parts = text.trim().trim_start_matches('v').split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// JetStream must answer for the account, not just be advertised by the server.
async fn check_jetstream(js: &jetstream::Context) -> Result<()> {
    let mut last = String::new();
    // A fresh cluster elects its meta leader within a few seconds.
    for _ in 0..60 {
        match js.query_account().await {
            Ok(_) => return Ok(()),
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(Error::UnsupportedServer(format!(
        "JetStream is not available for this account: {last}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: &str, jetstream: bool) -> async_nats::ServerInfo {
        async_nats::ServerInfo {
            version: version.into(),
            jetstream,
            ..Default::default()
        }
    }

    #[test]
    fn versions_are_compared_numerically() {
        assert_eq!(parse_version("2.15.1"), Some((2, 15)));
        assert_eq!(parse_version("v2.11.0-RC.1"), Some((2, 11)));
        assert_eq!(parse_version("garbage"), None);
        assert!(check_server(&info("2.9.10", true)).is_err());
        assert!(check_server(&info("2.10.26", true)).is_err());
        assert!(check_server(&info("2.11.0", true)).is_ok());
        assert!(check_server(&info("2.15.1", true)).is_ok());
        assert!(check_server(&info("3.0.0", true)).is_ok());
        let err = check_server(&info("2.15.1", false)).expect_err("no JetStream");
        assert!(err.to_string().contains("without JetStream"), "{err}");
    }
}
