//! `buildwire up`: the laptop stack in one process (edge, every stage, the recorder, and the
//! notifier when `MAIN_APP_URL` is set: without it there is nowhere to send). Services still
//! talk only through NATS; with `NATS_URL` unset a managed nats-server runs under the data
//! dir and stops with us. Each service has its own connection: with the managed server as
//! its own role's user (the admin applies the definitions first), else as `NATS_USER` (or
//! the URL's user). `demo` runs the same [`Stack`].

use buildwire_edge::EdgeHandle;
use buildwire_runtime::{
    Config,
    nats::{Nats, Role, redact, server::ManagedServer},
    shutdown,
};
use buildwire_schemas::Stage;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::stages::Failure;

/// Every service of one process, running.
pub struct Stack {
    /// The edge (its URL is where the API and previews are).
    pub edge: EdgeHandle,
    /// The configuration the services run with (`public_url` set to the edge's).
    pub config: Config,
    /// Fires on SIGTERM/Ctrl-C; cancel it to stop the stack.
    pub stop: CancellationToken,
    services: JoinSet<(String, Result<(), Failure>)>,
    managed: Option<ManagedServer>,
}

impl Stack {
    /// Starts (or connects to) NATS, applies the definitions, starts the edge and the four
    /// stages.
    pub async fn start(mut config: Config) -> Result<Stack, Failure> {
        // A refused webhook target stops the start before anything runs.
        let notify = match &config.main_app_url {
            Some(_) => Some(crate::stages::notify_options(&config).await?),
            None => None,
        };
        let stop = shutdown::on_signal();
        let managed = match &config.nats_url {
            Some(_) => None,
            None => {
                let server = ManagedServer::start(&config.data_dir, config.nats_server.as_deref())?;
                config.nats_url = Some(server.url());
                Some(server)
            }
        };
        let setup = as_role(&config, managed.as_ref(), Role::Admin);
        drop(Nats::setup(&setup, "buildwire-up").await?);
        let edge = buildwire_edge::start(
            &config,
            connect(&config, managed.as_ref(), Role::Edge).await?,
            stop.clone(),
            buildwire_edge::Mode::Demo,
        )
        .await?;
        // Previews are announced under the edge's real address (the port may have been 0).
        config.public_url.get_or_insert_with(|| edge.url.clone());
        let mut services = JoinSet::new();
        for stage in Stage::ALL {
            let nats = connect(&config, managed.as_ref(), Role::of_stage(stage)).await?;
            let (config, stop) = (config.clone(), stop.clone());
            services.spawn(async move {
                let ended = crate::stages::run(config, nats, stage, stop).await;
                (format!("{stage} stage"), ended)
            });
        }
        let (recorder_config, recorder_nats, recorder_stop) = (
            config.clone(),
            connect(&config, managed.as_ref(), Role::Record).await?,
            stop.clone(),
        );
        services.spawn(async move {
            let ended = crate::stages::record(recorder_config, recorder_nats, recorder_stop).await;
            ("record service".to_string(), ended)
        });
        if let Some(options) = notify {
            let (config, nats, stop) = (
                config.clone(),
                connect(&config, managed.as_ref(), Role::Notify).await?,
                stop.clone(),
            );
            services.spawn(async move {
                let ended = crate::stages::notify(config, options, nats, stop).await;
                ("notifier".to_string(), ended)
            });
        }
        tracing::info!(
            nats = %redact(&config.nats_url_or_default()),
            managed = managed.is_some(),
            edge = %edge.url,
            "stack ready; Ctrl-C stops"
        );
        Ok(Stack {
            edge,
            config,
            stop,
            services,
            managed,
        })
    }

    /// Runs until stopped; a stage that cannot run stops the whole stack (a laptop stack
    /// half up helps nobody).
    pub async fn wait(mut self) -> Result<(), Failure> {
        let mut failure = None;
        tokio::select! {
            _ = self.stop.cancelled() => {}
            Some(ended) = self.services.join_next() => {
                if let Ok((service, Err(err))) = ended {
                    failure = Some(format!("{service}: {err}"));
                }
                self.stop.cancel();
            }
        }
        self.stop.cancel();
        while self.services.join_next().await.is_some() {}
        self.edge.stopped().await?;
        drop(self.managed);
        match failure {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        }
    }
}

/// `config` as `role`'s user of the managed server (unchanged without one).
fn as_role(config: &Config, managed: Option<&ManagedServer>, role: Role) -> Config {
    let mut config = config.clone();
    if let Some(server) = managed {
        let credentials = server.credentials(role);
        config.nats_user = Some(credentials.user);
        config.nats_password = Some(credentials.password);
    }
    config
}

/// One service's own connection, as `role` on the managed server.
async fn connect(
    config: &Config,
    managed: Option<&ManagedServer>,
    role: Role,
) -> Result<Nats, Failure> {
    let config = as_role(config, managed, role);
    Ok(Nats::from_config(&config, &format!("buildwire-up-{role}")).await?)
}

/// `buildwire up`: prints `buildwire ready http://<addr>` and runs until SIGTERM/Ctrl-C.
pub async fn run(config: Config) -> Result<(), Failure> {
    let stack = Stack::start(config).await?;
    if stack.config.service_keys.is_none() {
        eprintln!(
            "buildwire: service key (BUILDWIRE_SERVICE_KEYS unset) is in {}",
            stack.config.data_dir.join("service-key").display()
        );
    }
    eprintln!("buildwire: demo page at {}/", stack.edge.url);
    println!("buildwire ready {}", stack.edge.url);
    stack.wait().await
}
