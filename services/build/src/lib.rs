//! The build stage (work in progress).
