//! End-to-end tests against real nats-server processes. One test binary (linking once is
//! the slow part); each module is one capability.

mod client_types;
mod contract;
mod demo;
mod edge;
mod edge_api;
mod edge_clients;
mod edge_input;
mod export;
mod feed_linger;
mod guards;
mod nats_auth;
mod openapi_conformance;
mod persistence;
mod recovery;
mod slowloris;
mod spine;
mod stages;
mod support;
mod tenancy;
mod ws_protocol;
