//! A build's `node_modules`, the fastest safe way (`BUILDWIRE_BUILD_CACHE=on`):
//!
//! 1. **Reused**: the project's own installed tree from its previous build on this host,
//!    when `package.json`, the lockfile and the project's install scripts are unchanged:
//!    copied in; nothing is downloaded and no install script runs again.
//! 2. **Shared**: a pristine install of the same dependencies (made for any project on
//!    this host, before any script ran), copied in, with its lockfile when the project has
//!    none; then `npm rebuild` runs the install scripts, offline, on this copy.
//! 3. **Installed**: `npm ci --ignore-scripts --prefer-offline` when the lockfile matches
//!    `package.json`, else `npm install --ignore-scripts --prefer-offline` (which writes
//!    the lockfile), then `npm rebuild`; the fresh install is kept for others (when every
//!    package is a checked registry tarball) and the project's tree for its follow-ups.
//!
//! With `BUILDWIRE_BUILD_CACHE=off` every build runs `npm install --ignore-scripts` and
//! `npm rebuild`, as before the cache existed. The sandbox rules are the runner's on every
//! path: only npm's download step has network and the shared npm cache.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use buildwire_runtime::stage::{Job, StageError};
use buildwire_schemas::EventBody;
use buildwire_schemas::events::{BuildPhase, BuildUpdate, Severity};

use super::{BuildStage, failure, phase_event};
use crate::cache::keys::{ProjectKeys, adopt_lockfile, hash_text};
use crate::cache::{Held, InstallCache, Placed};
use crate::{FullLog, RunSpec};

/// Where a build's `node_modules` came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// The project's previous build on this host: no install, no install scripts.
    Reused,
    /// This host's pristine install of the same dependencies, then the install scripts.
    Shared,
    /// `npm ci` / `npm install`, then the install scripts.
    Installed,
    /// `npm install` without the cache (`BUILDWIRE_BUILD_CACHE=off`).
    Baseline,
}

impl Origin {
    /// How the build log and `build_completed` name it.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Origin::Reused => "reused from the project's previous build",
            Origin::Shared => "copied from this host's install of the same dependencies",
            Origin::Installed => "installed",
            Origin::Baseline => "installed (no build cache)",
        }
    }
}

/// A build's dependencies, in place.
pub(super) struct Ready {
    /// Where they came from.
    pub origin: Origin,
    /// The lockfile to keep in the project's tree, when new or changed.
    pub lockfile: Option<String>,
    /// The project's cache entry (scope, state), whose tool caches the build refreshes.
    pub state: Option<(String, String)>,
    /// The log offset after the dependency steps.
    pub next_offset: u64,
}

/// A step that failed: the build fails with it, its log stored.
pub(super) type Failed = StageError;

impl BuildStage {
    /// Puts the project's dependencies in `dir`. The outer error stops the build as it is
    /// (cancel, NATS); the inner one is a failed npm step whose log is worth keeping.
    pub(super) async fn dependencies(
        &self,
        job: &mut Job,
        dir: &Path,
        started: Instant,
        full: &mut FullLog,
    ) -> Result<Result<Ready, Failed>, StageError> {
        let Some(cache) = self.cache.clone() else {
            let install = RunSpec::npm_install(dir, &self.cache_dir);
            return self
                .scripts_after(job, dir, install, Origin::Baseline, started, full)
                .await;
        };
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let manifest = read("package.json").unwrap_or_default();
        let original_lock = read("package-lock.json");
        let npmrc = read(crate::npmrc::FILE).unwrap_or_default();
        let keys = ProjectKeys::read(
            &manifest,
            original_lock.as_deref(),
            &npmrc,
            &self.toolchain,
            &self.registry,
        );
        let Some(keys) = keys else {
            // No usable package.json: npm says why.
            let install = RunSpec::npm_install(dir, &self.cache_dir).prefer_offline();
            return self
                .scripts_after(job, dir, install, Origin::Installed, started, full)
                .await;
        };
        let scope = hash_text(&format!(
            "{}\0{}",
            job.command.user_id,
            job.command.project_id.as_deref().unwrap_or_default()
        ));

        // 1. The project's own tree, when nothing that decides it changed.
        if let (Some(state), Some(lock)) = (keys.state(), keys.lock.as_ref())
            && lock.in_sync
        {
            let (wanted_scope, wanted_state) = (scope.clone(), state.clone());
            let found = restore(&cache, dir, move |c| {
                c.project(&wanted_scope, &wanted_state)
            })
            .await;
            if let Some(copied) = found {
                let how = match copied.files {
                    None => format!("its spare copy moved in, {:.2}s", copied.seconds),
                    Some(files) => format!("{files} files copied in {:.2}s", copied.seconds),
                };
                note(
                    job,
                    full,
                    format!(
                        "node_modules: reused from this project's previous build \
                         (package.json and package-lock.json unchanged; {how}): nothing to \
                         install, no install scripts to run"
                    ),
                )
                .await?;
                return Ok(Ok(Ready {
                    origin: Origin::Reused,
                    lockfile: None,
                    state: Some((scope, state)),
                    next_offset: 0,
                }));
            }
        }

        // 2. A pristine install of the same dependencies.
        let lock_fits = keys.lock.as_ref().is_none_or(|lock| lock.in_sync);
        if keys.shareable_manifest && lock_fits {
            let wanted = keys.lock.as_ref().map(|lock| lock.hash.clone());
            let deps = keys.deps.clone();
            let found = restore(&cache, dir, move |c| {
                c.shared(&deps)
                    .filter(|held| wanted.is_none() || held.lock_hash() == wanted)
            })
            .await;
            if let Some(copied) = found {
                let mut lockfile = None;
                if original_lock.is_none() {
                    let adopted = copied
                        .lockfile
                        .as_deref()
                        .and_then(|lock| adopt_lockfile(lock, &manifest));
                    if let Some(text) = &adopted
                        && std::fs::write(dir.join("package-lock.json"), text).is_ok()
                    {
                        lockfile = adopted;
                    }
                }
                note(
                    job,
                    full,
                    format!(
                        "node_modules: copied from this host's install of the same dependencies \
                         ({} files in {:.2}s); running their install scripts",
                        copied.files.unwrap_or_default(),
                        copied.seconds
                    ),
                )
                .await?;
                let rebuild = RunSpec::npm_rebuild(dir);
                let step = self
                    .limited(job, BuildPhase::Dependencies, rebuild, 0, started, full)
                    .await?;
                if !step.outcome.success() {
                    return Ok(Err(rebuild_failed(&step, self)));
                }
                let state = self.keep_project(&cache, dir, &scope, &npmrc).await;
                return Ok(Ok(Ready {
                    origin: Origin::Shared,
                    lockfile,
                    state,
                    next_offset: step.next_offset,
                }));
            }
        }

        // 3. Install: exactly the lockfile when it fits, else resolve (preferring the cache).
        let install = match &keys.lock {
            Some(lock) if lock.in_sync => RunSpec::npm_ci(dir, &self.cache_dir),
            _ => RunSpec::npm_install(dir, &self.cache_dir).prefer_offline(),
        };
        let what = install.args.first().cloned().unwrap_or_default();
        let step = self
            .limited(job, BuildPhase::Dependencies, install, 0, started, full)
            .await?;
        if !step.outcome.success() {
            let what = format!("npm {what}");
            return Ok(Err(failure(
                "NPM_INSTALL_FAILED",
                &what,
                &step,
                self.timeout,
            )));
        }
        let written = read("package-lock.json");
        // Shared only when npm resolved every package itself: a lockfile the project
        // brought could name any tarball (with its own integrity hash).
        if original_lock.is_none()
            && let Some(text) = &written
            && let Some(fresh) = ProjectKeys::read(
                &manifest,
                Some(text),
                &npmrc,
                &self.toolchain,
                &self.registry,
            )
            && let Some(lock) = fresh.lock.filter(|lock| lock.registry_only && lock.in_sync)
            && fresh.shareable_manifest
        {
            let (cache, deps, text) = (cache.clone(), fresh.deps, text.clone());
            let node_modules = dir.join("node_modules");
            blocking(move || cache.put_shared(&deps, &lock.hash, &text, &node_modules)).await;
        }
        let rebuild = RunSpec::npm_rebuild(dir);
        let step = self
            .limited(
                job,
                BuildPhase::Dependencies,
                rebuild,
                step.next_offset,
                started,
                full,
            )
            .await?;
        if !step.outcome.success() {
            return Ok(Err(rebuild_failed(&step, self)));
        }
        let state = self.keep_project(&cache, dir, &scope, &npmrc).await;
        Ok(Ok(Ready {
            origin: Origin::Installed,
            lockfile: written.filter(|text| Some(text) != original_lock.as_ref()),
            state,
            next_offset: step.next_offset,
        }))
    }

    /// `install`, then `npm rebuild`; nothing kept.
    async fn scripts_after(
        &self,
        job: &mut Job,
        dir: &Path,
        install: RunSpec,
        origin: Origin,
        started: Instant,
        full: &mut FullLog,
    ) -> Result<Result<Ready, Failed>, StageError> {
        let step = self
            .limited(job, BuildPhase::Dependencies, install, 0, started, full)
            .await?;
        if !step.outcome.success() {
            return Ok(Err(failure(
                "NPM_INSTALL_FAILED",
                "npm install",
                &step,
                self.timeout,
            )));
        }
        let rebuild = RunSpec::npm_rebuild(dir);
        let step = self
            .limited(
                job,
                BuildPhase::Dependencies,
                rebuild,
                step.next_offset,
                started,
                full,
            )
            .await?;
        if !step.outcome.success() {
            return Ok(Err(rebuild_failed(&step, self)));
        }
        Ok(Ok(Ready {
            origin,
            lockfile: None,
            state: None,
            next_offset: step.next_offset,
        }))
    }

    /// Keeps a copy of the project's installed tree (after its install scripts) for its
    /// follow-ups; its (scope, state) when the project has a lockfile to key it by.
    async fn keep_project(
        &self,
        cache: &Arc<InstallCache>,
        dir: &Path,
        scope: &str,
        npmrc: &str,
    ) -> Option<(String, String)> {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let manifest = read("package.json")?;
        let lock = read("package-lock.json")?;
        let state = ProjectKeys::read(
            &manifest,
            Some(&lock),
            npmrc,
            &self.toolchain,
            &self.registry,
        )?
        .state()?;
        let (writer, node_modules) = (cache.clone(), dir.join("node_modules"));
        let (entry_scope, key) = (scope.to_owned(), state.clone());
        blocking(move || {
            let kept = writer.put_project(&entry_scope, &key, &node_modules);
            let evicted = writer.evict();
            if evicted.entries > 0 {
                tracing::info!(
                    entries = evicted.entries,
                    bytes = evicted.bytes,
                    "install cache: evicted"
                );
            }
            kept
        })
        .await;
        Some((scope.to_owned(), state))
    }
}

fn rebuild_failed(step: &super::Step, stage: &BuildStage) -> StageError {
    let what = "npm rebuild (install scripts, run without network)";
    failure("NPM_INSTALL_FAILED", what, step, stage.timeout)
}

/// What a restore did.
struct Restored {
    /// Files copied; `None` when the entry's spare copy was moved in.
    files: Option<u64>,
    seconds: f64,
    lockfile: Option<String>,
}

/// Copies the entry `find` holds into `dir/node_modules` (replacing one already there, as
/// after an auto-fix changed `package.json`); `None` when there is none or the copy failed
/// (then nothing is left half-copied).
async fn restore(
    cache: &Arc<InstallCache>,
    dir: &Path,
    find: impl FnOnce(&InstallCache) -> Option<Held> + Send + 'static,
) -> Option<Restored> {
    let (cache, dir) = (cache.clone(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let held = find(&cache)?;
        let at = Instant::now();
        let target = dir.join("node_modules");
        if std::fs::symlink_metadata(&target).is_ok() {
            let _ = std::fs::remove_dir_all(&target);
        }
        match cache.restore(&held, &dir) {
            Ok(placed) => Some(Restored {
                files: match placed {
                    Placed::Moved => None,
                    Placed::Copied(copied) => Some(copied.files),
                },
                seconds: at.elapsed().as_secs_f64(),
                lockfile: held.lockfile(),
            }),
            Err(error) => {
                tracing::warn!(%error, "install cache: restoring node_modules failed; installing");
                let _ = std::fs::remove_dir_all(dir.join("node_modules"));
                None
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Runs a cache write off the async threads; a failure is logged, never the build's.
async fn blocking(write: impl FnOnce() -> std::io::Result<bool> + Send + 'static) {
    match tokio::task::spawn_blocking(write).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "install cache: keeping an install failed"),
        Err(error) => tracing::warn!(%error, "install cache: writer panicked"),
    }
}

/// What follows a finished build, off the async threads and after deploy has it: the
/// tool caches the build left go back to the project's entry, the entry's next spare copy
/// is made (so a follow-up takes it with a rename), then the work dir (thousands of files)
/// is removed.
pub(super) fn after_build(
    cache: Option<Arc<InstallCache>>,
    state: Option<(String, String)>,
    dir: tempfile::TempDir,
) {
    tokio::task::spawn_blocking(move || {
        if let (Some(cache), Some((scope, key))) = (cache, state) {
            if let Err(error) = cache.put_tool_caches(&scope, &key, dir.path()) {
                tracing::warn!(%error, "install cache: keeping tool caches failed");
            }
            if let Err(error) = cache.make_spare(&scope, &key) {
                tracing::warn!(%error, "install cache: making a spare copy failed");
            }
        }
        drop(dir);
    });
}

/// A line in the build's log and its viewers' `build_progress`.
async fn note(job: &mut Job, full: &mut FullLog, line: String) -> Result<(), StageError> {
    full.push_text(&line);
    job.emit(EventBody::BuildProgress(BuildUpdate {
        severity: Some(Severity::Info),
        ..phase_event(BuildPhase::Dependencies, Some(vec![line]))
    }))
    .await?;
    Ok(())
}
