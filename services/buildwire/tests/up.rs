//! `buildwire up` with `NATS_URL` unset runs a managed nats-server under the data dir,
//! applies the definitions, and stops the server when it exits.

use std::{process::Stdio, time::Duration};

use tokio::io::{AsyncBufReadExt, BufReader};

/// Pids of nats-server processes whose command line names `dir`.
fn servers_under(dir: &std::path::Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains("nats-server") && cmdline.contains(&needle)).then_some(pid)
        })
        .collect()
}

#[tokio::test]
async fn up_manages_its_own_nats_server() {
    let data = tempfile::tempdir().expect("tmp");
    let mut up = tokio::process::Command::new(env!("CARGO_BIN_EXE_buildwire"))
        .arg("up")
        .env_remove("NATS_URL")
        .env("BUILDWIRE_DATA_DIR", data.path())
        .env(
            "BUILDWIRE_NATS_SERVER",
            buildwire_testkit::nats_server_binary(),
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("buildwire up starts");
    let mut lines = BufReader::new(up.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("up gets ready")
        .expect("stdout readable")
        .expect("a line");
    let url = line
        .strip_prefix("buildwire nats ")
        .expect("announces its NATS URL")
        .to_string();
    assert!(!url.ends_with(":4222"), "a free port, not the shared 4222");

    let nats = buildwire_testkit::connect(&url).await;
    for stream in ["EVENTS", "CMDS", "KV_cancel", "OBJ_sources"] {
        nats.js
            .get_stream(stream)
            .await
            .unwrap_or_else(|e| panic!("{stream} applied: {e}"));
    }
    assert!(
        data.path().join("nats/jetstream").is_dir(),
        "storage under the data dir"
    );
    let servers = servers_under(data.path());
    assert_eq!(servers.len(), 1, "one managed server");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(up.id().expect("pid")).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let status = tokio::time::timeout(Duration::from_secs(10), up.wait())
        .await
        .expect("up exits")
        .expect("status");
    assert!(status.success(), "{status:?}");
    assert!(
        servers_under(data.path()).is_empty(),
        "the managed server stopped with up"
    );
}
