//! What decides a project's installed `node_modules`, hashed into the keys the install
//! cache files entries under: the dependency fields of `package.json`, the project's
//! (already restricted) `.npmrc`, the node and npm versions and the platform (the
//! *dependency key*); the lockfile with its root name and version left out (the *lock
//! hash*); and the project's own install scripts, which run on its copy only.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `package.json` fields that decide what npm installs.
const DEPENDENCY_FIELDS: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "overrides",
    "bundleDependencies",
    "bundledDependencies",
    "workspaces",
];

/// The `package.json` fields npm ci compares with the lockfile's root entry.
const SYNC_FIELDS: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

/// A project's keys, read from its `package.json`, lockfile and `.npmrc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectKeys {
    /// Hash of everything but the lockfile that decides the install.
    pub deps: String,
    /// Hash of the project's own `preinstall`, `install` and `postinstall` scripts.
    pub scripts: String,
    /// The lockfile, when the project has a usable one.
    pub lock: Option<Lockfile>,
    /// Whether an install may be shared with other projects: no workspaces.
    pub shareable_manifest: bool,
    /// Whether `package.json` has install scripts `npm rebuild` runs (`preinstall`,
    /// `install`, `postinstall`; never `prepare`).
    pub own_install_scripts: bool,
}

/// A project's `package-lock.json`, as far as the cache cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lockfile {
    /// Hash of its content without the root name and version.
    pub hash: String,
    /// Whether its root entry lists exactly the dependencies `package.json` does (`npm
    /// ci` would accept it).
    pub in_sync: bool,
    /// Whether every package is a tarball of the operator's registry checked by an
    /// integrity hash (no `file:`, `link:`, git or other URLs), so its install holds
    /// nothing the project supplied.
    pub registry_only: bool,
    /// Whether any package has an install script (npm marks it `hasInstallScript`, a
    /// `binding.gyp` included), which `npm rebuild` would run.
    pub install_scripts: bool,
}

impl ProjectKeys {
    /// The keys of a project, or `None` when its `package.json` is missing or not an
    /// object (npm will say why). `toolchain` names node, npm and the platform; `registry`
    /// is the operator's registry URL.
    pub fn read(
        manifest: &str,
        lockfile: Option<&str>,
        npmrc: &str,
        toolchain: &str,
        registry: &str,
    ) -> Option<ProjectKeys> {
        let manifest: Value = serde_json::from_str(manifest).ok()?;
        let fields = manifest.as_object()?;
        let mut decided = serde_json::Map::new();
        for field in DEPENDENCY_FIELDS {
            if let Some(value) = fields.get(*field) {
                decided.insert((*field).to_owned(), value.clone());
            }
        }
        decided.insert("npmrc".into(), npmrc.into());
        decided.insert("toolchain".into(), toolchain.into());
        let scripts: Vec<Value> = ["preinstall", "install", "postinstall"]
            .iter()
            .map(|name| manifest["scripts"][*name].clone())
            .collect();
        let own_install_scripts = scripts.iter().any(|script| !script.is_null());
        let lock = lockfile.and_then(|text| Lockfile::read(text, &manifest, registry));
        Some(ProjectKeys {
            deps: hash(&Value::Object(decided)),
            scripts: hash(&Value::Array(scripts)),
            lock,
            shareable_manifest: !fields.contains_key("workspaces"),
            own_install_scripts,
        })
    }

    /// Whether an install of this project has scripts to run after `--ignore-scripts`:
    /// the project's own, or a package's; without a lockfile to tell, assume so.
    pub fn has_install_scripts(&self) -> bool {
        self.own_install_scripts || self.lock.as_ref().is_none_or(|lock| lock.install_scripts)
    }

    /// The key of this project's own installed tree: its dependencies, lockfile and
    /// install scripts. `None` without a lockfile.
    pub fn state(&self) -> Option<String> {
        let lock = self.lock.as_ref()?;
        Some(hash_text(&format!(
            "{}\n{}\n{}",
            self.deps, lock.hash, self.scripts
        )))
    }
}

impl Lockfile {
    /// Reads `text` against its `manifest` and the operator's `registry` URL; `None` when
    /// it is not a lockfile npm 7+ wrote.
    pub fn read(text: &str, manifest: &Value, registry: &str) -> Option<Lockfile> {
        let lock: Value = serde_json::from_str(text).ok()?;
        if lock["lockfileVersion"].as_u64().is_none_or(|v| v < 2) {
            return None;
        }
        let packages = lock["packages"].as_object()?;
        let root = packages.get("").cloned().unwrap_or(Value::Null);
        let empty = Value::Object(serde_json::Map::new());
        let or_empty = |value: &Value| {
            if value.is_null() {
                empty.clone()
            } else {
                value.clone()
            }
        };
        let in_sync = SYNC_FIELDS
            .iter()
            .all(|field| or_empty(&root[*field]) == or_empty(&manifest[*field]));
        let registry_only = packages.iter().all(|(path, entry)| {
            path.is_empty()
                // Bundled in its parent's tarball, which the parent's entry checks.
                || (entry["inBundle"] == Value::Bool(true) && entry["link"] != Value::Bool(true))
                || (entry["integrity"].is_string()
                    && entry["link"] != Value::Bool(true)
                    && match entry["resolved"].as_str() {
                        Some(url) => !registry.is_empty() && url.starts_with(registry),
                        // npm leaves `resolved` out of some registry entries (npm 11 with
                        // a warm cache; always with `omit-lockfile-registry-resolved`) and
                        // fetches them from the configured registry by name and version.
                        // Tarballs, git and local packages always name where they are.
                        None => entry["version"]
                            .as_str()
                            .is_some_and(|v| semver::Version::parse(v).is_ok()),
                    })
        });
        let install_scripts = packages
            .values()
            .any(|entry| entry["hasInstallScript"] == Value::Bool(true));
        Some(Lockfile {
            hash: hash(&normalized(&lock)),
            in_sync,
            registry_only,
            install_scripts,
        })
    }
}

/// `lock` without the root's name and version, which differ between projects that
/// install the same packages.
fn normalized(lock: &Value) -> Value {
    let mut lock = lock.clone();
    if let Some(top) = lock.as_object_mut() {
        top.remove("name");
        top.remove("version");
    }
    if let Some(root) = lock
        .get_mut("packages")
        .and_then(|packages| packages.get_mut(""))
        .and_then(Value::as_object_mut)
    {
        root.remove("name");
        root.remove("version");
    }
    lock
}

/// `lockfile` (another project's, from the cache) with the root name and version of
/// `manifest`, so it reads as this project's own. The text keeps npm's layout when the
/// usual lines are where npm puts them; otherwise it is re-serialized.
pub fn adopt_lockfile(lockfile: &str, manifest: &str) -> Option<String> {
    let manifest: Value = serde_json::from_str(manifest).ok()?;
    let mut lock: Value = serde_json::from_str(lockfile).ok()?;
    for (field, value) in [
        ("name", &manifest["name"]),
        ("version", &manifest["version"]),
    ] {
        if let Some(top) = lock.as_object_mut() {
            match value {
                Value::Null => top.remove(field),
                value => top.insert(field.into(), value.clone()),
            };
        }
        if let Some(root) = lock
            .get_mut("packages")
            .and_then(|packages| packages.get_mut(""))
            .and_then(Value::as_object_mut)
        {
            match value {
                Value::Null => root.remove(field),
                value => root.insert(field.into(), value.clone()),
            };
        }
    }
    let mut text = serde_json::to_string_pretty(&lock).ok()?;
    text.push('\n');
    Some(text)
}

/// Hex SHA-256 of a JSON value's canonical text.
fn hash(value: &Value) -> String {
    hash_text(&value.to_string())
}

/// Hex SHA-256 of `text`, shortened to 32 hex digits (128 bits).
pub fn hash_text(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = "https://registry.npmjs.org/";

    const MANIFEST: &str = r#"{"name":"a","version":"1.0.0","scripts":{"build":"vite build"},
        "dependencies":{"react":"19.2.0"},"devDependencies":{"vite":"6.4.1"}}"#;

    fn lock(name: &str, resolved: &str) -> String {
        format!(
            r#"{{"name":"{name}","version":"1.0.0","lockfileVersion":3,"requires":true,
            "packages":{{"":{{"name":"{name}","version":"1.0.0","dependencies":{{"react":"19.2.0"}},
            "devDependencies":{{"vite":"6.4.1"}}}},
            "node_modules/react":{{"version":"19.2.0","resolved":"{resolved}","integrity":"sha512-x"}}}}}}"#
        )
    }

    #[test]
    fn the_dependency_key_ignores_what_does_not_change_the_install() {
        let keys = ProjectKeys::read(MANIFEST, None, "", "node 20", REGISTRY).expect("keys");
        let renamed = MANIFEST
            .replace(r#""name":"a""#, r#""name":"b""#)
            .replace(r#""build":"vite build""#, r#""build":"tsc && vite build""#);
        let other = ProjectKeys::read(&renamed, None, "", "node 20", REGISTRY).expect("keys");
        assert_eq!(keys.deps, other.deps);
        assert_eq!(keys.scripts, other.scripts);
        let newer = ProjectKeys::read(MANIFEST, None, "", "node 22", REGISTRY).expect("keys");
        assert_ne!(keys.deps, newer.deps, "another toolchain");
        let npmrc = ProjectKeys::read(MANIFEST, None, "legacy-peer-deps=true", "node 20", REGISTRY);
        assert_ne!(keys.deps, npmrc.expect("keys").deps, "another .npmrc");
        let scripted = MANIFEST.replace(r#""build""#, r#""postinstall":"node x.js","build""#);
        let scripted = ProjectKeys::read(&scripted, None, "", "node 20", REGISTRY).expect("keys");
        assert_eq!(keys.deps, scripted.deps);
        assert_ne!(keys.scripts, scripted.scripts, "own install scripts");
        assert_eq!(ProjectKeys::read("[1]", None, "", "", REGISTRY), None);
        assert_eq!(keys.state(), None, "no lockfile, no state");
    }

    #[test]
    fn lockfiles_hash_without_their_root_name_and_say_if_they_fit() {
        let manifest: Value = serde_json::from_str(MANIFEST).expect("json");
        let a = Lockfile::read(
            &lock("a", "https://registry.npmjs.org/react"),
            &manifest,
            REGISTRY,
        )
        .expect("lock");
        let b = Lockfile::read(
            &lock("b", "https://registry.npmjs.org/react"),
            &manifest,
            REGISTRY,
        )
        .expect("lock");
        assert_eq!(a.hash, b.hash);
        assert!(a.in_sync && a.registry_only);
        let local = Lockfile::read(&lock("a", "file:../react"), &manifest, REGISTRY).expect("lock");
        assert!(!local.registry_only);
        let elsewhere = lock("a", "https://evil.example/react.tgz");
        let elsewhere = Lockfile::read(&elsewhere, &manifest, REGISTRY).expect("lock");
        assert!(
            !elsewhere.registry_only,
            "another server's tarball is not shared"
        );
        assert_ne!(local.hash, a.hash);
        let unnamed = lock("a", "https://registry.npmjs.org/react")
            .replace(r#""resolved":"https://registry.npmjs.org/react","#, "");
        let unnamed = Lockfile::read(&unnamed, &manifest, REGISTRY).expect("lock");
        assert!(
            unnamed.registry_only,
            "npm fetches an entry without `resolved` from the registry"
        );
        let bundled = lock("a", "https://registry.npmjs.org/react").replace(
            r#""resolved":"https://registry.npmjs.org/react","integrity":"sha512-x""#,
            r#""inBundle":true"#,
        );
        let bundled = Lockfile::read(&bundled, &manifest, REGISTRY).expect("lock");
        assert!(
            bundled.registry_only,
            "a bundled package comes in its parent"
        );
        let not_a_version = lock("a", "x").replace(
            r#""version":"19.2.0","resolved":"x","#,
            r#""version":"file:../react","#,
        );
        assert!(
            !Lockfile::read(&not_a_version, &manifest, REGISTRY)
                .expect("lock")
                .registry_only
        );
        let more = MANIFEST.replace(r#""vite":"6.4.1""#, r#""vite":"6.4.1","tsx":"4.0.0""#);
        let more: Value = serde_json::from_str(&more).expect("json");
        let stale = Lockfile::read(&lock("a", "https://r/react"), &more, REGISTRY).expect("lock");
        assert!(!stale.in_sync);
        assert_eq!(
            Lockfile::read(r#"{"lockfileVersion":1}"#, &manifest, REGISTRY),
            None
        );
    }

    #[test]
    fn install_scripts_are_read_from_the_lockfile_and_the_project() {
        let plain = lock("a", "https://registry.npmjs.org/react");
        let keys = ProjectKeys::read(MANIFEST, Some(&plain), "", "node 20", REGISTRY);
        assert!(!keys.expect("keys").has_install_scripts(), "none anywhere");
        let scripted_package = plain.replace(
            r#""integrity":"sha512-x""#,
            r#""integrity":"sha512-x","hasInstallScript":true"#,
        );
        let keys = ProjectKeys::read(MANIFEST, Some(&scripted_package), "", "", REGISTRY);
        assert!(keys.expect("keys").has_install_scripts(), "a package's");
        for script in ["preinstall", "install", "postinstall"] {
            let own = MANIFEST.replace(r#""build""#, &format!(r#""{script}":"node x.js","build""#));
            let keys = ProjectKeys::read(&own, Some(&plain), "", "", REGISTRY);
            assert!(keys.expect("keys").has_install_scripts(), "{script}");
        }
        let unknown = ProjectKeys::read(MANIFEST, None, "", "", REGISTRY).expect("keys");
        assert!(
            unknown.has_install_scripts(),
            "no lockfile: assume there are"
        );
    }

    #[test]
    fn an_adopted_lockfile_names_its_new_project_and_hashes_the_same() {
        let manifest: Value = serde_json::from_str(MANIFEST).expect("json");
        let theirs = lock("other", "https://registry.npmjs.org/react");
        let ours = adopt_lockfile(&theirs, MANIFEST).expect("adopted");
        let parsed: Value = serde_json::from_str(&ours).expect("json");
        assert_eq!(parsed["name"], "a");
        assert_eq!(parsed["packages"][""]["name"], "a");
        assert_eq!(
            Lockfile::read(&ours, &manifest, REGISTRY)
                .expect("lock")
                .hash,
            Lockfile::read(&theirs, &manifest, REGISTRY)
                .expect("lock")
                .hash
        );
        let keys = ProjectKeys::read(MANIFEST, Some(&ours), "", "t", REGISTRY).expect("keys");
        assert!(keys.state().is_some());
    }
}
