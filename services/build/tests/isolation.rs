//! Code from a generated project against the build's sandbox, with real npm and real
//! bubblewrap, run the way the build stage runs it (`npmrc::restrict`, then
//! `npm_steps`). The project's `preinstall`, `postinstall`, `prepare` and `build`
//! scripts, and a `file:` dependency's `postinstall`, each run a probe that connects to a
//! TCP listener this test holds on 127.0.0.1, reads a file planted in the data dir, and
//! drops a marker into the shared npm cache, npm's cache, HOME and TMPDIR while looking
//! for markers an earlier build left. The project's `.npmrc` also aims npm's registry and
//! proxy at that listener with TLS checks off, and a git dependency's own `.npmrc` names
//! a program for the nested npm that prepares it to run as `git`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use buildwire_build::{LogLine, RunReport, RunSpec, SandboxKind, SandboxPolicy, npm_steps, npmrc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What each probe does; prints one `PROBE {json}` line and exits 0.
const PROBE_JS: &str = r#"
const fs = require('fs'), net = require('net'), os = require('os'), path = require('path');
const [tag, port, secret, sharedCache, mark] = process.argv.slice(2);
const places = { sharedCache, npmCache: process.env.npm_config_cache || '', home: os.homedir(), tmp: os.tmpdir() };
const seen = [];
for (const [k, dir] of Object.entries(places)) {
  try { for (const f of fs.readdirSync(dir)) if (f.startsWith('poison-')) seen.push(k + ':' + f); } catch (e) {}
}
let read;
try { read = 'READ ' + fs.readFileSync(secret, 'utf8'); } catch (e) { read = e.code; }
const wrote = {};
for (const [k, dir] of Object.entries(places)) {
  try { fs.mkdirSync(dir, { recursive: true }); fs.writeFileSync(path.join(dir, 'poison-' + mark), tag); wrote[k] = dir; }
  catch (e) { wrote[k] = e.code; }
}
const done = (loopback) => {
  console.log('PROBE ' + JSON.stringify({ tag, loopback, read, wrote, seen }));
  process.exit(0);
};
const s = net.connect({ host: '127.0.0.1', port: Number(port) });
s.setTimeout(5000, () => { s.destroy(); done('TIMEOUT'); });
s.on('connect', () => { s.end(); done('CONNECTED'); });
s.on('error', (e) => done(e.code));
"#;

/// A fake data dir laid out like the stage's: a secret at the top, `npm-cache/`, and
/// project directories under `builds/`.
struct DataDir {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    secret: PathBuf,
    cache: PathBuf,
}

const SECRET: &str = "data-dir-secret-7f3a9c";

fn data_dir() -> DataDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("data");
    std::fs::create_dir_all(root.join("builds")).expect("builds dir");
    let secret = root.join("jwt-keys");
    std::fs::write(&secret, SECRET).expect("secret");
    DataDir {
        cache: root.join("npm-cache"),
        root,
        secret,
        _tmp: tmp,
    }
}

/// A TCP listener on the host's loopback that counts every connection it accepts.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = socket.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

/// Writes the hostile project `name` under `<data>/builds/`; answers its directory.
fn hostile_project(data: &DataDir, name: &str, port: u16, mark: &str) -> PathBuf {
    let dir = data.root.join("builds").join(name);
    let dep = dir.join("dep");
    std::fs::create_dir_all(&dep).expect("project dirs");
    let probe = |tag: &str| {
        format!(
            "node probe.cjs {tag} {port} {} {} {mark}",
            data.secret.display(),
            data.cache.display()
        )
    };
    let scripts: serde_json::Map<String, serde_json::Value> =
        ["preinstall", "postinstall", "prepare", "build"]
            .iter()
            .map(|s| ((*s).to_owned(), probe(s).into()))
            .collect();
    let pkg = serde_json::json!({
        "name": "hostile", "version": "1.0.0", "private": true,
        "scripts": scripts,
        "dependencies": {"dep": "file:./dep", "is-number": "7.0.0"}
    });
    std::fs::write(dir.join("package.json"), pkg.to_string()).expect("package.json");
    let dep_pkg = serde_json::json!({
        "name": "dep", "version": "1.0.0",
        "scripts": {"postinstall": probe("dep-postinstall")}
    });
    std::fs::write(dep.join("package.json"), dep_pkg.to_string()).expect("dep package.json");
    for d in [&dir, &dep] {
        std::fs::write(d.join("probe.cjs"), PROBE_JS).expect("probe.cjs");
    }
    let npmrc = format!(
        "legacy-peer-deps=true\nregistry=http://127.0.0.1:{port}/\n\
         proxy=http://127.0.0.1:{port}/\nhttps-proxy=http://127.0.0.1:{port}/\nstrict-ssl=false\n"
    );
    std::fs::write(dir.join(npmrc::FILE), npmrc).expect(".npmrc");
    dir
}

/// Runs `spec` to its end; answers the report and every line.
async fn run(spec: &RunSpec) -> (RunReport, Vec<LogLine>) {
    let (tx, mut rx) = mpsc::channel(256);
    let collect = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line);
        }
        lines
    });
    let report = buildwire_build::run(spec, &CancellationToken::new(), tx)
        .await
        .expect("run");
    (report, collect.await.expect("collect"))
}

fn texts(lines: &[LogLine]) -> String {
    lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The probes' reports among `lines`.
fn probes(lines: &[LogLine]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter_map(|l| l.text.strip_prefix("PROBE "))
        .map(|json| serde_json::from_str(json).expect("probe JSON"))
        .collect()
}

fn tags(probes: &[serde_json::Value]) -> Vec<&str> {
    let mut tags: Vec<&str> = probes.iter().filter_map(|p| p["tag"].as_str()).collect();
    tags.sort_unstable();
    tags
}

/// Every file under `dir` whose name starts with `poison-`.
fn poison_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(poison_under(&path));
        } else if entry.file_name().to_string_lossy().starts_with("poison-") {
            found.push(path);
        }
    }
    found
}

/// Runs one build the stage's way; answers each step's probe reports and all lines.
async fn build(dir: &Path, cache: &Path, policy: SandboxPolicy) -> [Vec<serde_json::Value>; 3] {
    let dropped = npmrc::restrict(dir).expect("restrict .npmrc");
    assert_eq!(
        dropped,
        ["registry", "proxy", "https-proxy", "strict-ssl"],
        "the stage drops these before the download"
    );
    let mut out: [Vec<serde_json::Value>; 3] = Default::default();
    for (i, mut spec) in npm_steps(dir, cache).into_iter().enumerate() {
        spec.sandbox = policy;
        spec.timeout = Duration::from_secs(120);
        let started = Instant::now();
        let (report, lines) = run(&spec).await;
        let all = texts(&lines);
        eprintln!("{} {:?}: {:?}", spec.program, spec.args, started.elapsed());
        assert!(report.outcome.success(), "{:?} failed:\n{all}", spec.args);
        assert_eq!(report.sandbox, SandboxKind::Bubblewrap);
        assert!(
            !all.contains(SECRET),
            "the data dir's secret leaked:\n{all}"
        );
        out[i] = probes(&lines);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_code_reaches_no_network_no_data_dir_and_no_later_build() {
    let data = data_dir();
    let (port, connections) = listener().await;

    // The probe and the listener work: run directly on the host, it gets through.
    let control = data.root.join("control");
    std::fs::create_dir_all(&control).expect("control dir");
    std::fs::write(control.join("probe.cjs"), PROBE_JS).expect("probe.cjs");
    let out = tokio::process::Command::new("node")
        .arg("probe.cjs")
        .args(["control", &port.to_string()])
        .arg(&data.secret)
        .arg(control.join("cache"))
        .arg("control")
        .env("HOME", control.join("home"))
        .env("TMPDIR", control.join("tmp"))
        .env_remove("npm_config_cache")
        .current_dir(&control)
        .output()
        .await
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"loopback\":\"CONNECTED\""), "{stdout}");
    assert!(stdout.contains(SECRET), "{stdout}");
    // The listener counts in its own task: give it a moment to see the connection.
    for _ in 0..100 {
        if connections.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(connections.swap(0, Ordering::SeqCst), 1);

    let first = hostile_project(&data, "b1", port, "b1");
    let [install, scripts, compile] = build(&first, &data.cache, SandboxPolicy::Required).await;
    assert!(
        install.is_empty(),
        "code ran during the download: {install:?}"
    );
    assert!(first.join("node_modules/is-number/package.json").exists());
    assert!(first.join("node_modules/dep/package.json").exists());
    assert_eq!(
        tags(&scripts),
        ["dep-postinstall", "postinstall", "preinstall"],
        "install scripts run (prepare never does)"
    );
    assert_eq!(tags(&compile), ["build"]);
    for probe in scripts.iter().chain(&compile) {
        assert_eq!(probe["loopback"], "ECONNREFUSED", "{probe}");
        assert_eq!(probe["read"], "ENOENT", "{probe}");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "something in the build reached the host's loopback"
    );
    let marker = |dir: &Path| dir.join("poison-b1");
    assert_eq!(
        poison_under(&data.cache),
        Vec::<PathBuf>::new(),
        "cache written"
    );
    assert!(!marker(Path::new("/tmp/home")).exists());
    assert!(!marker(&std::env::temp_dir()).exists());

    // A later build on the same cache finds nothing the first one left.
    let second = hostile_project(&data, "b2", port, "b2");
    let [_, scripts, compile] = build(&second, &data.cache, SandboxPolicy::Required).await;
    assert_eq!(scripts.len() + compile.len(), 4);
    for probe in scripts.iter().chain(&compile) {
        let seen = probe["seen"].as_array().expect("seen");
        // Markers of this very run are fine (and show the probe looks); b1's are not.
        assert!(
            seen.iter()
                .all(|s| s.as_str().is_some_and(|s| s.ends_with("poison-b2"))),
            "{probe}"
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    assert_eq!(poison_under(&data.cache), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_sandbox_the_download_still_runs_no_code() {
    let data = data_dir();
    let (port, connections) = listener().await;
    let dir = hostile_project(&data, "b1", port, "off");
    npmrc::restrict(&dir).expect("restrict .npmrc");
    let [mut install, _, _] = npm_steps(&dir, &data.cache);
    install.sandbox = SandboxPolicy::Off;
    install.timeout = Duration::from_secs(120);
    let (report, lines) = run(&install).await;
    let all = texts(&lines);
    assert!(report.outcome.success(), "{all}");
    assert_eq!(report.sandbox, SandboxKind::None);
    assert!(probes(&lines).is_empty(), "scripts ran:\n{all}");
    assert!(dir.join("node_modules/dep/package.json").exists());
    assert_eq!(connections.load(Ordering::SeqCst), 0, "{all}");
    assert!(poison_under(&data.root).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vite_app_still_builds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("app");
    std::fs::create_dir_all(dir.join("src")).expect("src");
    let pkg = serde_json::json!({
        "name": "app", "private": true, "version": "0.1.0", "type": "module",
        "scripts": {"build": "vite build"},
        "devDependencies": {"vite": "5.4.11"}
    });
    std::fs::write(dir.join("package.json"), pkg.to_string()).expect("package.json");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><html><body><div id=app></div>\
         <script type=module src=/src/main.js></script></body></html>",
    )
    .expect("index.html");
    std::fs::write(
        dir.join("src/main.js"),
        "document.getElementById('app').textContent = 'built';\n",
    )
    .expect("main.js");
    // The cache other npm tests share, so vite is downloaded once per machine.
    let cache = std::env::temp_dir().join("buildwire-npm-cache");
    for spec in npm_steps(&dir, &cache) {
        let started = Instant::now();
        let mut spec = spec;
        spec.timeout = Duration::from_secs(240);
        let (report, lines) = run(&spec).await;
        eprintln!("npm {:?}: {:?}", spec.args, started.elapsed());
        assert!(
            report.outcome.success(),
            "{:?} failed:\n{}",
            spec.args,
            texts(&lines)
        );
        assert_eq!(report.sandbox, SandboxKind::Bubblewrap);
    }
    let html = std::fs::read_to_string(dir.join("dist/index.html")).expect("dist/index.html");
    assert!(html.contains("assets/"), "{html}");
}

/// Commits `files` into a new git repository at `dir` (`.sh` files executable).
fn git_repo(dir: &Path, files: &[(&str, String)]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("repo dir");
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("repo file");
        if name.ends_with(".sh") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &["commit", "-q", "-m", "x"],
    ] {
        let status = std::process::Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependencys_npmrc_cannot_run_a_program_during_the_download() {
    let data = data_dir();
    let dir = data.root.join("builds").join("b1");
    let (inner, outer) = (dir.join("repos/inner"), dir.join("repos/outer"));
    let (hijacked, prepared) = (dir.join("HIJACKED"), dir.join("PREPARED"));
    git_repo(
        &inner,
        &[(
            "package.json",
            r#"{"name":"inner","version":"1.0.0"}"#.to_owned(),
        )],
    );
    // A git dependency with a build script is prepared by a nested `npm install`, which
    // reads the dependency's own .npmrc: here it names a program to run as `git`.
    let evil = outer.join("evil.sh");
    let outer_pkg = serde_json::json!({
        "name": "outer", "version": "1.0.0",
        "scripts": {"prepare": format!("touch {}", prepared.display())},
        "dependencies": {"inner": format!("git+file://{}", inner.display())}
    });
    git_repo(
        &outer,
        &[
            ("package.json", outer_pkg.to_string()),
            (
                "evil.sh",
                format!("#!/bin/sh\ntouch {}\nexec git \"$@\"\n", hijacked.display()),
            ),
            (
                npmrc::FILE,
                format!("git={}\nstrict-ssl=false\n", evil.display()),
            ),
        ],
    );
    let pkg = serde_json::json!({
        "name": "app", "version": "1.0.0", "private": true,
        "dependencies": {"outer": format!("git+file://{}", outer.display())}
    });
    std::fs::write(dir.join("package.json"), pkg.to_string()).expect("package.json");

    npmrc::restrict(&dir).expect("restrict .npmrc");
    let [mut install, _, _] = npm_steps(&dir, &data.cache);
    install.timeout = Duration::from_secs(120);
    let (report, lines) = run(&install).await;
    let all = texts(&lines);
    assert!(report.outcome.success(), "{all}");
    assert_eq!(report.sandbox, SandboxKind::Bubblewrap);
    assert!(
        dir.join("node_modules/outer/package.json").exists(),
        "{all}"
    );
    assert!(
        !hijacked.exists(),
        "the dependency's .npmrc chose npm's git:\n{all}"
    );
    assert!(
        !prepared.exists(),
        "a prepare script ran with network:\n{all}"
    );
}
