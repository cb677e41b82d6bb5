//! The bubblewrap command line: which host paths a build may see and how it is isolated.
//!
//! A build sees read-only system directories, the node/npm install, a handful of `/etc`
//! files needed for DNS and TLS, its own project directory, and private `/tmp` (with the
//! run's HOME), `/dev` and `/proc`. The shared npm cache is bound (read-write) only into
//! the networked download step, where no code from the project runs. Everything else (our
//! data dir, config files with secrets, other builds) does not exist inside the sandbox.
//! All namespaces are unshared, the network included: a step without network gets an
//! empty network namespace, where even 127.0.0.1 is its own and reaches nothing of the
//! host's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// System directories bound read-only (or recreated as symlinks on merged-/usr hosts).
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// The `/etc` entries a build needs: name resolution, TLS roots, users, dynamic linker,
/// Debian alternatives (symlink targets of `/usr/bin/*`). Missing ones are skipped.
const ETC_ENTRIES: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/nsswitch.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki",
    "/etc/crypto-policies",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
];

/// The run's HOME inside the sandbox: a fresh directory on the private `/tmp`, so
/// nothing the project ships (`.npmrc`, `.gitconfig`) or a run leaves there reaches
/// another run.
pub(crate) const SANDBOX_HOME: &str = "/tmp/home";

/// What one sandboxed command gets to see.
#[derive(Debug)]
pub(crate) struct Mounts<'a> {
    /// The project directory: bound read-write and made the working directory.
    pub project: &'a Path,
    /// The npm cache shared across builds, bound read-write; only for the download step
    /// (nothing from the project runs there), `None` for every step that runs scripts.
    pub cache: Option<&'a Path>,
    /// Node/npm installs outside `/usr`: bound read-only.
    pub tools: &'a [PathBuf],
    /// Whether the host's network namespace is shared (download) or not (everything else).
    pub network: bool,
}

/// The `bwrap` arguments up to and including `--`; the program and its args follow.
pub(crate) fn bwrap_args(m: &Mounts<'_>) -> Vec<OsString> {
    let mut a = Args::default();
    a.push(["--unshare-all"]);
    if m.network {
        a.push(["--share-net"]);
    }
    a.push([
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]);

    for dir in SYSTEM_DIRS {
        let path = Path::new(dir);
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(path) {
                    a.path3("--symlink", &target, path);
                }
            }
            Ok(meta) if meta.is_dir() => a.path3("--ro-bind", path, path),
            _ => {}
        }
    }
    for entry in ETC_ENTRIES {
        let path = Path::new(entry);
        // Bind the resolved target at the usual name, so a symlinked resolv.conf
        // (systemd-resolved) still works without exposing the rest of /run.
        if let Ok(real) = std::fs::canonicalize(path) {
            a.path3("--ro-bind", &real, path);
        }
    }
    a.push(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
    a.push(["--dir", SANDBOX_HOME]);
    for tool in m.tools {
        a.path3("--ro-bind", tool, tool);
    }
    // Outer directories first, so a cache inside the project (or the reverse) stays
    // visible.
    let mut rw: Vec<&Path> = [Some(m.project), m.cache].into_iter().flatten().collect();
    rw.sort_by_key(|p| p.components().count());
    for dir in rw {
        a.path3("--bind", dir, dir);
    }
    a.path2("--chdir", m.project);
    a.push(["--"]);
    a.0
}

/// A small builder so the argument list reads like the command line.
#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push<const N: usize>(&mut self, items: [&str; N]) {
        self.0.extend(items.iter().map(OsString::from));
    }
    fn path2(&mut self, flag: &str, p: &Path) {
        self.0.push(flag.into());
        self.0.push(p.into());
    }
    fn path3(&mut self, flag: &str, src: &Path, dst: &Path) {
        self.0.push(flag.into());
        self.0.push(src.into());
        self.0.push(dst.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(network: bool) -> String {
        let tools = [PathBuf::from("/opt/node")];
        let args = bwrap_args(&Mounts {
            project: Path::new("/tmp/b/project"),
            cache: network.then_some(Path::new("/var/cache/npm")),
            tools: &tools,
            network,
        });
        args.iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn isolates_and_binds_only_what_a_build_needs() {
        let s = joined(false);
        assert!(s.starts_with("--unshare-all --die-with-parent --new-session"));
        assert!(!s.contains("--share-net"));
        assert!(s.contains("--ro-bind /usr /usr"));
        assert!(s.contains("--tmpfs /tmp --dir /tmp/home"));
        assert!(s.contains("--ro-bind /opt/node /opt/node"));
        assert!(
            !s.contains("/var/cache/npm"),
            "no shared cache where scripts run"
        );
        assert!(s.contains("--bind /tmp/b/project /tmp/b/project"));
        assert!(s.ends_with("--chdir /tmp/b/project --"));
        assert!(!s.contains("--ro-bind / /"), "never the whole filesystem");
        // The project is bound after the tmpfs, or it would be hidden under /tmp.
        let tmpfs = s.find("--tmpfs /tmp").unwrap_or(usize::MAX);
        let project = s.find("--bind /tmp/b/project").unwrap_or(0);
        assert!(tmpfs < project);
    }

    #[test]
    fn binds_outer_directories_first() {
        let args = bwrap_args(&Mounts {
            project: Path::new("/b/p"),
            cache: Some(Path::new("/b/p/.npm")),
            tools: &[],
            network: false,
        });
        let pos = |want: &str| args.iter().position(|a| a == want).unwrap_or(usize::MAX);
        assert!(pos("/b/p") < pos("/b/p/.npm"));
    }

    #[test]
    fn shares_the_network_only_when_asked() {
        let s = joined(true);
        assert!(s.starts_with("--unshare-all --share-net "));
        assert!(s.contains("--bind /var/cache/npm /var/cache/npm"));
    }
}
