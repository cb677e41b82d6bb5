//! `pipeline`: prompt to a working React + TypeScript + Tailwind preview through the real
//! stack (`buildwire up`: edge, plan, execute, build with real npm in its sandbox, deploy,
//! recorder), in three modes side by side in one run: the baseline (a full `npm install`
//! every build, `BUILDWIRE_BUILD_CACHE=off`), the lockfile and `--prefer-offline` alone,
//! and the build cache (the default). Phases, each over `prompts` prompts, the modes
//! interleaved build by build so the machine's noise falls on all of them alike:
//!
//! - **cold**: a fresh stack per build (new data dir, empty npm cache);
//! - **warm**: new projects on a stack whose caches the cold builds filled;
//! - **follow-up**: a change to each warm project ("Add a search feature", ...).
//!
//! Then **load**: `concurrent` builds submitted at once to the default stack while other
//! viewers watch other builds (see [`load`]). Every figure comes from the build's own
//! events ([`stack`]).

mod load;
mod stack;

use std::time::Duration;

use anyhow::Result;

use super::Settings;
use crate::report::{Report, ms, ratio, verdict};
pub use load::LoadFigures;
pub use stack::{BuildFigures, Mode, Stack};

/// New-app prompts (cold and warm phases), one per offline app.
const NEW_APPS: &[&str] = &[
    "Create a todo app with dark mode",
    "Make a notes app",
    "Build a kanban board",
    "Create a stopwatch timer",
    "a landing page for my bakery called Sweet Crumbs",
    "a recipe manager with ingredients and cooking time",
];
/// Follow-up prompts, one per warm project.
const FOLLOW_UPS: &[&str] = &[
    "Add a search feature",
    "make the header blue",
    "add a counter",
    "Add a search feature and a counter",
    "make the header green",
    "Show a welcome banner",
];
/// Builds submitted at once in the load phase.
pub const CONCURRENT: usize = 8;
/// Other viewers during the load phase, and the events per second they get.
const LOAD_VIEWERS: usize = 200;
const LOAD_RATE: f64 = 100.0;

/// A phase of the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// First build on a fresh stack.
    Cold,
    /// First build of a new project on a warm stack.
    Warm,
    /// A follow-up of a warm project.
    FollowUp,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Cold => "cold first build",
            Phase::Warm => "warm first build",
            Phase::FollowUp => "follow-up",
        }
    }
}

/// Everything the scenario measured.
#[derive(Clone, Debug)]
pub struct PipelineResults {
    /// Prompts per phase.
    pub prompts: usize,
    /// Builds by phase and mode.
    pub builds: Vec<(Phase, Mode, BuildFigures)>,
    /// The load phase.
    pub load: Option<LoadFigures>,
    /// The machine's load while it ran.
    pub conditions: String,
}

/// Runs the scenario with `prompts` prompts per phase.
pub async fn run(settings: &Settings, prompts: usize) -> Result<PipelineResults> {
    let prompts = prompts.max(1);
    let before = conditions();
    let mut builds = Vec::new();
    let mut stacks: Vec<Stack> = Vec::new();
    for i in 0..prompts {
        for mode in Mode::ALL {
            let stack = Stack::start(settings, mode).await?;
            let prompt = NEW_APPS[i % NEW_APPS.len()];
            let user = format!("cold-{i}");
            let figures = one(&stack, Phase::Cold, prompt, &user, None).await?;
            builds.push((Phase::Cold, mode, figures));
            if i + 1 == prompts {
                stacks.push(stack);
            } else {
                stack.stop().await;
            }
        }
    }
    let mut parents: Vec<Vec<(String, String)>> = vec![Vec::new(); stacks.len()];
    for i in 0..prompts {
        for (m, stack) in stacks.iter().enumerate() {
            let prompt = NEW_APPS[(i + 1) % NEW_APPS.len()];
            let user = format!("warm-{i}");
            let figures = one(stack, Phase::Warm, prompt, &user, None).await?;
            parents[m].push((user, figures.build_id.clone()));
            builds.push((Phase::Warm, stack.mode, figures));
        }
    }
    for i in 0..prompts {
        for (m, stack) in stacks.iter().enumerate() {
            let (user, parent) = &parents[m][i];
            let prompt = FOLLOW_UPS[i % FOLLOW_UPS.len()];
            let figures = one(stack, Phase::FollowUp, prompt, user, Some(parent)).await?;
            builds.push((Phase::FollowUp, stack.mode, figures));
        }
    }
    let mut load = None;
    if let Some(cached) = stacks.iter().find(|stack| stack.mode == Mode::Cached) {
        let prompts: Vec<&str> = (0..CONCURRENT)
            .map(|i| NEW_APPS[i % NEW_APPS.len()])
            .collect();
        load = Some(
            load::run(
                cached,
                &prompts,
                LOAD_VIEWERS,
                LOAD_RATE,
                Duration::from_secs(15),
            )
            .await?,
        );
    }
    for stack in stacks {
        stack.stop().await;
    }
    Ok(PipelineResults {
        prompts,
        builds,
        load,
        conditions: format!("{before}; after: {}", conditions()),
    })
}

async fn one(
    stack: &Stack,
    phase: Phase,
    prompt: &str,
    user: &str,
    parent: Option<&str>,
) -> Result<BuildFigures> {
    let submitted = stack.submit(prompt, user, user, parent).await?;
    let figures = stack.follow(submitted).await?;
    eprintln!(
        "[pipeline] {:<17} {:<36} {:>5.1} s  {} ({})",
        phase.name(),
        stack.mode.name(),
        figures.preview,
        if figures.ok { "ok" } else { "FAILED" },
        figures.origin
    );
    if !figures.ok {
        eprintln!("{}", stack.up.log_tail());
    }
    Ok(figures)
}

/// The machine's load average and CPU count (the machine is shared).
fn conditions() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    // Not available_parallelism: the harness pins itself to one CPU.
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    format!("load average {} on {cpus} CPUs", load.join(" "))
}

fn p50(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

fn secs(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.1}")
    } else {
        "n/a".into()
    }
}

impl PipelineResults {
    fn of(&self, phase: Phase, mode: Mode) -> Vec<&BuildFigures> {
        self.builds
            .iter()
            .filter(|(p, m, _)| *p == phase && *m == mode)
            .map(|(_, _, f)| f)
            .collect()
    }

    fn column(&self, phase: Phase, mode: Mode, pick: impl Fn(&BuildFigures) -> f64) -> Vec<f64> {
        self.of(phase, mode).into_iter().map(pick).collect()
    }
}

/// The scenario's tables: per phase and mode, the speed-ups, and the load phase.
pub fn tables(results: &PipelineResults) -> Vec<Report> {
    let phases = [Phase::Cold, Phase::Warm, Phase::FollowUp];
    let mut detail = Report::new(
        format!(
            "pipeline: prompt to a working preview, p50 over {} prompts per row (seconds)",
            results.prompts
        ),
        &[
            "phase",
            "mode",
            "ok",
            "preview p50",
            "preview max",
            "plan",
            "execute",
            "build stage",
            "slot wait",
            "dependencies",
            "npm run build",
            "deploy",
            "node_modules",
        ],
    );
    for phase in phases {
        for mode in Mode::ALL {
            let builds = results.of(phase, mode);
            if builds.is_empty() {
                continue;
            }
            let col = |pick: &dyn Fn(&BuildFigures) -> f64| {
                secs(p50(&mut builds.iter().map(|b| pick(b)).collect::<Vec<_>>()))
            };
            let mut origins: Vec<String> = builds.iter().map(|b| b.origin.clone()).collect();
            origins.sort();
            origins.dedup();
            detail.row(vec![
                phase.name().into(),
                mode.name().into(),
                format!(
                    "{}/{}",
                    builds.iter().filter(|b| b.ok).count(),
                    builds.len()
                ),
                col(&|b| b.preview),
                secs(max(&builds.iter().map(|b| b.preview).collect::<Vec<_>>())),
                col(&|b| b.stages[0]),
                col(&|b| b.stages[1]),
                col(&|b| b.stages[2]),
                col(&|b| b.queued),
                col(&|b| b.install),
                col(&|b| b.compile),
                col(&|b| b.stages[3]),
                origins.join("; "),
            ]);
        }
    }
    detail.note("preview: prompt sent until `complete` arrived on the build's WebSocket and the preview's page and every asset it loads answered 200");
    detail.note("stages: first to last stored event of the stage (JetStream store time); slot wait, dependencies and npm run build: between the build stage's QUEUED / INSTALL / BUILD / OPTIMIZE statuses");
    detail.note(format!("conditions: {}", results.conditions));

    let mut speed = Report::new(
        "pipeline: speed-up over the baseline in the same run (p50 and max of prompt to preview)",
        &[
            "phase",
            "baseline p50 / max s",
            "lockfile only p50 / max s",
            "build cache p50 / max s",
            "speed-up p50",
            "speed-up max",
            "target",
            "status",
        ],
    );
    for phase in phases {
        let stats = |mode| {
            let mut values = results.column(phase, mode, |b| b.preview);
            (p50(&mut values), max(&values))
        };
        let (base, lock, cache) = (
            stats(Mode::Baseline),
            stats(Mode::Lockfile),
            stats(Mode::Cached),
        );
        let (target, met) = match phase {
            Phase::Cold => ("-".to_owned(), "-".to_owned()),
            Phase::Warm => (
                ">= 1.5x; <= 6 s".to_owned(),
                format!(
                    "{} / {}",
                    verdict(base.0 / cache.0 >= 1.5),
                    verdict(cache.0 <= 6.0)
                ),
            ),
            Phase::FollowUp => (
                ">= 3x; <= 2.5 s".to_owned(),
                format!(
                    "{} / {}",
                    verdict(base.0 / cache.0 >= 3.0),
                    verdict(cache.0 <= 2.5)
                ),
            ),
        };
        speed.row(vec![
            phase.name().into(),
            format!("{} / {}", secs(base.0), secs(base.1)),
            format!("{} / {}", secs(lock.0), secs(lock.1)),
            format!("{} / {}", secs(cache.0), secs(cache.1)),
            ratio(base.0, cache.0),
            ratio(base.1, cache.1),
            target,
            met,
        ]);
    }
    speed.note("speed-up: baseline / build cache; the targets are the issue's (ratio, then the absolute time of the build cache's p50)");
    let mut reports = vec![detail, speed];
    if let Some(load) = &results.load {
        reports.push(load_table(load));
    }
    reports
}

fn load_table(load: &LoadFigures) -> Report {
    let mut report = Report::new(
        format!(
            "pipeline: {} builds submitted at once (build cache, warm) while {} viewers watch other builds",
            load.builds.len(),
            load.viewers
        ),
        &["figure", "without builds", "during the builds", "ratio"],
    );
    let ok = load.builds.iter().filter(|b| b.ok).count();
    let mut previews: Vec<f64> = load.builds.iter().map(|b| b.preview).collect();
    let told: Vec<&String> = load.builds.iter().flat_map(|b| &b.told).collect();
    report.row(vec![
        "builds completed with a working preview".into(),
        "-".into(),
        format!("{ok}/{}", load.builds.len()),
        "-".into(),
    ]);
    report.row(vec![
        "prompt to preview p50 / max (s); all done".into(),
        "-".into(),
        format!(
            "{} / {}; {} s",
            secs(p50(&mut previews)),
            secs(max(&previews)),
            secs(load.wall)
        ),
        "-".into(),
    ]);
    report.row(vec![
        "builds told their place in line".into(),
        "-".into(),
        format!(
            "{} of {} (e.g. {:?})",
            load.builds.iter().filter(|b| !b.told.is_empty()).count(),
            load.builds.len(),
            told.iter()
                .max_by_key(|m| m.len())
                .map_or("", |m| m.as_str())
        ),
        "-".into(),
    ]);
    let three = |(a, b, c): (f64, f64, f64)| format!("{} / {} / {}", ms(a), ms(b), ms(c));
    report.row(vec![
        "other viewers: publish to client p50 / p99 / max (ms)".into(),
        three(load.quiet),
        three(load.busy),
        ratio(load.busy.1, load.quiet.1),
    ]);
    report.row(vec![
        "the same, the quiet window before | after the builds".into(),
        format!(
            "{} | {}",
            three(load.quiet_apart.0),
            three(load.quiet_apart.1)
        ),
        "-".into(),
        "-".into(),
    ]);
    if let Some([before, during, after]) = load.edge {
        let two = |(a, b): (f64, f64)| format!("<={} / <={}", ms(a), ms(b));
        report.row(vec![
            "edge's histogram p50 / p99 (ms, bucket bounds), before | after".into(),
            format!("{} | {}", two(before), two(after)),
            two(during),
            ratio(during.1, before.1.max(after.1)),
        ]);
    }
    report.note(format!(
        "other viewers: WebSocket clients of {} synthetic builds fed {} events/s in all; without builds: a {} s window before the builds and one after, together; during: from the submissions until the last build completed",
        20, load.rate, load.quiet_secs
    ));
    report.note("the edge's histogram counts every delivery in the window, the building apps' own viewers included");
    report
}
