//! The one NATS setup path: connect with reconnect (as a user, see [`auth`]), refuse
//! servers that cannot run buildwire, apply the `nats/` definitions, and hand out the
//! JetStream context.

pub mod auth;
pub mod definitions;
pub mod server;
mod url;

use std::{sync::Arc, time::Duration};

use async_nats::{ClientError, Event, ServerError, jetstream};
use tokio::sync::watch;

use crate::{Config, Error, Result};

pub use auth::{Credentials, Role};
pub use definitions::{ApplyReport, Definitions, Outcome};
pub use url::redact;

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
    pub resyncs: watch::Receiver<u64>,
    /// The user it connected as (`None`: no credentials).
    pub user: Option<String>,
    /// The server's latest `Permissions Violation` on this connection (also logged as an
    /// error): a refused publish is otherwise only a timeout for the publisher.
    pub refusals: watch::Receiver<Option<String>>,
}

/// What the connection's event callback reports to [`Nats`].
struct Signals {
    resyncs: watch::Sender<u64>,
    refusals: watch::Sender<Option<String>>,
    auth_failed: watch::Sender<bool>,
    user: String,
}

impl Signals {
    fn on(&self, event: Event) {
        let user = &self.user;
        match event {
            Event::Disconnected => tracing::warn!("NATS disconnected; reconnecting"),
            Event::Connected => {
                tracing::info!("NATS connected");
                self.resyncs.send_modify(|n| *n += 1);
            }
            Event::SlowConsumer(sid) => {
                tracing::warn!(sid, "NATS dropped messages of a slow subscription");
                self.resyncs.send_modify(|n| *n += 1);
            }
            Event::ServerError(ServerError::AuthorizationViolation) => {
                tracing::error!(%user, "NATS refused the credentials");
                self.auth_failed.send_replace(true);
            }
            Event::ClientError(ClientError::Other(text))
                if text.contains("authorization violation") =>
            {
                self.auth_failed.send_replace(true);
            }
            Event::ServerError(ServerError::Other(text))
                if text.contains("Permissions Violation") =>
            {
                tracing::error!(%user, "NATS refused: {text}");
                self.refusals.send_replace(Some(text));
            }
            other => tracing::debug!(%other, "NATS event"),
        }
    }
}

impl Nats {
    /// Connects to `url` (comma-separated for a cluster) as the user it names
    /// (`nats://user:password@host`), if any. See [`Nats::connect_as`].
    pub async fn connect(url: &str, name: &str, patience: Duration) -> Result<Nats> {
        Self::connect_as(url, None, name, patience).await
    }

    /// Connects to `url` as `credentials` (else as the URL's user, else without one),
    /// retrying the first connection for up to `patience`, then reconnecting forever.
    /// Fails at once when the server refuses the credentials; refuses a server older than
    /// 2.11 or one without JetStream. Replies arrive under `_INBOX.<user>`.
    pub async fn connect_as(
        url: &str,
        credentials: Option<&Credentials>,
        name: &str,
        patience: Duration,
    ) -> Result<Nats> {
        let target = url::Target::parse(url)?;
        let shown = target.redacted.clone();
        let credentials = credentials.cloned().or(target.credentials);
        let user = credentials.as_ref().map(|c| c.user.clone());
        let deadline = tokio::time::Instant::now() + patience;
        let (resync_tx, resyncs) = watch::channel(0u64);
        let (refusal_tx, refusals) = watch::channel(None::<String>);
        let (auth_tx, auth_failed) = watch::channel(false);
        let signals = Arc::new(Signals {
            resyncs: resync_tx,
            refusals: refusal_tx,
            auth_failed: auth_tx,
            user: user.clone().unwrap_or_else(|| "(none)".into()),
        });
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2));
        if let Some(credentials) = &credentials {
            options = options
                .user_and_password(credentials.user.clone(), credentials.password.clone())
                .custom_inbox_prefix(auth::inbox_prefix(&credentials.user));
        }
        let client = options
            .event_callback(move |event| {
                let signals = signals.clone();
                async move { signals.on(event) }
            })
            .connect(target.addrs)
            .await
            .map_err(|err| Error::Connect {
                url: shown.clone(),
                reason: err.to_string(),
            })?;
        // With retry_on_initial_connect the handshake happens in the background.
        if let Err(reason) = wait_connected(&client, auth_failed, user.as_deref(), deadline).await {
            return Err(Error::Connect {
                url: shown,
                reason: reason.unwrap_or_else(|| format!("no server answered within {patience:?}")),
            });
        }
        check_server(&client.server_info())?;
        let js = jetstream::new(client.clone());
        check_jetstream(&js).await?;
        Ok(Nats {
            client,
            js,
            resyncs,
            user,
            refusals,
        })
    }

    /// Connects as `Config` says: its `nats_url` (or the local default), as `NATS_USER`
    /// with `NATS_PASSWORD` when set.
    pub async fn from_config(config: &Config, name: &str) -> Result<Nats> {
        Self::connect_as(
            &config.nats_url_or_default(),
            config.nats_credentials().as_ref(),
            name,
            Duration::from_secs(30),
        )
        .await
    }

    /// Connects and applies the configured definitions: what every service does at start.
    /// A user that may not change them (every role but the admin) only checks them: a
    /// missing or different stream stops it with a message naming the admin user.
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

/// Waits for the first connection: `Err(Some(reason))` when the server refused the
/// credentials, `Err(None)` at the deadline.
async fn wait_connected(
    client: &async_nats::Client,
    mut auth_failed: watch::Receiver<bool>,
    user: Option<&str>,
    deadline: tokio::time::Instant,
) -> std::result::Result<(), Option<String>> {
    loop {
        if client.connection_state() == async_nats::connection::State::Connected {
            return Ok(());
        }
        if *auth_failed.borrow_and_update() {
            return Err(Some(match user {
                Some(user) => format!(
                    "the server refused user {user:?} (authorization violation): check NATS_USER and NATS_PASSWORD"
                ),
                None => "the server requires a user (authorization violation): set NATS_USER and NATS_PASSWORD (README, \"NATS users and permissions\")".into(),
            }));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server's refusal of a publish to `subject` on this connection, once it arrives
/// (pending forever otherwise). Clone the receiver and `mark_unchanged` it before the
/// publish, so only refusals after it count.
pub async fn refusal_of(refusals: &mut watch::Receiver<Option<String>>, subject: &str) -> String {
    let quoted = format!("\"{subject}\"");
    loop {
        if refusals.changed().await.is_err() {
            return std::future::pending().await;
        }
        if let Some(text) = refusals.borrow_and_update().clone()
            && text.contains(&quoted)
        {
            return text;
        }
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
