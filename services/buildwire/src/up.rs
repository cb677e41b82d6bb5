//! `buildwire up`: the laptop stack in one process. Services still talk only through NATS;
//! with `NATS_URL` unset a managed nats-server runs under the data dir and stops with us.

use buildwire_runtime::{
    Config,
    nats::{Nats, server::ManagedServer},
    shutdown,
};
use buildwire_schemas::Stage;

/// Starts (or connects to) NATS, applies the definitions, starts every service, prints
/// `buildwire ready http://<addr>`, and runs until SIGTERM/Ctrl-C.
pub async fn run(mut config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let stop = shutdown::on_signal();
    let managed = match &config.nats_url {
        Some(_) => None,
        None => {
            let server = ManagedServer::start(&config.data_dir, config.nats_server.as_deref())?;
            config.nats_url = Some(server.url());
            Some(server)
        }
    };
    let nats = Nats::setup(&config, "buildwire-up").await?;
    let url = config.nats_url_or_default();
    let edge = buildwire_edge::start(&config, nats.clone(), stop.clone()).await?;
    // Previews are announced under the edge's real address (the port may have been 0).
    config.public_url.get_or_insert_with(|| edge.url.clone());
    let mut services = tokio::task::JoinSet::new();
    for stage in Stage::ALL {
        let (config, nats, stop) = (config.clone(), nats.clone(), stop.clone());
        services.spawn(async move { (stage, crate::stages::run(config, nats, stage, stop).await) });
    }
    if config.service_keys.is_none() {
        eprintln!(
            "buildwire: service key (BUILDWIRE_SERVICE_KEYS unset) is in {}",
            config.data_dir.join("service-key").display()
        );
    }
    println!("buildwire ready {}", edge.url);
    tracing::info!(nats = %url, managed = managed.is_some(), edge = %edge.url, "up: ready; Ctrl-C stops");
    // A stage that cannot start stops the whole stack (a laptop stack half up helps nobody).
    let mut failure = None;
    tokio::select! {
        _ = stop.cancelled() => {}
        Some(ended) = services.join_next() => {
            if let Ok((stage, Err(err))) = ended {
                failure = Some(format!("{stage} stage: {err}"));
            }
            stop.cancel();
        }
    }
    while services.join_next().await.is_some() {}
    edge.stopped().await?;
    drop(managed);
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    Ok(())
}
