//! The record service: every build event stored in JetStream is written to a database
//! (`build_events`) and folded into its build's `build_progress` row, so history and
//! status survive the stream's retention and can be queried with SQL.
//!
//! [`store`] owns the database (SQLite by default, PostgreSQL in production);
//! [`recorder`] moves events from the `record` consumer on `EVENTS` into it; [`sweep`]
//! ends builds that were announced but never started.

mod entity;
pub mod error;
pub mod recorder;
pub mod store;
pub mod sweep;

pub use error::{RecordError, StoreError};
pub use store::{Recorded, Store};
