//! Starting stage services: `buildwire plan|execute|build|deploy` run one; `up` runs all
//! four beside the edge. Each is the runtime's one stage loop over its handler.

use std::sync::Arc;

use buildwire_llm::{OfflineProvider, Provider};
use buildwire_runtime::objects::{Artifacts, Sources};
use buildwire_runtime::stage::{self, WorkerOptions};
use buildwire_runtime::{Config, nats::Nats};
use buildwire_schemas::Stage;
use tokio_util::sync::CancellationToken;

/// Any start-up or run failure of a stage service.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The configured LLM provider (`BUILDWIRE_LLM`).
pub fn provider(config: &Config) -> Result<Arc<dyn Provider>, Failure> {
    match config.llm.as_str() {
        "offline" => Ok(Arc::new(OfflineProvider)),
        other => Err(format!(
            "BUILDWIRE_LLM={other}: this build ships the offline provider only (the anthropic provider arrives with its issue)"
        )
        .into()),
    }
}

/// Runs `which` stage's worker until `stop`.
pub async fn run(
    config: Config,
    nats: Nats,
    which: Stage,
    stop: CancellationToken,
) -> Result<(), Failure> {
    let options = WorkerOptions::from_config(&config);
    match which {
        Stage::Plan => {
            let handler =
                buildwire_plan::PlanStage::new(provider(&config)?, Sources::open(&nats).await?);
            stage::run(handler, nats, options, stop).await?;
        }
        Stage::Execute => {
            let handler = buildwire_execute::ExecuteStage::new(
                provider(&config)?,
                Sources::open(&nats).await?,
            );
            stage::run(handler, nats, options, stop).await?;
        }
        Stage::Build => {
            let handler = buildwire_build::BuildStage::from_config(&config, &nats).await?;
            stage::run(handler, nats, options, stop).await?;
        }
        Stage::Deploy => {
            let handler = buildwire_deploy::DeployStage::local(
                Artifacts::open(&nats).await?,
                &config.public_base(),
            );
            stage::run(handler, nats, options, stop).await?;
        }
    }
    Ok(())
}

/// Runs the record service (events -> database, and the sweeper that ends builds queued
/// but never started) until `stop`.
pub async fn record(config: Config, nats: Nats, stop: CancellationToken) -> Result<(), Failure> {
    let store = buildwire_record::Store::from_config(&config).await?;
    let sweep_stop = stop.child_token();
    let sweeper = tokio::spawn(buildwire_record::sweep::run(
        nats.clone(),
        store.clone(),
        buildwire_record::sweep::SweepOptions::default(),
        sweep_stop.clone(),
    ));
    let recorded = buildwire_record::recorder::run(nats, store, stop).await;
    sweep_stop.cancel();
    let _ = sweeper.await;
    recorded?;
    Ok(())
}

/// `buildwire record`: connects, applies the definitions and migrations, records until
/// SIGTERM.
pub async fn serve_record(config: Config) -> Result<(), Failure> {
    let stop = buildwire_runtime::shutdown::on_signal();
    let nats = Nats::setup(&config, "buildwire-record").await?;
    record(config, nats, stop).await
}

/// `buildwire migrate`: applies the migrations and says where.
pub async fn migrate(config: Config) -> Result<(), Failure> {
    buildwire_record::Store::from_config(&config).await?;
    println!(
        "buildwire migrate: {} is up to date",
        config
            .database_url
            .as_deref()
            .map_or("the SQLite database under the data dir", |_| "DATABASE_URL")
    );
    Ok(())
}

/// `buildwire <stage>`: connects, applies the definitions, runs the stage until SIGTERM.
pub async fn serve(config: Config, which: Stage) -> Result<(), Failure> {
    let stop = buildwire_runtime::shutdown::on_signal();
    let nats = Nats::setup(&config, &format!("buildwire-{which}")).await?;
    run(config, nats, which, stop).await
}
