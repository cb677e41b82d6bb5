//! The browser client's TypeScript types (`clients/web`): `types/*.d.ts` are generated from
//! `schemas/json` (themselves generated from the Rust types) and must not drift, the
//! hand-written declarations plus a typical main-app use type-check against them, and the
//! packed `@buildwire/client` works where a Next.js app installs it.

use std::path::PathBuf;
use std::process::Command;

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../clients/web")
}

fn run(what: &str, args: &[&str]) {
    let dir = client_dir();
    assert!(
        dir.join("node_modules/typescript").is_dir(),
        "clients/web/node_modules is missing: run scripts/setup"
    );
    let output = Command::new("node")
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn generated_types_match_the_json_schemas() {
    run(
        "types drifted (npm run types --prefix clients/web)",
        &["scripts/types.mjs", "--check"],
    );
}

#[test]
fn the_client_declarations_type_check() {
    run(
        "tsc -p clients/web",
        &["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"],
    );
}

/// `scripts/package.mjs`: `npm pack` holds exactly the modules, their declarations and the
/// README; the tarball, installed into a scratch project, type-checks `typecheck/usage.tsx`
/// under Next.js's default tsconfig (bundler) and NodeNext; every entry imports in Node
/// without reading a browser global; react.js starts with "use client"; attw (node10,
/// node16, bundler) and publint --strict find nothing.
#[test]
fn the_packed_package_installs_type_checks_and_imports_in_node() {
    run(
        "@buildwire/client as installed (node clients/web/scripts/package.mjs)",
        &["scripts/package.mjs"],
    );
}
