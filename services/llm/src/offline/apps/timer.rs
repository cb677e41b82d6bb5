//! The timer app: a stopwatch with laps and a countdown timer, both kept across reloads
//! (a running one keeps running).
//!
//! Hooks: `#stopwatch-display` (`mm:ss.cc`), `#stopwatch-start` (Start / Pause),
//! `#stopwatch-lap`, `#stopwatch-reset`, `#lap-list` with `.lap-item`; `#timer-minutes`,
//! `#timer-seconds`, `#timer-display` (`mm:ss`), `#timer-start`, `#timer-reset`,
//! `#timer-done` ("Time's up!"). localStorage: `buildwire.timer.stopwatch`,
//! `buildwire.timer.countdown`.

use super::{AppParts, file};

/// The timer app's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Timer & Stopwatch".into(),
        storage: "buildwire.timer".into(),
        config: Vec::new(),
        files: vec![
            file("src/types.ts", include_str!("templates/timer/types.ts")),
            file("src/lib/time.ts", include_str!("templates/timer/time.ts")),
            file(
                "src/hooks/useNow.ts",
                include_str!("templates/timer/useNow.ts"),
            ),
            file(
                "src/components/LapList.tsx",
                include_str!("templates/timer/LapList.tsx"),
            ),
            file(
                "src/components/Stopwatch.tsx",
                include_str!("templates/timer/Stopwatch.tsx"),
            ),
            file(
                "src/components/Countdown.tsx",
                include_str!("templates/timer/Countdown.tsx"),
            ),
        ],
        components: vec!["Stopwatch", "Countdown"],
        width: "max-w-3xl",
    }
}
