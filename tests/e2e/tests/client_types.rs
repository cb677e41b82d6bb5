//! The browser client's TypeScript types (`clients/web`): `types/*.d.ts` are generated from
//! `schemas/json` (themselves generated from the Rust types) and must not drift, and the
//! hand-written declarations plus a typical main-app use type-check against them.

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
