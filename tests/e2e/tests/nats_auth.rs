//! Issue 15, NATS users and permissions: no anonymous client, each role refused what it
//! does not need (the server's `Permissions Violation`), the operator read-only, stage
//! fault paths (fatal failure, exhausted deliveries, cancel flags) working under their own
//! users, and `nats/users.conf` taking its passwords from the environment.

use std::time::{Duration, Instant};

use buildwire_runtime::{
    Error,
    breaker::Breaker,
    nats::{Credentials, Definitions, Nats, Role, refusal_of},
    publish::Publisher,
    stage::cancel::CancelFlags,
};
use buildwire_schemas::{Event, EventBody, Stage, StageCommand, events::StatusCode, subjects};
use buildwire_testkit::{
    NatsFixture, connect, eventually, quick_definitions, stored_events, violations,
};
use futures::StreamExt;
use serde_json::json;

use crate::support::{Worker, build_id, commands_waiting};

/// The fixture with the built-in definitions applied by the admin.
async fn applied(fixture: &NatsFixture) -> Nats {
    let admin = connect(&fixture.url()).await;
    Definitions::embedded()
        .expect("definitions")
        .apply(&admin, None)
        .await
        .expect("the admin applies the definitions");
    admin
}

/// Publishes to `subject` as `nats` and waits for the server's refusal (within 5 s).
async fn refused_publish(nats: &Nats, subject: &str) -> String {
    let mut refusals = nats.refusals.clone();
    refusals.mark_unchanged();
    nats.client
        .publish(subject.to_string(), "x".into())
        .await
        .expect("handed to the connection");
    nats.client.flush().await.expect("flushed");
    tokio::time::timeout(Duration::from_secs(5), refusal_of(&mut refusals, subject))
        .await
        .unwrap_or_else(|_| panic!("{:?} may publish to {subject}", nats.user))
}

fn plan_command(build_id: &str, probe: serde_json::Value) -> StageCommand {
    let mut command = StageCommand {
        build_id: build_id.into(),
        request_id: format!("req-{build_id}"),
        user_id: "auth-user".into(),
        prompt: "probe".into(),
        project_id: None,
        parent_build_id: None,
        restore_from_build_id: None,
        plan: None,
        extra: Default::default(),
    };
    command.extra.insert("probe".into(), probe);
    command
}

fn queued(build_id: &str) -> Event {
    Event::new(
        build_id,
        build_id,
        EventBody::Status(buildwire_schemas::events::StatusUpdate {
            code: StatusCode::Queued,
            message: "Queued".into(),
            progress: Some(0),
            build_status: None,
        }),
    )
}

#[tokio::test]
async fn clients_without_a_user_or_with_a_wrong_password_are_refused_at_once() {
    let fixture = NatsFixture::start();
    let started = Instant::now();
    let err = Nats::connect(
        &fixture.anonymous_url(),
        "anonymous",
        Duration::from_secs(20),
    )
    .await
    .expect_err("no anonymous clients");
    assert!(
        matches!(&err, Error::Connect { reason, .. } if reason.contains("requires a user")),
        "{err}"
    );
    let wrong = Credentials {
        user: "edge".into(),
        password: "not-the-password".into(),
    };
    let err = Nats::connect_as(
        &fixture.anonymous_url(),
        Some(&wrong),
        "wrong",
        Duration::from_secs(20),
    )
    .await
    .expect_err("a wrong password");
    assert!(err.to_string().contains("refused user \"edge\""), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refusals are reported, not waited out: {:?}",
        started.elapsed()
    );
    let right = fixture.credentials(Role::Edge);
    Nats::connect_as(
        &fixture.anonymous_url(),
        Some(&right),
        "edge",
        Duration::from_secs(20),
    )
    .await
    .expect("NATS_USER/NATS_PASSWORD style credentials connect");
}

#[tokio::test]
async fn the_operator_reads_streams_and_live_events_but_cannot_command() {
    let fixture = NatsFixture::start();
    let admin = applied(&fixture).await;
    let ops = connect(&fixture.url_as(Role::Ops)).await;
    let edge = connect(&fixture.url_as(Role::Edge)).await;
    let mut live = ops
        .client
        .subscribe("live.build.>")
        .await
        .expect("ops subscribes to live.build.>");
    // `flush` only hands the SUB to the socket; a request answered on the same
    // connection proves the server has registered it (it reads a connection in order),
    // so the event below cannot be republished before the subscription exists.
    ops.client.flush().await.expect("flush");
    ops.js
        .get_stream("EVENTS")
        .await
        .expect("ops reads EVENTS' info");

    // The edge stores a build's first event; the operator sees it live and in EVENTS.
    let id = build_id();
    Publisher::new(edge.js.clone())
        .event(&queued(&id), &format!("{id}:edge:queued"))
        .await
        .expect("the edge stores events");
    let message = tokio::time::timeout(Duration::from_secs(20), live.next())
        .await
        .expect("a live event in time")
        .expect("subscription open");
    assert_eq!(message.subject.as_str(), subjects::live_events(&id));
    let stored = stored_events(&ops, &id).await;
    assert_eq!(stored.len(), 1, "ops reads EVENTS by Direct Get");
    // As `buildwire tail` and `nats stream view` do: an ordered consumer of its own.
    let stream = ops.js.get_stream("EVENTS").await.expect("stream info");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: subjects::events(&id),
            ..Default::default()
        })
        .await
        .expect("ops creates an ordered consumer on EVENTS");
    let mut messages = consumer.messages().await.expect("pull");
    let first = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("in time")
        .expect("a message")
        .expect("readable");
    assert_eq!(first.subject.as_str(), subjects::events(&id));
    ops.js.get_stream("CMDS").await.expect("CMDS info");

    // Never a command, an event, a flag, or the recorder's consumer.
    let command = subjects::command(&id, Stage::Plan);
    let refusal = refused_publish(&ops, &command).await;
    assert!(refusal.contains("Permissions Violation"), "{refusal}");
    assert_eq!(
        commands_waiting(&admin, &id, Stage::Plan).await,
        0,
        "nothing landed in CMDS"
    );
    let err = Publisher::new(ops.js.clone())
        .command(Stage::Plan, &plan_command(&id, json!({})), "ops:cmd")
        .await
        .expect_err("a JetStream publish of a command fails too");
    assert!(matches!(err, Error::Publish { .. }), "{err}");
    for subject in [
        subjects::events(&id),
        format!("$KV.cancel.{id}"),
        "$JS.API.CONSUMER.MSG.NEXT.EVENTS.record".to_string(),
        "$JS.API.CONSUMER.CREATE.EVENTS.record.build.*.events".to_string(),
        "$JS.API.STREAM.PURGE.EVENTS".to_string(),
        "$JS.API.STREAM.DELETE.EVENTS".to_string(),
    ] {
        refused_publish(&ops, &subject).await;
    }
    assert_eq!(
        stored_events(&admin, &id).await.len(),
        1,
        "EVENTS unchanged"
    );
    // Nor through the unnamed create subject, with the recorder's name in the body.
    for config in [
        json!({"name": "record", "filter_subject": subjects::events(&id), "ack_policy": "none"}),
        json!({"durable_name": "record", "filter_subject": subjects::events(&id), "ack_policy": "none"}),
    ] {
        let body = json!({"stream_name": "EVENTS", "config": config, "action": "update"});
        let reply = ops
            .client
            .request("$JS.API.CONSUMER.CREATE.EVENTS", body.to_string().into())
            .await
            .expect("an answer");
        let answer: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json");
        assert!(answer.get("error").is_some(), "{answer}");
    }
    let record = admin
        .js
        .get_stream("EVENTS")
        .await
        .expect("EVENTS")
        .consumer_info("record")
        .await
        .expect("record");
    assert_eq!(
        record.config.filter_subject, "build.*.events",
        "the recorder's consumer kept"
    );
    let logged = fixture.violations();
    assert!(
        logged
            .iter()
            .any(|l| l.contains("ops") && l.contains(&command)),
        "the server logs each refusal: {logged:?}"
    );

    // Definitions: checked when they match, refused at once when they would change.
    let defs = Definitions::embedded().expect("definitions");
    let report = defs
        .apply(&ops, None)
        .await
        .expect("matching definitions check out");
    assert!(report.unchanged(), "{report}");
    let mut changed = defs.clone();
    changed
        .stream_mut("EVENTS")
        .expect("EVENTS")
        .insert("description".into(), json!("changed by ops"));
    let started = Instant::now();
    let err = changed
        .apply(&ops, None)
        .await
        .expect_err("ops may not update");
    assert!(
        err.to_string().contains("admin user") && err.to_string().contains("ops"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn each_role_is_refused_what_it_does_not_need() {
    let fixture = NatsFixture::start();
    let _admin = applied(&fixture).await;
    let id = build_id();
    let cases: [(Role, Vec<String>); 6] = [
        (
            Role::Edge,
            vec![
                subjects::command(&id, Stage::Execute),
                "$O.artifacts.C.x".into(),
                "$KV.breaker.u".into(),
            ],
        ),
        (
            Role::Plan,
            vec![
                subjects::command(&id, Stage::Build),
                subjects::command(&id, Stage::Plan),
                "$O.sources.C.x".into(),
                "$JS.API.CONSUMER.MSG.NEXT.CMDS.build".into(),
            ],
        ),
        (
            Role::Execute,
            vec![
                subjects::command(&id, Stage::Deploy),
                "$O.artifacts.C.x".into(),
            ],
        ),
        (
            Role::Build,
            vec![
                subjects::command(&id, Stage::Execute),
                "$KV.cancel.x".into(),
            ],
        ),
        (
            Role::Deploy,
            vec![
                subjects::command(&id, Stage::Plan),
                "$JS.API.DIRECT.GET.OBJ_sources.$O.sources.M.x".into(),
            ],
        ),
        (
            Role::Record,
            vec![
                subjects::command(&id, Stage::Plan),
                "$JS.API.CONSUMER.MSG.NEXT.CMDS.plan".into(),
                "$JS.API.STREAM.CREATE.X".into(),
            ],
        ),
    ];
    for (role, subjects) in cases {
        let nats = connect(&fixture.url_as(role)).await;
        for subject in subjects {
            refused_publish(&nats, &subject).await;
        }
        // Replies of other users stay theirs.
        let mut refusals = nats.refusals.clone();
        refusals.mark_unchanged();
        let _peek = nats
            .client
            .subscribe("_INBOX.ops.>")
            .await
            .expect("subscribe sent");
        nats.client.flush().await.expect("flush");
        tokio::time::timeout(
            Duration::from_secs(5),
            refusal_of(&mut refusals, "_INBOX.ops.>"),
        )
        .await
        .unwrap_or_else(|_| panic!("{role} may read the ops user's replies"));
    }
}

#[tokio::test]
async fn stage_fault_paths_run_under_the_stage_user() {
    let fixture = NatsFixture::start();
    let admin = connect(&fixture.url()).await;
    let defs = quick_definitions(Duration::from_millis(600), 2);
    defs.apply(&admin, None).await.expect("definitions apply");
    let dir = fixture.scratch("defs");
    defs.write_to_dir(&dir).expect("definitions written");
    let edge = connect(&fixture.url_as(Role::Edge)).await;
    let plan_url = fixture.url_as(Role::Plan);
    let submit = |id: String, probe: serde_json::Value| {
        let publisher = Publisher::new(edge.js.clone());
        async move {
            publisher
                .command(
                    Stage::Plan,
                    &plan_command(&id, probe),
                    &format!("{id}:edge:cmd:plan"),
                )
                .await
                .expect("the edge sends plan commands");
        }
    };

    // A worker as `plan` (checks the definitions, pulls, forwards to execute).
    let ok = build_id();
    let fatal = build_id();
    let crash = build_id();
    {
        let _worker = Worker::start(&plan_url, &dir, &[("PROBE_STEP_DELAY_MS", "0")]).await;
        submit(ok.clone(), json!({"steps": 1})).await;
        eventually(Duration::from_secs(15), "the execute command", || async {
            (commands_waiting(&admin, &ok, Stage::Execute).await == 1).then_some(())
        })
        .await;
        // A fatal failure fails the build and records it in KV breaker.
        submit(fatal.clone(), json!({"fail": "fatal"})).await;
        let events = eventually(Duration::from_secs(15), "the failed build", || async {
            let events = stored_events(&admin, &fatal).await;
            events.iter().any(Event::is_terminal).then_some(events)
        })
        .await;
        assert!(
            matches!(events[0].body, EventBody::PlanFailed(_)),
            "{events:?}"
        );
        let failures = Breaker::open(&admin)
            .await
            .failures("auth-user")
            .await
            .expect("breaker readable");
        assert!(failures.iter().any(|f| f.build_id == fatal), "{failures:?}");
    }
    // A command whose worker dies on every delivery: the advisory, reading and removing
    // the exhausted command from CMDS, as `plan`.
    submit(crash.clone(), json!({"fail": "crash", "steps": 1})).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        assert!(Instant::now() < deadline, "the crashing build never failed");
        let mut worker = Worker::start(&plan_url, &dir, &[]).await;
        let _ = tokio::time::timeout(Duration::from_secs(3), worker.child.wait()).await;
        if stored_events(&admin, &crash)
            .await
            .iter()
            .any(Event::is_terminal)
        {
            break;
        }
    }
    assert_eq!(
        commands_waiting(&admin, &crash, Stage::Plan).await,
        0,
        "removed"
    );

    // Cancel flags: the edge sets them, stages read them.
    let flagged = build_id();
    edge.js
        .get_key_value("cancel")
        .await
        .expect("bucket")
        .put(&flagged, "1".into())
        .await
        .expect("the edge sets cancel flags");
    let plan = connect(&plan_url).await;
    assert!(
        CancelFlags::open(&plan).await.is_set(&flagged).await,
        "plan reads it"
    );

    let refused = fixture.violations();
    assert!(
        refused.is_empty(),
        "permission refusals:\n{}",
        refused.join("\n")
    );
}

/// A nats-server on `nats/server.conf`'s users (its `users.conf`), killed on drop.
struct ProductionUsers {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for ProductionUsers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn production_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    // `include` paths are relative to the including file: lay them out as compose does.
    let users = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nats/users.conf");
    std::fs::copy(users, dir.join("users.conf")).expect("nats/users.conf");
    let config = dir.join("server.conf");
    let text = format!(
        "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?} }}\ninclude ./users.conf\n",
        dir.join("js"),
    );
    std::fs::write(&config, text).expect("config");
    config
}

#[tokio::test]
async fn production_users_take_their_passwords_from_the_environment() {
    let binary = buildwire_testkit::nats_server_binary();
    let dir = tempfile::tempdir().expect("tmp");
    let port = buildwire_runtime::nats::server::free_port().expect("port");
    let config = production_config(dir.path(), port);
    let checked = std::process::Command::new(&binary)
        .arg("-t")
        .arg("-c")
        .arg(&config)
        .env_clear()
        .output()
        .expect("nats-server runs");
    assert!(!checked.status.success(), "starts without passwords");
    assert!(
        String::from_utf8_lossy(&checked.stderr).contains("NATS_ADMIN_PASSWORD")
            || String::from_utf8_lossy(&checked.stdout).contains("NATS_ADMIN_PASSWORD"),
        "{checked:?}"
    );
    let mut command = std::process::Command::new(&binary);
    command.arg("-c").arg(&config).env_clear();
    for role in Role::ALL {
        command.env(role.password_variable(), format!("pw-{role}"));
    }
    let server = ProductionUsers {
        child: command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starts"),
        port,
        _dir: dir,
    };
    let url = format!("nats://127.0.0.1:{}", server.port);
    let edge = Credentials {
        user: "edge".into(),
        password: "pw-edge".into(),
    };
    let nats = Nats::connect_as(&url, Some(&edge), "edge", Duration::from_secs(20))
        .await
        .expect("edge connects with NATS_EDGE_PASSWORD");
    refused_publish(&nats, "build.x.cmd.execute").await;
    assert!(
        Nats::connect(&url, "anonymous", Duration::from_secs(10))
            .await
            .is_err()
    );
}

#[test]
fn violations_are_read_from_the_server_log() {
    let log = "[1] [ERR] 127.0.0.1:1 - cid:5 - \"v0.51:rust\" - Publish Violation - User \"ops\", Subject \"build.x.cmd.plan\"\n[1] [INF] ok\n";
    assert_eq!(violations(log).len(), 1);
}
