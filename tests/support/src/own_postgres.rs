//! A PostgreSQL server of the test's own, from Debian's binaries
//! (`/usr/lib/postgresql/<version>/bin`), in a temporary folder on a free port, so a test
//! can crash, kill and restart it. `initdb` refuses to run as root: as root every command
//! runs as the `postgres` user through `runuser -u postgres --` (the folder is handed to
//! that user first); as anyone else they run directly.

use std::path::PathBuf;
use std::process::Command;

/// A running (or stopped) PostgreSQL cluster; stopped and removed on drop.
pub struct OwnPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl OwnPostgres {
    /// `initdb` (trust auth, user `postgres`) then start on a free loopback port.
    pub fn start() -> OwnPostgres {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("bw-pg-")
            .tempdir()
            .expect("temp dir");
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:")
                .arg(dir.path()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = OwnPostgres {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = server.data();
        run(server
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data));
        server.resume();
        server
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Kills the server at once (`pg_ctl stop -m immediate`): clients see their
    /// connections dropped, as in a crash.
    pub fn crash(&self) {
        run(self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data()));
    }

    /// SIGKILLs the postmaster and every backend at once (`kill -9` of the whole server,
    /// as the OOM killer or a lost host would), then waits until they are gone. The stale
    /// `postmaster.pid` is removed: an unreaped (zombie) postmaster would otherwise look
    /// alive to the next start.
    pub fn kill(&self) {
        let lock = self.data().join("postmaster.pid");
        let Some(postmaster) = std::fs::read_to_string(&lock)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok())
        else {
            return;
        };
        let mut pids = children_of(postmaster);
        pids.push(postmaster);
        for pid in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pids.iter().any(|pid| running(*pid)) {
            assert!(
                std::time::Instant::now() < deadline,
                "PostgreSQL still running 10 s after SIGKILL"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(lock);
    }

    /// Starts it (again) on the same port, waiting until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "20", "-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .arg("-D")
            .arg(self.data()));
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let tool = self.bin.join(tool);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(tool);
            command
        } else {
            Command::new(tool)
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data())
            .output();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql (apt-get install postgresql)")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
        .1
}

/// The processes whose parent is `parent` (PostgreSQL's backends and workers).
fn children_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid: i32 = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn run(command: &mut Command) {
    let out = command.output().expect("runs");
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
