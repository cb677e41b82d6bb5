//! `buildwire up` with `NATS_URL` unset runs a managed nats-server under the data dir,
//! applies the definitions, serves the edge (`buildwire ready http://...`), and stops the
//! server when it exits.

mod common;

use std::time::Duration;

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

/// A plain HTTP/1.0 GET (no client library needed for one probe).
async fn get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test]
async fn up_manages_its_own_nats_server() {
    let data = tempfile::tempdir().expect("tmp");
    let mut up = common::managed(&["up"], data.path())
        .spawn()
        .expect("buildwire up starts");
    let line = common::first_line(&mut up, Duration::from_secs(30)).await;
    let url = line
        .strip_prefix("buildwire ready http://")
        .expect("announces where it serves")
        .to_string();
    // /readyz: NATS connected and the streams applied.
    let answer = get(&url, "/readyz").await;
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("ready"), "{answer}");
    assert!(
        data.path().join("service-key").is_file(),
        "a generated service key for the laptop stack"
    );
    assert!(
        data.path().join("nats/jetstream").is_dir(),
        "storage under the data dir"
    );
    let servers = servers_under(data.path());
    assert_eq!(servers.len(), 1, "one managed server");

    let status = common::stop(&mut up).await;
    assert!(status.success(), "{status:?}");
    assert!(
        servers_under(data.path()).is_empty(),
        "the managed server stopped with up"
    );
}

#[tokio::test]
async fn migrate_prepares_the_database_and_refuses_a_bad_url() {
    let data = tempfile::tempdir().expect("tmp");
    let run = |url: Option<String>| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_buildwire"));
        command
            .arg("migrate")
            .env("BUILDWIRE_DATA_DIR", data.path());
        match url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        command.output()
    };
    let output = run(None).await.expect("runs");
    assert!(output.status.success(), "{output:?}");
    assert!(
        data.path().join("buildwire.db").is_file(),
        "SQLite under the data dir"
    );
    let again = run(None).await.expect("runs");
    assert!(again.status.success(), "migrating twice is harmless");
    let bad = run(Some("mysql://nope".into())).await.expect("runs");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("mysql://nope") || stderr.contains("URL"),
        "{stderr}"
    );
}
