//! Issue 7 in a real browser: `buildwire up` serves the demo page, and
//! `tests/browser/demo.mjs` drives it in Debian's headless Chromium (playwright-core):
//! builds from the prompt and follow-up boxes, a refresh and a network cut mid-build, a
//! WebSocket-refusing proxy (SSE fallback), and the React hook. It saves
//! `test-artifacts/demo-progress.png`, the finished progress view.

mod common;

use std::time::Duration;

use buildwire_testkit::NatsFixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_and_the_hook_show_every_step_once_through_refresh_cut_and_fallback() {
    let fixture = NatsFixture::start();
    // Five builds from the page run as user `demo`; the default burst is five.
    let (base, _data, _up) =
        common::up(&fixture.url(), &[("BUILDWIRE_RATE_USER_BURST", "20")]).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let artifacts = root.join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let shot = artifacts.join("demo-progress.png");
    let _ = std::fs::remove_file(&shot);
    let report = common::browser_script(
        "demo.mjs",
        &[&artifacts.to_string_lossy()],
        &[("BASE", &base), ("KEY", common::KEY)],
        Duration::from_secs(420),
    )
    .await;
    assert!(shot.is_file(), "a screenshot of the finished progress view");
    eprintln!("in Chromium:\n{report}");
}
