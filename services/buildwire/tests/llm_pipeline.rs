//! Issue 16 end to end: `buildwire up` (real NATS, real npm, the bubblewrap sandbox) with
//! `BUILDWIRE_LLM=anthropic` / `openai` pointed at local fakes that speak the real wire
//! protocols (`buildwire-fakes`), scripted per build. The providers are the real code.
//! A prompt becomes a working preview through each provider; a follow-up changes files;
//! a broken first answer is auto-fixed (`status` `FIX`, `fix-build-1` task events); files
//! stream as `file_progress`; usage equals what the fake reported, in `usage` events and
//! in `GET /v1/builds/{id}`; a cancel aborts the model's request; a model-written
//! `package.json` cannot reach the stack or the data dir; faults end the build with
//! `*_failed` carrying `code`, `retryable` and `suggestedAction`.

mod common;
mod llm;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use buildwire_fakes::anthropic;
use buildwire_testkit::NatsFixture;
use serde_json::{Value, json};

use llm::{Api, Model, SERVICE_KEY, Stack, Tokens, app, of_type, summary};

fn refs<'a>(files: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    files.iter().map(|(p, c)| (*p, c.as_str())).collect()
}

/// Whether `wanted` appear in `seen` (from [`summary`]) in this order.
fn in_order(seen: &[String], wanted: &[&str]) -> bool {
    let mut rest = seen.iter();
    wanted.iter().all(|w| rest.any(|e| e.trim() == *w))
}

/// The `usage` event of `task` (`None`: the plan's).
fn usage_of<'a>(events: &'a [Value], task: Option<&str>) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == "usage" && e["taskId"].as_str() == task)
        .unwrap_or_else(|| panic!("a usage event for {task:?}: {:#?}", summary(events)))
}

/// Scripts a new app's plan (tasks `scaffold` and `app`) and its `scaffold` task (the tiny
/// app's project files): their token figures.
fn plan_with_scaffold(model: &Model) -> (Tokens, Tokens) {
    let scaffold = app::scaffold(&app::package_json(app::BUILD));
    let plan = model.plan(&[("scaffold", "Project setup"), ("app", "Create src/App.tsx")]);
    let scaffolded = model.task(&refs(&scaffold), None);
    (plan, scaffolded)
}

/// Every scripted answer was used.
fn all_used(model: &Model) {
    assert_eq!(model.fake.unused(), 0, "scripted answers left over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_builds_auto_fixes_follows_up_cancels_and_sandboxes() {
    let nats = NatsFixture::start();
    let model = Model::start(Api::Anthropic).await;
    let stack = Stack::start(&nats.url(), &model.env()).await;
    let started = Instant::now();

    // 1. A new app whose first answer does not compile; auto-fix makes it a preview.
    let broken = app::app_tsx("Tiny Todo", true);
    let fixed = app::app_tsx("Tiny Todo", false);
    let (plan, scaffolded) = plan_with_scaffold(&model);
    let written = model.task(&[("src/App.tsx", &broken)], Some(Duration::from_millis(70)));
    let fix = model.task(&[("src/App.tsx", &fixed)], None);
    let id = stack
        .submit(json!({"prompt": "Create a tiny todo app", "userId": "u1", "projectId": "p1"}))
        .await;
    let events = stack.finished(&id).await;
    let seen = summary(&events);
    assert!(
        in_order(
            &seen,
            &[
                "status ANALYZE",
                "usage",
                "plan_generated",
                "task_started scaffold",
                "task_completed scaffold",
                "task_started app",
                "file_progress app",
                "task_completed app",
                "status BUILD",
                "status FIX",
                "task_started fix-build-1",
                "usage fix-build-1",
                "task_completed fix-build-1",
                "status BUILD",
                "build_completed",
                "complete",
            ]
        ),
        "{seen:#?}\n{}",
        stack.log_tail()
    );
    let fix_status = events.iter().find(|e| e["code"] == "FIX").expect("FIX");
    assert_eq!(
        fix_status["message"],
        "Fixing build errors (attempt 1 of 2)..."
    );
    assert_eq!(fix_status["buildStatus"], "building");
    let fixed_task = of_type(&events, "task_completed")
        .into_iter()
        .find(|e| e["taskId"] == "fix-build-1")
        .expect("the fix's task");
    assert_eq!(fixed_task["taskName"], "Fix build errors (attempt 1)");
    assert_eq!(
        fixed_task["details"]["filesModified"],
        json!(["src/App.tsx"])
    );
    let logs: Vec<&str> = of_type(&events, "build_progress")
        .iter()
        .flat_map(|e| e["logs"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(logs.iter().any(|l| l.contains("error TS2322")), "{logs:#?}");
    // The fix request carried the log's end and the failing file.
    let requests = model.fake.requests();
    let fix_request = requests[5].body.to_string();
    assert!(
        fix_request.contains("TS2322") && fix_request.contains("path=\\\"src/App.tsx\\\""),
        "{fix_request}"
    );

    // The file written slowly streamed as `file_progress`: growing, at most 4 a second,
    // ending on the file's own figures.
    let progress: Vec<&Value> = of_type(&events, "file_progress")
        .into_iter()
        .filter(|e| e["taskId"] == "app" && e["path"] == "src/App.tsx")
        .collect();
    assert!(progress.len() >= 2, "{progress:#?}");
    let last = progress.last().expect("a figure");
    assert_eq!(last["bytes"], broken.len());
    assert_eq!(last["lines"], broken.lines().count());
    for pair in progress.windows(2) {
        assert!(pair[0]["bytes"].as_u64() < pair[1]["bytes"].as_u64());
        let at = |e: &Value| {
            chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().expect("ts")).expect("iso")
        };
        let gap = at(pair[1]) - at(pair[0]);
        assert!(gap.num_milliseconds() >= 200, "batched per file: {gap}");
    }

    // Usage: what the fake reported, per step and in the build's progress.
    for (task, tokens, stage) in [
        (None, plan, "plan"),
        (Some("scaffold"), scaffolded, "execute"),
        (Some("app"), written, "execute"),
        (Some("fix-build-1"), fix, "build"),
    ] {
        let usage = usage_of(&events, task);
        assert!(tokens.matches(usage), "{task:?}: {usage} vs {tokens:?}");
        assert_eq!(
            (&usage["stage"], &usage["provider"], &usage["model"]),
            (&json!(stage), &json!("anthropic"), &json!("claude-fake"))
        );
    }
    let total = plan.plus(scaffolded).plus(written).plus(fix);
    let status = stack
        .progress_when(&id, |p| {
            total.matches(&p["usage"]) && p["status"] == "completed"
        })
        .await;
    assert!(total.matches(&status["usage"]), "{status:#}");
    assert_eq!(status["status"], "completed");
    assert!(
        status["completedSteps"]
            .as_array()
            .expect("steps")
            .contains(&json!("fix-build-1"))
    );
    let preview_url = events.last().expect("complete")["previewUrl"]
        .as_str()
        .expect("url");
    let (html, js) = stack.preview(preview_url).await;
    assert!(
        html.contains("<div id=\"root\">") && js.contains("Tiny Todo"),
        "{html}"
    );
    all_used(&model);
    eprintln!("new app with one auto-fix: {:?}", started.elapsed());

    // 2. A follow-up starts from the fixed tree and changes a file.
    let started = Instant::now();
    model.plan(&[("title", "Rename the app")]);
    model.task(
        &[("src/App.tsx", &app::app_tsx("Tiny Todo Plus", false))],
        None,
    );
    let follow = stack
        .submit(json!({"prompt": "Call it Tiny Todo Plus", "userId": "u1", "projectId": "p1", "parentBuildId": id}))
        .await;
    let events = stack.finished(&follow).await;
    assert_eq!(
        events.last().expect("end")["type"],
        "complete",
        "{:#?}",
        summary(&events)
    );
    let changed = of_type(&events, "task_completed")[0]["details"].clone();
    assert_eq!(changed["filesModified"], json!(["src/App.tsx"]));
    let plan_request = model.fake.requests()[7].body.to_string();
    assert!(
        plan_request.contains("const count: number = items.length;"),
        "the follow-up starts from the auto-fixed tree"
    );
    let (_, js) = stack
        .preview(
            events.last().expect("complete")["previewUrl"]
                .as_str()
                .expect("url"),
        )
        .await;
    assert!(js.contains("Tiny Todo Plus"));
    all_used(&model);
    eprintln!("follow-up: {:?}", started.elapsed());

    // 3. A cancel while the model streams a file aborts its request.
    model.plan(&[("app", "Rewrite src/App.tsx")]);
    model.hanging_task("src/App.tsx", &app::app_tsx("Never Finished", false));
    let slow = stack
        .submit(json!({"prompt": "Rewrite it", "userId": "u1", "projectId": "p1", "parentBuildId": follow}))
        .await;
    stack
        .wait_for(&slow, Duration::from_secs(30), |e| {
            e["type"] == "file_progress"
        })
        .await;
    let asked = Instant::now();
    let answer = common::cancel(&stack.http, &stack.base, SERVICE_KEY, &slow).await;
    assert_eq!(answer.as_u16(), 202);
    let gone = model
        .fake
        .wait_disconnect(Duration::from_secs(3))
        .await
        .expect("the model's connection is closed");
    let after = gone.saturating_duration_since(asked);
    eprintln!("cancel -> the fake saw its stream closed after {after:?}");
    // The stage loop notices a cancel within its 0.5 s poll (`stage::cancel::POLL`); the
    // model's request is dropped the moment it does.
    let poll = buildwire_runtime::stage::cancel::POLL;
    assert!(after < poll + Duration::from_millis(100), "{after:?}");
    let events = stack.finished(&slow).await;
    let terminal = events.iter().find(|e| {
        matches!(
            e["type"].as_str(),
            Some("complete" | "failed" | "cancelled")
        )
    });
    assert_eq!(terminal.expect("an end")["type"], "cancelled");
    let status = stack
        .progress_when(&slow, |p| p["status"] == "cancelled")
        .await;
    assert_eq!(status["status"], "cancelled");
    assert!(of_type(&events, "task_completed").is_empty());
    all_used(&model);

    // 4. A model-written package.json whose scripts try to reach the stack and the data
    // dir: they run (in the sandbox), and find neither.
    let started = Instant::now();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let knocks = Arc::new(AtomicUsize::new(0));
    let counted = knocks.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let secret = format!("secret-{}", ulid::Ulid::generate());
    let data = stack.data.path();
    std::fs::write(data.join("secret.txt"), &secret).expect("secret");
    let probe = probe_script(port, data);
    let scripts = "\"postinstall\": \"node probe.cjs postinstall\", \
                   \"build\": \"node probe.cjs build && tsc --noEmit && vite build\"";
    let mut files = app::scaffold(&app::package_json(scripts));
    files.push(("probe.cjs", probe));
    files.push(("src/App.tsx", app::app_tsx("Probe", false)));
    model.plan(&[("all", "Write the app")]);
    model.task(&refs(&files), None);
    let hostile = stack
        .submit(json!({"prompt": "An app with install scripts", "userId": "u2", "projectId": "p2"}))
        .await;
    let events = stack.finished(&hostile).await;
    assert_eq!(
        events.last().expect("end")["type"],
        "complete",
        "{:#?}\n{}",
        summary(&events),
        stack.log_tail()
    );
    let preview = events.last().expect("complete")["previewUrl"]
        .as_str()
        .expect("url")
        .to_string();
    for script in ["postinstall", "build"] {
        let report = stack
            .http
            .get(format!("{preview}probe-{script}.txt"))
            .send()
            .await
            .expect("probe report");
        assert_eq!(report.status().as_u16(), 200, "the {script} script ran");
        let report = report.text().await.expect("text");
        eprintln!(
            "{script} script found: {}",
            report.trim().replace('\n', "; ")
        );
        assert!(
            !report.contains(&secret),
            "{script} read the data dir: {report}"
        );
        assert!(report.contains("secret: ENOENT"), "{script}: {report}");
        assert!(report.contains("db: ENOENT"), "{script}: {report}");
        assert!(!report.contains("connect: connected"), "{script}: {report}");
    }
    assert_eq!(
        knocks.load(Ordering::SeqCst),
        0,
        "nothing reached the test's port"
    );
    all_used(&model);
    eprintln!("hostile package.json: {:?}", started.elapsed());
}

/// `probe.cjs`: reads a secret from the data dir and the database, knocks on `port`, and
/// writes what it found to `public/probe-<label>.txt` (served with the preview).
fn probe_script(port: u16, data: &std::path::Path) -> String {
    let secret = json!(data.join("secret.txt"));
    let db = json!(data.join("buildwire.db"));
    format!(
        r#"const fs = require("fs");
const net = require("net");
const label = process.argv[2];
const lines = [];
const read = (name, path) => {{
  try {{
    lines.push(name + ": " + fs.readFileSync(path, "utf8"));
  }} catch (e) {{
    lines.push(name + ": " + e.code);
  }}
}};
read("secret", {secret});
read("db", {db});
let done = false;
const finish = (what) => {{
  if (done) return;
  done = true;
  lines.push("connect: " + what);
  fs.mkdirSync("public", {{ recursive: true }});
  fs.writeFileSync("public/probe-" + label + ".txt", lines.join("\n") + "\n");
  process.exit(0);
}};
const socket = net.connect({port}, "127.0.0.1", () => finish("connected"));
socket.on("error", (e) => finish(e.code));
setTimeout(() => finish("timeout"), 3000);
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_faults_end_the_build_with_code_retryable_and_suggested_action() {
    let nats = NatsFixture::start();
    let model = Model::start(Api::Anthropic).await;
    let mut env = model.env();
    env.push(("BUILDWIRE_LLM_RETRIES", "1".into()));
    let stack = Stack::start(&nats.url(), &env).await;
    let body = |prompt: &str| json!({"prompt": prompt, "userId": "u1"});

    // A refused key fails fast, naming the setting, without retries.
    model.reply(anthropic::error(
        401,
        "authentication_error",
        "invalid x-api-key",
    ));
    let asked = Instant::now();
    let id = stack.submit(body("Create a todo app")).await;
    let events = stack.finished(&id).await;
    let took = asked.elapsed();
    assert_eq!(
        summary(&events)
            .iter()
            .map(|s| s.trim())
            .collect::<Vec<_>>()[1..],
        ["status ANALYZE", "plan_failed LLM_AUTH", "failed LLM_AUTH"]
    );
    let failed = &of_type(&events, "plan_failed")[0];
    assert_eq!(failed["retryable"], false);
    assert!(
        failed["error"]
            .as_str()
            .expect("error")
            .contains("ANTHROPIC_API_KEY"),
        "{failed}"
    );
    assert!(
        failed["suggestedAction"]
            .as_str()
            .expect("action")
            .contains("ANTHROPIC_API_KEY")
    );
    assert_eq!(of_type(&events, "failed")[0]["severity"], "soft");
    assert_eq!(model.fake.requests().len(), 1, "no retry");
    assert!(took < Duration::from_secs(3), "fails fast: {took:?}");
    let status = stack.progress_when(&id, |p| p["status"] == "failed").await;
    assert_eq!(status["status"], "failed");

    // An overloaded provider, past the retry budget (BUILDWIRE_LLM_RETRIES=1).
    for _ in 0..2 {
        model.reply(anthropic::error(529, "overloaded_error", "Overloaded"));
    }
    let id = stack.submit(body("Create a notes app")).await;
    let events = stack.finished(&id).await;
    let failed = &of_type(&events, "plan_failed")[0];
    assert_eq!(
        (&failed["code"], &failed["retryable"]),
        (&json!("LLM_UNAVAILABLE"), &json!(true))
    );
    assert!(
        failed["error"]
            .as_str()
            .expect("error")
            .contains("BUILDWIRE_LLM_RETRIES=1"),
        "{failed}"
    );
    assert!(
        failed["suggestedAction"]
            .as_str()
            .expect("action")
            .contains("Try again")
    );
    assert_eq!(model.fake.requests().len(), 3, "one try and one retry");

    // A file cut off by the output limit: the task fails, nothing is written or built.
    let plan = model.plan(&[("app", "Create src/App.tsx")]);
    let cut = model.truncated_task("src/App.tsx", &app::app_tsx("Cut", false));
    let id = stack.submit(body("Create a timer app")).await;
    let events = stack.finished(&id).await;
    let seen = summary(&events);
    assert!(
        in_order(
            &seen,
            &[
                "plan_generated",
                "task_started app",
                "usage app",
                "task_failed app",
                "execute_failed LLM_TRUNCATED",
                "failed LLM_TRUNCATED"
            ]
        ),
        "{seen:#?}"
    );
    assert!(of_type(&events, "build_started").is_empty());
    let failed = &of_type(&events, "execute_failed")[0];
    assert_eq!(failed["retryable"], true);
    assert!(
        failed["suggestedAction"]
            .as_str()
            .expect("action")
            .contains("BUILDWIRE_LLM_MAX_TOKENS"),
        "{failed}"
    );
    assert!(
        cut.matches(usage_of(&events, Some("app"))),
        "usage is reported for a failed step too"
    );
    let total = plan.plus(cut);
    let status = stack
        .progress_when(&id, |p| total.matches(&p["usage"]))
        .await;
    assert!(total.matches(&status["usage"]), "{status:#}");
    all_used(&model);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_model_writes_a_working_preview() {
    let nats = NatsFixture::start();
    let model = Model::start(Api::OpenAi).await;
    let stack = Stack::start(&nats.url(), &model.env()).await;
    let started = Instant::now();
    let (plan, scaffolded) = plan_with_scaffold(&model);
    let app_tsx = app::app_tsx("Open Todo", false);
    let written = model.task(
        &[("src/App.tsx", &app_tsx)],
        Some(Duration::from_millis(70)),
    );
    let id = stack
        .submit(json!({"prompt": "Create a tiny todo app", "userId": "u1"}))
        .await;
    let events = stack.finished(&id).await;
    assert_eq!(
        events.last().expect("end")["type"],
        "complete",
        "{:#?}\n{}",
        summary(&events),
        stack.log_tail()
    );
    assert!(
        !of_type(&events, "file_progress").is_empty(),
        "{:#?}",
        summary(&events)
    );
    let total = plan.plus(scaffolded).plus(written);
    for (task, tokens) in [
        (None, plan),
        (Some("scaffold"), scaffolded),
        (Some("app"), written),
    ] {
        let usage = usage_of(&events, task);
        assert!(tokens.matches(usage), "{usage} vs {tokens:?}");
        assert_eq!(
            (&usage["provider"], &usage["model"]),
            (&json!("openai"), &json!(model.model_name()))
        );
    }
    let status = stack
        .progress_when(&id, |p| total.matches(&p["usage"]))
        .await;
    assert!(total.matches(&status["usage"]), "{status:#}");
    let (_, js) = stack
        .preview(
            events.last().expect("complete")["previewUrl"]
                .as_str()
                .expect("url"),
        )
        .await;
    assert!(js.contains("Open Todo"));
    let request = &model.fake.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", llm::KEY).as_str())
    );
    all_used(&model);
    eprintln!("openai: prompt to preview in {:?}", started.elapsed());
}

/// The browser's progress fold (clients/web/progress.js) for the new events:
/// `node --test clients/web/test`.
#[test]
fn progress_fold_checks_pass_in_node() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = std::process::Command::new("node")
        .arg("--test")
        .arg(root.join("clients/web/test"))
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
