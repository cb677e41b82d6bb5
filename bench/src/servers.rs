//! The processes a run starts: a fresh nats-server (temp storage) and one server under
//! test (the release `buildwire edge`, the socket.io baseline under Node, or this binary's
//! `bare` subcommand), each in its own process so its memory and CPU can be read from
//! `/proc`, pinned with `taskset` when the harness pins.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use buildwire_runtime::nats::server::{ServerOptions, ServerProcess, find_binary};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::clients::Target;
use crate::sys::Pinning;
use crate::tokens;

/// The service key the harness gives the edge and `up`.
pub const SERVICE_KEY: &str = "bench-service-key-0123456789";
/// How long a server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Where the programs under test are.
#[derive(Clone, Debug)]
pub struct Tools {
    /// The `buildwire` binary (`target/release/buildwire`).
    pub buildwire: PathBuf,
    /// `bench/socketio` with its `node_modules`.
    pub socketio: PathBuf,
    /// This binary (it serves `bare`).
    pub bench: PathBuf,
    /// The nats-server binary.
    pub nats_server: PathBuf,
    /// CPU placement.
    pub pinning: Pinning,
}

impl Tools {
    /// Checks that every program exists, with a hint when one is missing.
    pub fn check(
        buildwire: PathBuf,
        socketio: PathBuf,
        pinning: Pinning,
        need_socketio: bool,
    ) -> Result<Tools> {
        if !buildwire.is_file() {
            bail!(
                "no buildwire binary at {}: build it first (cargo build --release -p buildwire) or pass --buildwire <path>",
                buildwire.display()
            );
        }
        if need_socketio && !socketio.join("node_modules/socket.io").is_dir() {
            bail!(
                "the socket.io baseline is not installed in {}: run scripts/setup (npm ci --prefix bench/socketio)",
                socketio.display()
            );
        }
        let nats_server = find_binary(
            std::env::var_os("BUILDWIRE_NATS_SERVER")
                .map(PathBuf::from)
                .as_deref(),
        )
        .context("finding nats-server (scripts/setup installs it)")?;
        Ok(Tools {
            buildwire,
            socketio,
            bench: std::env::current_exe().context("locating this binary")?,
            nats_server,
            pinning,
        })
    }
}

/// A fresh single nats-server with JetStream, storage removed when dropped.
pub struct NatsServer {
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts one on a free port.
    pub fn start(tools: &Tools) -> Result<NatsServer> {
        let dir = tempfile::tempdir()?;
        let options = ServerOptions::single("bench", dir.path())?;
        let process = ServerProcess::start_and_wait(&tools.nats_server, options)?;
        Ok(NatsServer { process, _dir: dir })
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        self.process.url()
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}

/// A server under test, running.
pub struct Server {
    child: Child,
    /// Its process id (taskset execs the program, so it is the server's own).
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn command(program: &Path, pinning: &Pinning) -> Command {
    match pinning.server_cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

impl Server {
    /// Starts the server `target` runs against, on NATS at `nats_url`; `extra` adds
    /// environment variables (the edge's are documented in the README).
    pub async fn start(
        target: Target,
        tools: &Tools,
        nats_url: &str,
        extra: &[(&str, &str)],
    ) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let mut command = match target {
            Target::EdgeWs | Target::EdgeSse => {
                let mut command = command(&tools.buildwire, &tools.pinning);
                command
                    .arg("edge")
                    .env_remove("DATABASE_URL")
                    .env_remove("BUILDWIRE_CONFIG")
                    .env("NATS_URL", nats_url)
                    .env("BUILDWIRE_HTTP_ADDR", "127.0.0.1:0")
                    .env("BUILDWIRE_DATA_DIR", dir.path())
                    .env("BUILDWIRE_SERVICE_KEYS", SERVICE_KEY)
                    .env("BUILDWIRE_JWT_KEYS", tokens::keyring())
                    .env("BUILDWIRE_MAX_VIEWERS_PER_BUILD", "1000000")
                    .env("BUILDWIRE_MAX_VIEWERS_PER_USER", "1000000")
                    .env("BUILDWIRE_CONNECT_RATE_PER_MIN", "1000000000")
                    // The load generator is one address standing for thousands of users.
                    .env("BUILDWIRE_MAX_CONNECTIONS_PER_ADDR", "0")
                    .env("BUILDWIRE_LOG_FORMAT", "json")
                    .env("RUST_LOG", "warn");
                command
            }
            Target::SocketIo => {
                let mut command = command(Path::new("node"), &tools.pinning);
                command
                    .arg(tools.socketio.join("server.js"))
                    .current_dir(&tools.socketio)
                    .env("NATS_URL", nats_url)
                    .env("BENCH_ADDR", "127.0.0.1:0");
                command
            }
            Target::Bare => {
                let mut command = command(&tools.bench, &tools.pinning);
                command
                    .args(["bare", "--nats", nats_url, "--addr", "127.0.0.1:0"])
                    .env("RUST_LOG", "warn");
                command
            }
        };
        for (name, value) in extra {
            command.env(name, value);
        }
        Server::launch(command, dir, target.name()).await
    }

    /// Starts the whole stack, `buildwire up` (edge and every stage in one process, not
    /// pinned), on NATS at `nats_url` with a temp data dir; `extra` adds environment
    /// variables (build settings, the harness's token keyring).
    pub async fn up(tools: &Tools, nats_url: &str, extra: &[(&str, &str)]) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let mut command = Command::new(&tools.buildwire);
        command
            .arg("up")
            .env_remove("DATABASE_URL")
            .env_remove("BUILDWIRE_CONFIG")
            .env("NATS_URL", nats_url)
            .env("BUILDWIRE_HTTP_ADDR", "127.0.0.1:0")
            .env("BUILDWIRE_DATA_DIR", dir.path())
            .env("BUILDWIRE_SERVICE_KEYS", SERVICE_KEY)
            .env("BUILDWIRE_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn");
        for (name, value) in extra {
            command.env(name, value);
        }
        Server::launch(command, dir, "buildwire up").await
    }

    async fn launch(mut command: Command, dir: tempfile::TempDir, name: &str) -> Result<Server> {
        let log = dir.path().join("server.log");
        let stderr = std::fs::File::create(&log)?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let pid = child.id().context("the server exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let addr = match tokio::time::timeout(READY_WITHIN, ready_address(stdout)).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(err)) => bail!("{name}: {err}; log:\n{}", tail(&log)),
            Err(_) => bail!(
                "{name} not ready within {READY_WITHIN:?}; log:\n{}",
                tail(&log)
            ),
        };
        Ok(Server {
            child,
            pid,
            addr,
            log,
            _dir: dir,
        })
    }

    /// Its resident memory in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        crate::sys::rss_kib(self.pid)
    }

    /// The last lines of its log (for error messages).
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub async fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Reads stdout until the `<name> ready http://<addr>` line, then keeps draining it.
async fn ready_address(stdout: tokio::process::ChildStdout) -> Result<SocketAddr> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some((_, url)) = line.split_once(" ready http://") {
            let addr = url
                .trim()
                .trim_end_matches('/')
                .parse()
                .with_context(|| format!("address in {line:?}"))?;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(addr);
        }
    }
    bail!("the server exited before it was ready")
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
