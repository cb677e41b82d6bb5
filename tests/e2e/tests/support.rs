//! Helpers shared by the e2e modules: worker processes and submitted commands.

use std::{path::Path, process::Stdio, time::Duration};

use buildwire_runtime::{nats::Nats, publish::Publisher};
use buildwire_schemas::{Stage, StageCommand};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// A `probe-stage` process.
pub struct Worker {
    pub child: Child,
    pid: i32,
}

impl Worker {
    /// Starts `probe-stage` against `url` with the definitions in `defs`, waiting until it
    /// consumes. `env` adds settings (`PROBE_STEP_DELAY_MS`, `BUILDWIRE_DRAIN_TIMEOUT_MS`, ...).
    pub async fn start(url: &str, defs: &Path, env: &[(&str, &str)]) -> Worker {
        Self::spawn(url, defs, env, Stdio::inherit()).await
    }

    /// [`Worker::start`] with its log (stderr) written to `path`.
    pub async fn start_logging_to(
        url: &str,
        defs: &Path,
        env: &[(&str, &str)],
        path: &Path,
    ) -> Worker {
        let file = std::fs::File::create(path).expect("log file");
        Self::spawn(url, defs, env, Stdio::from(file)).await
    }

    async fn spawn(url: &str, defs: &Path, env: &[(&str, &str)], stderr: Stdio) -> Worker {
        let mut command = Command::new(env!("CARGO_BIN_EXE_probe-stage"));
        command
            .env("NATS_URL", url)
            .env("BUILDWIRE_NATS_DEFINITIONS", defs)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("probe-stage starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        assert!(
            matches!(ready, Ok(Ok(Some(ref l))) if l == "ready"),
            "probe-stage did not get ready: {ready:?}"
        );
        let pid = i32::try_from(child.id().expect("running")).expect("pid fits");
        Worker { child, pid }
    }

    /// The process id (kept after the process exits).
    pub fn pid_before_exit(&self) -> i32 {
        self.pid
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), signal)
            .expect("signal delivered");
    }
}

/// A fresh build id.
pub fn build_id() -> String {
    ulid::Ulid::generate().to_string()
}

/// Submits a plan command whose probe behaviour is `probe`.
pub async fn submit(nats: &Nats, build_id: &str, probe: serde_json::Value) -> StageCommand {
    let mut command = StageCommand {
        build_id: build_id.into(),
        request_id: format!("req-{build_id}"),
        user_id: "user-1".into(),
        prompt: "probe".into(),
        project_id: None,
        parent_build_id: None,
        restore_from_build_id: None,
        plan: None,
        extra: Default::default(),
    };
    command.extra.insert("probe".into(), probe);
    Publisher::new(nats.js.clone())
        .command(Stage::Plan, &command, &format!("{build_id}:submit"))
        .await
        .expect("command stored");
    command
}

/// Lines of the probe log file.
pub fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// How many commands for `build_id` wait on `build.<id>.cmd.<stage>` (retried while the
/// stream is unavailable).
pub async fn commands_waiting(nats: &Nats, build_id: &str, stage: Stage) -> u64 {
    let subject = buildwire_schemas::subjects::command(build_id, stage);
    buildwire_testkit::eventually(Duration::from_secs(30), "CMDS to answer", || async {
        let stream = nats.js.get_stream("CMDS").await.ok()?;
        let mut subjects = stream.info_with_subjects(subject.clone()).await.ok()?;
        let mut count = 0;
        while let Ok(Some((s, n))) = futures::TryStreamExt::try_next(&mut subjects).await {
            if s == subject {
                count += n as u64;
            }
        }
        Some(count)
    })
    .await
}
