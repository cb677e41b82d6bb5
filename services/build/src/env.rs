//! The child's environment, built from nothing: our own variables (keys, database and
//! NATS URLs, cloud credentials) must never reach generated code, so nothing is
//! inherited and only this allowlist is set. The step's forced npm settings come last,
//! after the caller's extras, so nothing can undo them: the networked download step always
//! has lifecycle scripts off (and its other pins), every other step is offline.

use std::path::Path;

use crate::tree::MARKER_VAR;

/// Where the child's HOME, TMPDIR and npm cache point.
#[derive(Debug)]
pub(crate) struct Dirs<'a> {
    /// HOME: fresh for every run and outside the project (the project could otherwise
    /// ship its own `~/.npmrc` or `~/.gitconfig`).
    pub home: &'a Path,
    /// TMPDIR: `/tmp` in the sandbox (a private tmpfs), a private dir otherwise.
    pub tmp: &'a Path,
    /// The npm cache: the shared one for the download step, a private empty one otherwise.
    pub cache: &'a Path,
}

/// The complete environment: the allowlist, the caller's extras, the forced settings,
/// then the marker; a later entry replaces an earlier one of the same name.
pub(crate) fn child_env(
    path: &str,
    dirs: &Dirs<'_>,
    extra: &[(String, String)],
    forced: &[(String, String)],
    marker: &str,
) -> Vec<(String, String)> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = [
        ("PATH", path.to_owned()),
        ("HOME", s(dirs.home)),
        ("TMPDIR", s(dirs.tmp)),
        ("LANG", "C.UTF-8".to_owned()),
        ("CI", "1".to_owned()),
        ("npm_config_cache", s(dirs.cache)),
        ("npm_config_update_notifier", "false".to_owned()),
        ("npm_config_fund", "false".to_owned()),
        ("npm_config_audit", "false".to_owned()),
        ("npm_config_progress", "false".to_owned()),
        ("npm_config_color", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra.iter().chain(forced) {
        env.retain(|(existing, _)| existing != k);
        env.push((k.clone(), v.clone()));
    }
    env.push((MARKER_VAR.to_owned(), marker.to_owned()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_only_with_overrides() {
        let dirs = Dirs {
            home: Path::new("/tmp/home"),
            tmp: Path::new("/tmp"),
            cache: Path::new("/c"),
        };
        let extra = vec![
            ("NODE_ENV".to_owned(), "production".to_owned()),
            ("CI".to_owned(), "true".to_owned()),
            ("npm_config_ignore_scripts".to_owned(), "false".to_owned()),
        ];
        let forced = vec![("npm_config_ignore_scripts".to_owned(), "true".to_owned())];
        let env = child_env("/usr/bin", &dirs, &extra, &forced, "tok");
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HOME"), Some("/tmp/home"));
        assert_eq!(get("npm_config_cache"), Some("/c"));
        assert_eq!(get("NODE_ENV"), Some("production"));
        assert_eq!(get("CI"), Some("true"));
        assert_eq!(env.iter().filter(|(n, _)| n == "CI").count(), 1);
        assert_eq!(get(MARKER_VAR), Some("tok"));
        assert!(env.iter().all(|(n, _)| !n.starts_with("BUILDWIRE")));
        assert_eq!(get("npm_config_ignore_scripts"), Some("true"), "not undone");
        let pinned = env.iter().filter(|(n, _)| n == "npm_config_ignore_scripts");
        assert_eq!(pinned.count(), 1);
    }
}
