//! Smoke test of the harness: the scenarios on tiny sizes against every target (the edge,
//! socket.io, the bare broadcaster), asserting correctness only (every edge viewer got
//! every event once and in order, the tables printed), never timing. Needs the
//! `buildwire` binary of the same profile (built with the workspace) and the socket.io
//! baseline's `node_modules` (`scripts/setup`).

use std::path::PathBuf;
use std::process::Command;

fn bench() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_buildwire-bench"))
}

/// `target/<profile>/buildwire`, next to the bench binary.
fn buildwire() -> PathBuf {
    let path = bench().with_file_name("buildwire");
    assert!(
        path.is_file(),
        "no {}: build it first (cargo build -p buildwire)",
        path.display()
    );
    path
}

fn require_socketio() {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("socketio/node_modules/socket.io");
    assert!(
        modules.is_dir(),
        "the socket.io baseline is not installed: run scripts/setup (npm ci --prefix bench/socketio)"
    );
}

/// Runs `buildwire-bench <args> --no-pin --check`; returns stdout after asserting success.
fn run(args: &[&str]) -> String {
    require_socketio();
    let output = Command::new(bench())
        .args(args)
        .args(["--no-pin", "--check", "--concurrency", "64"])
        .arg("--buildwire")
        .arg(buildwire())
        .output()
        .expect("buildwire-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "buildwire-bench {args:?} failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// The row of `target` in a text table, split into cells.
fn row<'a>(table: &'a str, target: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|line| {
            line.trim_start_matches(['│', '|', ' '])
                .starts_with(&format!("{target} "))
        })
        .unwrap_or_else(|| panic!("no {target} row in:\n{table}"))
        .split(['┆', '│'])
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect()
}

#[test]
fn fanout_delivers_every_event_on_every_target() {
    let out = run(&[
        "fanout",
        "--viewers",
        "20",
        "--builds",
        "5",
        "--seconds",
        "1",
        "--burst",
        "5",
    ]);
    assert!(out.contains("fanout: 20 viewers over 5 builds"), "{out}");
    for target in ["edge-ws", "edge-sse", "socketio", "bare"] {
        let cells = row(&out, target);
        // ... gaps, dups, reconnects are the last three columns.
        assert_eq!(
            &cells[cells.len() - 3..],
            ["0", "0", "0"],
            "{target}: {out}"
        );
    }
    assert!(
        out.contains("edge-ws / socketio") && out.contains("edge-ws / bare"),
        "{out}"
    );
}

#[test]
fn storm_resumes_every_edge_viewer_without_gaps() {
    let out = run(&[
        "storm",
        "--viewers",
        "20",
        "--builds",
        "5",
        "--history",
        "5",
        "--missed",
        "2",
    ]);
    let edge = row(&out, "edge-ws");
    assert_eq!(edge[4], "20", "every edge viewer caught up: {out}");
    assert_eq!(
        &edge[edge.len() - 2..],
        ["0", "0"],
        "no gaps or dups: {out}"
    );
    row(&out, "socketio");
    row(&out, "bare");
}

#[test]
fn memory_reads_every_server_rss() {
    let out = run(&[
        "memory",
        "--viewers",
        "20",
        "--builds",
        "5",
        "--targets",
        "edge-ws,socketio,bare",
    ]);
    for target in ["edge-ws", "socketio", "bare"] {
        let cells = row(&out, target);
        let per_viewer: f64 = cells[1].parse().unwrap_or(0.0);
        assert!(
            per_viewer > 0.0,
            "{target}: a positive RSS per viewer: {out}"
        );
    }
}
