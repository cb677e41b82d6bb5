//! Running the `buildwire` binary as a process in tests: with a managed nats-server under
//! a temp data dir, reading its first stdout line, stopping it with SIGTERM.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `buildwire <args>` with `NATS_URL` unset (so it manages its own server) under `data`.
pub fn managed(args: &[&str], data: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_buildwire"));
    command
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("BUILDWIRE_SERVICE_KEYS")
        .env("BUILDWIRE_DATA_DIR", data)
        .env("BUILDWIRE_HTTP_ADDR", "127.0.0.1:0")
        .env(
            "BUILDWIRE_NATS_SERVER",
            buildwire_testkit::nats_server_binary(),
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The first line the process prints on stdout, within `limit`.
pub async fn first_line(child: &mut Child, limit: Duration) -> String {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    tokio::time::timeout(limit, lines.next_line())
        .await
        .expect("a line in time")
        .expect("stdout readable")
        .expect("a line")
}

/// SIGTERM, then its exit status (within 20 s).
pub async fn stop(child: &mut Child) -> ExitStatus {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id().expect("pid")).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("it exits")
        .expect("status")
}
