//! `buildwire up`: the laptop stack in one process. Services still talk only through NATS;
//! with `NATS_URL` unset a managed nats-server runs under the data dir and stops with us.

use buildwire_runtime::{
    Config, Result,
    nats::{Nats, server::ManagedServer},
    shutdown,
};

/// Starts (or connects to) NATS, applies the definitions, runs until SIGTERM/Ctrl-C.
pub async fn run(mut config: Config) -> Result<()> {
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
    // The edge (and its `buildwire ready http://...` line) arrives with issue 3; until then
    // `up` is NATS with every definition applied.
    println!("buildwire nats {url}");
    tracing::info!(%url, managed = managed.is_some(), "up: NATS ready; Ctrl-C stops");
    stop.cancelled().await;
    drop(nats);
    drop(managed);
    Ok(())
}
