//! Test fixtures for the LLM providers: a fake Anthropic Messages server and a fake
//! OpenAI-compatible Chat Completions server, each on a free 127.0.0.1 port, scripted per
//! test, speaking the public wire protocol (paths, auth headers, SSE frames, error bodies,
//! `retry-after`). The providers under test are the real code; only the far end is fake.
//!
//! ```no_run
//! # async fn demo() {
//! use buildwire_fakes::{Fake, anthropic};
//! let fake = Fake::anthropic("sk-test").await;
//! fake.push(anthropic::error(529, "overloaded_error", "Overloaded").with_header("retry-after", "1"));
//! fake.push(anthropic::message().text("Done.").reply());
//! // point ANTHROPIC_BASE_URL at fake.base_url(), run, then inspect fake.requests()
//! # }
//! ```

pub mod anthropic;
pub mod openai;
mod server;

pub use server::{End, Fake, Frame, Recorded, Reply};

/// Splits `text` into pieces of at most `size` characters (never inside a character), as a
/// server streaming tokens would.
pub(crate) fn pieces(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|chunk| chunk.iter().collect())
        .collect()
}
