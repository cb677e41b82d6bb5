//! What this machine offers a build, found once per process: where node and npm live
//! (for the child's PATH and the sandbox's mounts), whether bubblewrap works, and the npm
//! settings the download step pins (the operator's CA bundle among them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::sandbox::{Mounts, bwrap_args};

/// The PATH every child starts from; node/npm directories are put in front of it.
const BASE_PATH: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin"];

/// How long the bubblewrap probe may take before we call it broken.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// System CA bundles, tried in order when npm's global config names no `cafile`.
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Which isolation a command ran under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxKind {
    /// bubblewrap: private mount, pid, network (unless allowed), ipc and uts namespaces.
    Bubblewrap,
    /// No sandbox: own session and process group, scrubbed environment only.
    None,
}

impl SandboxKind {
    /// A short name for logs and tests: `"bubblewrap"` or `"none"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxKind::Bubblewrap => "bubblewrap",
            SandboxKind::None => "none",
        }
    }
}

/// The machine's node/npm layout and sandbox support, probed once.
#[derive(Debug)]
pub struct Host {
    /// The child's PATH entries, in order.
    pub(crate) path: Vec<PathBuf>,
    /// node/npm install roots outside `/usr`, bound read-only in the sandbox.
    pub(crate) tool_mounts: Vec<PathBuf>,
    /// A working `bwrap`, or why there is none.
    pub(crate) bwrap: Result<PathBuf, String>,
    /// npm settings forced into the download step's environment (see [`download_pins`]).
    pub(crate) download_pins: Vec<(String, String)>,
    /// node's and npm's versions and the platform (`node v20.20.2, npm 11.19.1,
    /// linux-x86_64`): installs made with another toolchain are not reused.
    pub(crate) toolchain: String,
    /// The registry npm downloads from (npm's global config; default npmjs.org): only its
    /// tarballs go into installs shared between projects.
    pub(crate) registry: String,
}

impl Host {
    /// The sandbox [`Required`](crate::runner::SandboxPolicy::Required) runs use; `None`
    /// means they are refused.
    pub fn sandbox_kind(&self) -> SandboxKind {
        match self.bwrap {
            Ok(_) => SandboxKind::Bubblewrap,
            Err(_) => SandboxKind::None,
        }
    }

    /// Why bubblewrap is not used, when it is not.
    pub fn sandbox_problem(&self) -> Option<&str> {
        self.bwrap.as_ref().err().map(String::as_str)
    }

    /// node's and npm's versions and the platform, as the install cache keys them.
    pub fn toolchain(&self) -> &str {
        &self.toolchain
    }

    /// The registry URL npm downloads from, ending in `/`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The PATH value given to children.
    pub(crate) fn path_var(&self) -> String {
        self.path
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join(":")
    }
}

static HOST: OnceCell<Host> = OnceCell::const_new();

/// Probes the machine on first use (node/npm location, a real bubblewrap run) and returns
/// the cached answer afterwards.
pub async fn host() -> &'static Host {
    HOST.get_or_init(probe).await
}

/// `"bubblewrap"` or `"none"` once [`host`] has run (any [`run`](crate::runner::run)
/// does), `"unprobed"` before.
pub fn sandbox_kind() -> &'static str {
    HOST.get().map_or("unprobed", |h| h.sandbox_kind().as_str())
}

async fn probe() -> Host {
    let (path, tool_mounts) = toolchain();
    let bwrap = probe_bwrap(&tool_mounts).await;
    match &bwrap {
        Ok(p) => tracing::info!(bwrap = %p.display(), "build sandbox: bubblewrap"),
        Err(why) => tracing::warn!(
            reason = %why,
            "build sandbox unavailable: builds are refused unless BUILDWIRE_SANDBOX=off"
        ),
    }
    let mut host = Host {
        path,
        tool_mounts,
        bwrap,
        download_pins: Vec::new(),
        toolchain: String::new(),
        registry: String::new(),
    };
    let node = version_of("node", &host.path_var()).await;
    let npm = version_of("npm", &host.path_var()).await;
    host.toolchain = format!(
        "node {node}, npm {npm}, {}-{}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    host.registry = npm_config("registry", &host.path_var())
        .await
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
        .map(|url| {
            if url.ends_with('/') {
                url
            } else {
                format!("{url}/")
            }
        })
        .unwrap_or_else(|| "https://registry.npmjs.org/".to_owned());
    let cafile = operator_cafile(&host.path_var())
        .await
        .or_else(|| CA_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()));
    if cafile.is_none() {
        tracing::warn!("no CA bundle found: a package's .npmrc could choose the download's CAs");
    }
    host.download_pins = download_pins(cafile.as_deref());
    host
}

/// The download step's forced npm settings. The environment outranks every `.npmrc`
/// except the command line, and nested npm processes inherit it: a git dependency with
/// build scripts is prepared by a nested `npm install` that reads that package's own
/// `.npmrc`, which could otherwise name a program to run as `git` (with network) or turn
/// TLS checks off and trust its own CA (and so store forged packages in the shared cache).
fn download_pins(cafile: Option<&Path>) -> Vec<(String, String)> {
    let mut pins = vec![
        ("npm_config_ignore_scripts".to_owned(), "true".to_owned()),
        ("npm_config_git".to_owned(), "git".to_owned()),
        ("npm_config_strict_ssl".to_owned(), "true".to_owned()),
    ];
    if let Some(file) = cafile {
        let file = file.to_string_lossy().into_owned();
        pins.push(("npm_config_cafile".to_owned(), file));
    }
    pins
}

/// The `cafile` of npm's own configuration (global and built-in `npmrc`, which the
/// operator controls), read with a scrubbed environment from an empty directory.
async fn operator_cafile(path_var: &str) -> Option<PathBuf> {
    let file = PathBuf::from(npm_config("cafile", path_var).await?);
    (file.is_absolute() && file.is_file()).then_some(file)
}

/// `npm config get <key>` of npm's own configuration (global and built-in `npmrc`, which
/// the operator controls), read with a scrubbed environment from an empty directory.
async fn npm_config(key: &str, path_var: &str) -> Option<String> {
    let scratch = tempfile::tempdir().ok()?;
    let out = tokio::time::timeout(
        PROBE_TIMEOUT,
        tokio::process::Command::new("npm")
            .args(["config", "get", key])
            .env_clear()
            .env("PATH", path_var)
            .env("HOME", scratch.path())
            .current_dir(scratch.path())
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    let value = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !value.is_empty() && value != "null" && value != "undefined")
        .then_some(value)
}

/// `<program> --version` with a scrubbed environment, or `unknown`.
async fn version_of(program: &str, path_var: &str) -> String {
    let run = tokio::process::Command::new(program)
        .arg("--version")
        .env_clear()
        .env("PATH", path_var)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(PROBE_TIMEOUT, run).await {
        Ok(Ok(out)) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }
        _ => "unknown".to_owned(),
    }
}

/// Finds node and npm on our PATH: their directories lead the child's PATH, and install
/// roots outside `/usr` become read-only sandbox mounts.
fn toolchain() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut path: Vec<PathBuf> = Vec::new();
    let mut mounts: Vec<PathBuf> = Vec::new();
    for tool in ["node", "npm"] {
        let Some(found) = which(tool) else {
            tracing::warn!(tool, "not found on PATH; builds will fail to find it");
            continue;
        };
        let real = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
        for dir in [found.parent(), real.parent()].into_iter().flatten() {
            push_unique(&mut path, dir.to_path_buf());
        }
        for p in [&found, &real] {
            if let Some(root) = install_root(p)
                && !under_system_dirs(&root)
                && !mounts.iter().any(|m| root.starts_with(m))
            {
                mounts.retain(|m| !m.starts_with(&root));
                mounts.push(root);
            }
        }
    }
    for dir in BASE_PATH {
        push_unique(&mut path, PathBuf::from(dir));
    }
    (path, mounts)
}

/// The first executable `name` on our own PATH.
fn which(name: &str) -> Option<PathBuf> {
    let var = std::env::var_os("PATH")?;
    std::env::split_paths(&var)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `/opt/node/bin/node` -> `/opt/node`; a file not in a `bin` dir -> its directory.
fn install_root(file: &Path) -> Option<PathBuf> {
    let dir = file.parent()?;
    let root = if dir.file_name().is_some_and(|n| n == "bin") {
        dir.parent()?
    } else {
        dir
    };
    (root.parent().is_some()).then(|| root.to_path_buf())
}

/// Paths the sandbox already binds as system directories.
fn under_system_dirs(p: &Path) -> bool {
    ["/usr", "/bin", "/sbin", "/lib", "/lib64"]
        .iter()
        .any(|d| p.starts_with(d))
}

fn push_unique(list: &mut Vec<PathBuf>, p: PathBuf) {
    if !list.contains(&p) {
        list.push(p);
    }
}

/// Runs `true` under the exact flags builds use (no network); bubblewrap counts as
/// working only if that succeeds.
async fn probe_bwrap(tools: &[PathBuf]) -> Result<PathBuf, String> {
    let bwrap = which("bwrap").ok_or_else(|| "bwrap not found on PATH".to_owned())?;
    let scratch = std::env::temp_dir().join(format!("bw-probe-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("probe dir: {e}"))?;
    let scratch = std::fs::canonicalize(&scratch).map_err(|e| format!("probe dir: {e}"))?;
    let args = bwrap_args(&Mounts {
        project: &scratch,
        cache: None,
        tools,
        network: false,
    });
    let result = tokio::time::timeout(
        PROBE_TIMEOUT,
        tokio::process::Command::new(&bwrap)
            .args(args)
            .arg("true")
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Err(_) => Err("bwrap probe timed out".to_owned()),
        Ok(Err(e)) => Err(format!("bwrap probe failed to start: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(bwrap),
        Ok(Ok(out)) => Err(format!(
            "bwrap probe exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_pins_outrank_every_npmrc() {
        let pins = download_pins(Some(Path::new("/etc/ssl/certs/ca-certificates.crt")));
        let get = |k: &str| pins.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("npm_config_ignore_scripts"), Some("true"));
        assert_eq!(get("npm_config_git"), Some("git"));
        assert_eq!(get("npm_config_strict_ssl"), Some("true"));
        assert_eq!(
            get("npm_config_cafile"),
            Some("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(download_pins(None).len(), 3);
    }

    #[test]
    fn install_roots() {
        assert_eq!(
            install_root(Path::new("/opt/node-v20/bin/node")),
            Some(PathBuf::from("/opt/node-v20"))
        );
        assert_eq!(
            install_root(Path::new("/srv/tools/npm-cli.js")),
            Some(PathBuf::from("/srv/tools"))
        );
        assert_eq!(install_root(Path::new("/bin/node")), None);
        assert!(under_system_dirs(Path::new("/usr/lib/node_modules/npm")));
    }
}
