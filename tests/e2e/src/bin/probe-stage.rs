//! `probe-stage`: runs the probe handler as a stage service, exactly as a real stage runs
//! (config from the environment, definitions applied, SIGTERM drains). `PROBE_STAGE` picks
//! the stage (default plan), `PROBE_STEP_DELAY_MS` the pause per step, `PROBE_LOG` a file
//! of started/completed lines. Prints `ready` once it consumes.

use std::{process::ExitCode, time::Duration};

use buildwire_e2e::ProbeStage;
use buildwire_runtime::{
    Config,
    nats::Nats,
    shutdown,
    stage::{self, WorkerOptions},
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("probe-stage: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    let env = |name: &str| std::env::var(name).ok();
    let probe = ProbeStage {
        stage: env("PROBE_STAGE")
            .and_then(|s| s.parse().ok())
            .unwrap_or(buildwire_schemas::Stage::Plan),
        step_delay: Duration::from_millis(
            env("PROBE_STEP_DELAY_MS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        ),
        log: env("PROBE_LOG").map(Into::into),
    };
    let stop = shutdown::on_signal();
    let nats = match Nats::setup(&config, "probe-stage").await {
        Ok(nats) => nats,
        Err(err) => {
            eprintln!("probe-stage: {err}");
            return ExitCode::from(1);
        }
    };
    println!("ready");
    match stage::run(probe, nats, WorkerOptions::from_config(&config), stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("probe-stage: {err}");
            ExitCode::from(1)
        }
    }
}
