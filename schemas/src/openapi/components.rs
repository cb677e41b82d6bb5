//! The component schemas of the bridged types, generated once per process.

use std::sync::OnceLock;

use poem_openapi::registry::{MetaSchema, Registry};
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value};

use super::{convert, examples, shape};
use crate::api::{BuildAccepted, BuildProgress, BuildToken, EventsPage, Problem, SubmitBuild};
use crate::events::Event;

static JSON: OnceLock<Map<String, Value>> = OnceLock::new();
static META: OnceLock<Vec<(String, MetaSchema)>> = OnceLock::new();

fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| {
            s.contract = contract;
            s.meta_schema = None;
        })
        .into_generator()
}

fn build() -> Map<String, Value> {
    // Responses are what serde writes (a `null` field is present); a submission is what
    // serde reads (optional fields may be left out).
    let mut output = generator(Contract::Serialize);
    output.subschema_for::<Event>();
    output.subschema_for::<BuildAccepted>();
    output.subschema_for::<BuildProgress>();
    output.subschema_for::<EventsPage>();
    output.subschema_for::<BuildToken>();
    output.subschema_for::<Problem>();
    let mut schemas = output.take_definitions(true);
    schemas.values_mut().for_each(shape::drop_unsent_nulls);
    let mut input = generator(Contract::Deserialize);
    input.subschema_for::<SubmitBuild>();
    schemas.extend(input.take_definitions(true));
    shape::split_event(&mut schemas);
    for (name, example) in top_examples() {
        if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
            schema.insert("example".into(), example);
        }
    }
    shape::spread_examples(&mut schemas);
    schemas
}

/// The examples written out; [`shape::spread_examples`] derives the rest.
fn top_examples() -> Vec<(String, Value)> {
    let json = |value: Result<Value, serde_json::Error>| value.unwrap_or_default();
    let events = examples::events();
    let mut found: Vec<(String, Value)> = events
        .iter()
        .map(|e| {
            (
                shape::variant_name(e.type_name()),
                json(serde_json::to_value(e)),
            )
        })
        .collect();
    found.extend([
        ("Event".into(), json(serde_json::to_value(&events[0]))),
        (
            "BuildProgress".into(),
            json(serde_json::to_value(examples::progress())),
        ),
        (
            "SubmitBuild".into(),
            json(serde_json::to_value(examples::submit_build())),
        ),
        (
            "BuildAccepted".into(),
            json(serde_json::to_value(examples::build_accepted())),
        ),
        (
            "BuildToken".into(),
            json(serde_json::to_value(examples::build_token())),
        ),
        (
            "EventsPage".into(),
            json(serde_json::to_value(examples::events_page())),
        ),
        (
            "Problem".into(),
            json(serde_json::to_value(examples::problem())),
        ),
    ]);
    found
}

/// Every component schema as JSON (OpenAPI 3.0), by name.
pub fn json() -> &'static Map<String, Value> {
    JSON.get_or_init(build)
}

fn meta() -> &'static [(String, MetaSchema)] {
    META.get_or_init(|| {
        json()
            .iter()
            .map(|(name, schema)| (name.clone(), convert::schema(schema)))
            .collect()
    })
}

/// Adds every component schema to `registry` (poem-openapi drops the unused ones).
pub fn register(registry: &mut Registry) {
    for (name, schema) in meta() {
        registry
            .schemas
            .entry(name.clone())
            .or_insert_with(|| schema.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_has_a_description_and_an_example_and_nothing_is_lost() {
        for (name, schema) in json() {
            assert!(
                schema
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.is_empty()),
                "{name} has no description"
            );
            assert!(schema.get("example").is_some(), "{name} has no example");
            assert_eq!(convert::unsupported(schema), Vec::<String>::new(), "{name}");
        }
    }

    #[test]
    fn events_are_a_union_on_type() {
        let event = &json()["Event"];
        let mapping = event["discriminator"]["mapping"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(mapping.len(), super::super::EVENT_TYPES.len());
        let complete = &json()["CompleteEvent"]["allOf"];
        assert_eq!(complete[1]["$ref"], "#/components/schemas/Complete");
        assert_eq!(complete[2]["properties"]["type"]["enum"][0], "complete");
        let progress = &json()["BuildProgress"];
        assert!(
            progress["required"]
                .as_array()
                .is_some_and(|r| r.contains(&"previewUrl".into()))
        );
        assert_eq!(progress["properties"]["previewUrl"]["nullable"], true);
        assert!(
            json()["Complete"]["properties"]["buildLogUrl"]
                .get("nullable")
                .is_none()
        );
    }
}
