//! Issue 14: the browser client (`clients/web`) under injected faults, in Debian's headless
//! Chromium. `tests/browser/client_faults.mjs` runs against `buildwire up`: a page whose
//! Content-Security-Policy blocks `ws:` and a page whose WebSocket constructor throws
//! (`auto` falls back to SSE and sees the whole build; `ws` ends `failed` with an error),
//! and a TCP proxy that stops forwarding without closing (the liveness watchdog fires,
//! the client resumes, every event once). `tests/browser/client_retry.mjs` runs against
//! stand-in edges: SSE dropped after every response (the client's backoff and jitter, not
//! EventSource's retry; `fallback=1` once), failing token refreshers (backoff, not every
//! second) and the React hook's tokens.

mod common;

use std::time::Duration;

use buildwire_testkit::NatsFixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_falls_back_under_a_csp_and_resumes_a_connection_that_died_silently() {
    let fixture = NatsFixture::start();
    // Every page and its reconnects come from 127.0.0.1.
    let (base, _data, _up) = common::up(
        &fixture.url(),
        &[("BUILDWIRE_CONNECT_RATE_PER_MIN", "100000")],
    )
    .await;
    let report = common::browser_script(
        "client_faults.mjs",
        &[],
        &[("BASE", &base), ("KEY", common::KEY)],
        Duration::from_secs(480),
    )
    .await;
    eprintln!("in Chromium:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_owns_its_retries_and_backs_off_a_failing_token_refresher() {
    let report =
        common::browser_script("client_retry.mjs", &[], &[], Duration::from_secs(180)).await;
    eprintln!("in Chromium:\n{report}");
}
