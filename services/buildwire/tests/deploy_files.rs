//! Issue 19: the files that run buildwire for real, checked without a container engine.
//! - `compose.yaml` is valid against the compose specification's JSON Schema (vendored in
//!   `ops/compose/`) and runs everything: the NATS cluster with every user's password,
//!   PostgreSQL, the setup step, two edges behind a balancer, each stage, the recorder, the
//!   notifier, Prometheus, Grafana and Jaeger, each service as its own NATS user.
//! - The Dockerfile is multi-stage, non-root, with Node.js 20, npm and bubblewrap, and the
//!   commands compose gives its entrypoint (`buildwire <service>`) exist.
//! - The files in `nats/` as written are accepted through the JetStream API by a single
//!   server and by a three-node cluster; services raise them to R3 on the cluster.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use buildwire_runtime::nats::{Definitions, Nats, Role, definitions::Outcome};
use buildwire_testkit::{NatsCluster, NatsFixture, connect};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `compose.yaml` as Compose reads it (merge keys applied), as JSON.
fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("compose.yaml")).expect("compose.yaml");
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("compose.yaml is YAML");
    // Merged mappings may hold merge keys of their own (an anchor of a service that merges
    // another): Compose resolves them all, so apply until none is left.
    for _ in 0..4 {
        yaml.apply_merge().expect("merge keys");
    }
    let json = serde_json::to_value(&yaml).expect("as JSON");
    assert!(!json.to_string().contains("\"<<\""), "merge keys left");
    json
}

/// Schema errors of `document`, one line each.
fn schema_errors(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("ops/compose/compose-spec.json"))
            .expect("the vendored schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    validator
        .iter_errors(document)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn compose_follows_the_compose_specification() {
    let document = compose();
    let errors = schema_errors(&document);
    assert!(errors.is_empty(), "compose.yaml: {errors:#?}");
    // The validator does refuse what Compose refuses.
    let mut broken = document.clone();
    broken["services"]["edge-1"]["ports"] = json!("8080:8080");
    broken["services"]["plan"]["restart_policy"] = json!("always");
    let errors = schema_errors(&broken);
    assert!(errors.len() >= 2, "a broken file passes: {errors:?}");
}

#[test]
fn compose_runs_every_service_as_its_own_nats_user() {
    let document = compose();
    let services = document["services"].as_object().expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    for wanted in [
        "nats-1",
        "nats-2",
        "nats-3",
        "postgres",
        "setup",
        "edge-1",
        "edge-2",
        "lb",
        "plan",
        "execute",
        "build",
        "deploy",
        "record",
        "notify",
        "prometheus",
        "grafana",
        "jaeger",
    ] {
        assert!(names.contains(wanted), "compose.yaml has no {wanted}");
    }
    let raw = std::fs::read_to_string(root().join("compose.yaml")).expect("compose.yaml");
    for (name, service) in services {
        if service["image"] != "buildwire:latest" {
            continue;
        }
        let command = service["command"][0].as_str().expect("a command");
        let user = match command {
            "setup" => "admin",
            other => other,
        };
        let env = &service["environment"];
        assert_eq!(env["NATS_USER"], user, "{name} runs as its role's user");
        let password = format!("${{NATS_{}_PASSWORD", user.to_uppercase());
        assert!(
            env["NATS_PASSWORD"]
                .as_str()
                .is_some_and(|p| p.starts_with(&password)),
            "{name}: NATS_PASSWORD from {password}}}"
        );
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://jaeger:4317");
        assert!(
            env["DATABASE_URL"]
                .as_str()
                .is_some_and(|u| u.starts_with("postgres://"))
        );
        if command != "setup" {
            assert_eq!(
                service["depends_on"]["setup"]["condition"], "service_completed_successfully",
                "{name} waits for the setup step"
            );
        }
    }
    // Every role's password reaches the NATS servers (nats/users.conf needs them all).
    let users = std::fs::read_to_string(root().join("nats/users.conf")).expect("users.conf");
    for role in Role::ALL {
        let variable = format!("NATS_{}_PASSWORD", role.user().to_uppercase());
        assert!(
            users.contains(&format!("${variable}")),
            "{variable} in users.conf"
        );
        for node in ["nats-1", "nats-2", "nats-3"] {
            assert!(
                services[node]["environment"][&variable].is_string(),
                "{node} lacks {variable}"
            );
        }
        assert!(
            raw.contains(&format!("${{{variable}:?")),
            "{variable} is required"
        );
    }
    // Mounted files exist; Prometheus scrapes compose's services; Caddy balances both edges.
    for service in services.values() {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().expect("short syntax").split(':').next();
            if let Some(path) = source.filter(|s| s.starts_with("./")) {
                assert!(root().join(path).exists(), "{path} is mounted but missing");
            }
        }
    }
    let prometheus = std::fs::read_to_string(root().join("ops/prometheus/prometheus.yml"))
        .expect("prometheus.yml");
    let prometheus: serde_yaml::Value = serde_yaml::from_str(&prometheus).expect("YAML");
    assert_eq!(prometheus["rule_files"][0], "/etc/prometheus/alerts.yml");
    let mut scraped = BTreeSet::new();
    for job in prometheus["scrape_configs"].as_sequence().expect("jobs") {
        for config in job["static_configs"].as_sequence().into_iter().flatten() {
            for target in config["targets"].as_sequence().expect("targets") {
                let host = target.as_str().expect("host:port").split(':').next();
                scraped.insert(host.expect("host").to_string());
            }
        }
        for config in job["dns_sd_configs"].as_sequence().into_iter().flatten() {
            for name in config["names"].as_sequence().expect("names") {
                scraped.insert(name.as_str().expect("name").to_string());
            }
        }
    }
    scraped.remove("localhost");
    for host in &scraped {
        assert!(
            names.contains(host.as_str()),
            "Prometheus scrapes {host}, not a compose service"
        );
    }
    for service in [
        "edge-1", "edge-2", "plan", "execute", "build", "deploy", "record",
    ] {
        assert!(
            scraped.contains(service),
            "Prometheus does not scrape {service}"
        );
    }
    let caddy = std::fs::read_to_string(root().join("ops/caddy/Caddyfile")).expect("Caddyfile");
    assert!(caddy.contains("reverse_proxy edge-1:8080 edge-2:8080"));
    assert!(caddy.contains("flush_interval -1"), "SSE is not buffered");
}

#[test]
fn the_dockerfile_is_multi_stage_small_and_non_root() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(stages[0].contains("rust:"), "a Rust builder: {stages:?}");
    assert!(
        stages
            .last()
            .is_some_and(|s| s.contains("debian:") && s.contains("-slim")),
        "a slim Debian runtime: {stages:?}"
    );
    assert!(text.contains("ARG NODE_VERSION=20"), "Node.js 20");
    for needed in [
        "bubblewrap",
        "/usr/local/bin/node",
        "npm-cli.js",
        "ca-certificates",
    ] {
        assert!(text.contains(needed), "the runtime image has {needed}");
    }
    let user = text
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "runs as {user}"
    );
    assert!(text.contains("ENTRYPOINT [\"buildwire\"]"));
    assert!(text.contains("cargo build --release --locked -p buildwire"));
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    assert!(
        ignored.lines().any(|l| l == "target"),
        "no target/ in the context"
    );
}

#[tokio::test]
async fn the_entrypoint_commands_compose_runs_exist() {
    let document = compose();
    let mut commands: BTreeSet<String> = document["services"]
        .as_object()
        .expect("services")
        .values()
        .filter(|s| s["image"] == "buildwire:latest")
        .map(|s| s["command"][0].as_str().expect("command").to_string())
        .collect();
    commands.insert("--help".into()); // the image's CMD
    assert!(commands.len() >= 9, "{commands:?}");
    for command in commands {
        let mut args = vec![command.as_str()];
        if command != "--help" {
            args.push("--help");
        }
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_buildwire"))
            .args(&args)
            .output()
            .await
            .expect("buildwire runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "buildwire {args:?}: {output:?}");
        assert!(stdout.contains("Usage: buildwire"), "{args:?}: {stdout}");
    }
}

/// Creates every stream and consumer of `nats/` from its file as written, through the
/// JetStream API (what `nats stream add --config` sends); answers each refusal.
async fn create_as_written(nats: &Nats) -> Vec<String> {
    let mut refusals = Vec::new();
    let dir = root().join("nats");
    let mut requests: Vec<(String, Vec<u8>)> = Vec::new();
    let mut streams: Vec<PathBuf> = std::fs::read_dir(dir.join("streams"))
        .expect("streams")
        .map(|e| e.expect("entry").path())
        .collect();
    streams.sort();
    for path in streams {
        let body = std::fs::read(&path).expect("file");
        let config: Value = serde_json::from_slice(&body).expect("JSON");
        let name = config["name"].as_str().expect("name");
        requests.push((format!("$JS.API.STREAM.CREATE.{name}"), body));
    }
    for stream in std::fs::read_dir(dir.join("consumers")).expect("consumers") {
        let stream = stream.expect("entry").path();
        let stream_name = stream
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        for file in std::fs::read_dir(&stream).expect("files") {
            let config: Value =
                serde_json::from_slice(&std::fs::read(file.expect("file").path()).expect("read"))
                    .expect("JSON");
            let durable = config["durable_name"].as_str().expect("durable_name");
            let body = json!({"stream_name": stream_name, "config": config});
            requests.push((
                format!("$JS.API.CONSUMER.CREATE.{stream_name}.{durable}"),
                serde_json::to_vec(&body).expect("body"),
            ));
        }
    }
    for (subject, body) in requests {
        let reply = nats
            .client
            .request(subject.clone(), body.into())
            .await
            .expect("JetStream answers");
        let answer: Value = serde_json::from_slice(&reply.payload).expect("JSON answer");
        if let Some(error) = answer.get("error") {
            refusals.push(format!("{subject}: {error}"));
        }
    }
    refusals
}

async fn replicas(nats: &Nats) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for stream in Definitions::embedded().expect("definitions").streams {
        let mut handle = nats.js.get_stream(&stream.name).await.expect("stream");
        let info = handle.info().await.expect("info");
        out.push((stream.name.clone(), info.config.num_replicas));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nats_files_as_written_work_on_a_single_server_and_a_cluster() {
    let on_disk = Definitions::from_dir(&root().join("nats")).expect("nats/ parses");
    assert_eq!(on_disk, Definitions::embedded().expect("embedded"));

    // A single server: every file accepted as written, R1; services change nothing.
    let single = NatsFixture::start();
    let nats = connect(&single.url()).await;
    assert_eq!(create_as_written(&nats).await, Vec::<String>::new());
    assert!(replicas(&nats).await.iter().all(|(_, r)| *r == 1));
    let report = on_disk.apply(&nats, None).await.expect("services apply");
    assert!(
        report.0.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "the files are what services apply on a single server: {report}"
    );
    // Why the files say 1: a single server refuses more.
    let mut r3: Value = serde_json::from_slice(
        &std::fs::read(root().join("nats/streams/EVENTS.json")).expect("EVENTS.json"),
    )
    .expect("JSON");
    r3["name"] = json!("EVENTS_R3");
    r3["subjects"] = json!(["r3.>"]);
    r3["num_replicas"] = json!(3);
    r3.as_object_mut().expect("object").remove("republish");
    let reply = nats
        .client
        .request(
            "$JS.API.STREAM.CREATE.EVENTS_R3",
            serde_json::to_vec(&r3).expect("json").into(),
        )
        .await
        .expect("answer");
    let answer: Value = serde_json::from_slice(&reply.payload).expect("JSON");
    assert!(
        answer["error"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("replicas > 1 not supported in non-clustered mode")),
        "{answer}"
    );

    // A three-node cluster: the same files accepted as written; a service raises them to R3.
    let cluster = NatsCluster::start(3);
    let nats = connect(&cluster.urls()).await;
    let refusals = buildwire_testkit::eventually(
        std::time::Duration::from_secs(30),
        "the cluster's meta leader",
        || async {
            let refusals = create_as_written(&nats).await;
            // Right after start the cluster may answer "JetStream not ready": ask again.
            (!refusals
                .iter()
                .any(|r| r.contains("10008") || r.contains("unavailable")))
            .then_some(refusals)
        },
    )
    .await;
    let refusals: Vec<String> = refusals
        .into_iter()
        .filter(|r| !r.contains("already in use") && !r.contains("already exists"))
        .collect();
    assert_eq!(refusals, Vec::<String>::new());
    assert!(replicas(&nats).await.iter().all(|(_, r)| *r == 1));
    let report = on_disk.apply(&nats, None).await.expect("services apply");
    assert!(
        on_disk
            .streams
            .iter()
            .all(|s| report.outcome(&s.name) == Some(Outcome::Updated)),
        "{report}"
    );
    for (stream, count) in replicas(&nats).await {
        assert_eq!(count, 3, "{stream} raised to R3");
    }
    let again = on_disk.apply(&nats, None).await.expect("again");
    assert!(
        again.0.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "{again}"
    );
}
