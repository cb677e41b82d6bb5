//! The deployment under test, every part its own process: a 3-node NATS cluster (R3,
//! production users), a PostgreSQL server of the test's own, `buildwire edge` x2,
//! `plan`, `execute`, `build` x2, `deploy` and `record`, each as its NATS user. Any part
//! can be SIGKILLed and started again; the logs' tails are printed when the test fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use buildwire_record::Store;
use buildwire_runtime::nats::{Definitions, Nats, Role, server::free_port};
use buildwire_testkit::{NatsCluster, OwnPostgres, connect, eventually};
use tokio::process::{Child, Command};

use crate::common::KEY;

/// The build-token keyring every edge node shares.
const JWT_KEYS: &str = "chaos:0123456789abcdef0123456789abcdef";

/// One `buildwire <command>` process, restartable with the same environment.
pub struct Service {
    /// `edge-0`, `build-1`, `record`...
    pub name: String,
    command: &'static str,
    env: Vec<(String, String)>,
    /// Its `BUILDWIRE_DATA_DIR`.
    pub data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// `127.0.0.1:<port>` of an edge.
    pub addr: Option<String>,
}

impl Service {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_buildwire"));
        command
            .arg(self.command)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true);
        self.child = Some(command.spawn().expect("buildwire starts"));
    }

    /// `kill -9`, then reaps it.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("reaped");
        }
    }

    /// Starts it again; an edge once `/readyz` answers 200.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn();
        self.ready().await;
    }

    async fn ready(&self) {
        let Some(addr) = &self.addr else { return };
        let http = crate::viewers::http();
        let url = format!("http://{addr}/readyz");
        eventually(Duration::from_secs(60), "the edge to be ready", || async {
            let answer = http.get(&url).send().await.ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
    }

    fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Every part of the deployment, and the test's own clients of NATS and PostgreSQL.
pub struct Stack {
    /// The NATS nodes (kill and restart one to inject a fault).
    pub cluster: NatsCluster,
    /// The database the recorder writes and the edges read.
    pub postgres: OwnPostgres,
    /// The test's admin connection (reads streams and consumers).
    pub nats: Nats,
    /// The test's reader of the database.
    pub store: Store,
    /// Two edge nodes.
    pub edges: Vec<Service>,
    /// Two build workers sharing the `build` consumer.
    pub builders: Vec<Service>,
    /// `plan`, `execute`, `deploy`, `record`.
    pub others: Vec<Service>,
    dir: tempfile::TempDir,
}

impl Stack {
    /// Starts everything and waits until the edges answer and every worker is pulling.
    pub async fn start() -> Stack {
        let dir = tempfile::Builder::new()
            .prefix("bw-chaos-")
            .tempdir()
            .expect("tmp");
        let cluster = NatsCluster::start(3);
        let nats = connect(&cluster.urls()).await;
        Definitions::embedded()
            .expect("definitions")
            .apply(&nats, Some(3))
            .await
            .expect("the admin applies the definitions (R3)");
        let postgres = OwnPostgres::start();
        let store = Store::connect(&postgres.url()).await.expect("PostgreSQL");
        store.migrate().await.expect("migrations");

        let mut stack = Stack {
            edges: Vec::new(),
            builders: Vec::new(),
            others: Vec::new(),
            cluster,
            postgres,
            nats,
            store,
            dir,
        };
        for i in 0..2 {
            let addr = format!("127.0.0.1:{}", free_port().expect("port"));
            let mut edge = stack.service(&format!("edge-{i}"), "edge", Role::Edge);
            edge.env.push(("BUILDWIRE_HTTP_ADDR".into(), addr.clone()));
            edge.addr = Some(addr);
            stack.edges.push(edge);
        }
        let cache = npm_cache();
        for i in 0..2 {
            let builder = stack.service(&format!("build-{i}"), "build", Role::Build);
            std::os::unix::fs::symlink(&cache, builder.data.join("npm-cache"))
                .expect("npm cache link");
            stack.builders.push(builder);
        }
        for (command, role) in [
            ("plan", Role::Plan),
            ("execute", Role::Execute),
            ("deploy", Role::Deploy),
            ("record", Role::Record),
        ] {
            let service = stack.service(command, command, role);
            stack.others.push(service);
        }
        for service in stack.all_mut() {
            service.spawn();
        }
        for edge in &stack.edges {
            edge.ready().await;
        }
        stack.wait_pulling().await;
        stack
    }

    fn service(&self, name: &str, command: &'static str, role: Role) -> Service {
        let data = self.dir.path().join(name);
        std::fs::create_dir_all(&data).expect("data dir");
        let env = [
            ("NATS_URL", self.cluster.urls_as(role)),
            ("BUILDWIRE_NATS_REPLICAS", "3".into()),
            ("BUILDWIRE_DATA_DIR", data.display().to_string()),
            ("DATABASE_URL", self.postgres.url()),
            ("BUILDWIRE_SERVICE_KEYS", KEY.into()),
            ("BUILDWIRE_JWT_KEYS", JWT_KEYS.into()),
            // Every viewer of the test comes from 127.0.0.1.
            ("BUILDWIRE_CONNECT_RATE_PER_MIN", "1000000".into()),
            ("BUILDWIRE_MAX_VIEWERS_PER_USER", "10000".into()),
            ("BUILDWIRE_MAX_VIEWERS_PER_BUILD", "10000".into()),
            ("RUST_LOG", "info".into()),
        ];
        Service {
            name: name.into(),
            command,
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            log: data.join("service.log"),
            data,
            child: None,
            addr: None,
        }
    }

    fn all_mut(&mut self) -> impl Iterator<Item = &mut Service> {
        self.edges
            .iter_mut()
            .chain(self.builders.iter_mut())
            .chain(self.others.iter_mut())
    }

    /// The `plan`, `execute`, `deploy` or `record` service.
    pub fn other(&mut self, name: &str) -> &mut Service {
        self.others
            .iter_mut()
            .find(|s| s.name == name)
            .expect("a service of the stack")
    }

    /// `http://<addr>` of edge `i`.
    pub fn edge_url(&self, i: usize) -> String {
        format!("http://{}", self.edges[i].addr.as_deref().expect("edge"))
    }

    /// Waits until each consumer has as many pulls waiting as it has workers.
    async fn wait_pulling(&self) {
        let expected = [
            ("CMDS", "plan", 1),
            ("CMDS", "execute", 1),
            ("CMDS", "build", 2),
            ("CMDS", "deploy", 1),
            ("EVENTS", "record", 1),
        ];
        for (stream, consumer, workers) in expected {
            eventually(
                Duration::from_secs(60),
                &format!("{workers} worker(s) pulling {stream}/{consumer}"),
                || async {
                    let info = crate::checks::consumer_info(&self.nats, stream, consumer).await?;
                    (info.num_waiting >= workers).then_some(())
                },
            )
            .await;
        }
    }

    /// Waits until every node is up and EVENTS and CMDS have a leader and two current
    /// replicas, so the next fault starts from a healthy cluster.
    pub async fn wait_healthy(&self) {
        for stream in ["EVENTS", "CMDS"] {
            eventually(
                Duration::from_secs(60),
                &format!("{stream} with a leader and two current replicas"),
                || async {
                    let mut handle = self.nats.js.get_stream(stream).await.ok()?;
                    let cluster = handle.info().await.ok()?.cluster.clone()?;
                    let current = cluster.replicas.iter().filter(|r| r.current).count();
                    (cluster.leader.is_some() && current == 2).then_some(())
                },
            )
            .await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for service in self.all_mut() {
                eprintln!(
                    "---- {} (last lines) ----\n{}",
                    service.name,
                    service.tail(25)
                );
            }
        }
    }
}

/// The npm cache every build worker shares, kept across runs (as the other npm tests
/// do) so builds download nothing once it is warm.
fn npm_cache() -> PathBuf {
    let cache = std::env::temp_dir().join("buildwire-npm-cache");
    std::fs::create_dir_all(&cache).expect("npm cache dir");
    cache
}

/// Whether build worker `data` holds work for `build_id` (its work folder,
/// `builds/<buildId>-<random>`, exists).
pub fn works_on(data: &Path, build_id: &str) -> bool {
    let prefix = format!("{build_id}-");
    std::fs::read_dir(data.join("builds"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
}
