//! The command line: one subcommand per scenario (sizes default to the issue's, `--quick`
//! for small ones), `all` for the whole set, and `bare` (the bare broadcaster, which the
//! harness starts as its own process).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::clients::Target;
use crate::report::Format;
use crate::scenarios::fanout::Fanout;
use crate::scenarios::memory::Memory;
use crate::scenarios::storm::Storm;
use crate::scenarios::{self, Settings, Standing};
use crate::servers::Tools;
use crate::sys::{self, Pinning};

/// Benchmarks of the buildwire edge against socket.io 4.8 and a bare broadcaster.
#[derive(Parser, Debug)]
#[command(name = "buildwire-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The buildwire binary (default: `buildwire` next to this one, i.e. target/<profile>/).
    #[arg(long, global = true)]
    buildwire: Option<PathBuf>,
    /// The socket.io baseline's folder (default: bench/socketio of this source tree).
    #[arg(long, global = true)]
    socketio: Option<PathBuf>,
    /// Do not pin the server under test to CPU 0 and the generator to CPU 1.
    #[arg(long, global = true)]
    no_pin: bool,
    /// Small sizes (seconds instead of minutes).
    #[arg(long, global = true)]
    quick: bool,
    /// Table layout.
    #[arg(long, global = true, value_enum, default_value = "text")]
    format: Format,
    /// WebSocket/SSE handshakes in flight at once.
    #[arg(long, global = true, default_value_t = 512)]
    concurrency: usize,
    /// Extra bytes in each event's message (real log batches are larger than status events).
    #[arg(long, global = true, default_value_t = 0)]
    padding: usize,
    /// Exit non-zero when an edge viewer missed or repeated an event.
    #[arg(long, global = true)]
    check: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Latency and delivered events/s: N viewers over B live builds.
    Fanout {
        /// Viewers (default 10,000; quick 200).
        #[arg(long)]
        viewers: Option<usize>,
        /// Live builds (default 1,000; quick 20).
        #[arg(long)]
        builds: Option<usize>,
        /// Steady phase: events per second over all builds (default 2 per build).
        #[arg(long)]
        rate: Option<f64>,
        /// Steady phase seconds (default 10; quick 2).
        #[arg(long)]
        seconds: Option<f64>,
        /// Burst: events per build (default: ~600,000 deliveries, <= 50,000 publishes).
        #[arg(long)]
        burst: Option<u32>,
        /// Targets (default: all four).
        #[arg(long, value_enum, value_delimiter = ',')]
        targets: Vec<Target>,
    },
    /// Reconnect storm: N viewers resume from random cursors at once.
    Storm {
        /// Viewers (default 10,000; quick 200).
        #[arg(long)]
        viewers: Option<usize>,
        /// Builds (default 1,000; quick 20).
        #[arg(long)]
        builds: Option<usize>,
        /// Events per build seen before the drop (default 20).
        #[arg(long)]
        history: Option<u32>,
        /// Events per build stored while away (default 5, at least 1).
        #[arg(long)]
        missed: Option<u32>,
        /// Live events per second during the storm (default 1 per build).
        #[arg(long)]
        live_rate: Option<f64>,
        /// Targets (default: edge-ws, socketio, bare).
        #[arg(long, value_enum, value_delimiter = ',')]
        targets: Vec<Target>,
    },
    /// Server RSS per idle viewer.
    Memory {
        /// Idle viewers (default 50,000, capped by the open-file limit; quick 1,000).
        #[arg(long)]
        viewers: Option<usize>,
        /// Builds (default 1,000; quick 100).
        #[arg(long)]
        builds: Option<usize>,
        /// Targets (default: all four).
        #[arg(long, value_enum, value_delimiter = ',')]
        targets: Vec<Target>,
    },
    /// Prompt to a working preview through `buildwire up` (real npm): cold, warm and
    /// follow-up builds against the no-cache baseline, then 8 builds at once.
    Pipeline {
        /// Prompts per phase and mode (default 5; quick 1).
        #[arg(long)]
        builds: Option<usize>,
    },
    /// Every scenario at the sizes (fanout 1k/10k over 100/1,000 builds, storm
    /// 10k, memory 50k or the open-file cap, pipeline).
    All,
    /// The bare broadcaster (started by the harness as the `bare` target).
    #[command(hide = true)]
    Bare {
        /// NATS URL.
        #[arg(long)]
        nats: String,
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
    },
}

fn pick<T>(given: Option<T>, quick: bool, small: T, full: T) -> T {
    given.unwrap_or(if quick { small } else { full })
}

fn targets(given: Vec<Target>, default: &[Target]) -> Vec<Target> {
    if given.is_empty() {
        default.to_vec()
    } else {
        given
    }
}

const ALL: &[Target] = &[
    Target::EdgeWs,
    Target::EdgeSse,
    Target::SocketIo,
    Target::Bare,
];
const WS_ONLY: &[Target] = &[Target::EdgeWs, Target::SocketIo, Target::Bare];

/// Runs the command; `Ok(false)` when `--check` found an edge viewer with gaps or dups.
pub fn run(cli: Cli) -> Result<bool> {
    if let Command::Bare { nats, addr } = &cli.command {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(crate::bare::serve(nats, addr))?;
        return Ok(true);
    }
    let pinning = if cli.no_pin {
        Pinning::none()
    } else {
        Pinning::detect()
    };
    // Before the runtime's threads exist, so they (and nats-server) inherit the CPU.
    pinning.pin_generator()?;
    let nofile = sys::raise_nofile();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(cli, pinning, nofile))
}

async fn dispatch(cli: Cli, pinning: Pinning, nofile: u64) -> Result<bool> {
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("this binary has no folder")?
        .to_path_buf();
    let buildwire = cli
        .buildwire
        .clone()
        .unwrap_or_else(|| exe_dir.join("buildwire"));
    let socketio = cli
        .socketio
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("socketio"));
    let needs_socketio = !matches!(cli.command, Command::Pipeline { .. });
    let tools = Tools::check(buildwire, socketio, pinning.clone(), needs_socketio)?;
    let settings = Settings {
        tools,
        format: cli.format,
        concurrency: cli.concurrency,
        padding: cli.padding,
    };
    let cap = sys::max_sockets(nofile);
    eprintln!(
        "buildwire-bench: {}; open files {nofile} (at most {cap} viewers per process)",
        pinning.describe()
    );
    let (quick, check) = (cli.quick, cli.check);
    let (mut fanouts, mut storm, mut memory, mut pipeline) = (Vec::new(), None, None, None);
    match cli.command {
        Command::Fanout {
            viewers,
            builds,
            rate,
            seconds,
            burst,
            targets: given,
        } => {
            let viewers = pick(viewers, quick, 200, 10_000).min(cap);
            let builds = pick(builds, quick, 20, 1_000);
            fanouts.push(Fanout {
                viewers,
                builds,
                rate: rate.unwrap_or(2.0 * builds as f64),
                seconds: pick(seconds, quick, 2.0, 10.0),
                burst: burst.unwrap_or_else(|| scenarios::burst_for(viewers, builds)),
                targets: targets(given, ALL),
            });
        }
        Command::Storm {
            viewers,
            builds,
            history,
            missed,
            live_rate,
            targets: given,
        } => {
            let builds = pick(builds, quick, 20, 1_000);
            storm = Some(Storm {
                viewers: pick(viewers, quick, 200, 10_000).min(cap),
                builds,
                history: pick(history, quick, 10, 20).max(1),
                missed: pick(missed, quick, 3, 5).max(1),
                live_rate: live_rate.unwrap_or(builds as f64),
                targets: targets(given, WS_ONLY),
            });
        }
        Command::Memory {
            viewers,
            builds,
            targets: given,
        } => {
            memory = Some(memory_shape(
                pick(viewers, quick, 1_000, 50_000),
                pick(builds, quick, 100, 1_000),
                cap,
                targets(given, ALL),
            ));
        }
        Command::Pipeline { builds } => pipeline = Some(pick(builds, quick, 1, 5)),
        Command::All => {
            let sizes: &[(usize, usize)] = if quick {
                &[(200, 20)]
            } else {
                &[(1_000, 100), (1_000, 1_000), (10_000, 100), (10_000, 1_000)]
            };
            for &(viewers, builds) in sizes {
                fanouts.push(Fanout {
                    viewers: viewers.min(cap),
                    builds,
                    rate: 2.0 * builds as f64,
                    seconds: if quick { 2.0 } else { 10.0 },
                    burst: scenarios::burst_for(viewers, builds),
                    targets: ALL.to_vec(),
                });
            }
            let (viewers, builds) = if quick { (200, 20) } else { (10_000, 1_000) };
            storm = Some(Storm {
                viewers: viewers.min(cap),
                builds,
                history: if quick { 10 } else { 20 },
                missed: if quick { 3 } else { 5 },
                live_rate: builds as f64,
                targets: WS_ONLY.to_vec(),
            });
            let (viewers, builds) = if quick { (1_000, 100) } else { (50_000, 1_000) };
            memory = Some(memory_shape(viewers, builds, cap, ALL.to_vec()));
            pipeline = Some(if quick { 1 } else { 5 });
        }
        Command::Bare { .. } => unreachable!("handled before the runtime starts"),
    }
    let correct = run_scenarios(&settings, &fanouts, storm, memory, pipeline).await?;
    Ok(correct || !check)
}

fn memory_shape(viewers: usize, builds: usize, cap: usize, targets: Vec<Target>) -> Memory {
    if viewers > cap {
        eprintln!(
            "buildwire-bench: {viewers} viewers asked, but the open-file limit allows {cap} per process (RLIMIT_NOFILE hard limit); measuring {cap}"
        );
    }
    Memory {
        viewers: viewers.min(cap),
        builds,
        targets,
    }
}

async fn run_scenarios(
    settings: &Settings,
    fanouts: &[Fanout],
    storm: Option<Storm>,
    memory: Option<Memory>,
    pipeline: Option<usize>,
) -> Result<bool> {
    let mut fanout_results = Vec::new();
    for shape in fanouts {
        let results = scenarios::fanout::run(settings, shape).await?;
        settings.print(&scenarios::fanout::table(shape, &results));
        fanout_results.push(results);
    }
    let storm_results = match &storm {
        Some(shape) => {
            let results = scenarios::storm::run(settings, shape).await?;
            settings.print(&scenarios::storm::table(shape, &results));
            Some(results)
        }
        None => None,
    };
    let memory_results = match &memory {
        Some(shape) => {
            let results = scenarios::memory::run(settings, shape).await?;
            settings.print(&scenarios::memory::table(shape, &results));
            Some(results)
        }
        None => None,
    };
    if let Some(builds) = pipeline {
        let results = scenarios::pipeline::run(settings, builds).await?;
        for report in scenarios::pipeline::tables(&results) {
            settings.print(&report);
        }
    }
    // The headline fanout is the largest (the 10,000 viewers over 1,000 builds).
    let headline = fanouts
        .iter()
        .zip(&fanout_results)
        .max_by_key(|(shape, _)| (shape.viewers, shape.builds));
    let mut correct = true;
    for (shape, results) in fanouts.iter().zip(&fanout_results) {
        correct &= scenarios::edge_correct(&Standing {
            fanout: Some((shape, results)),
            ..Standing::default()
        });
    }
    let figures = Standing {
        fanout: headline.map(|(shape, results)| (shape, results.as_slice())),
        memory: memory.as_ref().zip(memory_results.as_deref()),
        storm: storm.as_ref().zip(storm_results.as_deref()),
    };
    correct &= scenarios::edge_correct(&figures);
    let standing = scenarios::standing(&figures);
    if !standing.rows.is_empty() {
        settings.print(&standing);
    }
    Ok(correct)
}
