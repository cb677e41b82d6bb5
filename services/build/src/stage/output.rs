//! What a finished build publishes: the checked files of `dist/` (a real directory, an
//! `index.html`, within the file and byte limits), read for the `artifacts` bucket.

use std::path::Path;

use buildwire_runtime::paths;
use buildwire_runtime::stage::StageError;

/// Most files a build may publish.
pub const MAX_ARTIFACT_FILES: usize = 2_000;
/// Most bytes a build may publish.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// The files `dist/` publishes, checked: `dist` a real directory (the build wrote it, and
/// a symlink there would publish whatever host directory it names), an `index.html`,
/// within [`MAX_ARTIFACT_FILES`] and [`MAX_ARTIFACT_BYTES`].
pub(super) fn dist_files(dist: &Path) -> Result<Vec<(String, u64)>, StageError> {
    if !std::fs::symlink_metadata(dist).is_ok_and(|m| m.is_dir()) {
        return Err(StageError::fatal(
            "NO_OUTPUT",
            "npm run build produced no dist/ directory",
        ));
    }
    let mut files = Vec::new();
    collect_files(dist, dist, &mut files)
        .map_err(|e| StageError::fatal("NO_OUTPUT", format!("reading dist/: {e}")))?;
    if !files.iter().any(|(rel, _)| rel == "index.html") {
        return Err(StageError::fatal(
            "NO_OUTPUT",
            "npm run build produced no dist/index.html",
        ));
    }
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    if files.len() > MAX_ARTIFACT_FILES || total > MAX_ARTIFACT_BYTES {
        return Err(StageError::fatal(
            "OUTPUT_TOO_LARGE",
            format!("dist/ has {} files, {total} bytes", files.len()),
        ));
    }
    Ok(files)
}

/// Regular files under `dir` (symlinks skipped), as paths relative to `root` and sizes.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            collect_files(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            if paths::check(&rel).is_ok() {
                out.push((rel, entry.metadata()?.len()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_must_be_a_real_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host_dir = tmp.path().join("host");
        std::fs::create_dir(&host_dir).expect("host dir");
        std::fs::write(host_dir.join("index.html"), "<html>").expect("index");
        std::fs::write(host_dir.join("jwt-keys"), "secret").expect("secret");
        let dist = tmp.path().join("dist");
        std::os::unix::fs::symlink(&host_dir, &dist).expect("symlink");
        assert!(
            matches!(dist_files(&dist), Err(StageError::Fatal { code, .. }) if code == "NO_OUTPUT")
        );

        std::fs::remove_file(&dist).expect("unlink");
        std::fs::create_dir(&dist).expect("dist");
        std::fs::write(dist.join("index.html"), "<html>").expect("index");
        std::os::unix::fs::symlink(&host_dir, dist.join("linked")).expect("symlink");
        let files = dist_files(&dist).expect("real dist");
        assert_eq!(
            files,
            [("index.html".to_owned(), 6)],
            "links inside are skipped"
        );
    }
}
