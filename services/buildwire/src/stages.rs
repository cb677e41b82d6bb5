//! Starting stage services: `buildwire plan|execute|build|deploy` run one; `up` runs all
//! four beside the edge. Each is the runtime's one stage loop over its handler. Also the
//! record service and the notifier (`buildwire record`, `buildwire notify`).

use std::sync::Arc;

use buildwire_llm::{AnthropicProvider, OfflineProvider, OpenAiProvider, Provider, Settings};
use buildwire_notify::NotifyOptions;
use buildwire_runtime::objects::Sources;
use buildwire_runtime::stage::{self, WorkerOptions};
use buildwire_runtime::{Config, nats::Nats};
use buildwire_schemas::Stage;
use tokio_util::sync::CancellationToken;

/// Any start-up or run failure of a stage service.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The configured LLM provider (`BUILDWIRE_LLM`): `offline`, `anthropic` (`ANTHROPIC_*`)
/// or `openai` (`OPENAI_*`), with the shared `BUILDWIRE_LLM_*` limits.
pub fn provider(config: &Config) -> Result<Arc<dyn Provider>, Failure> {
    let settings = |base_url: &str, api_key: &Option<String>, model: &str| {
        let mut settings = Settings::new(base_url, model);
        settings.api_key = api_key.clone();
        settings.max_tokens = config.llm_max_tokens;
        settings.temperature = config.llm_temperature;
        settings.timeout = std::time::Duration::from_millis(config.llm_timeout_ms);
        settings.retries = config.llm_retries;
        settings
    };
    match config.llm.as_str() {
        "offline" => Ok(Arc::new(OfflineProvider)),
        "anthropic" => Ok(Arc::new(AnthropicProvider::new(settings(
            &config.anthropic_base_url,
            &config.anthropic_api_key,
            &config.anthropic_model,
        ))?)),
        "openai" => Ok(Arc::new(OpenAiProvider::new(settings(
            &config.openai_base_url,
            &config.openai_api_key,
            &config.openai_model,
        ))?)),
        other => {
            Err(format!("BUILDWIRE_LLM={other}: expected offline, anthropic or openai").into())
        }
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
    buildwire_runtime::breaker::set_trip_policy(
        config.breaker_failures as usize,
        chrono::Duration::seconds(i64::try_from(config.breaker_window_secs).unwrap_or(i64::MAX)),
    );
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
            // Auto-fix sends failed builds back to the model, traced and counted like the
            // plan's and the tasks' calls (off with the offline provider).
            let fixer = buildwire_plan::TracedProvider::wrap(provider(&config)?);
            let handler = buildwire_build::BuildStage::from_config(&config, &nats)
                .await?
                .with_autofix(fixer, config.autofix_attempts);
            stage::run(handler, nats, options, stop).await?;
        }
        Stage::Deploy => {
            let handler = buildwire_deploy::DeployStage::from_config(&config, &nats).await?;
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
    serve_metrics(&config, &stop).await?;
    let nats = Nats::setup(&config, "buildwire-record").await?;
    record(config, nats, stop).await
}

/// Serves `GET /metrics` on `BUILDWIRE_METRICS_ADDR` when set (a service run on its own;
/// in `up` the edge serves every service's).
pub async fn serve_metrics(config: &Config, stop: &CancellationToken) -> Result<(), Failure> {
    if let Some(addr) = &config.metrics_addr {
        buildwire_runtime::metrics::serve(addr, stop.clone()).await?;
    }
    Ok(())
}

/// `buildwire setup`: applies the NATS definitions and the database migrations, then exits.
pub async fn setup(config: Config) -> Result<(), Failure> {
    drop(Nats::setup(&config, "buildwire-setup").await?);
    buildwire_record::Store::from_config(&config).await?;
    println!("buildwire setup: NATS definitions and database migrations applied");
    Ok(())
}

/// The notifier's settings (`MAIN_APP_URL`, ...) with its target checked: an internal
/// address without `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE` stops the start with a clear error.
pub async fn notify_options(config: &Config) -> Result<NotifyOptions, Failure> {
    let options = NotifyOptions::from_config(config)?;
    buildwire_notify::target::check_url(&options.url, options.allow_private).await?;
    Ok(options)
}

/// Runs the notifier until `stop` (its metrics in the process's registry).
pub async fn notify(
    config: Config,
    options: NotifyOptions,
    nats: Nats,
    stop: CancellationToken,
) -> Result<(), Failure> {
    let options = options
        .with_links_for(&config)?
        .with_build_targets(&nats)
        .await?;
    let metrics = buildwire_notify::Metrics::shared();
    buildwire_notify::run(nats, options, metrics, stop).await?;
    Ok(())
}

/// `buildwire notify`: checks the target, connects, checks the definitions, sends webhooks
/// until SIGTERM.
pub async fn serve_notify(config: Config) -> Result<(), Failure> {
    let options = notify_options(&config).await?;
    let stop = buildwire_runtime::shutdown::on_signal();
    serve_metrics(&config, &stop).await?;
    let nats = Nats::setup(&config, "buildwire-notify").await?;
    notify(config, options, nats, stop).await
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
    serve_metrics(&config, &stop).await?;
    let nats = Nats::setup(&config, &format!("buildwire-{which}")).await?;
    run(config, nats, which, stop).await
}
