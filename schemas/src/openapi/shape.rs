//! Rewrites of schemars' output that OpenAPI clients need: [`Event`](crate::Event) as a
//! union discriminated by `type` (so a generated client narrows `complete` to a
//! `previewUrl`), no `null` where serde never writes one, and an example on every schema.

use serde_json::{Map, Value, json};

use super::convert::REF_PREFIX;

/// The schema every event variant shares.
pub const ENVELOPE: &str = "EventEnvelope";

fn pascal(tag: &str) -> String {
    tag.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The component name of the event variant with `type` `tag` (`complete` ->
/// `CompleteEvent`).
pub fn variant_name(tag: &str) -> String {
    format!("{}Event", pascal(tag))
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

/// schemars writes `Event` as the envelope's properties plus a `oneOf` of inline variants
/// (`type` pinned, body by `allOf`). Splits it into `EventEnvelope`, one named schema per
/// `type` (envelope + body + `type`), and `Event` as their `oneOf` with a discriminator.
pub fn split_event(schemas: &mut Map<String, Value>) {
    let Some(Value::Object(mut event)) = schemas.remove("Event") else {
        return;
    };
    let variants = match event.remove("oneOf") {
        Some(Value::Array(variants)) => variants,
        _ => Vec::new(),
    };
    let mut envelope = event.clone();
    envelope.remove("description");
    envelope.insert(
        "description".into(),
        "What every event carries, whatever its `type`.".into(),
    );
    schemas.insert(ENVELOPE.into(), Value::Object(envelope));
    let mut one_of = Vec::new();
    let mut mapping = Map::new();
    for variant in variants {
        let Some(tag) = variant
            .pointer("/properties/type/enum/0")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let name = variant_name(tag);
        let mut parts = vec![reference(ENVELOPE)];
        if let Some(Value::Array(body)) = variant.get("allOf") {
            parts.extend(body.iter().cloned());
        }
        parts.push(json!({
            "type": "object",
            "required": ["type"],
            "properties": { "type": { "type": "string", "enum": [tag] } },
        }));
        let about = variant
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        schemas.insert(
            name.clone(),
            json!({ "description": format!("`{tag}`: {about}"), "allOf": parts }),
        );
        one_of.push(reference(&name));
        mapping.insert(tag.into(), Value::from(format!("{REF_PREFIX}{name}")));
    }
    let about = event
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    schemas.insert(
        "Event".into(),
        json!({
            "description": format!(
                "{about} One of the schemas below, told apart by `type`; all share \
                 `{ENVELOPE}`."
            ),
            "oneOf": one_of,
            "discriminator": { "propertyName": "type", "mapping": mapping },
        }),
    );
}

/// In what serde writes, a property that is not required is one serde skips when it is
/// `None`: it is absent, never `null`. Drops schemars' `null` alternative from those.
pub fn drop_unsent_nulls(schema: &mut Value) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if required.contains(name) {
            continue;
        }
        let Some(property) = property.as_object_mut() else {
            continue;
        };
        property.remove("nullable");
        // `anyOf: [X, {enum: [null]}]` -> `allOf: [X]`
        if let Some(Value::Array(any_of)) = property.get("anyOf") {
            let kept: Vec<Value> = any_of
                .iter()
                .filter(|alt| alt.get("nullable").is_none())
                .cloned()
                .collect();
            if kept.len() < any_of.len() {
                property.remove("anyOf");
                property.insert("allOf".into(), Value::Array(kept));
            }
        }
    }
}

/// The schema a property points to: `$ref`, or a one-item `allOf`/`anyOf` of one.
fn target(property: &Value) -> Option<&str> {
    let direct = property.get("$ref").and_then(Value::as_str);
    let wrapped = || {
        ["allOf", "anyOf"].iter().find_map(|key| {
            property
                .get(*key)?
                .as_array()?
                .iter()
                .find_map(|alt| alt.get("$ref")?.as_str())
        })
    };
    direct
        .or_else(wrapped)
        .map(|r| r.trim_start_matches(REF_PREFIX))
}

/// Gives every schema without an example one taken from where it is used: a property's
/// value in its parent's example, a part of an `allOf` the parent's example cut to that
/// part's properties; an enumeration its first value.
pub fn spread_examples(schemas: &mut Map<String, Value>) {
    loop {
        let mut found: Vec<(String, Value)> = Vec::new();
        let missing = |name: &str, found: &[(String, Value)]| {
            schemas
                .get(name)
                .is_some_and(|s| s.get("example").is_none())
                && !found.iter().any(|(n, _)| n == name)
        };
        for schema in schemas.values() {
            let Some(example) = schema.get("example") else {
                continue;
            };
            for (name, property) in schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let value = example.get(name).filter(|v| !v.is_null());
                let (target, value) = match (target(property), property.get("items")) {
                    (Some(t), _) => (t, value),
                    (None, Some(items)) => match target(items) {
                        Some(t) => (t, value.and_then(|v| v.get(0))),
                        None => continue,
                    },
                    (None, None) => continue,
                };
                if let Some(value) = value
                    && missing(target, &found)
                {
                    found.push((target.to_string(), value.clone()));
                }
            }
            for part in schema
                .get("allOf")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = target(part) else { continue };
                let empty = Map::new();
                let keys = schemas.get(name).map(|s| {
                    s.get("properties")
                        .and_then(Value::as_object)
                        .unwrap_or(&empty)
                });
                if let (Some(keys), Value::Object(all)) = (keys, example)
                    && missing(name, &found)
                {
                    let cut: Map<String, Value> = all
                        .iter()
                        .filter(|(k, _)| keys.contains_key(*k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    found.push((name.to_string(), Value::Object(cut)));
                }
            }
        }
        for (name, schema) in schemas.iter() {
            if schema.get("example").is_none() && !found.iter().any(|(n, _)| n == name) {
                let first = schema
                    .pointer("/enum/0")
                    .or_else(|| schema.pointer("/oneOf/0/enum/0"));
                if let Some(first) = first {
                    found.push((name.clone(), first.clone()));
                }
            }
        }
        if found.is_empty() {
            return;
        }
        for (name, example) in found {
            if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
                schema.insert("example".into(), example);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_nulls() {
        assert_eq!(variant_name("plan_generated"), "PlanGeneratedEvent");
        assert_eq!(variant_name("error"), "ErrorEvent");
        let mut schema = json!({
            "required": ["a"],
            "properties": {
                "a": { "type": "string", "nullable": true },
                "b": { "type": "string", "nullable": true },
                "c": { "anyOf": [{ "$ref": "#/components/schemas/C" }, { "enum": [null], "nullable": true }] }
            }
        });
        drop_unsent_nulls(&mut schema);
        assert_eq!(schema["properties"]["a"]["nullable"], true);
        assert!(schema["properties"]["b"].get("nullable").is_none());
        assert_eq!(
            schema["properties"]["c"],
            json!({ "allOf": [{ "$ref": "#/components/schemas/C" }] })
        );
    }
}
