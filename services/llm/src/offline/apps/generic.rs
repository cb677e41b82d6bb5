//! The generic app, for prompts no other app matches: it reads what the prompt keeps a
//! list of and the fields of each ("a recipe manager with ingredients and cooking time":
//! recipes with a name, ingredients and a cooking time; see `schema`), and lets people add,
//! edit, delete and search them, saved in localStorage.
//!
//! Hooks: `#record-form` with one input per field (`#field-<key>`: `#field-name`,
//! `#field-cookingTime`), `#save-record`, `#cancel-edit`; `#record-list` with
//! `.record-item` (`data-id`) holding `[data-field=<key>]` values, `.record-edit`,
//! `.record-delete`; `#record-count`, `#records-empty`; `#search`. localStorage:
//! `buildwire.<plural>.items` (`buildwire.recipes.items`).

use super::schema::{self, Schema};
use super::{AppParts, file, ts_literal};
use crate::offline::text::{title_from, without_name};

/// The generic app's parts for `prompt`.
pub fn parts(prompt: &str) -> AppParts {
    let schema = schema::read(&without_name(prompt));
    let storage = format!(
        "buildwire.{}",
        schema
            .many
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    );
    AppParts {
        title: title_from(prompt, "My App"),
        storage,
        config: Vec::new(),
        files: vec![
            file(
                "src/lib/fields.ts",
                include_str!("templates/generic/fields.ts"),
            ),
            file("src/schema.ts", &schema_ts(&schema)),
            file(
                "src/components/RecordForm.tsx",
                include_str!("templates/generic/RecordForm.tsx"),
            ),
            file(
                "src/components/RecordCard.tsx",
                include_str!("templates/generic/RecordCard.tsx"),
            ),
            file(
                "src/components/Records.tsx",
                include_str!("templates/generic/Records.tsx"),
            ),
        ],
        components: vec!["Records"],
        width: "max-w-4xl",
    }
}

/// `src/schema.ts`: the entity's names and its fields, as data.
fn schema_ts(schema: &Schema) -> String {
    let text = |value: &str| ts_literal(&value.into());
    let capital = super::nouns::capitalized;
    let fields: String = schema
        .fields
        .iter()
        .map(|field| {
            let unit = if field.kind == schema::Kind::Duration {
                ", unit: \"min\""
            } else {
                ""
            };
            format!(
                "  {{ key: {}, label: {}, kind: {}{unit} }},\n",
                text(&field.key),
                text(&field.label),
                text(field.kind.as_str())
            )
        })
        .collect();
    format!(
        "import type {{ Field }} from './lib/fields';\n\n\
         /** What this app keeps a list of. */\n\
         export const ENTITY = {{\n  one: {},\n  many: {},\n  One: {},\n  Many: {},\n}} as const;\n\n\
         /** The fields of each; the first one names it. */\n\
         export const FIELDS: Field[] = [\n{fields}];\n",
        text(&schema.one),
        text(&schema.many),
        text(&capital(&schema.one)),
        text(&capital(&schema.many)),
    )
}
