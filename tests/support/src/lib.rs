//! Test fixtures: real `nats-server` processes on free loopback ports with temporary
//! storage (never port 4222), as a single node or a three-node JetStream cluster, plus
//! helpers to read a build's stored events, and a PostgreSQL server of a test's own
//! ([`OwnPostgres`]).
//!
//! Fixtures run with the production users and permissions (`nats/users.conf`'s rules,
//! random passwords): [`NatsFixture::url`] carries the admin's credentials, so a test
//! does anything; [`NatsFixture::url_as`] connects as one role, to prove what it may do.

pub mod own_postgres;

pub use own_postgres::OwnPostgres;

use std::{path::PathBuf, time::Duration};

use buildwire_runtime::nats::{
    Credentials, Definitions, Nats, Role,
    auth::Passwords,
    server::{ServerOptions, ServerProcess, find_binary, free_port},
};
use buildwire_schemas::{Event, subjects};
use tempfile::TempDir;

/// The nats-server binary the fixtures run (`scripts/setup` installs it).
pub fn nats_server_binary() -> PathBuf {
    match find_binary(
        std::env::var_os("BUILDWIRE_NATS_SERVER")
            .map(PathBuf::from)
            .as_deref(),
    ) {
        Ok(path) => path,
        Err(err) => panic!("tests need nats-server >= 2.11: {err}"),
    }
}

/// bcrypt cost of the fixtures' password hashes: the lowest, tests connect a lot.
const TEST_BCRYPT_COST: u32 = 4;

/// The `authorization` block of a test server with `passwords`.
fn users(passwords: &Passwords) -> String {
    passwords
        .server_config(TEST_BCRYPT_COST)
        .expect("password hashes")
}

/// `nats://<user>:<password>@127.0.0.1:<port>` for each server.
fn url_with(credentials: &Credentials, servers: &[&ServerProcess]) -> String {
    servers
        .iter()
        .map(|s| {
            s.url().replacen(
                "nats://",
                &format!("nats://{}:{}@", credentials.user, credentials.password),
                1,
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The server's complaints about refused publishes and subscriptions (`Publish
/// Violation`, `Subscription Violation`) and refused logins, one line each.
pub fn violations(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("Violation"))
        .map(str::to_string)
        .collect()
}

/// One nats-server with JetStream, storage in a temp dir removed on drop.
#[derive(Debug)]
pub struct NatsFixture {
    /// The process; kill and restart it to inject faults.
    pub server: ServerProcess,
    passwords: Passwords,
    dir: TempDir,
}

impl NatsFixture {
    /// Starts a JetStream server on a free port.
    pub fn start() -> NatsFixture {
        Self::with(true)
    }

    /// Starts a server with JetStream turned off.
    pub fn without_jetstream() -> NatsFixture {
        Self::with(false)
    }

    fn with(jetstream: bool) -> NatsFixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let passwords = Passwords::random();
        let mut options = ServerOptions::single("fixture", dir.path()).expect("free port");
        options.jetstream = jetstream;
        options.users = Some(users(&passwords));
        let server = ServerProcess::start_and_wait(&nats_server_binary(), options)
            .expect("nats-server starts");
        NatsFixture {
            server,
            passwords,
            dir,
        }
    }

    /// Its client URL as the admin (may do anything).
    pub fn url(&self) -> String {
        self.url_as(Role::Admin)
    }

    /// Its client URL as `role`'s user.
    pub fn url_as(&self, role: Role) -> String {
        url_with(&self.credentials(role), &[&self.server])
    }

    /// The user and password of `role`.
    pub fn credentials(&self, role: Role) -> Credentials {
        self.passwords.credentials(role)
    }

    /// Its client URL without credentials (refused).
    pub fn anonymous_url(&self) -> String {
        self.server.url()
    }

    /// The permission refusals in its log so far (see [`violations`]).
    pub fn violations(&self) -> Vec<String> {
        violations(&self.server.log())
    }

    /// A scratch folder that lives as long as the fixture.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).expect("scratch dir");
        path
    }
}

/// Three JetStream servers clustered over loopback routes.
#[derive(Debug)]
pub struct NatsCluster {
    /// The nodes; kill one to test fail-over.
    pub nodes: Vec<ServerProcess>,
    passwords: Passwords,
    _dir: TempDir,
}

impl NatsCluster {
    /// Starts `size` nodes and waits until each accepts clients.
    pub fn start(size: usize) -> NatsCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let routes: Vec<u16> = (0..size).map(|_| free_port().expect("port")).collect();
        let binary = nats_server_binary();
        let passwords = Passwords::random();
        let users = users(&passwords);
        let nodes: Vec<ServerProcess> = (0..size)
            .map(|i| {
                let options = ServerOptions {
                    name: format!("node{i}"),
                    port: free_port().expect("port"),
                    dir: dir.path().join(format!("node{i}")),
                    jetstream: true,
                    cluster: Some(("buildwire-test".into(), routes[i], routes.clone())),
                    users: Some(users.clone()),
                    monitor_port: None,
                };
                ServerProcess::spawn(&binary, options).expect("node starts")
            })
            .collect();
        for node in &nodes {
            node.wait_ready(Duration::from_secs(20))
                .expect("node listens");
        }
        NatsCluster {
            nodes,
            passwords,
            _dir: dir,
        }
    }

    /// Every node's URL as the admin, comma-separated (what `NATS_URL` takes).
    pub fn urls(&self) -> String {
        self.urls_as(Role::Admin)
    }

    /// Every node's URL as `role`'s user, comma-separated.
    pub fn urls_as(&self, role: Role) -> String {
        let nodes: Vec<&ServerProcess> = self.nodes.iter().collect();
        url_with(&self.passwords.credentials(role), &nodes)
    }

    /// The index in [`NatsCluster::nodes`] of the node leading `stream` now (the cluster
    /// info of `$JS.API.STREAM.INFO.<stream>`), waiting up to 30 s while one is elected.
    pub async fn stream_leader(&self, nats: &Nats, stream: &str) -> usize {
        eventually(Duration::from_secs(30), "a stream leader", || async {
            let mut handle = nats.js.get_stream(stream).await.ok()?;
            let leader = handle.info().await.ok()?.cluster.clone()?.leader?;
            self.nodes.iter().position(|n| n.options().name == leader)
        })
        .await
    }
}

/// Connects as a service would.
pub async fn connect(url: &str) -> Nats {
    Nats::connect(url, "test", Duration::from_secs(30))
        .await
        .expect("connects to the fixture")
}

/// An admin connection to `url` (a fixture's admin URL) once the built-in definitions are
/// applied through it.
pub async fn applied(url: &str) -> Nats {
    let admin = connect(url).await;
    Definitions::embedded()
        .expect("definitions")
        .apply(&admin, None)
        .await
        .expect("definitions apply");
    admin
}

/// The built-in definitions with consumer timings short enough for tests: ack wait and
/// backoff `step`, `max_deliver` deliveries.
pub fn quick_definitions(step: Duration, max_deliver: u64) -> Definitions {
    let mut defs = Definitions::embedded().expect("built-in definitions parse");
    let nanos = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
    for consumer in &mut defs.consumers {
        if consumer.stream == "CMDS" {
            consumer.config.insert("ack_wait".into(), nanos.into());
            let backoff: Vec<u64> = (1..max_deliver).map(|_| nanos).collect();
            consumer.config.insert("backoff".into(), backoff.into());
            consumer
                .config
                .insert("max_deliver".into(), max_deliver.into());
        }
    }
    defs
}

/// Every event stored for `build_id`, oldest first, with `seq` filled in. Retries for up to
/// 30 s while the stream is unavailable (a cluster electing a new leader).
pub async fn stored_events(nats: &Nats, build_id: &str) -> Vec<Event> {
    eventually(Duration::from_secs(30), "EVENTS to answer", || async {
        try_stored_events(nats, build_id).await.ok()
    })
    .await
}

async fn try_stored_events(nats: &Nats, build_id: &str) -> Result<Vec<Event>, String> {
    let stream = nats
        .js
        .get_stream("EVENTS")
        .await
        .map_err(|e| e.to_string())?;
    let subject = subjects::events(build_id);
    let mut events = Vec::new();
    let mut next = 1;
    loop {
        match stream
            .direct_get_next_for_subject(&subject, Some(next))
            .await
        {
            Ok(message) => {
                let mut event: Event =
                    serde_json::from_slice(&message.payload).expect("stored events parse");
                event.seq = message.sequence;
                next = message.sequence + 1;
                events.push(event);
            }
            Err(err)
                if err.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound =>
            {
                return Ok(events);
            }
            Err(err) => return Err(err.to_string()),
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
