//! Running one command (`npm install`, `npm run build`) in a project directory: own
//! session, scrubbed environment, bubblewrap when available, a timeout and a cancel that
//! kill the whole process tree, output streamed line by line.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessSession};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::env::{Dirs, child_env};
use crate::error::BuildError;
use crate::host::{Host, SandboxKind, host};
use crate::lines::LogLine;
use crate::pump;
use crate::sandbox::{Mounts, bwrap_args};
use crate::tree::{Tree, TreeGuard};

/// How long a stopped tree gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(1);

/// Default limit for `npm install`.
pub const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Default limit for `npm run build`.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// The private HOME created inside the project directory.
pub const HOME_DIR: &str = ".home";

/// The private TMPDIR created inside the project directory when there is no sandbox
/// (inside bubblewrap, `/tmp` is a private tmpfs instead).
pub const TMP_DIR: &str = ".tmp";

/// How long the pipes may stay open after the tree was killed.
const DRAIN: Duration = Duration::from_millis(500);

/// How long queued lines may take to reach a receiver after a normal end or timeout.
/// The caller is expected to keep receiving; this only guards against a stuck one.
const DELIVER: Duration = Duration::from_secs(30);

/// How long queued lines may take to reach the receiver after a cancel (a cancel must
/// return quickly; late lines of a cancelled build are not worth waiting for).
const DELIVER_AFTER_CANCEL: Duration = Duration::from_millis(250);

/// Whether a run uses bubblewrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SandboxPolicy {
    /// Bubblewrap when it works on this machine, otherwise none (with a warning once).
    #[default]
    Auto,
    /// Bubblewrap or [`BuildError::SandboxUnavailable`] (for deployments that insist).
    Required,
    /// Never (tests of the fallback path, machines where bwrap misbehaves).
    Off,
}

/// One command to run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The project directory: working directory, read-write in the sandbox; the private
    /// HOME ([`HOME_DIR`]) is created inside it.
    pub dir: PathBuf,
    /// The program, looked up on the child's PATH (node's directory, then
    /// `/usr/local/bin:/usr/bin:/bin`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Wall-clock limit; past it the tree is killed and the outcome is `TimedOut`.
    pub timeout: Duration,
    /// Network access (install yes, build no). Only enforced under bubblewrap.
    pub network: bool,
    /// The npm cache, shared across builds; read-write in the sandbox.
    pub cache_dir: PathBuf,
    /// Variables added after the allowlist (e.g. `NODE_ENV=production` for the build).
    pub env: Vec<(String, String)>,
    /// Whether to sandbox.
    pub sandbox: SandboxPolicy,
}

impl RunSpec {
    /// `npm install` with network access and [`DEFAULT_INSTALL_TIMEOUT`].
    pub fn npm_install(dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            program: "npm".to_owned(),
            args: vec!["install".to_owned()],
            timeout: DEFAULT_INSTALL_TIMEOUT,
            network: true,
            cache_dir: cache_dir.into(),
            env: Vec::new(),
            sandbox: SandboxPolicy::Auto,
        }
    }

    /// `npm run build` without network, with `NODE_ENV=production` and
    /// [`DEFAULT_BUILD_TIMEOUT`].
    pub fn npm_build(dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            args: vec!["run".to_owned(), "build".to_owned()],
            timeout: DEFAULT_BUILD_TIMEOUT,
            network: false,
            env: vec![("NODE_ENV".to_owned(), "production".to_owned())],
            ..Self::npm_install(dir, cache_dir)
        }
    }
}

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It exited on its own (`code` is `None` when a signal ended it).
    Exited {
        /// The exit code.
        code: Option<i32>,
        /// Whether it exited with 0.
        success: bool,
    },
    /// It ran past [`RunSpec::timeout`]; the tree was killed.
    TimedOut,
    /// The cancel token fired; the tree was killed.
    Cancelled,
}

impl Outcome {
    /// True only for a clean exit with status 0.
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited { success: true, .. })
    }
}

/// What [`run`] reports besides the streamed lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The isolation it ran under.
    pub sandbox: SandboxKind,
    /// Wall-clock time from spawn to return.
    pub elapsed: Duration,
    /// Lines dropped because the receiver fell more than
    /// [`MAX_PENDING_BYTES`](crate::pump::MAX_PENDING_BYTES) behind (normally 0).
    pub dropped_lines: u64,
}

/// Runs `spec` to completion, timeout or cancel, streaming its output into `lines`.
///
/// Lines are delivered in order per stream with `send().await`; the child is never
/// blocked by a slow receiver (see [`crate::pump`]), but the receiver must keep reading
/// for `run` to return promptly. When the command ends for any reason, whatever is left
/// of its process tree is SIGKILLed; after a timeout or cancel the tree first gets
/// SIGTERM and [`KILL_GRACE`]. A cancel returns within 2 s (grace, then at most
/// 0.75 s for pipes and queued lines). Dropping the future also SIGKILLs the tree.
pub async fn run(
    spec: &RunSpec,
    cancel: &CancellationToken,
    lines: mpsc::Sender<LogLine>,
) -> Result<RunReport, BuildError> {
    let started = Instant::now();
    validate(spec)?;
    let host = host().await;
    let kind = choose_sandbox(spec.sandbox, host)?;
    let report = |outcome, dropped_lines| RunReport {
        outcome,
        sandbox: kind,
        elapsed: started.elapsed(),
        dropped_lines,
    };
    if cancel.is_cancelled() {
        return Ok(report(Outcome::Cancelled, 0));
    }

    let dir = canonical_dir(&spec.dir, "opening the project directory")?;
    let cache = make_dir(&spec.cache_dir, "creating the npm cache")?;
    let home = make_dir(&dir.join(HOME_DIR), "creating the private HOME")?;
    let tmp = match kind {
        SandboxKind::Bubblewrap => PathBuf::from("/tmp"),
        SandboxKind::None => make_dir(&dir.join(TMP_DIR), "creating the private TMPDIR")?,
    };

    let mut tree = Tree::new();
    let env = child_env(
        &host.path_var(),
        &Dirs {
            home: &home,
            tmp: &tmp,
            cache: &cache,
        },
        &spec.env,
        tree.token(),
    );
    let mut cmd = match (&host.bwrap, kind) {
        (Ok(bwrap), SandboxKind::Bubblewrap) => {
            let mut c = tokio::process::Command::new(bwrap);
            c.args(bwrap_args(&Mounts {
                project: &dir,
                cache: &cache,
                tools: &host.tool_mounts,
                network: spec.network,
            }));
            c.arg(&spec.program);
            c
        }
        _ => tokio::process::Command::new(&spec.program),
    };
    cmd.args(&spec.args)
        .env_clear()
        .envs(env)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut wrapped = CommandWrap::from(cmd);
    wrapped.wrap(ProcessSession).wrap(KillOnDrop);
    let mut child = wrapped.spawn().map_err(|source| BuildError::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    tree.set_group(child.id());
    let guard = TreeGuard(tree);
    tracing::debug!(program = %spec.program, args = ?spec.args, sandbox = kind.as_str(), pid = ?child.id(), "spawned");
    let pump = pump::start(child.stdout().take(), child.stderr().take(), lines);

    enum Stop {
        Exited(std::io::Result<ExitStatus>),
        TimedOut,
        Cancelled,
    }
    let stop = tokio::select! {
        biased;
        () = cancel.cancelled() => Stop::Cancelled,
        status = child.wait() => Stop::Exited(status),
        () = tokio::time::sleep(spec.timeout) => Stop::TimedOut,
    };
    let result = match stop {
        Stop::Exited(Ok(status)) => Ok(Outcome::Exited {
            code: status.code(),
            success: status.success(),
        }),
        Stop::Exited(Err(e)) => Err(BuildError::Wait(e)),
        Stop::TimedOut => {
            terminate(child.as_mut(), &guard.0).await;
            Ok(Outcome::TimedOut)
        }
        Stop::Cancelled => {
            terminate(child.as_mut(), &guard.0).await;
            Ok(Outcome::Cancelled)
        }
    };
    // Whatever the command left behind (daemons, watchers) goes too.
    guard.0.signal(Signal::SIGKILL);
    let deliver = match result {
        Ok(Outcome::Cancelled) => DELIVER_AFTER_CANCEL,
        _ => DELIVER,
    };
    let dropped = pump.finish(DRAIN, deliver).await;
    drop(guard);
    let outcome = result?;
    tracing::debug!(program = %spec.program, ?outcome, elapsed_ms = started.elapsed().as_millis() as u64, "finished");
    Ok(report(outcome, dropped))
}

/// SIGTERM the tree, give it [`KILL_GRACE`], then SIGKILL it and reap the leader.
async fn terminate(child: &mut dyn process_wrap::tokio::ChildWrapper, tree: &Tree) {
    let deadline = tokio::time::Instant::now() + KILL_GRACE;
    tree.signal(Signal::SIGTERM);
    let _ = tokio::time::timeout_at(deadline, child.wait()).await;
    while tokio::time::Instant::now() < deadline && tree.alive() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tree.signal(Signal::SIGKILL);
    let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
}

fn choose_sandbox(policy: SandboxPolicy, host: &Host) -> Result<SandboxKind, BuildError> {
    match (policy, host.sandbox_kind()) {
        (SandboxPolicy::Off, _) => Ok(SandboxKind::None),
        (SandboxPolicy::Required, SandboxKind::None) => Err(BuildError::SandboxUnavailable(
            host.sandbox_problem().unwrap_or("unknown").to_owned(),
        )),
        (_, kind) => Ok(kind),
    }
}

fn validate(spec: &RunSpec) -> Result<(), BuildError> {
    if spec.program.is_empty() || spec.program.contains('\0') {
        return Err(BuildError::InvalidSpec(
            "empty program or NUL byte".to_owned(),
        ));
    }
    if spec.args.iter().any(|a| a.contains('\0')) {
        return Err(BuildError::InvalidSpec(
            "NUL byte in an argument".to_owned(),
        ));
    }
    if spec
        .env
        .iter()
        .any(|(k, v)| k.is_empty() || k.contains(['=', '\0']) || v.contains('\0'))
    {
        return Err(BuildError::InvalidSpec(
            "bad environment variable".to_owned(),
        ));
    }
    Ok(())
}

fn canonical_dir(p: &Path, context: &'static str) -> Result<PathBuf, BuildError> {
    let real = std::fs::canonicalize(p).map_err(|e| BuildError::io(context, p, e))?;
    if !real.is_dir() {
        return Err(BuildError::InvalidSpec(format!(
            "{} is not a directory",
            p.display()
        )));
    }
    Ok(real)
}

fn make_dir(p: &Path, context: &'static str) -> Result<PathBuf, BuildError> {
    std::fs::create_dir_all(p).map_err(|e| BuildError::io(context, p, e))?;
    canonical_dir(p, context)
}
