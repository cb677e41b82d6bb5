//! [`Event`] as a poem-openapi type, so `GET /v1/builds/{id}/events` documents its items.
//! The OpenAPI schema names the envelope every event shares; the full per-type shapes are
//! the generated JSON Schema `schemas/json/event.schema.json`.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::events::Event;

/// Every `type` an event can carry.
pub const EVENT_TYPES: [&str; 23] = [
    "status",
    "plan_generated",
    "plan_failed",
    "task_started",
    "task_completed",
    "task_failed",
    "execute_failed",
    "build_started",
    "build_progress",
    "build_completed",
    "build_failed",
    "deploy_started",
    "deploy_progress",
    "deploy_completed",
    "deploy_failed",
    "deploy_log",
    "error",
    "complete",
    "failed",
    "cancelled",
    "snapshot",
    "connected",
    "heartbeat",
];

fn field(ty: &'static str, format: Option<&'static str>, doc: &'static str) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        format,
        description: Some(doc),
        ..MetaSchema::new(ty)
    }))
}

impl Type for Event {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "Event".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference("Event".into())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>("Event".into(), |_| MetaSchema {
            description: Some(
                "A build event. Fields beyond the envelope depend on `type`; see schemas/json/event.schema.json.",
            ),
            required: vec!["buildId", "type", "timestamp", "requestId"],
            properties: vec![
                (
                    "seq",
                    field(
                        "integer",
                        Some("uint64"),
                        "JetStream stream sequence: increasing within a build; the resume cursor.",
                    ),
                ),
                ("buildId", field("string", None, "The build (a ULID).")),
                (
                    "type",
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        description: Some("What happened."),
                        enum_items: EVENT_TYPES.iter().map(|t| Value::from(*t)).collect(),
                        ..MetaSchema::new("string")
                    })),
                ),
                (
                    "timestamp",
                    field("string", Some("date-time"), "When the event was produced."),
                ),
                (
                    "requestId",
                    field("string", None, "The request that started the build."),
                ),
            ],
            additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(
                MetaSchema::ANY,
            )))),
            ..MetaSchema::new("object")
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for Event {
    fn to_json(&self) -> Option<Value> {
        serde_json::to_value(self).ok()
    }
}

impl ParseFromJSON for Event {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        serde_json::from_value(value.unwrap_or_default()).map_err(ParseError::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_listed() {
        let listed: Vec<&str> = crate::schema_files::all()
            .into_iter()
            .filter(|(name, _)| *name == "event.schema.json")
            .flat_map(|(_, text)| {
                EVENT_TYPES
                    .iter()
                    .filter(move |t| text.contains(&format!("\"{t}\"")))
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(listed.len(), EVENT_TYPES.len());
    }
}
