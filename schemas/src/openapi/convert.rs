//! Reads an OpenAPI 3.0 schema written by schemars (as JSON) into poem-openapi's
//! [`MetaSchema`], so the spec's schemas come from the same Rust types and doc comments as
//! the JSON Schema files in `schemas/json/`.
//!
//! poem-openapi keeps names and descriptions as `&'static str`: the JSON is generated
//! once into a `static` and borrowed from there, never leaked per call.

use poem_openapi::registry::{MetaDiscriminatorObject, MetaSchema, MetaSchemaRef};
use serde_json::Value;

/// Where schemars' `$ref`s point (`SchemaSettings::openapi3`).
pub const REF_PREFIX: &str = "#/components/schemas/";

/// Every schema keyword [`schema`] carries over; anything else would be lost, which the
/// tests refuse.
pub const KEYWORDS: [&str; 23] = [
    "type",
    "format",
    "title",
    "description",
    "default",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "enum",
    "nullable",
    "oneOf",
    "anyOf",
    "allOf",
    "discriminator",
    "example",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
];

fn text(schema: &'static Value, key: &str) -> Option<&'static str> {
    schema.get(key).and_then(Value::as_str)
}

fn number(schema: &'static Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn count(schema: &'static Value, key: &str) -> Option<usize> {
    schema
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
}

fn list(schema: &'static Value, key: &str) -> Vec<MetaSchemaRef> {
    schema
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().map(schema_ref).collect())
        .unwrap_or_default()
}

/// `{ "propertyName": ..., "mapping": { value: "#/components/schemas/..." } }`.
fn discriminator(schema: &'static Value) -> Option<MetaDiscriminatorObject> {
    let object = schema.get("discriminator")?;
    Some(MetaDiscriminatorObject {
        property_name: text(object, "propertyName")?,
        mapping: object
            .get("mapping")
            .and_then(Value::as_object)
            .map(|mapping| {
                mapping
                    .iter()
                    .filter_map(|(value, target)| {
                        Some((value.clone(), target.as_str()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A `$ref` as a reference by name, anything else inline.
pub fn schema_ref(schema: &'static Value) -> MetaSchemaRef {
    match text(schema, "$ref") {
        Some(target) => MetaSchemaRef::Reference(target.trim_start_matches(REF_PREFIX).to_string()),
        None => MetaSchemaRef::Inline(Box::new(self::schema(schema))),
    }
}

/// One schema object (its [`KEYWORDS`]).
pub fn schema(schema: &'static Value) -> MetaSchema {
    let boxed = |key: &str| schema.get(key).map(|s| Box::new(schema_ref(s)));
    MetaSchema {
        ty: text(schema, "type").unwrap_or_default(),
        format: text(schema, "format"),
        title: text(schema, "title").map(str::to_string),
        description: text(schema, "description"),
        default: schema.get("default").cloned(),
        required: schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        properties: schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(name, prop)| (name.as_str(), schema_ref(prop)))
                    .collect()
            })
            .unwrap_or_default(),
        items: boxed("items"),
        additional_properties: boxed("additionalProperties"),
        enum_items: schema
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        nullable: schema.get("nullable").and_then(Value::as_bool) == Some(true),
        one_of: list(schema, "oneOf"),
        any_of: list(schema, "anyOf"),
        all_of: list(schema, "allOf"),
        discriminator: discriminator(schema),
        example: schema.get("example").cloned(),
        minimum: number(schema, "minimum"),
        maximum: number(schema, "maximum"),
        min_length: count(schema, "minLength"),
        max_length: count(schema, "maxLength"),
        pattern: text(schema, "pattern").map(str::to_string),
        min_items: count(schema, "minItems"),
        max_items: count(schema, "maxItems"),
        ..MetaSchema::ANY
    }
}

/// Keywords in `schema` (and every schema inside it) that [`schema`] would drop.
pub fn unsupported(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let Some(object) = schema.as_object() else {
        return found;
    };
    for (key, value) in object {
        match key.as_str() {
            "$ref" => {}
            "properties" => {
                for prop in value.as_object().into_iter().flat_map(|p| p.values()) {
                    found.extend(unsupported(prop));
                }
            }
            "items" | "additionalProperties" => found.extend(unsupported(value)),
            "oneOf" | "anyOf" | "allOf" => {
                for item in value.as_array().into_iter().flatten() {
                    found.extend(unsupported(item));
                }
            }
            known if KEYWORDS.contains(&known) => {}
            other => found.push(other.to_string()),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    static SAMPLE: OnceLock<Value> = OnceLock::new();

    #[test]
    fn keywords_are_carried_over() {
        let sample = SAMPLE.get_or_init(|| {
            serde_json::json!({
                "type": "object",
                "description": "A thing.",
                "required": ["a"],
                "properties": {
                    "a": { "type": "string", "nullable": true, "pattern": "^x$", "maxLength": 3 },
                    "b": { "$ref": "#/components/schemas/B" },
                    "c": { "type": "integer", "format": "uint8", "minimum": 0, "maximum": 255 },
                    "d": { "type": "array", "items": { "type": "string" } }
                },
                "discriminator": { "propertyName": "a", "mapping": { "x": "#/components/schemas/B" } },
                "example": { "a": "x" }
            })
        });
        assert!(unsupported(sample).is_empty());
        let meta = schema(sample);
        let back = serde_json::to_value(&meta).unwrap_or_default();
        assert_eq!(back["required"], sample["required"]);
        assert_eq!(back["properties"]["a"]["nullable"], true);
        assert_eq!(back["properties"]["a"]["pattern"], "^x$");
        assert_eq!(
            back["properties"]["b"]["$ref"], "#/components/schemas/B",
            "{back}"
        );
        assert_eq!(back["properties"]["c"]["maximum"], 255.0);
        assert_eq!(back["example"], sample["example"]);
        assert_eq!(back["discriminator"], sample["discriminator"]);
        assert_eq!(
            unsupported(&serde_json::json!({ "type": "string", "const": "x" })),
            vec!["const".to_string()]
        );
    }
}
