//! Running one command (`npm install`, `npm rebuild`, `npm run build`) in a project
//! directory: own session, scrubbed environment, bubblewrap (unless deliberately turned
//! off), network and the shared npm cache only for npm's download step, a timeout and a
//! cancel that kill the whole process tree, output streamed line by line.

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
use crate::sandbox::{Mounts, SANDBOX_HOME, bwrap_args};
use crate::tree::{Tree, TreeGuard};

/// How long a stopped tree gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(1);

/// Default limit for `npm install`.
pub const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Default limit for `npm run build`.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(300);

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
    /// Bubblewrap or [`BuildError::SandboxUnavailable`]: never a silent fallback.
    #[default]
    Required,
    /// Never: the deliberate opt-out (`BUILDWIRE_SANDBOX=off`) for trusted code and
    /// machines without bubblewrap. The download step still runs no lifecycle scripts,
    /// but every script and the build run with the worker's files and network.
    Off,
}

/// What a run may reach besides its project directory.
///
/// Two kinds of work, never mixed: npm downloading packages (network, the shared cache,
/// no code from the project or its packages) and running that code (neither).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// npm's own download step: the host's network and the shared npm cache (read-write).
    /// Lifecycle scripts are forced off, `git` is git, TLS is verified against the
    /// operator's CAs (environment settings, which outrank any `.npmrc` and reach nested
    /// npm processes), so only npm and git run here, configured by the operator.
    Fetch {
        /// The npm cache shared across builds.
        cache_dir: PathBuf,
    },
    /// Anything that runs code from the project or its packages (install scripts, the
    /// build): no network (under bubblewrap an empty network namespace, so not even the
    /// host's loopback), a private empty npm cache, npm in offline mode.
    Offline,
}

/// One command to run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The project directory: working directory, read-write in the sandbox.
    pub dir: PathBuf,
    /// The program, looked up on the child's PATH (node's directory, then
    /// `/usr/local/bin:/usr/bin:/bin`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Wall-clock limit; past it the tree is killed and the outcome is `TimedOut`.
    pub timeout: Duration,
    /// Network and shared cache, or neither. The network is only enforced under
    /// bubblewrap.
    pub access: Access,
    /// Variables added after the allowlist (e.g. `NODE_ENV=production` for the build).
    pub env: Vec<(String, String)>,
    /// Whether to sandbox.
    pub sandbox: SandboxPolicy,
}

impl RunSpec {
    /// `npm install --ignore-scripts`: downloads and links packages with network access
    /// and the shared cache, running none of their scripts nor the project's own;
    /// [`DEFAULT_INSTALL_TIMEOUT`].
    pub fn npm_install(dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            program: "npm".to_owned(),
            args: vec!["install".to_owned(), "--ignore-scripts".to_owned()],
            timeout: DEFAULT_INSTALL_TIMEOUT,
            access: Access::Fetch {
                cache_dir: cache_dir.into(),
            },
            env: Vec::new(),
            sandbox: SandboxPolicy::Required,
        }
    }

    /// `npm ci --ignore-scripts --prefer-offline`: installs exactly what the project's
    /// lockfile lists, from the shared cache where it has them, running no scripts;
    /// network and cache as [`RunSpec::npm_install`].
    pub fn npm_ci(dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            args: ["ci", "--ignore-scripts", "--prefer-offline"]
                .map(str::to_owned)
                .to_vec(),
            ..Self::npm_install(dir, cache_dir)
        }
    }

    /// The same download, taking packages and their metadata from the shared cache where
    /// it has them (`--prefer-offline`): the network only for what the cache lacks.
    pub fn prefer_offline(mut self) -> Self {
        if !self.args.iter().any(|arg| arg == "--prefer-offline") {
            self.args.push("--prefer-offline".to_owned());
        }
        self
    }

    /// `npm rebuild --foreground-scripts` without network: the install scripts the
    /// download step skipped (every package's `preinstall`, `install`, `postinstall` and
    /// the project's own; not `prepare`), in npm's order, output in the log;
    /// [`DEFAULT_INSTALL_TIMEOUT`].
    pub fn npm_rebuild(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            program: "npm".to_owned(),
            args: vec!["rebuild".to_owned(), "--foreground-scripts".to_owned()],
            timeout: DEFAULT_INSTALL_TIMEOUT,
            access: Access::Offline,
            env: Vec::new(),
            sandbox: SandboxPolicy::Required,
        }
    }

    /// `npm run build` without network, with `NODE_ENV=production` and
    /// [`DEFAULT_BUILD_TIMEOUT`].
    pub fn npm_build(dir: impl Into<PathBuf>) -> Self {
        Self {
            args: vec!["run".to_owned(), "build".to_owned()],
            timeout: DEFAULT_BUILD_TIMEOUT,
            env: vec![("NODE_ENV".to_owned(), "production".to_owned())],
            ..Self::npm_rebuild(dir)
        }
    }
}

/// The npm commands of one build, in the order the build stage runs them: download
/// ([`RunSpec::npm_install`]), install scripts ([`RunSpec::npm_rebuild`]), build
/// ([`RunSpec::npm_build`]). Nothing from the project runs before the network is gone.
pub fn npm_steps(dir: &Path, cache_dir: &Path) -> [RunSpec; 3] {
    [
        RunSpec::npm_install(dir, cache_dir),
        RunSpec::npm_rebuild(dir),
        RunSpec::npm_build(dir),
    ]
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
/// SIGTERM and [`KILL_GRACE`]. A cancel returns after the grace, the reaping and at
/// most 0.75 s for pipes and queued lines (under 2 s on a quiet machine). Dropping the
/// future also SIGKILLs the tree.
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
    let shared_cache = match &spec.access {
        Access::Fetch { cache_dir } => Some(make_dir(cache_dir, "creating the npm cache")?),
        Access::Offline => None,
    };
    let private = Private::new(kind)?;
    let cache = shared_cache
        .clone()
        .unwrap_or_else(|| private.tmp.join("npm-cache"));

    let forced = match shared_cache {
        Some(_) => host.download_pins.clone(),
        None => vec![("npm_config_offline".to_owned(), "true".to_owned())],
    };
    let mut tree = Tree::new();
    let env = child_env(
        &host.path_var(),
        &Dirs {
            home: &private.home,
            tmp: &private.tmp,
            cache: &cache,
        },
        &spec.env,
        &forced,
        tree.token(),
    );
    let mut cmd = match (&host.bwrap, kind) {
        (Ok(bwrap), SandboxKind::Bubblewrap) => {
            let mut c = tokio::process::Command::new(bwrap);
            c.args(bwrap_args(&Mounts {
                project: &dir,
                cache: shared_cache.as_deref(),
                tools: &host.tool_mounts,
                network: shared_cache.is_some(),
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
    drop(private);
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

/// A run's own HOME and TMPDIR, fresh each time and outside the project: under
/// bubblewrap on the sandbox's private `/tmp` tmpfs (gone with the sandbox), otherwise in
/// a private host temp dir removed when the run returns.
struct Private {
    home: PathBuf,
    tmp: PathBuf,
    /// Keeps the host temp dir alive for the run (none under bubblewrap).
    _host: Option<tempfile::TempDir>,
}

impl Private {
    fn new(kind: SandboxKind) -> Result<Self, BuildError> {
        if kind == SandboxKind::Bubblewrap {
            return Ok(Self {
                home: PathBuf::from(SANDBOX_HOME),
                tmp: PathBuf::from("/tmp"),
                _host: None,
            });
        }
        let context = "creating the run's private HOME and TMPDIR";
        let host = tempfile::Builder::new()
            .prefix("buildwire-run-")
            .tempdir()
            .map_err(|e| BuildError::io(context, std::env::temp_dir(), e))?;
        Ok(Self {
            home: make_dir(&host.path().join("home"), context)?,
            tmp: make_dir(&host.path().join("tmp"), context)?,
            _host: Some(host),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_sandbox_is_refused_unless_turned_off() {
        assert_eq!(SandboxPolicy::default(), SandboxPolicy::Required);
        let host = Host {
            path: Vec::new(),
            tool_mounts: Vec::new(),
            bwrap: Err("bwrap not found on PATH".to_owned()),
            download_pins: Vec::new(),
            toolchain: String::new(),
            registry: String::new(),
        };
        assert!(matches!(
            choose_sandbox(SandboxPolicy::Required, &host),
            Err(BuildError::SandboxUnavailable(why)) if why.contains("not found")
        ));
        assert_eq!(
            choose_sandbox(SandboxPolicy::Off, &host).ok(),
            Some(SandboxKind::None)
        );
    }

    #[test]
    fn only_the_download_step_gets_network_and_the_cache() {
        let [install, rebuild, build] = npm_steps(Path::new("/p"), Path::new("/c"));
        assert_eq!(
            install.access,
            Access::Fetch {
                cache_dir: PathBuf::from("/c")
            }
        );
        assert_eq!(install.args, ["install", "--ignore-scripts"]);
        assert_eq!(rebuild.access, Access::Offline);
        assert_eq!(rebuild.args[0], "rebuild");
        assert_eq!(build.access, Access::Offline);
        assert_eq!(build.args, ["run", "build"]);
        for spec in [install, rebuild, build] {
            assert_eq!(spec.sandbox, SandboxPolicy::Required);
        }
        let ci = RunSpec::npm_ci("/p", "/c");
        assert_eq!(ci.args, ["ci", "--ignore-scripts", "--prefer-offline"]);
        assert!(matches!(ci.access, Access::Fetch { .. }));
        let install = RunSpec::npm_install("/p", "/c")
            .prefer_offline()
            .prefer_offline();
        assert_eq!(
            install.args,
            ["install", "--ignore-scripts", "--prefer-offline"]
        );
    }
}
