//! `buildwire`: one binary, a subcommand per service. Subcommands arrive with the services
//! that own them; today: `up` (managed NATS, definitions, every service), `edge` (HTTP
//! API and event streams), the stages, `record`, `notify` (webhooks to the main app),
//! `openapi` (print the API spec) and `tail` (operators' view of events).

mod demo;
mod edge;
mod hints;
mod progress;
mod stages;
mod tail;
mod up;

use std::process::ExitCode;

use buildwire_runtime::{Config, telemetry};
use buildwire_schemas::Stage;
use clap::{Parser, Subcommand};

/// buildwire: prompt in, live build events and a preview out.
#[derive(Parser, Debug)]
#[command(name = "buildwire", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs every service in one process; starts a managed nats-server when NATS_URL is unset.
    Up,
    /// Builds an app from a prompt on a local stack, draws its progress, serves the preview.
    Demo {
        /// What to build ("Create a todo app with dark mode").
        prompt: String,
        /// A second prompt applied to the first build's app ("Add a search feature").
        #[arg(long)]
        follow_up: Option<String>,
        /// Stop once the preview URL is printed instead of serving it until Ctrl-C.
        #[arg(long)]
        exit: bool,
        /// Print the stack's logs on the terminal instead of `<data dir>/logs/demo.log`.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Runs the edge: HTTP API, build tokens, WebSocket/SSE event streams.
    Edge,
    /// Runs the plan stage: prompt -> plan of tasks.
    Plan,
    /// Runs the execute stage: tasks -> project files.
    Execute,
    /// Runs the build stage: npm install + npm run build in a sandbox.
    Build,
    /// Runs the deploy stage: artifacts -> preview URL.
    Deploy,
    /// Runs the record service: every event into the database (build_events, build_progress).
    Record,
    /// Runs the notifier: terminal events (and, when configured, status events) to
    /// MAIN_APP_URL as signed Standard Webhooks.
    Notify,
    /// Applies the database migrations (DATABASE_URL, else SQLite under the data dir).
    Migrate,
    /// Applies the NATS definitions (as NATS_USER, normally `admin`; R3 on a cluster) and
    /// the database migrations, then exits: a deployment's one-shot setup step.
    Setup,
    /// Prints the OpenAPI document of the HTTP API (as served at /openapi.json).
    Openapi,
    /// Prints build events as they are stored: one build (with its history) or all new ones.
    Tail {
        /// A build id; omit to follow every build.
        build_id: Option<String>,
        /// Print raw JSON lines instead of a summary per event.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// The name this process has in traces (`buildwire-<name>`, `OTEL_SERVICE_NAME` wins).
    fn service_name(&self) -> &'static str {
        match self {
            Command::Up | Command::Demo { .. } => "buildwire",
            Command::Edge => "edge",
            Command::Plan => "plan",
            Command::Execute => "execute",
            Command::Build => "build",
            Command::Deploy => "deploy",
            Command::Record => "record",
            Command::Notify => "notify",
            Command::Migrate => "migrate",
            Command::Setup => "setup",
            Command::Openapi => "openapi",
            Command::Tail { .. } => "tail",
        }
    }
}

/// How long work still running when a command has finished may hold the process (a
/// build host's background copy into the install cache, say; its leftovers are swept when
/// the cache next opens).
const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("buildwire: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    // Dropping the runtime would wait for every blocking task; a stopped service must not.
    runtime.shutdown_timeout(BACKGROUND_GRACE);
    code
}

async fn run() -> ExitCode {
    // One TLS provider for every HTTP client (Cloudflare, webhooks, LLMs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("buildwire: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = telemetry::check(&config) {
        eprintln!("buildwire: {err}");
        return ExitCode::from(2);
    }
    match &cli.command {
        Command::Demo { verbose: false, .. } => demo::quiet_logs(&config),
        command => telemetry::init_for(&config, command.service_name()),
    }
    let result = match cli.command {
        Command::Demo {
            prompt,
            follow_up,
            exit,
            verbose: _,
        } => demo::run(config, prompt, follow_up, exit)
            .await
            .map_err(|e| e as _),
        Command::Up => up::run(config).await.map_err(|e| e as _),
        Command::Edge => edge::run(config).await,
        Command::Plan => stages::serve(config, Stage::Plan).await.map_err(|e| e as _),
        Command::Execute => stages::serve(config, Stage::Execute)
            .await
            .map_err(|e| e as _),
        Command::Build => stages::serve(config, Stage::Build)
            .await
            .map_err(|e| e as _),
        Command::Deploy => stages::serve(config, Stage::Deploy)
            .await
            .map_err(|e| e as _),
        Command::Record => stages::serve_record(config).await.map_err(|e| e as _),
        Command::Notify => stages::serve_notify(config).await.map_err(|e| e as _),
        Command::Migrate => stages::migrate(config).await.map_err(|e| e as _),
        Command::Setup => stages::setup(config).await.map_err(|e| e as _),
        Command::Openapi => {
            println!("{}", buildwire_edge::api::service().spec());
            Ok(())
        }
        Command::Tail { build_id, json } => {
            tail::run(config, build_id, json).await.map_err(Into::into)
        }
    };
    // Spans still buffered go to the OTLP endpoint before the process ends.
    telemetry::shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("buildwire: {}", hints::explain(&*err));
            ExitCode::FAILURE
        }
    }
}
