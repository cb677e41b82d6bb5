//! The JSON Schema files in `schemas/json/`, generated from the types of this crate.
//!
//! `cargo run -p buildwire-schemas` rewrites them; the `files_match_the_types` test
//! fails when a file drifts from the types.

use std::path::{Path, PathBuf};

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, schema_for};

use crate::{api, commands, events, stream};

/// What a reader of `T` must accept (the default): a field serde fills in when it is
/// missing is optional.
fn render<T: JsonSchema>() -> String {
    text(&schema_for!(T))
}

/// What serde writes for `T`, for bodies only the server sends: a field it always writes
/// (`null` included) is required.
fn render_sent<T: JsonSchema>() -> String {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    text(&generator.into_root_schema_for::<T>())
}

fn text(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Every schema file: its name in `schemas/json/` and its content.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("event.schema.json", render_sent::<events::Event>()),
        (
            "stage-command.schema.json",
            render::<commands::StageCommand>(),
        ),
        ("submit-build.schema.json", render::<api::SubmitBuild>()),
        (
            "build-accepted.schema.json",
            render_sent::<api::BuildAccepted>(),
        ),
        (
            "build-progress.schema.json",
            render_sent::<api::BuildProgress>(),
        ),
        ("events-page.schema.json", render_sent::<api::EventsPage>()),
        ("build-token.schema.json", render_sent::<api::BuildToken>()),
        ("problem.schema.json", render_sent::<api::Problem>()),
        ("client-message.schema.json", render::<api::ClientMessage>()),
        (
            "disconnect.schema.json",
            render_sent::<stream::Disconnect>(),
        ),
    ]
}

/// `schemas/json/` in the source tree.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("json")
}

/// Writes every schema file into `dir`, returning the names that changed.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<&'static str>> {
    std::fs::create_dir_all(dir)?;
    let mut changed = Vec::new();
    for (name, content) in all() {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            std::fs::write(&path, content)?;
            changed.push(name);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_match_the_types() {
        for (name, content) in all() {
            let on_disk = std::fs::read_to_string(dir().join(name)).unwrap_or_default();
            assert!(
                on_disk == content,
                "schemas/json/{name} drifted from the Rust types: run `cargo run -p buildwire-schemas`"
            );
        }
    }
}
