//! Killing a command's whole process tree, including processes that left its process
//! group (`setsid`, double fork).
//!
//! Two nets: the process group the child leads (`killpg`), and a per-run marker in the
//! child's environment that every descendant inherits, found by scanning
//! `/proc/<pid>/environ`. Under bubblewrap a third applies: killing `bwrap` tears down the
//! sandbox's pid namespace (`--die-with-parent`, `--unshare-pid`).

use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The environment variable carrying the per-run marker. Harmless to expose: a random
/// token that only identifies the run.
pub(crate) const MARKER_VAR: &str = "SANDBOX_RUN_ID";

/// One run's process tree.
#[derive(Debug)]
pub(crate) struct Tree {
    pgid: Option<Pid>,
    /// `MARKER_VAR=<token>`, as it appears in `/proc/<pid>/environ`.
    needle: Vec<u8>,
    token: String,
}

impl Tree {
    /// A tree with a fresh marker; [`Tree::set_group`] once the leader is spawned.
    pub(crate) fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let token = format!(
            "{}-{}-{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Self {
            pgid: None,
            needle: format!("{MARKER_VAR}={token}").into_bytes(),
            token,
        }
    }

    /// The marker value to put in the child's environment.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Records the leader's pid, which is also its process group id.
    pub(crate) fn set_group(&mut self, leader: Option<u32>) {
        self.pgid = leader
            .and_then(|p| i32::try_from(p).ok())
            .filter(|&p| p > 1)
            .map(Pid::from_raw);
    }

    /// Sends `sig` to the group and to every marked process; returns how many marked
    /// processes were signalled.
    pub(crate) fn signal(&self, sig: Signal) -> usize {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, sig);
        }
        let marked = self.marked();
        for pid in &marked {
            let _ = kill(*pid, sig);
        }
        marked.len()
    }

    /// How many live processes still carry our marker.
    pub(crate) fn alive(&self) -> usize {
        self.marked().len()
    }

    /// Live (non-zombie) processes carrying our marker. Zombies have an empty environ.
    fn marked(&self) -> Vec<Pid> {
        let me = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != me && pid > 1)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == self.needle))
            })
            .filter_map(|pid| i32::try_from(pid).ok().map(Pid::from_raw))
            .collect()
    }
}

/// SIGKILLs the tree when dropped, so a `run` future that is dropped mid-way (the caller
/// gave up) leaves nothing behind.
#[derive(Debug)]
pub(crate) struct TreeGuard(pub(crate) Tree);

impl Drop for TreeGuard {
    fn drop(&mut self) {
        self.0.signal(Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique() {
        assert_ne!(Tree::new().token(), Tree::new().token());
    }

    #[test]
    fn never_targets_init_or_a_missing_group() {
        let mut t = Tree::new();
        t.set_group(Some(1));
        assert!(t.pgid.is_none());
        t.set_group(None);
        assert_eq!(t.signal(Signal::SIGKILL), 0);
    }
}
