//! sea-orm entities for the tables `buildwire-migrations` creates; private to the crate,
//! whose API speaks `buildwire_schemas` types.

pub mod build_event;
pub mod build_progress;
