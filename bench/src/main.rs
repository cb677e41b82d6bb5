//! `buildwire-bench`: runs a benchmark scenario against the buildwire edge and two
//! baselines (socket.io 4.8, a bare tokio WebSocket broadcaster) on the same events, and
//! prints a table with the edge's ratios to each. See `bench/README.md`.

mod bare;
mod cli;
mod clients;
mod edge_metrics;
mod marker;
mod probe;
mod publisher;
mod report;
mod scenarios;
mod servers;
mod sys;
mod tokens;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("buildwire-bench: --check failed: an edge viewer missed or repeated events");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("buildwire-bench: {err:#}");
            ExitCode::from(2)
        }
    }
}
