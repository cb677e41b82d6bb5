//! Copying a `node_modules` tree into or out of the cache. Every regular file is copied
//! with `std::fs::copy` (`copy_file_range`): a reflink on filesystems that share extents
//! (btrfs, XFS), a full copy elsewhere (ext4). Never a hard link and never a shared
//! directory, so whatever a build does to its copy, even writing into a file in place,
//! reaches neither the cache nor another build. Symlinks are copied as links (npm's
//! `.bin` entries are relative); anything else (sockets, devices) is skipped.

use std::fs;
use std::io;
use std::path::Path;

/// What a copy did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Regular files copied.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Copies the tree at `from` to `to` (which must not exist yet), with permissions.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<Copied> {
    let mut copied = Copied::default();
    fs::create_dir(to)?;
    copy_dir(from, to, &mut copied)?;
    Ok(copied)
}

fn copy_dir(from: &Path, to: &Path, copied: &mut Copied) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            fs::create_dir(&target)?;
            copy_dir(&source, &target, copied)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
        } else if kind.is_file() {
            copied.bytes += fs::copy(&source, &target)?;
            copied.files += 1;
        }
    }
    let permissions = fs::metadata(from)?.permissions();
    fs::set_permissions(to, permissions)
}

/// Bytes the tree at `path` takes on disk (allocated blocks), for the cache's size limit.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    own + fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| disk_usage(&entry.path()))
        .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    #[test]
    fn copies_files_links_and_modes_without_sharing_inodes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let from = tmp.path().join("from");
        fs::create_dir_all(from.join("pkg/bin")).expect("dirs");
        fs::write(from.join("pkg/index.js"), "module.exports = 1;\n").expect("file");
        fs::write(from.join("pkg/bin/tool"), "#!/bin/sh\n").expect("file");
        fs::set_permissions(from.join("pkg/bin/tool"), fs::Permissions::from_mode(0o755))
            .expect("chmod");
        fs::create_dir(from.join(".bin")).expect("dir");
        std::os::unix::fs::symlink("../pkg/bin/tool", from.join(".bin/tool")).expect("link");

        let to = tmp.path().join("to");
        let copied = copy_tree(&from, &to).expect("copy");
        assert_eq!(copied.files, 2);
        assert_eq!(
            fs::read_to_string(to.join("pkg/index.js")).expect("read"),
            "module.exports = 1;\n"
        );
        assert_eq!(
            fs::read_link(to.join(".bin/tool")).expect("link"),
            Path::new("../pkg/bin/tool")
        );
        let mode = fs::metadata(to.join("pkg/bin/tool")).expect("meta").mode();
        assert_eq!(mode & 0o777, 0o755);
        let ino = |p: &Path| fs::metadata(p).expect("meta").ino();
        assert_ne!(
            ino(&from.join("pkg/index.js")),
            ino(&to.join("pkg/index.js"))
        );
        // Writing into the copy in place leaves the original alone.
        fs::write(to.join("pkg/index.js"), "tampered").expect("write");
        assert_eq!(
            fs::read_to_string(from.join("pkg/index.js")).expect("read"),
            "module.exports = 1;\n"
        );
        assert!(copy_tree(&from, &to).is_err(), "the target must not exist");
        assert!(disk_usage(&from) > 0);
    }
}
