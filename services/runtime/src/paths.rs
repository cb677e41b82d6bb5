//! Project file paths from outside (an LLM's answer, a stored tree) are checked here before
//! anything is written: relative, no `..`, no absolute or drive paths, no control
//! characters, bounded length and depth. [`materialize`] writes a checked tree into a
//! directory and refuses to follow symlinks, so nothing lands outside it.

use std::path::{Component, Path, PathBuf};

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 255;
/// Deepest accepted path, in components.
pub const MAX_DEPTH: usize = 16;

/// Why a project path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused path {path:?}: {reason}")]
pub struct PathError {
    /// The path as given (truncated).
    pub path: String,
    /// Why.
    pub reason: &'static str,
}

/// Checks `path` and returns it normalized (`./` parts dropped).
pub fn check(path: &str) -> Result<String, PathError> {
    let refuse = |reason| PathError {
        path: path.chars().take(120).collect(),
        reason,
    };
    if path.is_empty() {
        return Err(refuse("empty"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(refuse("too long"));
    }
    if path.chars().any(|c| c.is_control()) {
        return Err(refuse("control characters"));
    }
    if path.contains('\\') {
        return Err(refuse("backslashes"));
    }
    if path.starts_with('/') || path.starts_with('~') {
        return Err(refuse("absolute"));
    }
    if path.len() >= 2 && path.as_bytes()[1] == b':' {
        return Err(refuse("a drive path"));
    }
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => {
                let part = part.to_str().ok_or_else(|| refuse("not UTF-8"))?;
                parts.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse("leaves the project (..)")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse("absolute")),
        }
    }
    if parts.is_empty() {
        return Err(refuse("names no file"));
    }
    if parts.len() > MAX_DEPTH {
        return Err(refuse("too deep"));
    }
    if parts.first() == Some(&"node_modules") || parts.first() == Some(&".git") {
        return Err(refuse("a reserved directory"));
    }
    Ok(parts.join("/"))
}

/// Writes `files` (path -> content) under `root`, which must exist. Every path is checked
/// again, and no existing component may be a symlink.
pub fn materialize<'a>(
    root: &Path,
    files: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, content) in files {
        let checked = check(path)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let mut target = root.to_path_buf();
        for part in checked.split('/') {
            target.push(part);
            if let Ok(meta) = std::fs::symlink_metadata(&target)
                && meta.file_type().is_symlink()
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("refused path {path:?}: a symlink on the way"),
                ));
            }
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content)?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_escape_are_refused() {
        assert_eq!(check("src/main.js").as_deref(), Ok("src/main.js"));
        assert_eq!(check("./index.html").as_deref(), Ok("index.html"));
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/x",
            "~/x",
            "C:/x",
            "a\\b",
            "a\0b",
            "node_modules/x",
            ".",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert!(check(&"a/".repeat(20)).is_err());
        assert!(check(&"x".repeat(300)).is_err());
    }

    #[test]
    fn materialize_refuses_symlinks_out() {
        let root = tempfile::tempdir().expect("tmp");
        let outside = tempfile::tempdir().expect("tmp");
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).expect("symlink");
        let files = [("link/x".to_string(), "pwned".to_string())];
        assert!(materialize(root.path(), files.iter().map(|(a, b)| (a, b))).is_err());
        assert!(!outside.path().join("x").exists());
        let ok = [("src/a.js".to_string(), "1".to_string())];
        materialize(root.path(), ok.iter().map(|(a, b)| (a, b))).expect("writes");
        assert_eq!(
            std::fs::read_to_string(root.path().join("src/a.js")).expect("read"),
            "1"
        );
    }
}
