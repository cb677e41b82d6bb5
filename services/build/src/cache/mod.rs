//! The build host's install cache, under `<data dir>/build-cache` (see [`keys`] for what
//! the keys hash):
//!
//! - `installs/<dependency key>/`: `node_modules` exactly as `npm install --ignore-scripts`
//!   left it (nothing from any project or package had run yet), with the lockfile npm
//!   wrote. Only installs whose every package is a registry tarball checked by its
//!   integrity hash are kept here, so an entry holds nothing a project supplied; any
//!   project with the same dependencies starts from a copy of it and still runs its
//!   install scripts (`npm rebuild`, when it has any) on that copy. A shared install
//!   keeps a spare copy too, so a new project takes it with a rename.
//! - `projects/<scope>/<state key>/`: one project's `node_modules` after its install
//!   scripts, keyed by its dependencies, lockfile and own install scripts, plus tool caches
//!   its builds left in `node_modules` (`.vite`, `.cache`). A follow-up whose
//!   `package.json` and lockfile are unchanged copies it and installs nothing. The scope
//!   is the user and project, so no other project ever reads it. Each project entry keeps
//!   one spare copy, made off the critical path after a build; the next follow-up takes it
//!   with a rename (the work dir is on the same filesystem) instead of copying, and a new
//!   spare is made behind it.
//!
//! Entries are written whole in `tmp/` and renamed into place; readers hold a shared lock
//! on the entry's `lease` file while they copy, and eviction (by age since last use, then
//! least recently used first past the size limit) takes the entry only when it can lock it
//! exclusively. Builds get copies (see [`copy`]): nothing in the cache is ever mounted or
//! shared writable.

pub mod copy;
pub mod keys;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use copy::{Copied, copy_tree, disk_usage};

/// Tool caches carried between a project's builds, inside `node_modules`.
const TOOL_CACHES: &[&str] = &[".vite", ".cache"];

/// A project entry's spare copy of its `node_modules`, taken by the next build.
const SPARE: &str = "spare";

/// Entries kept per project scope (its newest states).
const STATES_PER_SCOPE: usize = 2;

/// The install cache of one build host.
#[derive(Debug)]
pub struct InstallCache {
    root: PathBuf,
    max_bytes: u64,
    max_age: Duration,
}

/// A cache entry, held (shared lease) until dropped, so eviction leaves it alone.
#[derive(Debug)]
pub struct Held {
    dir: PathBuf,
    _lease: File,
}

impl Held {
    /// The entry's `node_modules`.
    pub fn node_modules(&self) -> PathBuf {
        self.dir.join("node_modules")
    }

    /// The lockfile stored with a shared install.
    pub fn lockfile(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("package-lock.json")).ok()
    }

    /// The lock hash stored with a shared install.
    pub fn lock_hash(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("lock-hash")).ok()
    }
}

/// How [`InstallCache::restore`] put an entry's `node_modules` into a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    /// The entry's spare copy was moved in (a rename: no other build can get it).
    Moved,
    /// A fresh copy was made.
    Copied(Copied),
}

/// What an eviction pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Entries removed.
    pub entries: usize,
    /// Bytes they took.
    pub bytes: u64,
}

impl InstallCache {
    /// The cache at `root`, created when missing; leftovers of interrupted writes are
    /// removed. Entries unused for `max_age` go, then the least recently used while the
    /// cache holds more than `max_bytes`.
    pub fn open(root: &Path, max_bytes: u64, max_age: Duration) -> io::Result<InstallCache> {
        for dir in ["installs", "projects", "tmp", "trash"] {
            fs::create_dir_all(root.join(dir))?;
        }
        for dir in ["tmp", "trash"] {
            for entry in fs::read_dir(root.join(dir))?.flatten() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Ok(InstallCache {
            root: root.to_path_buf(),
            max_bytes,
            max_age,
        })
    }

    fn project_dir(&self, scope: &str, state: &str) -> PathBuf {
        self.root.join("projects").join(scope).join(state)
    }

    fn install_dir(&self, deps: &str) -> PathBuf {
        self.root.join("installs").join(deps)
    }

    /// The project's installed tree for `state`, if kept.
    pub fn project(&self, scope: &str, state: &str) -> Option<Held> {
        hold(&self.project_dir(scope, state))
    }

    /// The shared install for dependency key `deps`, if kept.
    pub fn shared(&self, deps: &str) -> Option<Held> {
        hold(&self.install_dir(deps))
    }

    /// Puts a copy of `held`'s `node_modules` (and, for a project entry, its tool caches)
    /// into the project at `project`, which must have no `node_modules` yet: the entry's
    /// spare when it has one (moved, so no other build ever gets it), else a fresh copy.
    pub fn restore(&self, held: &Held, project: &Path) -> io::Result<Placed> {
        let target = project.join("node_modules");
        let placed = match fs::rename(held.dir.join(SPARE), &target) {
            Ok(()) => Placed::Moved,
            Err(_) => Placed::Copied(copy_tree(&held.node_modules(), &target)?),
        };
        let caches = held.dir.join("caches");
        for name in TOOL_CACHES {
            let cached = caches.join(name);
            if cached.is_dir() && !target.join(name).exists() {
                copy_tree(&cached, &target.join(name))?;
            }
        }
        Ok(placed)
    }

    /// Keeps a copy of `node_modules`, fresh from `npm install --ignore-scripts`, as the
    /// shared install for `deps` with its `lockfile`. False when one is kept already.
    pub fn put_shared(
        &self,
        deps: &str,
        lock_hash: &str,
        lockfile: &str,
        node_modules: &Path,
    ) -> io::Result<bool> {
        let target = self.install_dir(deps);
        if target.exists() {
            return Ok(false);
        }
        self.put(
            &target,
            node_modules,
            &[("package-lock.json", lockfile), ("lock-hash", lock_hash)],
        )
    }

    /// Keeps a copy of a project's `node_modules` (after its install scripts) for `state`;
    /// older states of the scope beyond the newest few are dropped. False when kept
    /// already.
    pub fn put_project(&self, scope: &str, state: &str, node_modules: &Path) -> io::Result<bool> {
        let target = self.project_dir(scope, state);
        if target.exists() {
            return Ok(false);
        }
        fs::create_dir_all(self.root.join("projects").join(scope))?;
        let stored = self.put(&target, node_modules, &[])?;
        self.prune_scope(scope);
        Ok(stored)
    }

    /// Makes the spare copy of a project state's `node_modules` the next build takes, if
    /// it has none (run it after a build, off the critical path).
    pub fn make_spare(&self, scope: &str, state: &str) -> io::Result<()> {
        match self.project(scope, state) {
            Some(held) => self.spare_for(&held),
            None => Ok(()),
        }
    }

    /// Makes the spare copy of the shared install of `deps`, so the next new project with
    /// these dependencies takes it with a rename instead of copying (after a build, off
    /// the critical path).
    pub fn make_shared_spare(&self, deps: &str) -> io::Result<()> {
        match self.shared(deps) {
            Some(held) => self.spare_for(&held),
            None => Ok(()),
        }
    }

    /// Keeps the shared install of `deps` as a project's `state`, when it still holds the
    /// lockfile `lock_hash` (a tree copied from it that ran no install script is that
    /// install exactly). False when there is no such install or the state is kept already.
    pub fn put_project_from_shared(
        &self,
        scope: &str,
        state: &str,
        deps: &str,
        lock_hash: &str,
    ) -> io::Result<bool> {
        match self.shared(deps) {
            Some(held) if held.lock_hash().as_deref() == Some(lock_hash) => {
                self.put_project(scope, state, &held.node_modules())
            }
            _ => Ok(false),
        }
    }

    /// Copies `held`'s `node_modules`, which no build ever writes, to its spare unless it
    /// has one; eviction waits while `held` is held.
    fn spare_for(&self, held: &Held) -> io::Result<()> {
        let spare = held.dir.join(SPARE);
        if spare.exists() {
            return Ok(());
        }
        let staging = self.root.join("tmp").join(unique("spare"));
        if let Err(error) = copy_tree(&held.node_modules(), &staging) {
            let _ = fs::remove_dir_all(&staging);
            return Err(error);
        }
        if fs::rename(&staging, &spare).is_err() {
            // Another build made one first.
            let _ = fs::remove_dir_all(&staging);
        }
        Ok(())
    }

    /// Replaces the tool caches kept with a project state by those the build left in
    /// `project/node_modules` (skipped while another build copies them).
    pub fn put_tool_caches(&self, scope: &str, state: &str, project: &Path) -> io::Result<()> {
        let dir = self.project_dir(scope, state);
        let present: Vec<&str> = TOOL_CACHES
            .iter()
            .copied()
            .filter(|name| project.join("node_modules").join(name).is_dir())
            .collect();
        if present.is_empty() || !dir.is_dir() {
            return Ok(());
        }
        let lease = File::open(dir.join("lease"))?;
        if lease.try_lock().is_err() {
            return Ok(());
        }
        let fresh = self.root.join("tmp").join(unique("caches"));
        fs::create_dir(&fresh)?;
        for name in present {
            copy_tree(&project.join("node_modules").join(name), &fresh.join(name))?;
        }
        let caches = dir.join("caches");
        if caches.exists() {
            let old = self.root.join("trash").join(unique("caches"));
            fs::rename(&caches, &old)?;
            let _ = fs::remove_dir_all(old);
        }
        fs::rename(&fresh, &caches)
    }

    /// Writes an entry whole in `tmp/`, then renames it to `target`.
    fn put(&self, target: &Path, node_modules: &Path, extra: &[(&str, &str)]) -> io::Result<bool> {
        let staging = self.root.join("tmp").join(unique("entry"));
        fs::create_dir(&staging)?;
        let written = (|| {
            copy_tree(node_modules, &staging.join("node_modules"))?;
            for (name, text) in extra {
                fs::write(staging.join(name), text)?;
            }
            fs::write(staging.join("lease"), "")?;
            // One copy; eviction counts the spare twice (see `entries_in`).
            fs::write(staging.join("bytes"), disk_usage(&staging).to_string())
        })();
        if let Err(error) = written {
            let _ = fs::remove_dir_all(&staging);
            return Err(error);
        }
        match fs::rename(&staging, target) {
            Ok(()) => Ok(true),
            // Another build kept the same entry first.
            Err(_) if target.exists() => {
                let _ = fs::remove_dir_all(&staging);
                Ok(false)
            }
            Err(error) => {
                let _ = fs::remove_dir_all(&staging);
                Err(error)
            }
        }
    }

    /// Drops a scope's states beyond its newest [`STATES_PER_SCOPE`].
    fn prune_scope(&self, scope: &str) {
        let mut states = entries_in(&self.root.join("projects").join(scope));
        states.sort_by_key(|entry| std::cmp::Reverse(entry.used));
        for entry in states.into_iter().skip(STATES_PER_SCOPE) {
            self.remove(&entry.dir);
        }
    }

    /// Removes entries unused for the maximum age, then the least recently used while the
    /// cache is over its size. Entries being copied are skipped.
    pub fn evict(&self) -> Evicted {
        let mut all = entries_in(&self.root.join("installs"));
        for scope in fs::read_dir(self.root.join("projects"))
            .into_iter()
            .flatten()
            .flatten()
        {
            all.extend(entries_in(&scope.path()));
        }
        all.sort_by_key(|entry| entry.used);
        let now = SystemTime::now();
        let mut total: u64 = all.iter().map(|entry| entry.bytes).sum();
        let mut evicted = Evicted::default();
        for entry in all {
            let old = now
                .duration_since(entry.used)
                .is_ok_and(|age| age > self.max_age);
            if (old || total > self.max_bytes) && self.remove(&entry.dir) {
                total = total.saturating_sub(entry.bytes);
                evicted.entries += 1;
                evicted.bytes += entry.bytes;
            }
        }
        // Scopes left empty go too (removing a non-empty one fails, harmlessly).
        for scope in fs::read_dir(self.root.join("projects"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = fs::remove_dir(scope.path());
        }
        evicted
    }

    /// Moves an entry to `trash/` and deletes it, if no build holds it.
    fn remove(&self, dir: &Path) -> bool {
        let Ok(lease) = File::open(dir.join("lease")) else {
            return false;
        };
        if lease.try_lock().is_err() {
            return false;
        }
        let trash = self.root.join("trash").join(unique("evicted"));
        let moved = fs::rename(dir, &trash).is_ok();
        drop(lease);
        if moved {
            let _ = fs::remove_dir_all(trash);
        }
        moved
    }
}

/// An entry seen by eviction.
struct Entry {
    dir: PathBuf,
    used: SystemTime,
    bytes: u64,
}

/// The entries directly under `dir`.
fn entries_in(dir: &Path) -> Vec<Entry> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let dir = entry.path();
            let used = fs::metadata(dir.join("lease")).ok()?.modified().ok()?;
            let one: u64 = fs::read_to_string(dir.join("bytes"))
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(0);
            // A spare is a second full copy of the entry's `node_modules`.
            let copies = if dir.join(SPARE).is_dir() { 2 } else { 1 };
            Some(Entry {
                dir,
                used,
                bytes: one.saturating_mul(copies),
            })
        })
        .collect()
}

/// Takes a shared lease on the entry at `dir` and marks it used; `None` when absent (or
/// evicted meanwhile).
fn hold(dir: &Path) -> Option<Held> {
    let lease = File::options().write(true).open(dir.join("lease")).ok()?;
    lease.lock_shared().ok()?;
    // Eviction renames the whole entry away: still at its place means still ours.
    if !dir.join("lease").exists() {
        return None;
    }
    let _ = lease.set_modified(SystemTime::now());
    Some(Held {
        dir: dir.to_path_buf(),
        _lease: lease,
    })
}

/// A name no other writer of this cache uses.
fn unique(what: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{what}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests;
