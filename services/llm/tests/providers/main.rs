//! The real HTTP providers against local fakes of their APIs (`buildwire-fakes`: 127.0.0.1,
//! free ports, no network): the tool loop, requests, progress and usage per provider, and
//! every fault the providers must survive or report clearly.

mod anthropic;
mod common;
mod faults_http;
mod faults_stream;
mod openai;
