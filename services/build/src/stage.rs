//! The build stage handler (`build.*.cmd.build`): the project tree saved by `execute` is
//! written into a throwaway directory, its `.npmrc` cut down ([`crate::npmrc`]), then
//! [`crate::npm_steps`] run there through [`crate::runner`]: `npm install --ignore-scripts`
//! (network, shared cache, nothing from the project runs), `npm rebuild` (install
//! scripts) and `npm run build` (no network, no shared cache), all sandboxed with a
//! scrubbed environment, whole-tree timeout and cancel. Their output streams out as
//! batched `build_progress` events, the full log goes to the `logs` bucket, the built
//! `dist/` to `artifacts`, and the build moves on to `deploy`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use buildwire_runtime::nats::Nats;
use buildwire_runtime::objects::{Artifacts, Bucket, Sources};
use buildwire_runtime::signing::UrlSigner;
use buildwire_runtime::stage::{Job, StageError, StageHandler};
use buildwire_runtime::{Config, paths};
use buildwire_schemas::events::{BuildPhase, BuildUpdate, Severity, StatusCode, StatusUpdate};
use buildwire_schemas::{BuildStatus, EventBody, Stage};
use tokio::sync::mpsc;

use crate::{
    Batcher, BuildError, FullLog, Outcome, RunSpec, SandboxKind, SandboxPolicy, Stream, npm_steps,
    npmrc, run,
};

/// Most files a build may publish.
pub const MAX_ARTIFACT_FILES: usize = 2_000;
/// Most bytes a build may publish.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// Builds projects with npm.
#[derive(Clone, Debug)]
pub struct BuildStage {
    sources: Sources,
    artifacts: Artifacts,
    logs: Bucket,
    work_root: PathBuf,
    cache_dir: PathBuf,
    timeout: Duration,
    signer: UrlSigner,
    public_base: String,
    sandbox: SandboxPolicy,
}

impl BuildStage {
    /// Work under `<data dir>/builds`, npm cache under `<data dir>/npm-cache`, the time
    /// limit from `BUILD_TIMEOUT_MS` (shared by the npm steps), the sandbox from
    /// `BUILDWIRE_SANDBOX` (probed now, so a missing one is reported at start).
    pub async fn from_config(
        config: &Config,
        nats: &Nats,
    ) -> buildwire_runtime::Result<BuildStage> {
        let data_dir = std::path::absolute(&config.data_dir)?;
        let work_root = data_dir.join("builds");
        let cache_dir = data_dir.join("npm-cache");
        std::fs::create_dir_all(&work_root)?;
        std::fs::create_dir_all(&cache_dir)?;
        let sandbox = if config.sandbox == "off" {
            tracing::warn!(
                "BUILDWIRE_SANDBOX=off: package scripts and npm run build run WITHOUT a \
                 sandbox, with this worker's files and network; only for trusted code"
            );
            SandboxPolicy::Off
        } else {
            let host = crate::host().await;
            if host.sandbox_kind() == SandboxKind::None {
                tracing::error!(
                    reason = host.sandbox_problem().unwrap_or("unknown"),
                    "no working bubblewrap: every build will fail with SANDBOX_UNAVAILABLE \
                     (install bubblewrap, or set BUILDWIRE_SANDBOX=off for trusted code only)"
                );
            }
            SandboxPolicy::Required
        };
        Ok(BuildStage {
            sources: Sources::open(nats).await?,
            artifacts: Artifacts::open(nats).await?,
            logs: Bucket::open(nats, "logs").await?,
            work_root,
            cache_dir,
            timeout: Duration::from_millis(config.build_timeout_ms),
            signer: UrlSigner::from_config(config)?,
            public_base: config.public_base(),
            sandbox,
        })
    }
}

fn status(code: StatusCode, message: &str, progress: u8) -> EventBody {
    EventBody::Status(StatusUpdate {
        code,
        message: message.into(),
        progress: Some(progress),
        build_status: Some(BuildStatus::Building),
    })
}

fn phase_event(phase: BuildPhase, logs: Option<Vec<String>>) -> BuildUpdate {
    BuildUpdate {
        stage: Some(phase),
        logs,
        ..BuildUpdate::default()
    }
}

/// How one npm step went, for the build's log and its failure message.
struct Step {
    outcome: Outcome,
    next_offset: u64,
    tail: Vec<String>,
}

impl BuildStage {
    /// Runs one npm step, streaming its lines as `build_progress` batches.
    async fn step(
        &self,
        job: &mut Job,
        phase: BuildPhase,
        spec: RunSpec,
        offset: u64,
        full: &mut FullLog,
    ) -> Result<Step, StageError> {
        full.push_text(&format!("$ {} {}", spec.program, spec.args.join(" ")));
        let (tx, rx) = mpsc::channel(1024);
        let cancel = job.cancelled().clone();
        let mut batcher = Batcher::new(rx, offset);
        let mut tail: Vec<String> = Vec::new();
        let running = run(&spec, &cancel, tx);
        let streaming = async {
            while let Some(batch) = batcher.next().await {
                let mut severity = Severity::Info;
                let mut lines = Vec::with_capacity(batch.lines.len());
                for line in &batch.lines {
                    full.push(line);
                    if line.stream == Stream::Stderr && line.text.contains("ERR") {
                        severity = Severity::Error;
                    }
                    lines.push(line.text.clone());
                }
                tail.extend(lines.iter().cloned());
                let excess = tail.len().saturating_sub(15);
                tail.drain(..excess);
                let body = EventBody::BuildProgress(BuildUpdate {
                    severity: Some(severity),
                    ..phase_event(phase, Some(lines))
                });
                job.emit_keyed(&format!("log:{}", batch.offset), body)
                    .await?;
            }
            Ok::<u64, StageError>(batcher.next_offset())
        };
        let (report, next_offset) = tokio::join!(running, streaming);
        let report = report.map_err(|e| match e {
            BuildError::SandboxUnavailable(why) => StageError::fatal(
                "SANDBOX_UNAVAILABLE",
                format!(
                    "this worker has no working bubblewrap ({why}), and package code never runs \
                     unsandboxed unless BUILDWIRE_SANDBOX=off is set"
                ),
            ),
            e => StageError::retryable("BUILD_RUNNER", e.to_string()),
        })?;
        let next_offset = next_offset?;
        Ok(Step {
            outcome: report.outcome,
            next_offset,
            tail,
        })
    }

    /// [`Self::step`] with this stage's sandbox policy and what is left of
    /// `BUILD_TIMEOUT_MS` since `started` (at least a second).
    async fn limited(
        &self,
        job: &mut Job,
        phase: BuildPhase,
        mut spec: RunSpec,
        offset: u64,
        started: Instant,
        full: &mut FullLog,
    ) -> Result<Step, StageError> {
        spec.sandbox = self.sandbox;
        spec.timeout = self
            .timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        self.step(job, phase, spec, offset, full).await
    }

    /// Stores the full log in the `logs` bucket; answers its signed, expiring URL.
    async fn store_log(&self, build_id: &str, full: FullLog) -> Result<String, StageError> {
        let stored = full
            .finish()
            .map_err(|e| StageError::retryable("BUILD_LOG", e.to_string()))?;
        let name = match stored.content_encoding {
            Some("gzip") => format!("{build_id}/build.log.gz"),
            _ => format!("{build_id}/build.log"),
        };
        self.logs.put(&name, &stored.bytes).await?;
        let path = format!("/v1/builds/{build_id}/logs/build");
        let now = chrono::Utc::now().timestamp();
        Ok(format!(
            "{}{path}?{}",
            self.public_base,
            self.signer.sign(&path, now)
        ))
    }

    /// A failed step: its log is stored, and the error names the log's URL.
    async fn failed(&self, build_id: &str, full: FullLog, error: StageError) -> StageError {
        let url = match self.store_log(build_id, full).await {
            Ok(url) => url,
            Err(_) => return error,
        };
        match error {
            StageError::Fatal { code, message } => StageError::Fatal {
                code,
                message: format!("{message}\nFull log: {url}"),
            },
            other => other,
        }
    }

    /// Copies `dist/` into the artifacts bucket.
    async fn publish_dist(&self, build_id: &str, dist: &Path) -> Result<usize, StageError> {
        let files = dist_files(dist)?;
        for (rel, _) in &files {
            let data = tokio::fs::read(dist.join(rel))
                .await
                .map_err(|e| StageError::retryable("ARTIFACT_READ", e.to_string()))?;
            self.artifacts.put(build_id, rel, &data).await?;
        }
        Ok(files.len())
    }
}

/// The files `dist/` publishes, checked: `dist` a real directory (the build wrote it, and
/// a symlink there would publish whatever host directory it names), an `index.html`,
/// within [`MAX_ARTIFACT_FILES`] and [`MAX_ARTIFACT_BYTES`].
fn dist_files(dist: &Path) -> Result<Vec<(String, u64)>, StageError> {
    if !std::fs::symlink_metadata(dist).is_ok_and(|m| m.is_dir()) {
        return Err(StageError::fatal(
            "NO_OUTPUT",
            "npm run build produced no dist/ directory",
        ));
    }
    let mut files = Vec::new();
    collect_files(dist, dist, &mut files)
        .map_err(|e| StageError::fatal("NO_OUTPUT", format!("reading dist/: {e}")))?;
    if !files.iter().any(|(rel, _)| rel == "index.html") {
        return Err(StageError::fatal(
            "NO_OUTPUT",
            "npm run build produced no dist/index.html",
        ));
    }
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    if files.len() > MAX_ARTIFACT_FILES || total > MAX_ARTIFACT_BYTES {
        return Err(StageError::fatal(
            "OUTPUT_TOO_LARGE",
            format!("dist/ has {} files, {total} bytes", files.len()),
        ));
    }
    Ok(files)
}

/// Regular files under `dir` (symlinks skipped), as paths relative to `root` and sizes.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            collect_files(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            if paths::check(&rel).is_ok() {
                out.push((rel, entry.metadata()?.len()));
            }
        }
    }
    Ok(())
}

fn failure(code: &str, what: &str, step: &Step, limit: Duration) -> StageError {
    let tail = step.tail.join("\n");
    match step.outcome {
        Outcome::TimedOut => StageError::fatal(
            "BUILD_TIMEOUT",
            format!(
                "{what} ran past BUILD_TIMEOUT_MS ({} ms) and was killed",
                limit.as_millis()
            ),
        ),
        Outcome::Cancelled => StageError::Cancelled,
        Outcome::Exited { code: exit, .. } => {
            StageError::fatal(code, format!("{what} failed (exit {exit:?}):\n{tail}"))
        }
    }
}

impl StageHandler for BuildStage {
    fn stage(&self) -> Stage {
        Stage::Build
    }

    async fn handle(&self, job: &mut Job) -> Result<(), StageError> {
        let build_id = job.command.build_id.clone();
        let tree = self
            .sources
            .of_build(&build_id)
            .await?
            .ok_or_else(|| StageError::fatal("NO_SOURCES", "execute saved no project files"))?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{build_id}-"))
            .tempdir_in(&self.work_root)
            .map_err(|e| StageError::retryable("WORKDIR", e.to_string()))?;
        paths::materialize(dir.path(), &tree)
            .map_err(|e| StageError::fatal("INVALID_PATH", e.to_string()))?;
        let started = Instant::now();
        let mut full = FullLog::new();

        job.emit(status(
            StatusCode::Install,
            "Installing dependencies...",
            30,
        ))
        .await?;
        job.emit(EventBody::BuildStarted(phase_event(
            BuildPhase::Dependencies,
            None,
        )))
        .await?;
        let dropped = npmrc::restrict(dir.path())
            .map_err(|e| StageError::retryable("WORKDIR", format!("reading .npmrc: {e}")))?;
        if !dropped.is_empty() {
            let line = format!(
                "{}: ignored {} (only dependency-resolution settings apply)",
                npmrc::FILE,
                dropped.join(", ")
            );
            full.push_text(&line);
            job.emit(EventBody::BuildProgress(BuildUpdate {
                severity: Some(Severity::Warning),
                ..phase_event(BuildPhase::Dependencies, Some(vec![line]))
            }))
            .await?;
        }
        let [install, scripts, compile] = npm_steps(dir.path(), &self.cache_dir);
        let step = self
            .limited(
                job,
                BuildPhase::Dependencies,
                install,
                0,
                started,
                &mut full,
            )
            .await?;
        if !step.outcome.success() {
            let error = failure("NPM_INSTALL_FAILED", "npm install", &step, self.timeout);
            return Err(self.failed(&build_id, full, error).await);
        }
        let step = self
            .limited(
                job,
                BuildPhase::Dependencies,
                scripts,
                step.next_offset,
                started,
                &mut full,
            )
            .await?;
        if !step.outcome.success() {
            let what = "npm rebuild (install scripts, run without network)";
            let error = failure("NPM_INSTALL_FAILED", what, &step, self.timeout);
            return Err(self.failed(&build_id, full, error).await);
        }

        job.emit(status(StatusCode::Build, "Building application...", 60))
            .await?;
        let step = self
            .limited(
                job,
                BuildPhase::Compile,
                compile,
                step.next_offset,
                started,
                &mut full,
            )
            .await?;
        if !step.outcome.success() {
            let error = failure("NPM_BUILD_FAILED", "npm run build", &step, self.timeout);
            return Err(self.failed(&build_id, full, error).await);
        }

        job.emit(status(StatusCode::Optimize, "Optimizing assets...", 80))
            .await?;
        let published = self
            .publish_dist(&build_id, &dir.path().join("dist"))
            .await?;
        let build_log_url = self.store_log(&build_id, full).await?;
        job.emit(EventBody::BuildCompleted(BuildUpdate {
            logs: Some(vec![format!(
                "built {published} files in {:.1}s",
                started.elapsed().as_secs_f64()
            )]),
            build_log_url: Some(build_log_url.clone()),
            ..phase_event(BuildPhase::Optimize, None)
        }))
        .await?;
        let mut command = job.command.clone();
        command
            .extra
            .insert("buildLogUrl".into(), build_log_url.into());
        job.forward(Stage::Deploy, &command).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_setting_is_bubblewrap_unless_turned_off() {
        let load =
            |v: &str| Config::load_from(None, [("BUILDWIRE_SANDBOX".to_owned(), v.to_owned())]);
        assert_eq!(load("").expect("unset").sandbox, "bubblewrap");
        assert_eq!(load("off").expect("off").sandbox, "off");
        let refused = load("none").expect_err("unknown value");
        assert!(
            refused.to_string().contains("BUILDWIRE_SANDBOX"),
            "{refused}"
        );
    }

    #[test]
    fn dist_must_be_a_real_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host_dir = tmp.path().join("host");
        std::fs::create_dir(&host_dir).expect("host dir");
        std::fs::write(host_dir.join("index.html"), "<html>").expect("index");
        std::fs::write(host_dir.join("jwt-keys"), "secret").expect("secret");
        let dist = tmp.path().join("dist");
        std::os::unix::fs::symlink(&host_dir, &dist).expect("symlink");
        assert!(
            matches!(dist_files(&dist), Err(StageError::Fatal { code, .. }) if code == "NO_OUTPUT")
        );

        std::fs::remove_file(&dist).expect("unlink");
        std::fs::create_dir(&dist).expect("dist");
        std::fs::write(dist.join("index.html"), "<html>").expect("index");
        std::os::unix::fs::symlink(&host_dir, dist.join("linked")).expect("symlink");
        let files = dist_files(&dist).expect("real dist");
        assert_eq!(
            files,
            [("index.html".to_owned(), 6)],
            "links inside are skipped"
        );
    }
}
