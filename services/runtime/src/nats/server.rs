//! Starting a real `nats-server` process: the managed server of `up`/`demo` on a laptop, and
//! the fixtures of the tests (single nodes and clusters on loopback). One way to find the
//! binary, write its config, wait for it and stop it. The managed server requires a user
//! per role (passwords generated once under `<data dir>/nats/`, see [`super::auth`]) and
//! serves monitoring on 127.0.0.1 only.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::auth::{Credentials, Passwords, Role};
use crate::{Error, Result};

/// bcrypt cost of the managed server's password hashes: every service connection is
/// checked once against one (about 50 ms on a laptop core).
const MANAGED_BCRYPT_COST: u32 = 10;

/// How to run one server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// `server_name`; must be unique within a cluster.
    pub name: String,
    /// Client port on 127.0.0.1.
    pub port: u16,
    /// Folder for the config, the log and JetStream storage.
    pub dir: PathBuf,
    /// Whether JetStream is enabled (tests turn it off to check the refusal).
    pub jetstream: bool,
    /// Cluster settings: (cluster name, this node's route port, every node's route port).
    pub cluster: Option<(String, u16, Vec<u16>)>,
    /// The `authorization` block: users and permissions ([`Passwords::server_config`]).
    /// `None`: anyone connects and may do anything.
    pub users: Option<String>,
    /// Monitoring port (`/varz`, `/healthz`), bound to 127.0.0.1; `None`: no monitoring.
    pub monitor_port: Option<u16>,
}

impl ServerOptions {
    /// A single JetStream server on a free port, storing under `dir`.
    pub fn single(name: &str, dir: &Path) -> Result<ServerOptions> {
        Ok(ServerOptions {
            name: name.into(),
            port: free_port()?,
            dir: dir.to_path_buf(),
            jetstream: true,
            cluster: None,
            users: None,
            monitor_port: None,
        })
    }

    fn config_text(&self) -> String {
        let store = self.dir.join("jetstream");
        let mut text = format!(
            "server_name: {name}\nlisten: 127.0.0.1:{port}\nmax_payload: 1MB\n",
            name = self.name,
            port = self.port
        );
        if let Some(port) = self.monitor_port {
            text += &format!("http: 127.0.0.1:{port}\n");
        }
        if self.jetstream {
            text += &format!(
                "jetstream {{\n  store_dir: {store:?}\n  max_memory_store: 256MB\n  max_file_store: 8GB\n}}\n"
            );
        }
        if let Some((cluster, route_port, all)) = &self.cluster {
            let routes: Vec<String> = all
                .iter()
                .map(|p| format!("nats-route://127.0.0.1:{p}"))
                .collect();
            text += &format!(
                "cluster {{\n  name: {cluster}\n  listen: 127.0.0.1:{route_port}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            );
        }
        if let Some(users) = &self.users {
            text += users;
        }
        text
    }
}

/// A running nats-server process; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    options: ServerOptions,
    binary: PathBuf,
    child: Option<Child>,
}

impl ServerProcess {
    /// Writes the config and starts the server, without waiting for it to accept clients.
    pub fn spawn(binary: &Path, options: ServerOptions) -> Result<ServerProcess> {
        std::fs::create_dir_all(&options.dir)?;
        let mut process = ServerProcess {
            options,
            binary: binary.to_path_buf(),
            child: None,
        };
        process.start()?;
        Ok(process)
    }

    /// Starts the server and waits until it accepts TCP connections.
    pub fn start_and_wait(binary: &Path, options: ServerOptions) -> Result<ServerProcess> {
        let process = Self::spawn(binary, options)?;
        process.wait_ready(Duration::from_secs(20))?;
        Ok(process)
    }

    fn start(&mut self) -> Result<()> {
        let config = self.options.dir.join("nats-server.conf");
        // It may hold password hashes: readable by its owner only.
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        let mut file = file.open(&config)?;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        std::io::Write::write_all(&mut file, self.options.config_text().as_bytes())?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.options.dir.join("nats-server.log"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|err| {
                Error::ManagedServer(format!("cannot run {}: {err}", self.binary.display()))
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the client port accepts connections.
    pub fn wait_ready(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.options.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::ManagedServer(format!(
            "nats-server {} did not listen on port {} within {limit:?}; see {}",
            self.options.name,
            self.options.port,
            self.options.dir.join("nats-server.log").display()
        )))
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.options.port)
    }

    /// `http://127.0.0.1:<port>` of monitoring, when on.
    pub fn monitor_url(&self) -> Option<String> {
        self.options
            .monitor_port
            .map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// The server's log so far (`nats-server.log` in its folder).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.options.dir.join("nats-server.log")).unwrap_or_default()
    }

    /// The server's options.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// The OS process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process at once (SIGKILL), keeping its storage.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed server again on the same port with the same storage.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.start()?;
        self.wait_ready(Duration::from_secs(20))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1 (asks the OS; never 4222).
pub fn free_port() -> Result<u16> {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if port != 4222 {
            return Ok(port);
        }
    }
}

/// Finds a nats-server >= 2.11: `configured` if given, else the project's
/// `.tools/bin/nats-server` (next to the current directory, the executable, or this source
/// tree), else `nats-server` on `PATH`.
pub fn find_binary(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = configured {
        check_binary(path)?;
        return Ok(path.to_path_buf());
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().map(Path::to_path_buf));
    }
    roots.extend(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(Path::to_path_buf),
    );
    let mut tried = Vec::new();
    for root in roots {
        let candidate = root.join(".tools/bin/nats-server");
        if candidate.is_file() {
            match check_binary(&candidate) {
                Ok(()) => return Ok(candidate),
                Err(err) => tried.push(err.to_string()),
            }
        }
    }
    match check_binary(Path::new("nats-server")) {
        Ok(()) => Ok(PathBuf::from("nats-server")),
        Err(err) => {
            tried.push(err.to_string());
            Err(Error::ManagedServer(format!(
                "no usable nats-server >= 2.11 found ({}); run scripts/setup, or set BUILDWIRE_NATS_SERVER or NATS_URL",
                tried.join("; ")
            )))
        }
    }
}

fn check_binary(path: &Path) -> Result<()> {
    let output = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|err| Error::ManagedServer(format!("{}: {err}", path.display())))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let version = text.split_whitespace().last().unwrap_or_default();
    match super::parse_version(version) {
        Some(v) if v >= super::MIN_SERVER_VERSION => Ok(()),
        _ => Err(Error::ManagedServer(format!(
            "{} is not nats-server >= 2.11 (it says {:?})",
            path.display(),
            text.lines().next().unwrap_or_default().trim()
        ))),
    }
}

/// A nats-server that `up`/`demo` own: started on a free port with storage under the data
/// dir, a user per [`Role`] (passwords generated once into `<data dir>/nats/<user>.password`,
/// mode 0600; the server's config holds bcrypt hashes), monitoring on 127.0.0.1; stopped
/// when dropped.
#[derive(Debug)]
pub struct ManagedServer {
    process: ServerProcess,
    passwords: Passwords,
}

impl ManagedServer {
    /// Starts `nats-server` under `<data_dir>/nats`.
    pub fn start(data_dir: &Path, binary: Option<&Path>) -> Result<ManagedServer> {
        let binary = find_binary(binary)?;
        let dir = std::path::absolute(data_dir.join("nats"))?;
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let passwords = Passwords::load_or_create(&dir)?;
        let mut options = ServerOptions::single("buildwire-managed", &dir)?;
        options.users = Some(passwords.server_config(MANAGED_BCRYPT_COST)?);
        options.monitor_port = Some(loop {
            let port = free_port()?;
            if port != options.port {
                break port;
            }
        });
        let process = ServerProcess::start_and_wait(&binary, options)?;
        tracing::info!(
            url = %process.url(),
            monitor = %process.monitor_url().unwrap_or_default(),
            store = %dir.display(),
            "started managed nats-server; read-only operator access: nats context save ops --server {} --user ops --password \"$(cat {})\" --inbox-prefix _INBOX.ops",
            process.url(),
            dir.join("ops.password").display()
        );
        Ok(ManagedServer { process, passwords })
    }

    /// Its client URL (without credentials).
    pub fn url(&self) -> String {
        self.process.url()
    }

    /// The user and password of `role`.
    pub fn credentials(&self, role: Role) -> Credentials {
        self.passwords.credentials(role)
    }

    /// Its monitoring URL (127.0.0.1 only).
    pub fn monitor_url(&self) -> Option<String> {
        self.process.monitor_url()
    }
}
