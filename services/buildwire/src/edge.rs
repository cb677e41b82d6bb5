//! `buildwire edge`: the edge service alone (HTTP API, build tokens, WebSocket/SSE).

use buildwire_runtime::{Config, nats::Nats, shutdown};

/// Connects to NATS, applies the definitions, serves until SIGTERM/Ctrl-C.
pub async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let stop = shutdown::on_signal();
    let nats = Nats::setup(&config, "buildwire-edge").await?;
    let edge =
        buildwire_edge::start(&config, nats, stop.clone(), buildwire_edge::Mode::Service).await?;
    println!("buildwire ready {}", edge.url);
    edge.stopped().await?;
    Ok(())
}
