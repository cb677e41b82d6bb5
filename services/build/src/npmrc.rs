//! A project's `.npmrc` is written by the model, and npm reads it during the download
//! step, which has the network and the shared cache. There a setting could send npm
//! through a proxy of the project's choosing with TLS checks off (storing forged
//! packages in the cache every later build reads), run a `git` program of its choosing,
//! or aim npm's requests at the host's loopback services as a "registry". So before the
//! download the file is cut down to settings that only shape which versions are
//! installed and how `node_modules` is laid out; everything else is dropped and named in
//! the build log. (`~/.npmrc` needs no such care: HOME is fresh for every run.)

use std::path::Path;

/// The file npm reads as project configuration.
pub const FILE: &str = ".npmrc";

/// Settings a project keeps: none says where npm connects, what it trusts, what it runs
/// or where it writes. Compared lower-case with `_` read as `-`; anything else, sections
/// and unparsable lines are dropped.
const ALLOWED: &[&str] = &[
    "legacy-peer-deps",
    "strict-peer-deps",
    "engine-strict",
    "save-exact",
    "save-prefix",
    "package-lock",
    "include",
    "omit",
    "optional",
    "install-strategy",
    "install-links",
    "prefer-dedupe",
    "audit",
    "fund",
    "loglevel",
    "progress",
    "color",
    "update-notifier",
    // pnpm's names, which models also write; npm ignores them.
    "auto-install-peers",
    "strict-peer-dependencies",
    "shamefully-hoist",
    "node-linker",
];

/// Rewrites `<project>/.npmrc` to its allowed settings; answers the names of the
/// settings it dropped (never their values, which may be tokens). No file: nothing to do.
pub fn restrict(project: &Path) -> std::io::Result<Vec<String>> {
    let path = project.join(FILE);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        std::fs::remove_file(&path)?;
        return Ok(vec![format!("{FILE} (not a regular file)")]);
    }
    let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
    let (kept, dropped) = filter(&text);
    if !dropped.is_empty() {
        std::fs::write(&path, kept)?;
    }
    Ok(dropped)
}

/// Splits `.npmrc` text into the kept text and the dropped names. Lines are split where
/// npm's `ini` parser splits them (`\r` too), so no kept line can carry a second setting.
fn filter(text: &str) -> (String, Vec<String>) {
    let mut kept = String::new();
    let mut dropped = Vec::new();
    let mut in_section = false;
    for line in text.split(['\r', '\n']) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            kept.push_str(line);
            kept.push('\n');
            continue;
        }
        if trimmed.starts_with('[') {
            in_section = true;
            dropped.push(trimmed.to_owned());
            continue;
        }
        let key = trimmed.split('=').next().unwrap_or_default().trim();
        let name = key
            .trim_matches(['"', '\''])
            .trim_end_matches("[]")
            .to_ascii_lowercase()
            .replace('_', "-");
        let control = line.contains(|c: char| c.is_control() && c != '\t');
        if !in_section && !control && ALLOWED.contains(&name.as_str()) {
            kept.push_str(line);
            kept.push('\n');
        } else {
            dropped.push(key.chars().filter(|c| !c.is_control()).collect());
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_resolution_settings_and_drops_the_rest() {
        let text = "# mirror\nlegacy-peer-deps=true\nregistry=http://127.0.0.1:4222/\n\
            https-proxy = http://evil.example:8080\nstrict-ssl=false\n\
            //registry.npmjs.org/:_authToken=secret-token\ngit=./evil.sh\n\
            Save_Exact=true\nomit[]=dev\nscript-shell=/bin/sh\n";
        let (kept, dropped) = filter(text);
        assert_eq!(
            kept,
            "# mirror\nlegacy-peer-deps=true\nSave_Exact=true\nomit[]=dev\n\n"
        );
        assert_eq!(
            dropped,
            [
                "registry",
                "https-proxy",
                "strict-ssl",
                "//registry.npmjs.org/:_authToken",
                "git",
                "script-shell"
            ]
        );
        assert!(!dropped.iter().any(|d| d.contains("secret-token")));
    }

    #[test]
    fn a_carriage_return_cannot_smuggle_a_second_setting() {
        let (kept, dropped) = filter("legacy-peer-deps=true\rregistry=http://127.0.0.1:1/");
        assert_eq!(kept, "legacy-peer-deps=true\n");
        assert_eq!(dropped, ["registry"]);
    }

    #[test]
    fn sections_and_their_keys_are_dropped() {
        let (kept, dropped) = filter("[legacy]\nlegacy-peer-deps=true\n");
        assert_eq!(kept, "\n");
        assert_eq!(dropped, ["[legacy]", "legacy-peer-deps"]);
    }

    #[test]
    fn restrict_rewrites_the_file_or_leaves_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(restrict(dir.path()).expect("no file").is_empty());
        let path = dir.path().join(FILE);
        std::fs::write(&path, "legacy-peer-deps=true\n").expect("write");
        assert!(restrict(dir.path()).expect("clean file").is_empty());
        std::fs::write(&path, "strict-ssl=false\nengine-strict=true\n").expect("write");
        assert_eq!(restrict(dir.path()).expect("restrict"), ["strict-ssl"]);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "engine-strict=true\n\n"
        );
    }
}
