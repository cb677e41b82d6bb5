//! The HTTP API's bodies and [`Event`] as poem-openapi types, for the edge's OpenAPI
//! document.
//!
//! Their schemas are not derived a second time for poem-openapi: schemars writes them
//! (OpenAPI 3.0 dialect) from the same types and doc comments as `schemas/json/`
//! ([`components`]), and [`convert`] reads that into poem-openapi's registry. So the spec
//! says what serde sends: `null` where a field is null, the per-type union of events, and
//! an example on every schema ([`examples`]). Bodies are read and written with serde.

pub mod components;
pub mod convert;
pub mod examples;
pub mod shape;

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::api::{BuildAccepted, BuildProgress, BuildToken, EventsPage, Problem, SubmitBuild};
use crate::events::Event;

/// Every `type` an event can carry.
pub const EVENT_TYPES: [&str; 25] = [
    "status",
    "plan_generated",
    "plan_failed",
    "task_started",
    "task_completed",
    "task_failed",
    "file_progress",
    "usage",
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

/// Implements poem-openapi's `Type`, `ToJSON` and `ParseFromJSON` for types whose schema
/// is one of [`components`] (named as schemars names it) and whose JSON is serde's.
macro_rules! bridged {
    ($($ty:ident),* $(,)?) => {$(
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                stringify!($ty).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference(stringify!($ty).into())
            }

            fn register(registry: &mut Registry) {
                components::register(registry);
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

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                serde_json::to_value(self).ok()
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                serde_json::from_value(value.unwrap_or_default()).map_err(ParseError::custom)
            }
        }
    )*};
}

bridged!(
    Event,
    SubmitBuild,
    BuildAccepted,
    BuildProgress,
    EventsPage,
    BuildToken,
    Problem
);

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

    #[test]
    fn bridged_names_are_the_component_names() {
        use schemars::JsonSchema;
        for (rust, schemars) in [
            (Event::name(), Event::schema_name()),
            (SubmitBuild::name(), SubmitBuild::schema_name()),
            (BuildAccepted::name(), BuildAccepted::schema_name()),
            (BuildProgress::name(), BuildProgress::schema_name()),
            (EventsPage::name(), EventsPage::schema_name()),
            (BuildToken::name(), BuildToken::schema_name()),
            (Problem::name(), Problem::schema_name()),
        ] {
            assert_eq!(rust, schemars);
            assert!(components::json().contains_key(rust.as_ref()), "{rust}");
        }
    }
}
