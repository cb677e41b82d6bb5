//! The build stage handler (`build.*.cmd.build`): the project tree saved by `execute` is
//! written into a throwaway directory and its `.npmrc` cut down ([`crate::npmrc`]); the
//! build waits for one of the host's build slots ([`crate::slots`], telling its viewers its
//! place), gets its `node_modules` ([`deps`]: reused, copied from the install cache, or
//! `npm ci`/`npm install --ignore-scripts` with network and the shared npm cache, then
//! `npm rebuild` for install scripts), keeps a new lockfile in the project's tree, then
//! runs `npm run build` (no network, no shared cache); every npm step is sandboxed through
//! [`crate::runner`] with a scrubbed environment, whole-tree timeout and cancel. Output
//! streams out as batched `build_progress` events, the full log goes to the `logs` bucket,
//! the built `dist/` to `artifacts`, and the build moves on to `deploy`.

mod deps;
mod output;
// Auto-fix (issue 16): src/autofix.rs, a child module so it can run this stage's steps.
#[path = "autofix.rs"]
mod autofix;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buildwire_runtime::nats::Nats;
use buildwire_runtime::objects::{Artifacts, Bucket, FileTree, Sources};
use buildwire_runtime::signing::UrlSigner;
use buildwire_runtime::stage::{Job, StageError, StageHandler};
use buildwire_runtime::{Config, paths};
use buildwire_schemas::commands::build_log_path;
use buildwire_schemas::events::{BuildPhase, BuildUpdate, Severity, StatusCode, StatusUpdate};
use buildwire_schemas::{BuildStatus, EventBody, Stage};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::cache::InstallCache;
use crate::slots::{BuildSlots, Slot, Turn};
use crate::{
    Batcher, BuildError, FullLog, Outcome, RunSpec, SandboxKind, SandboxPolicy, Stream, npmrc, run,
};
use output::dist_files;

pub use output::{MAX_ARTIFACT_BYTES, MAX_ARTIFACT_FILES};

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
    /// The install cache; `None` with `BUILDWIRE_BUILD_CACHE=off`.
    cache: Option<Arc<InstallCache>>,
    /// The host's build slots (`BUILDWIRE_BUILD_CONCURRENCY`).
    slots: Arc<BuildSlots>,
    /// node's and npm's versions, part of every install cache key.
    toolchain: String,
    /// The operator's registry: only its tarballs go into shared installs.
    registry: String,
    /// Auto-fix of a failed `npm run build` (`autofix.rs`, [`BuildStage::with_autofix`]);
    /// `None`: off.
    autofix: Option<autofix::AutoFix>,
}

impl BuildStage {
    /// Work under `<data dir>/builds`, the npm cache at `BUILDWIRE_NPM_CACHE` (default
    /// `<data dir>/npm-cache`), the install cache under `<data dir>/build-cache` unless
    /// `BUILDWIRE_BUILD_CACHE=off`, `BUILDWIRE_BUILD_CONCURRENCY` slots, the time limit from
    /// `BUILD_TIMEOUT_MS` (shared by the npm steps), the sandbox from `BUILDWIRE_SANDBOX`
    /// (probed now, so a missing one is reported at start).
    pub async fn from_config(
        config: &Config,
        nats: &Nats,
    ) -> buildwire_runtime::Result<BuildStage> {
        let data_dir = std::path::absolute(&config.data_dir)?;
        let work_root = data_dir.join("builds");
        let cache_dir = match &config.npm_cache {
            Some(dir) => std::path::absolute(dir)?,
            None => data_dir.join("npm-cache"),
        };
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
        let cache = if config.build_cache == "off" {
            tracing::info!("BUILDWIRE_BUILD_CACHE=off: a full npm install for every build");
            None
        } else {
            let cache = InstallCache::open(
                &data_dir.join("build-cache"),
                config.build_cache_max_mb.saturating_mul(1024 * 1024),
                Duration::from_secs(config.build_cache_max_age_hours.saturating_mul(3600)),
            )?;
            Some(Arc::new(cache))
        };
        let slots = BuildSlots::new(config.build_concurrency());
        tracing::info!(slots = slots.limit(), "build slots");
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
            cache,
            slots,
            toolchain: crate::host().await.toolchain().to_owned(),
            registry: crate::host().await.registry().to_owned(),
            autofix: None,
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
        // Its own span in the build's trace: `npm install`, `npm rebuild`, `npm run build`.
        let command: Vec<&str> = std::iter::once(spec.program.as_str())
            .chain(spec.args.iter().map(String::as_str))
            .take_while(|arg| !arg.starts_with('-'))
            .collect();
        let span = buildwire_runtime::build_span!(
            "npm",
            job.command.build_id,
            job.command.request_id,
            otel.name = %command.join(" ")
        );
        self.step(job, phase, spec, offset, full)
            .instrument(span)
            .await
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
        let slot = self.wait_for_slot(job).await?;
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
        let ready = match self
            .dependencies(job, dir.path(), started, &mut full)
            .await?
        {
            Ok(ready) => ready,
            Err(error) => return Err(self.failed(&build_id, full, error).await),
        };
        let installed_in = started.elapsed();
        if let Some(lockfile) = &ready.lockfile {
            self.keep_lockfile(job, tree, lockfile).await;
        }

        job.emit(status(StatusCode::Build, "Building application...", 60))
            .await?;
        let compile = RunSpec::npm_build(dir.path());
        let compiling = Instant::now();
        let step = self
            .limited(
                job,
                BuildPhase::Compile,
                compile,
                ready.next_offset,
                started,
                &mut full,
            )
            .await?;
        drop(slot);
        let compiled_in = compiling.elapsed();
        // Auto-fix (issue 16, autofix.rs): a failed build goes back to the model; `step` is
        // then the last rebuild's.
        let step = self.autofix(job, dir.path(), step, &mut full).await?;
        if !step.outcome.success() {
            let error = failure("NPM_BUILD_FAILED", "npm run build", &step, self.timeout);
            return Err(self.failed(&build_id, full, error).await);
        }

        job.emit(status(StatusCode::Optimize, "Optimizing assets...", 80))
            .await?;
        let upload =
            buildwire_runtime::build_span!("upload artifacts", build_id, job.command.request_id);
        let published = self
            .publish_dist(&build_id, &dir.path().join("dist"))
            .instrument(upload)
            .await?;
        self.store_log(&build_id, full).await?;
        job.emit(EventBody::BuildCompleted(BuildUpdate {
            logs: Some(vec![format!(
                "built {published} files in {:.1}s (dependencies {} in {:.1}s, npm run build {:.1}s)",
                started.elapsed().as_secs_f64(),
                ready.origin.describe(),
                installed_in.as_secs_f64(),
                compiled_in.as_secs_f64(),
            )]),
            // A reference to the stored log: the edge signs it each time it is sent.
            build_log_url: Some(build_log_path(&build_id)),
            ..phase_event(BuildPhase::Optimize, None)
        }))
        .await?;
        let command = job.command.clone();
        job.forward(Stage::Deploy, &command).await?;
        // Once deploy has the build: the cache's housekeeping, then the work dir goes.
        deps::after_build(self.cache.clone(), ready.state, ready.shared, dir);
        Ok(())
    }
}

impl BuildStage {
    /// Waits in line for a build slot, telling viewers their place whenever it changes
    /// (`status` `QUEUED`: "Waiting for a build slot (2 ahead)").
    async fn wait_for_slot(&self, job: &mut Job) -> Result<Slot, StageError> {
        let mut waiter = self.slots.waiter();
        loop {
            let turn = tokio::select! {
                turn = waiter.next() => turn,
                () = job.cancelled().cancelled() => return Err(StageError::Cancelled),
            };
            match turn {
                Turn::Go(slot) => return Ok(slot),
                Turn::Wait(ahead) => {
                    let message = match ahead {
                        0 => "Waiting for a build slot (next in line)".to_owned(),
                        n => format!("Waiting for a build slot ({n} ahead)"),
                    };
                    job.emit(EventBody::Status(StatusUpdate {
                        code: StatusCode::Queued,
                        message,
                        progress: Some(25),
                        build_status: Some(BuildStatus::Building),
                    }))
                    .await?;
                }
            }
        }
    }

    /// Keeps the lockfile npm wrote (or the cache supplied) in the project's tree:
    /// `builds/<id>` in `sources`, and the project's newest tree when it is still this
    /// build's, so the next build of the project installs exactly these versions. Failing
    /// to save it costs a later build time, never this one.
    async fn keep_lockfile(&self, job: &Job, tree: FileTree, lockfile: &str) {
        let build_id = &job.command.build_id;
        let mut kept = tree.clone();
        kept.insert("package-lock.json".into(), lockfile.to_owned());
        if let Err(error) = self.sources.save(build_id, None, &kept).await {
            tracing::warn!(%error, "could not keep the lockfile with the build's sources");
            return;
        }
        if let Some(project) = job.command.project_id.as_deref() {
            match self.sources.of_project(project).await {
                Ok(Some(newest)) if newest == tree => {
                    if let Err(error) = self.sources.save(build_id, Some(project), &kept).await {
                        tracing::warn!(%error, "could not keep the lockfile with the project");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not read the project's sources"),
            }
        }
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
}
