//! Every offline app (React + TypeScript + Tailwind on Vite), and the todo app after each
//! follow-up, must install and build with the real npm (`npm install`, `npm run build`,
//! which type-checks with `tsc --noEmit` while `vite build` bundles) into a `dist/` whose
//! `index.html` loads its assets through relative paths (previews are served under
//! `/preview/<buildId>/`); a type error must fail the build. Needs Node 20 and npm on
//! `PATH` and the npm registry; fails (never skips) without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buildwire_llm::{OfflineProvider, ProjectFile, apply_writes, plan, write_task};
use futures::executor::block_on;

/// Longest a single npm command may take before the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(180);

/// Plans `prompt` against `files` with the offline provider and runs every task, returning
/// the project afterwards.
fn generate(prompt: &str, files: &[ProjectFile]) -> Vec<ProjectFile> {
    block_on(async {
        let provider = OfflineProvider;
        let plan = plan(&provider, prompt, files).await.expect("plan");
        let mut tree = files.to_vec();
        for task in &plan.tasks {
            let written = write_task(&provider, prompt, task, &tree)
                .await
                .expect("write task");
            apply_writes(&mut tree, &written);
        }
        tree
    })
}

fn write_project(dir: &Path, files: &[ProjectFile]) {
    for file in files {
        assert!(
            !file.path.starts_with('/') && !file.path.split('/').any(|part| part == ".."),
            "unsafe path {}",
            file.path
        );
        let target = dir.join(&file.path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(&target, &file.content).expect("write file");
    }
}

/// Runs `npm <args>` in `dir` with the shared cache, failing the test with its output when
/// it fails or takes longer than `COMMAND_LIMIT`.
fn npm(dir: &Path, cache: &Path, args: &[&str]) -> String {
    let started = Instant::now();
    let out = tempfile::tempfile().expect("stdout file");
    let err = tempfile::tempfile().expect("stderr file");
    let mut child = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .env("npm_config_cache", cache)
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone"))
        .stderr(err.try_clone().expect("clone"))
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run npm ({error}): install Node 20 and npm"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for npm") {
            break status;
        }
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "npm {args:?} in {} took over {COMMAND_LIMIT:?}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |mut file: std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        file.rewind().expect("rewind");
        file.read_to_string(&mut text).expect("read output");
        text
    };
    let (stdout, stderr) = (read(out), read(err));
    assert!(
        status.success(),
        "npm {args:?} failed in {} ({status}):\n{stdout}\n{stderr}",
        dir.display()
    );
    eprintln!("  npm {} in {:.1?}", args.join(" "), started.elapsed());
    stdout
}

/// The `./assets/...` URLs `html` references through `src=` / `href=`.
fn asset_refs(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            let url = piece.split('"').next().unwrap_or_default();
            assert!(
                !url.starts_with('/'),
                "absolute asset URL {url} breaks previews under /preview/<id>/"
            );
            if url.starts_with("./assets/") {
                refs.push(url.to_owned());
            }
        }
    }
    refs
}

/// Installs and builds the project in `dir`, checks `dist/`, and returns the built
/// JavaScript and CSS concatenated, for feature checks.
fn build(dir: &Path, cache: &Path) -> String {
    npm(
        dir,
        cache,
        &["install", "--prefer-offline", "--no-audit", "--no-fund"],
    );
    built(dir, cache)
}

/// `npm run build` in `dir` (installed already), checked as [`build`] does.
fn built(dir: &Path, cache: &Path) -> String {
    npm(dir, cache, &["run", "build"]);
    let dist = dir.join("dist");
    let html = std::fs::read_to_string(dist.join("index.html"))
        .unwrap_or_else(|error| panic!("{}: no dist/index.html: {error}", dir.display()));
    let refs = asset_refs(&html);
    assert!(
        refs.iter().any(|url| url.ends_with(".js")) && refs.iter().any(|url| url.ends_with(".css")),
        "dist/index.html should load a ./assets/ script and stylesheet:\n{html}"
    );
    let mut bundle = String::new();
    for url in refs {
        let path = dist.join(url.trim_start_matches("./"));
        bundle.push_str(
            &std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{} missing: {error}", path.display())),
        );
    }
    bundle
}

fn cache_dir() -> PathBuf {
    let cache = std::env::temp_dir().join("buildwire-npm-cache");
    std::fs::create_dir_all(&cache).expect("npm cache dir");
    cache
}

#[test]
fn offline_apps_and_follow_ups_build_with_npm() {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .unwrap_or_else(|error| panic!("cannot run node ({error}): install Node 20 and npm"));
    eprintln!("node {}", String::from_utf8_lossy(&node.stdout).trim());
    let cache = cache_dir();
    // BUILDWIRE_KEEP_APPS=<dir> keeps the built projects there (to look at or serve).
    let kept = std::env::var_os("BUILDWIRE_KEEP_APPS").map(PathBuf::from);
    let temp = tempfile::tempdir().expect("temp dir");
    let root = kept.as_deref().unwrap_or(temp.path());
    let started = Instant::now();

    let apps = [
        ("todo", "Create a todo app with dark mode", "todo-toggle"),
        ("notes", "Make a notes app", "note-item"),
        ("kanban", "Build a kanban board", "kanban-card"),
        ("timer", "Create a stopwatch timer", "lap-item"),
        (
            "landing",
            "a landing page for my bakery called Sweet Crumbs",
            "signup-message",
        ),
        (
            "generic",
            "a recipe manager with ingredients and cooking time <b>&</b>",
            "cookingTime",
        ),
    ];
    let mut todo = Vec::new();
    for (name, prompt, marker) in apps {
        eprintln!("{name}: {prompt}");
        let files = generate(prompt, &[]);
        assert!(
            files
                .iter()
                .any(|f| f.path.starts_with("src/components/") && f.path.ends_with(".tsx")),
            "{name}: React components"
        );
        let dir = root.join(name);
        write_project(&dir, &files);
        let bundle = build(&dir, &cache);
        for wanted in [marker, "theme-toggle"] {
            assert!(bundle.contains(wanted), "{name}: built code lacks {wanted}");
        }
        if name == "todo" {
            todo = files;
        }
    }

    // Follow-ups, applied one after another to the todo app, built against its install.
    let installed = root.join("todo/node_modules");
    let follow_ups = [
        ("search", "Add a search feature", "search-bar"),
        ("blue", "make the header blue", "#2563eb"),
        ("counter", "add a counter", "counter-increment"),
        ("note", "Show a welcome banner", "request-note"),
    ];
    let mut project = todo.clone();
    for (name, prompt, marker) in follow_ups {
        eprintln!("todo + {name}: {prompt}");
        project = generate(prompt, &project);
        assert_eq!(
            project.iter().find(|file| file.path == "package.json"),
            todo.iter().find(|file| file.path == "package.json"),
            "follow-ups keep package.json"
        );
        let dir = root.join(format!("todo-{name}"));
        write_project(&dir, &project);
        std::os::unix::fs::symlink(&installed, dir.join("node_modules"))
            .expect("link node_modules");
        let bundle = built(&dir, &cache);
        for kept in ["todo-toggle", "theme-toggle", "search-bar", marker] {
            if kept == "search-bar" && name != "search" && !bundle.contains("search-bar") {
                panic!("todo + {name}: the search added before is gone");
            }
            assert!(
                bundle.contains(kept),
                "todo + {name}: built code lacks {kept}"
            );
        }
    }

    // The build type-checks: a type error fails it.
    let broken = root.join("todo-broken");
    let mut files = todo.clone();
    apply_writes(
        &mut files,
        &[ProjectFile::new(
            "src/lib/id.ts",
            "export function newId(): string {\n  return 42;\n}\n",
        )],
    );
    write_project(&broken, &files);
    std::os::unix::fs::symlink(&installed, broken.join("node_modules")).expect("link node_modules");
    let status = Command::new("npm")
        .args(["run", "build"])
        .current_dir(&broken)
        .env("npm_config_cache", &cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("npm runs");
    assert!(!status.success(), "a type error must fail npm run build");
    eprintln!("all builds in {:.1?}", started.elapsed());
}
