//! Issue 4 end to end: `buildwire up` (edge + all four stages, one process, talking only
//! through a real nats-server) turns prompts into previews with real npm; cancels stop
//! npm; a hanging build is killed at its timeout. Issue 20: every offline app (React +
//! TypeScript + Tailwind) works in Chromium, builds beyond the host's slots wait in line
//! and say so, the first build keeps its lockfile in the project's tree, and a follow-up
//! with unchanged dependencies installs nothing.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use buildwire_testkit::NatsFixture;
use serde_json::{Value, json};

use common::KEY;

struct Stack {
    base: String,
    http: reqwest::Client,
    data: tempfile::TempDir,
    _up: tokio::process::Child,
}

impl Stack {
    async fn start(nats_url: &str, env: &[(&str, &str)]) -> Stack {
        let (base, data, up) = common::up(nats_url, env).await;
        let _ = rustls::crypto::ring::default_provider().install_default();
        Stack {
            base,
            http: reqwest::Client::new(),
            data,
            _up: up,
        }
    }

    async fn submit(&self, body: Value) -> String {
        common::submit(&self.http, &self.base, KEY, &body).await
    }

    async fn events(&self, build_id: &str) -> Vec<Value> {
        common::events(&self.http, &self.base, KEY, build_id).await
    }

    /// Events until `until` matches one (or the build ends), within `limit`.
    async fn wait_for(
        &self,
        build_id: &str,
        limit: Duration,
        until: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let events = self.events(build_id).await;
            if events.iter().any(&until) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "timed out; events so far: {:#?}",
                summary(&events)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The preview's HTML and every script and stylesheet it loads, concatenated.
    async fn bundle(&self, preview: &str) -> String {
        let page = self.http.get(preview).send().await.expect("preview");
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.expect("html");
        assert!(html.contains("<div id=\"root\">"), "{html}");
        let mut bundle = html.clone();
        for piece in html.split("./assets/").skip(1) {
            let asset = piece.split('"').next().unwrap_or_default();
            let url = format!("{preview}assets/{asset}");
            let body = self.http.get(&url).send().await.expect("asset");
            assert_eq!(body.status().as_u16(), 200, "{url}");
            bundle.push_str(&body.text().await.expect("asset text"));
        }
        bundle
    }

    /// The full build log a finished build links.
    async fn log(&self, events: &[Value]) -> String {
        let url = events
            .iter()
            .rev()
            .find_map(|e| e["buildLogUrl"].as_str())
            .expect("a log URL");
        self.http
            .get(url)
            .send()
            .await
            .expect("log")
            .text()
            .await
            .expect("text")
    }

    /// Submits a follow-up once the install cache holds `entries` project entries (made
    /// after each first build, off its path), and checks it installed nothing: its events
    /// and its preview URL.
    async fn reused_follow_up(&self, entries: usize, body: Value) -> (Vec<Value>, String) {
        wait_for_entries(self.data.path(), entries).await;
        let id = self.submit(body).await;
        let events = self.completed(&id).await;
        let log = self.log(&events).await;
        assert!(
            log.contains("node_modules: reused from this project's previous build"),
            "{log}"
        );
        for step in ["$ npm install", "$ npm ci", "$ npm rebuild"] {
            assert!(!log.contains(step), "{step} ran in a follow-up:\n{log}");
        }
        let preview = events.last().expect("complete")["previewUrl"]
            .as_str()
            .expect("url")
            .to_string();
        (events, preview)
    }

    async fn finished(&self, build_id: &str) -> Vec<Value> {
        self.wait_for(build_id, Duration::from_secs(240), common::ended)
            .await
    }

    /// The build's events once it ended, which it did with `complete`.
    async fn completed(&self, build_id: &str) -> Vec<Value> {
        let events = self.finished(build_id).await;
        assert_eq!(
            events.last().map(|e| e["type"].clone()),
            Some(json!("complete")),
            "{:#?}",
            summary(&events)
        );
        events
    }
}

fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let code = e["code"].as_str().unwrap_or_default();
            format!("{} {code}", e["type"].as_str().unwrap_or_default())
        })
        .collect()
}

/// Whether `wanted` appears in `events` in this order (others may sit between).
fn in_order(events: &[String], wanted: &[&str]) -> bool {
    let mut rest = events.iter();
    wanted.iter().all(|w| rest.any(|e| e.trim() == *w))
}

/// Pids of processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            if pid == std::process::id() {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let zombie = stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'));
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (!zombie && cmdline.contains(needle)).then_some(pid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_todo_prompt_becomes_a_preview_and_a_follow_up_changes_it() {
    let fixture = NatsFixture::start();
    let stack = Stack::start(&fixture.url(), &[]).await;
    let started = Instant::now();
    let id = stack
        .submit(json!({ "prompt": "Create a todo app with dark mode", "userId": "user-1", "projectId": "proj-1" }))
        .await;
    let events = stack.finished(&id).await;
    let took = started.elapsed();
    let seen = summary(&events);
    assert!(
        in_order(
            &seen,
            &[
                "status QUEUED",
                "status ANALYZE",
                "status STRUCT",
                "plan_generated",
                "task_started",
                "task_completed",
                "status INSTALL",
                "build_started",
                "build_progress",
                "status BUILD",
                "build_completed",
                "status DEPLOY",
                "deploy_started",
                "deploy_completed",
                "complete",
            ]
        ),
        "{seen:#?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("complete "));
    let plan = events
        .iter()
        .find(|e| e["type"] == "plan_generated")
        .expect("plan");
    for task in plan["plan"]["tasks"].as_array().expect("tasks") {
        for field in ["id", "name", "description", "estimatedDuration"] {
            assert!(!task[field].is_null(), "{field} in {task}");
        }
    }
    let preview = events.last().expect("complete")["previewUrl"]
        .as_str()
        .expect("url")
        .to_string();
    let bundle = stack.bundle(&preview).await;
    assert!(
        bundle.contains("theme-toggle") && bundle.contains("new-todo"),
        "the React app's code is served"
    );
    eprintln!("todo app: prompt to preview in {took:?}");
    // The full log behind a signed, expiring link; an altered link is refused.
    let log_url = events.last().expect("complete")["buildLogUrl"]
        .as_str()
        .expect("complete carries the log URL")
        .to_string();
    let log = stack.http.get(&log_url).send().await.expect("log");
    assert_eq!(log.status().as_u16(), 200);
    let log = log.text().await.expect("text");
    assert!(
        log.contains("$ npm install") && log.contains("$ npm run build"),
        "{log}"
    );
    let forged = log_url.replace("expires=", "expires=1");
    assert_eq!(
        stack
            .http
            .get(&forged)
            .send()
            .await
            .expect("log")
            .status()
            .as_u16(),
        403
    );
    let status = common::progress(&stack.http, &stack.base, KEY, &id).await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["previewUrl"].as_str(), Some(preview.as_str()));
    let fresh = status["buildLogUrl"]
        .as_str()
        .expect("status carries a log URL");
    assert_eq!(
        stack
            .http
            .get(fresh)
            .send()
            .await
            .expect("log")
            .status()
            .as_u16(),
        200
    );
    in_chromium("todo", &preview, &[]).await;
    // The first build's lockfile is kept in its tree, so follow-ups install the same versions.
    let nats = buildwire_testkit::connect(&fixture.url()).await;
    let sources = buildwire_runtime::objects::Sources::open(&nats)
        .await
        .expect("sources");
    for tree in [
        sources.of_build(&id).await.expect("build tree"),
        sources.of_project("proj-1").await.expect("project tree"),
    ] {
        let lock = tree.as_ref().and_then(|tree| tree.get("package-lock.json"));
        assert!(
            lock.is_some_and(|lock| lock.contains("\"node_modules/vite\"")),
            "the lockfile is in the tree"
        );
    }

    // A follow-up starts from the parent's files and modifies them; package.json and the
    // lockfile did not change: nothing is installed.
    let (events, preview) = stack
        .reused_follow_up(1, json!({ "prompt": "Add a search feature", "userId": "user-1", "projectId": "proj-1", "parentBuildId": id }))
        .await;
    let modified: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "task_completed")
        .flat_map(|e| {
            e["details"]["filesModified"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .collect();
    assert!(!modified.is_empty(), "a follow-up modifies existing files");
    let bundle = stack.bundle(&preview).await;
    assert!(bundle.contains("search-bar"), "the new feature");
    assert!(
        bundle.contains("theme-toggle") && bundle.contains("new-todo"),
        "the old ones"
    );
    in_chromium("todo", &preview, &["--search"]).await;

    // Another project with the same dependencies starts from this host's install of them
    // (no package has an install script: nothing runs), and its own follow-up then reuses
    // the entry made from that install after its first build.
    let other = stack
        .submit(json!({ "prompt": "Create a todo app", "userId": "user-1", "projectId": "proj-2" }))
        .await;
    let events = stack.completed(&other).await;
    let log = stack.log(&events).await;
    for wanted in [
        "node_modules: copied from this host's install of the same dependencies",
        "no install scripts to run",
    ] {
        assert!(log.contains(wanted), "{wanted}:\n{log}");
    }
    for step in ["$ npm install", "$ npm ci", "$ npm rebuild"] {
        assert!(!log.contains(step), "{step} ran for a new project:\n{log}");
    }
    let (_, preview) = stack
        .reused_follow_up(2, json!({ "prompt": "make the header blue", "userId": "user-1", "projectId": "proj-2", "parentBuildId": other }))
        .await;
    assert!(stack.bundle(&preview).await.contains("new-todo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_offline_app_works_in_chromium_and_waiting_builds_hear_their_place() {
    let fixture = NatsFixture::start();
    let stack = Stack::start(&fixture.url(), &[("BUILDWIRE_BUILD_CONCURRENCY", "1")]).await;
    let apps: [(&str, &str, &[&str]); 5] = [
        ("notes", "Make a notes app with dark mode", &[]),
        ("kanban", "Build a kanban board", &[]),
        ("timer", "Create a stopwatch timer", &[]),
        (
            "landing",
            "a landing page for my bakery called Sweet Crumbs",
            &["--title", "Sweet Crumbs"],
        ),
        (
            "generic",
            "a recipe manager with ingredients and cooking time",
            &[
                "--title",
                "Recipe Manager",
                "--fields",
                "name,ingredients,cookingTime",
            ],
        ),
    ];
    // All at once, with one build slot: the others wait in line and are told their place.
    let mut builds = Vec::new();
    for (n, (kind, prompt, _)) in apps.iter().enumerate() {
        let project = format!("apps-{n}");
        let id = stack
            .submit(json!({ "prompt": prompt, "userId": "user-1", "projectId": project }))
            .await;
        builds.push((*kind, id, project));
    }
    let mut told = Vec::new();
    for ((kind, id, _), (_, _, args)) in builds.iter().zip(&apps) {
        let events = stack.finished(id).await;
        assert_eq!(
            events.last().map(|e| e["type"].clone()),
            Some(json!("complete")),
            "{kind}: {:#?}",
            summary(&events)
        );
        told.extend(
            events
                .iter()
                .filter(|e| e["type"] == "status" && e["code"] == "QUEUED")
                .filter_map(|e| e["message"].as_str())
                .filter(|m| m.starts_with("Waiting for a build slot"))
                .map(str::to_owned),
        );
        let preview = events.last().expect("complete")["previewUrl"]
            .as_str()
            .expect("url")
            .to_string();
        in_chromium(kind, &preview, args).await;
    }
    assert!(
        told.iter().any(|m| m.ends_with("ahead)"))
            && told.iter().any(|m| m.contains("next in line")),
        "waiting builds were told their place: {told:?}"
    );

    // Follow-ups on the notes app: three changes at once, no install, every feature works.
    let (_, parent, project) = &builds[0];
    let (_, preview) = stack
        .reused_follow_up(
            builds.len(),
            json!({
                "prompt": "Add a search feature and a counter, and make the header purple",
                "userId": "user-1", "projectId": project, "parentBuildId": parent,
            }),
        )
        .await;
    in_chromium(
        "notes",
        &preview,
        &["--search", "--counter", "--header", "rgb(124, 58, 237)"],
    )
    .await;
}

/// Drives the `kind` app at `preview` in Debian's headless Chromium
/// (tests/browser/apps.mjs): its main interaction, dark mode, a reload keeping both, and
/// what `args` ask for (`--search`, `--counter`, `--header <rgb>`, `--title`, `--fields`).
async fn in_chromium(kind: &str, preview: &str, args: &[&str]) {
    let args: Vec<&str> = [kind, preview].iter().chain(args).copied().collect();
    let report = common::browser_script("apps.mjs", &args, &[], Duration::from_secs(120)).await;
    eprintln!("in Chromium:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_npm_install_stops_npm_within_two_seconds() {
    let fixture = NatsFixture::start();
    let stack = Stack::start(&fixture.url(), &[]).await;
    let id = stack
        .submit(json!({ "prompt": "Create a kanban board", "userId": "user-1" }))
        .await;
    stack
        .wait_for(&id, Duration::from_secs(120), |e| {
            e["type"] == "build_started"
        })
        .await;
    let builds = stack.data.path().join("builds");
    let marker = builds.to_string_lossy().into_owned();
    let cancelled_at = Instant::now();
    let answer = common::cancel(&stack.http, &stack.base, KEY, &id).await;
    assert_eq!(answer.as_u16(), 202);
    let events = stack.finished(&id).await;
    assert_eq!(
        events.last().map(|e| e["type"].clone()),
        Some(json!("cancelled"))
    );
    // npm runs with its project dir (under <data>/builds) as cwd; nothing of it survives.
    loop {
        let alive: Vec<u32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                cwd.to_string_lossy().starts_with(&marker).then_some(pid)
            })
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(2),
            "still running: {alive:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("npm gone {:?} after the cancel", cancelled_at.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = stack.events(&id).await;
    assert!(
        !after.iter().any(|e| e["type"] == "complete"),
        "{:#?}",
        summary(&after)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_build_is_killed_at_the_timeout_with_its_grandchildren() {
    let fixture = NatsFixture::start();
    let stack = Stack::start(&fixture.url(), &[("BUILD_TIMEOUT_MS", "5000")]).await;
    let nats = buildwire_testkit::connect(&fixture.url()).await;
    // A project whose build script hangs and leaves a grandchild behind.
    let id = ulid::Ulid::generate().to_string();
    let tag = format!("hang-{id}");
    let mut tree = std::collections::BTreeMap::new();
    tree.insert(
        "package.json".to_string(),
        json!({ "name": "hang", "private": true, "scripts": { "build": format!("node hang.js {tag}") } }).to_string(),
    );
    tree.insert(
        "hang.js".to_string(),
        "require('child_process').spawn('sleep', ['1000', process.argv[2]], { stdio: 'ignore', detached: true });\nsetInterval(() => {}, 1000);\n".to_string(),
    );
    let sources = buildwire_runtime::objects::Sources::open(&nats)
        .await
        .expect("sources");
    sources.save(&id, None, &tree).await.expect("save");
    let command = buildwire_schemas::StageCommand {
        build_id: id.clone(),
        request_id: id.clone(),
        user_id: "user-1".into(),
        prompt: "hang".into(),
        project_id: None,
        parent_build_id: None,
        restore_from_build_id: None,
        plan: None,
        extra: Default::default(),
    };
    buildwire_runtime::publish::Publisher::new(nats.js.clone())
        .command(
            buildwire_schemas::Stage::Build,
            &command,
            &format!("{id}:test:cmd"),
        )
        .await
        .expect("command");
    stack
        .wait_for(&id, Duration::from_secs(60), |e| {
            e["type"] == "status" && e["code"] == "BUILD"
        })
        .await;
    eventually_running(&tag).await;
    let events = stack.finished(&id).await;
    let failed = events
        .iter()
        .find(|e| e["type"] == "build_failed")
        .expect("build_failed");
    assert_eq!(failed["code"], "BUILD_TIMEOUT", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .expect("error")
            .contains("BUILD_TIMEOUT_MS")
    );
    assert_eq!(
        events.last().map(|e| e["type"].clone()),
        Some(json!("failed"))
    );
    assert!(
        processes_with(&tag).is_empty(),
        "no process of the tree is left: {:?}",
        processes_with(&tag)
    );
}

async fn eventually_running(tag: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while processes_with(tag).is_empty() {
        assert!(Instant::now() < deadline, "the hanging build never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_its_own_stack_and_ends_with_a_preview_that_answers() {
    let data = tempfile::tempdir().expect("tmp");
    let mut demo = common::managed(&["demo", "Create a notes app"], data.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    let line = common::first_line(&mut demo, Duration::from_secs(240)).await;
    let preview = line
        .strip_prefix("Preview: ")
        .expect("the preview line")
        .to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let page = reqwest::get(&preview).await.expect("preview answers");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("html").contains("notes"));
    let status = common::stop(&mut demo).await;
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut demo.stderr.take().expect("stderr"), &mut stderr)
        .await
        .expect("stderr");
    assert!(
        stderr.contains("✔ Plan:") && stderr.contains("Your app is ready"),
        "{stderr}"
    );
    // The terminal shows the progress view only; the stack's logs are in the file it named.
    let log = data.path().join("logs/demo.log");
    assert!(
        stderr.contains(&format!("Logs: {}", log.display())),
        "the log file is named once:\n{stderr}"
    );
    for level in [" INFO ", " WARN ", " DEBUG "] {
        assert!(
            !stderr.contains(level),
            "no log line on the terminal:\n{stderr}"
        );
    }
    let logged = std::fs::read_to_string(&log).expect("the log file");
    assert!(logged.contains("stack ready"), "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_explains_a_taken_port_in_one_line_and_shows_logs_with_v() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("addr").to_string();
    for verbose in [false, true] {
        let data = tempfile::tempdir().expect("tmp");
        let mut command = common::managed(&["demo", "Create a notes app", "--exit"], data.path());
        if verbose {
            command.arg("-v");
        }
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            command
                .env("BUILDWIRE_HTTP_ADDR", &addr)
                .stderr(Stdio::piped())
                .output(),
        )
        .await
        .expect("it ends at once")
        .expect("it runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("buildwire: "))
            .collect();
        assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
        assert!(
            errors[0].contains(&format!("{addr} is already in use"))
                && errors[0].contains("BUILDWIRE_HTTP_ADDR"),
            "{stderr}"
        );
        // The managed nats-server started before the edge failed, and said so in the log.
        assert_eq!(
            stderr.contains("started managed nats-server"),
            verbose,
            "logs on the terminal only with -v:\n{stderr}"
        );
        if !verbose {
            assert_eq!(
                stderr.lines().count(),
                2,
                "the log file line and the error:\n{stderr}"
            );
        }
    }
}

/// Waits until the install cache holds `count` project entries. They are made after a
/// build, off its path; a follow-up that came sooner would still work (from the shared
/// install), but it is the reuse the tests check.
async fn wait_for_entries(data: &std::path::Path, count: usize) {
    let entries = || -> usize {
        std::fs::read_dir(data.join("build-cache/projects"))
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|scope| {
                std::fs::read_dir(scope.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .filter(|entry| entry.path().join("node_modules").is_dir())
            .count()
    };
    let waited = Instant::now();
    while entries() < count {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "only {} of {count} project entries made",
            entries()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
