//! A build's `node_modules`, the fastest safe way (`BUILDWIRE_BUILD_CACHE=on`):
//!
//! 1. **Reused**: the project's own installed tree from its previous build on this host,
//!    when `package.json`, the lockfile and the project's install scripts are unchanged:
//!    copied in; nothing is downloaded and no install script runs again.
//! 2. **Shared**: a pristine install of the same dependencies (made for any project on
//!    this host, before any script ran), copied in, with its lockfile when the project has
//!    none; then `npm rebuild` runs the install scripts, offline, on this copy (skipped
//!    when the lockfile and `package.json` have none: the offline apps' stack).
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
    /// The shared install the tree came from or was kept as, for the housekeeping after
    /// the build.
    pub shared: Option<SharedSource>,
    /// The log offset after the dependency steps.
    pub next_offset: u64,
}

/// A shared install a build used, and what the housekeeping after the build owes it.
#[derive(Clone, Debug)]
pub(super) struct SharedSource {
    /// Its dependency key.
    deps: String,
    /// The lockfile hash the build's tree was installed from.
    lock_hash: String,
    /// Whether the project's entry is still to be made from it (no install script ran on
    /// the build's copy, so the install is the project's tree exactly).
    project_entry: bool,
}

/// The install scripts step: whether it ran, and the log offset after it.
struct Scripts {
    ran: bool,
    next_offset: u64,
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
        let Some(keys) = self.keys(&manifest, original_lock.as_deref(), &npmrc) else {
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
                    shared: None,
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
                         ({} files in {:.2}s)",
                        copied.files.unwrap_or_default(),
                        copied.seconds
                    ),
                )
                .await?;
                // The tree's keys with the lockfile now in `dir` (the project's, or the
                // one adopted from the install).
                let now = self.keys(
                    &manifest,
                    original_lock.as_deref().or(lockfile.as_deref()),
                    &npmrc,
                );
                let scripts = match self
                    .install_scripts(job, dir, now.as_ref(), 0, started, full)
                    .await?
                {
                    Ok(scripts) => scripts,
                    Err(failed) => return Ok(Err(failed)),
                };
                let state = project_state(&scope, now.as_ref());
                // Without install scripts the tree is the shared install exactly: the
                // project's entry is made from that after the build, off its path.
                if scripts.ran {
                    self.keep_project(&cache, dir, state.clone()).await;
                }
                let shared = copied.lock_hash.map(|lock_hash| SharedSource {
                    deps: keys.deps.clone(),
                    lock_hash,
                    project_entry: !scripts.ran,
                });
                return Ok(Ok(Ready {
                    origin: Origin::Shared,
                    lockfile,
                    state,
                    shared,
                    next_offset: scripts.next_offset,
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
        let fresh = self.keys(&manifest, written.as_deref(), &npmrc);
        let mut shared = None;
        // Shared only when npm resolved every package itself: a lockfile the project
        // brought could name any tarball (with its own integrity hash).
        if original_lock.is_none()
            && let (Some(text), Some(fresh)) = (&written, &fresh)
            && let Some(lock) = fresh.lock.as_ref().filter(|l| l.registry_only && l.in_sync)
            && fresh.shareable_manifest
        {
            let (writer, deps, text) = (cache.clone(), fresh.deps.clone(), text.clone());
            let (lock_hash, node_modules) = (lock.hash.clone(), dir.join("node_modules"));
            let stored =
                blocking(move || writer.put_shared(&deps, &lock_hash, &text, &node_modules)).await;
            shared = Some(SharedSource {
                deps: fresh.deps.clone(),
                lock_hash: lock.hash.clone(),
                // Made from it after the build when it is this very tree, untouched.
                project_entry: stored,
            });
        }
        let scripts = match self
            .install_scripts(job, dir, fresh.as_ref(), step.next_offset, started, full)
            .await?
        {
            Ok(scripts) => scripts,
            Err(failed) => return Ok(Err(failed)),
        };
        let state = project_state(&scope, fresh.as_ref());
        // As for a shared copy: with no install script run, the tree just kept as the
        // shared install is the project's, and its entry is made from that after the
        // build (one copy of `node_modules` fewer on the way to `npm run build`).
        if let Some(source) = shared.as_mut() {
            source.project_entry &= !scripts.ran;
        }
        if !shared.as_ref().is_some_and(|source| source.project_entry) {
            self.keep_project(&cache, dir, state.clone()).await;
        }
        Ok(Ok(Ready {
            origin: Origin::Installed,
            lockfile: written.filter(|text| Some(text) != original_lock.as_ref()),
            state,
            shared,
            next_offset: scripts.next_offset,
        }))
    }

    /// Runs the install scripts of a tree installed with `--ignore-scripts` (`npm
    /// rebuild`, offline, in the sandbox), unless its lockfile and `package.json` say
    /// there are none: then npm would only start to find nothing to do. Whether it ran
    /// and the log offset after it, or the failed step.
    async fn install_scripts(
        &self,
        job: &mut Job,
        dir: &Path,
        keys: Option<&ProjectKeys>,
        offset: u64,
        started: Instant,
        full: &mut FullLog,
    ) -> Result<Result<Scripts, Failed>, StageError> {
        if keys.is_some_and(|keys| !keys.has_install_scripts()) {
            note(
                job,
                full,
                "no install scripts to run (none in package-lock.json or package.json)".into(),
            )
            .await?;
            return Ok(Ok(Scripts {
                ran: false,
                next_offset: offset,
            }));
        }
        Ok(self
            .rebuild(job, dir, offset, started, full)
            .await?
            .map(|next_offset| Scripts {
                ran: true,
                next_offset,
            }))
    }

    /// `npm rebuild`: the install scripts `--ignore-scripts` skipped, offline. The log
    /// offset after it, or the failed step.
    async fn rebuild(
        &self,
        job: &mut Job,
        dir: &Path,
        offset: u64,
        started: Instant,
        full: &mut FullLog,
    ) -> Result<Result<u64, Failed>, StageError> {
        let rebuild = RunSpec::npm_rebuild(dir);
        let step = self
            .limited(
                job,
                BuildPhase::Dependencies,
                rebuild,
                offset,
                started,
                full,
            )
            .await?;
        if !step.outcome.success() {
            let what = "npm rebuild (install scripts, run without network)";
            return Ok(Err(failure(
                "NPM_INSTALL_FAILED",
                what,
                &step,
                self.timeout,
            )));
        }
        Ok(Ok(step.next_offset))
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
        let next_offset = match self
            .rebuild(job, dir, step.next_offset, started, full)
            .await?
        {
            Ok(offset) => offset,
            Err(failed) => return Ok(Err(failed)),
        };
        Ok(Ok(Ready {
            origin,
            lockfile: None,
            state: None,
            shared: None,
            next_offset,
        }))
    }

    /// A tree's keys from its `package.json`, lockfile and `.npmrc` texts.
    fn keys(&self, manifest: &str, lockfile: Option<&str>, npmrc: &str) -> Option<ProjectKeys> {
        ProjectKeys::read(manifest, lockfile, npmrc, &self.toolchain, &self.registry)
    }

    /// Keeps a copy of the project's installed tree (after its install scripts) in `dir`
    /// as its entry `state` for its follow-ups (nothing without a state: no lockfile).
    async fn keep_project(
        &self,
        cache: &Arc<InstallCache>,
        dir: &Path,
        state: Option<(String, String)>,
    ) {
        let Some((scope, key)) = state else {
            return;
        };
        let (writer, node_modules) = (cache.clone(), dir.join("node_modules"));
        blocking(move || {
            let kept = writer.put_project(&scope, &key, &node_modules);
            evict(&writer);
            kept
        })
        .await;
    }
}

/// A project's (scope, state) entry key, when its keys have a lockfile to key it by.
fn project_state(scope: &str, keys: Option<&ProjectKeys>) -> Option<(String, String)> {
    Some((scope.to_owned(), keys?.state()?))
}

/// What a restore did.
struct Restored {
    /// Files copied; `None` when the entry's spare copy was moved in.
    files: Option<u64>,
    seconds: f64,
    lockfile: Option<String>,
    lock_hash: Option<String>,
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
                lock_hash: held.lock_hash(),
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
/// Whether it stored a new entry (false when one was there already, or on failure).
async fn blocking(write: impl FnOnce() -> std::io::Result<bool> + Send + 'static) -> bool {
    match tokio::task::spawn_blocking(write).await {
        Ok(Ok(stored)) => stored,
        Ok(Err(error)) => {
            tracing::warn!(%error, "install cache: keeping an install failed");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "install cache: writer panicked");
            false
        }
    }
}

/// What follows a finished build, off the async threads and after deploy has it: the
/// project's entry when it is owed from a shared install, the tool caches the build left
/// go back to the project's entry, the entry's next spare copy is made (so a follow-up
/// takes it with a rename), then the shared install's spare (so does the next new project
/// with these dependencies), then the work dir (thousands of files) is removed.
pub(super) fn after_build(
    cache: Option<Arc<InstallCache>>,
    state: Option<(String, String)>,
    shared: Option<SharedSource>,
    dir: tempfile::TempDir,
) {
    tokio::task::spawn_blocking(move || {
        if let Some(cache) = cache {
            if let (Some((scope, key)), Some(source)) = (&state, &shared)
                && source.project_entry
            {
                let kept =
                    cache.put_project_from_shared(scope, key, &source.deps, &source.lock_hash);
                if let Err(error) = kept {
                    tracing::warn!(%error, "install cache: keeping the project's tree failed");
                }
                evict(&cache);
            }
            if let Some((scope, key)) = &state {
                if let Err(error) = cache.put_tool_caches(scope, key, dir.path()) {
                    tracing::warn!(%error, "install cache: keeping tool caches failed");
                }
                if let Err(error) = cache.make_spare(scope, key) {
                    tracing::warn!(%error, "install cache: making a spare copy failed");
                }
            }
            if let Some(source) = &shared
                && let Err(error) = cache.make_shared_spare(&source.deps)
            {
                tracing::warn!(%error, "install cache: making the shared install's spare failed");
            }
        }
        drop(dir);
    });
}

/// Evicts what the cache's limits say, logging what went.
fn evict(cache: &InstallCache) {
    let evicted = cache.evict();
    if evicted.entries > 0 {
        tracing::info!(
            entries = evicted.entries,
            bytes = evicted.bytes,
            "install cache: evicted"
        );
    }
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
