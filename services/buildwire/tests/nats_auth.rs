//! Issue 15, NATS without credentials: `buildwire up` with its managed nats-server runs
//! every service as its own NATS user (passwords generated once under the data dir, the
//! server holding bcrypt hashes), refuses anonymous clients, serves monitoring on
//! 127.0.0.1 only, and a build goes end to end without one permission refused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use buildwire_runtime::nats::{Credentials, Nats, Role, refusal_of};
use buildwire_schemas::{Stage, subjects};
use buildwire_testkit::{stored_events, violations};
use futures::StreamExt;
use serde_json::{Value, json};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// The number after `<key>: 127.0.0.1:` in the managed server's config.
fn port(config: &str, key: &str) -> u16 {
    config
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: 127.0.0.1:")))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} on 127.0.0.1 in:\n{config}"))
}

/// Local addresses of the sockets listening on `port` (IPv4 and IPv6, from /proc).
fn listeners(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((addr, hex_port)) = local.rsplit_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                found.push(addr.to_string());
            }
        }
    }
    found
}

fn password(nats_dir: &Path, role: Role) -> String {
    std::fs::read_to_string(nats_dir.join(format!("{role}.password")))
        .expect("password file")
        .trim()
        .to_string()
}

/// The HTTP API of the stack under test.
struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn submit(&self, body: Value) -> String {
        common::submit(&self.http, &self.base, &self.key, &body).await
    }

    /// The build's progress once its status is `status` (any other end panics).
    async fn finished(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let progress = common::progress(&self.http, &self.base, &self.key, id).await;
            match progress["status"].as_str() {
                Some(s) if s == status => return progress,
                Some("completed" | "failed" | "cancelled") => panic!("the build ended: {progress}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "unfinished: {progress}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_each_service_as_its_own_nats_user_and_refuses_anonymous_clients() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = tempfile::tempdir().expect("tmp");
    let mut up = common::managed(&["up"], data.path())
        .spawn()
        .expect("buildwire up starts");
    let base = common::ready(&mut up, Duration::from_secs(60)).await;

    // Passwords generated once, readable by their owner only; the server has hashes.
    let nats_dir = data.path().join("nats");
    assert_eq!(mode(&nats_dir), 0o700);
    let config_path = nats_dir.join("nats-server.conf");
    assert_eq!(mode(&config_path), 0o600);
    let config = std::fs::read_to_string(&config_path).expect("config");
    let passwords: Vec<(Role, String)> = Role::ALL
        .into_iter()
        .map(|role| (role, password(&nats_dir, role)))
        .collect();
    for (role, password) in &passwords {
        assert_eq!(mode(&nats_dir.join(format!("{role}.password"))), 0o600);
        assert!(password.len() >= 32, "{role}");
        assert!(
            !config.contains(password.as_str()),
            "{role}'s password in clear"
        );
    }
    assert_eq!(config.matches("password: \"$2b$").count(), Role::ALL.len());

    // Monitoring listens on loopback only.
    let monitor = port(&config, "http");
    let bound = listeners(monitor);
    assert!(
        !bound.is_empty() && bound.iter().all(|a| a == "0100007F"),
        "monitoring bound to {bound:?}"
    );
    let http = reqwest::Client::new();
    let varz: Value = http
        .get(format!("http://127.0.0.1:{monitor}/varz"))
        .send()
        .await
        .expect("varz")
        .json()
        .await
        .expect("json");
    assert_eq!(varz["http_host"], "127.0.0.1", "{varz}");

    // No anonymous clients; the operator's read-only user works.
    let url = format!("nats://127.0.0.1:{}", port(&config, "listen"));
    let err = Nats::connect(&url, "anonymous", Duration::from_secs(20))
        .await
        .expect_err("anonymous refused");
    assert!(err.to_string().contains("requires a user"), "{err}");
    let ops_login = Credentials {
        user: "ops".into(),
        password: password(&nats_dir, Role::Ops),
    };
    let ops = Nats::connect_as(&url, Some(&ops_login), "ops", Duration::from_secs(20))
        .await
        .expect("the operator connects");
    let mut live = ops.client.subscribe("live.build.>").await.expect("sub");
    ops.client.flush().await.expect("flush");

    // A build through every service, a follow-up reading its sources, and a cancel.
    let key = std::fs::read_to_string(data.path().join("service-key")).expect("key");
    let api = Api {
        http: http.clone(),
        base: base.clone(),
        key: key.trim().to_string(),
    };
    let id = api
        .submit(json!({"prompt": "Create a notes app", "userId": "auth-user"}))
        .await;
    let progress = api.finished(&id, "completed").await;
    let preview = progress["previewUrl"].as_str().expect("previewUrl");
    let answer = http.get(preview).send().await.expect("preview");
    assert_eq!(answer.status(), 200, "the edge reads artifacts");
    if let Some(log) = progress["buildLogUrl"].as_str() {
        let answer = http.get(log).send().await.expect("log");
        assert_eq!(answer.status(), 200, "the edge reads logs");
    }
    let follow_up = api
        .submit(
            json!({"prompt": "Add a search feature", "userId": "auth-user", "parentBuildId": id}),
        )
        .await;
    api.finished(&follow_up, "completed").await;
    let cancelled = api
        .submit(json!({"prompt": "Create a timer app", "userId": "auth-user"}))
        .await;
    let answer = common::cancel(&http, &base, &api.key, &cancelled).await;
    assert!(answer.is_success(), "{answer}");
    api.finished(&cancelled, "cancelled").await;

    // The operator saw it live and reads it from EVENTS.
    let stored = stored_events(&ops, &id).await;
    assert!(stored.iter().any(|e| e.type_name() == "complete"));
    let mut seen = 0;
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(200), live.next()).await
    {
        if message.subject.as_str() == subjects::live_events(&id) {
            seen += 1;
        }
    }
    assert_eq!(seen, stored.len(), "every event live");

    // Nothing any service did was refused.
    let log = std::fs::read_to_string(nats_dir.join("nats-server.log")).expect("log");
    assert!(
        violations(&log).is_empty(),
        "permission refusals:\n{}",
        violations(&log).join("\n")
    );
    // ...and the operator may not command.
    let command = subjects::command(&id, Stage::Plan);
    let mut refusals = ops.refusals.clone();
    refusals.mark_unchanged();
    ops.client
        .publish(command.clone(), "{}".into())
        .await
        .expect("sent");
    ops.client.flush().await.expect("flush");
    tokio::time::timeout(Duration::from_secs(5), refusal_of(&mut refusals, &command))
        .await
        .expect("ops is refused a command");

    assert!(common::stop(&mut up).await.success());

    // A second start keeps the passwords (and the operator's login).
    let mut again = common::managed(&["up"], data.path())
        .spawn()
        .expect("up again");
    common::first_line(&mut again, Duration::from_secs(60)).await;
    for (role, before) in &passwords {
        assert_eq!(&password(&nats_dir, *role), before, "{role}");
    }
    let config = std::fs::read_to_string(&config_path).expect("config");
    let url = format!("nats://127.0.0.1:{}", port(&config, "listen"));
    Nats::connect_as(&url, Some(&ops_login), "ops", Duration::from_secs(20))
        .await
        .expect("the same operator password");
    assert!(common::stop(&mut again).await.success());
}
