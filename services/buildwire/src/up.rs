//! `buildwire up`: the laptop stack in one process. Services still talk only through NATS;
//! with `NATS_URL` unset a managed nats-server runs under the data dir and stops with us.

use buildwire_runtime::{
    Config,
    nats::{Nats, server::ManagedServer},
    shutdown,
};

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
    let edge = buildwire_edge::start(&config, nats, stop.clone()).await?;
    if config.service_keys.is_none() {
        eprintln!(
            "buildwire: service key (BUILDWIRE_SERVICE_KEYS unset) is in {}",
            config.data_dir.join("service-key").display()
        );
    }
    println!("buildwire ready {}", edge.url);
    tracing::info!(nats = %url, managed = managed.is_some(), edge = %edge.url, "up: ready; Ctrl-C stops");
    edge.stopped().await?;
    drop(managed);
    Ok(())
}
