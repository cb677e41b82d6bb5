//! The edge: what the main app and every browser touch (design.md, "Wire contract").
//!
//! - [`api`]: the HTTP API (poem-openapi; spec at `/openapi.json`, docs at `/docs`).
//! - [`tokens`], [`auth`]: build tokens (JWT keyring) and main-app service keys.
//! - [`log`]: one read model of a build's log (JetStream, the database below it).
//! - [`hub`]: the fan-out (one live feed per build with local viewers, its window over
//!   [`log`]) and the one stream session, so no viewer misses or repeats an event.
//! - [`ws`], [`sse`]: the two transports; they only encode a [`hub::Session`]'s steps.
//! - [`logs`], [`export`], [`preview`]: signed full logs, a build's tree as a ZIP, previews.
//! - [`metrics`], [`problem`]: `/metrics` and problem+json errors.

pub mod api;
pub mod auth;
pub mod client;
pub mod demo;
pub mod error;
pub mod export;
pub mod frame;
pub mod guard;
pub mod hub;
pub mod listener;
pub mod log;
pub mod logs;
pub mod metrics;
pub mod owners;
pub mod preview;
pub mod problem;
pub mod sse;
pub mod state;
pub mod streams;
pub mod tokens;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use buildwire_runtime::Config;
use buildwire_runtime::jetstream::bucket;
use buildwire_runtime::nats::Nats;
use buildwire_runtime::publish::Publisher;
use buildwire_runtime::stage::CancelFlags;
use buildwire_schemas::api::ProblemCode;
use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, IntoEndpoint, Request, Route, get, post};
use tokio_util::sync::CancellationToken;

pub use demo::Mode;
pub use error::EdgeError;
use state::{EdgeState, PublicUrls};

/// Largest request body the API reads (a prompt is at most 8000 characters).
pub const MAX_BODY: usize = 64 * 1024;

/// A running edge node.
pub struct EdgeHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its public base URL.
    pub url: String,
    /// The node's shared state (tests and `up` read metrics and keys from it).
    pub state: Arc<EdgeState>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl EdgeHandle {
    /// Waits until the server stopped (after the shutdown token fired).
    pub async fn stopped(self) -> Result<(), EdgeError> {
        match self.task.await {
            Ok(result) => Ok(result?),
            Err(join) => Err(EdgeError::Io(std::io::Error::other(join.to_string()))),
        }
    }
}

/// Reads the keys the edge needs, generating laptop defaults under the data dir when
/// unset; `jwt_keys` is the keyring text (tokens and signed log links share it).
fn keys(
    config: &Config,
    jwt_keys: &str,
) -> Result<(auth::ServiceKeys, tokens::Keyring), EdgeError> {
    let service_keys = match &config.service_keys {
        Some(keys) => keys.clone(),
        None => {
            let key = buildwire_runtime::secrets::load_or_create(
                &config.data_dir,
                "service-key",
                || format!("bwk_{}", buildwire_runtime::secrets::random_hex(24)),
            )?;
            tracing::warn!(
                path = %config.data_dir.join("service-key").display(),
                "BUILDWIRE_SERVICE_KEYS is unset: using the generated key in this file"
            );
            key
        }
    };
    let ttl = Duration::from_secs(config.token_ttl_secs);
    Ok((
        auth::ServiceKeys::parse(&service_keys)?,
        tokens::Keyring::parse(jwt_keys, ttl)?,
    ))
}

/// Rejects API request bodies over [`MAX_BODY`] with 413 (chunked bodies included).
async fn cap_body(mut req: Request) -> poem::Result<Request> {
    let too_large = || {
        problem::ApiError::new(
            poem::http::StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::PayloadTooLarge,
            format!("request bodies are limited to {MAX_BODY} bytes"),
        )
    };
    let declared = req
        .header("Content-Length")
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY) {
        return Err(too_large().into());
    }
    let body = req.take_body();
    let bytes = body
        .into_bytes_limit(MAX_BODY)
        .await
        .map_err(|err| match err {
            poem::error::ReadBodyError::PayloadTooLarge => too_large(),
            other => problem::ApiError::bad_request(ProblemCode::BadBody, other.to_string()),
        })?;
    req.set_body(bytes);
    Ok(req)
}

/// The whole app over `state`.
pub fn app(state: Arc<EdgeState>, mode: Mode) -> impl Endpoint {
    let api = api::service().server(state.urls.base());
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let cors = match &state.allowed_origins {
        Some(origins) => origins.iter().fold(Cors::new(), |cors, origin| {
            cors.allow_origin(origin.as_str())
        }),
        None => Cors::new(),
    };
    let mut routes = Route::new();
    if mode == Mode::Demo {
        routes = routes
            .at("/demo/:file", get(demo::asset))
            .at("/demo/builds", post(demo::submit_build).before(cap_body))
            .at(
                "/demo/builds/:id/token",
                post(demo::refresh_token).before(cap_body),
            );
    }
    routes
        .at("/ws/builds/:id", get(ws::websocket))
        .at("/client/:file", get(client::module))
        .at("/events/:id", get(sse::events))
        .at("/v1/builds/:id/logs/build", get(logs::build_log))
        .at("/v1/builds/:id/logs/deploy", get(logs::deploy_log))
        .at("/v1/builds/:id/source.zip", get(export::source_zip))
        .at("/preview/:id", get(preview::root))
        .at("/preview/:id/*path", get(preview::file))
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", api.into_endpoint().before(cap_body))
        .with(cors)
        .with(CatchPanic::new())
        .data(state)
        .catch_all_error(problem::to_problem)
        // `/` itself: the API's nest at the root would take it from a route.
        .around(move |ep, req| async move {
            if mode == Mode::Demo
                && req.method() == poem::http::Method::GET
                && req.uri().path() == "/"
            {
                return Ok(demo::page());
            }
            ep.call(req).await.map(poem::IntoResponse::into_response)
        })
}

/// The database (`DATABASE_URL`, else SQLite under the data dir), migrated. The edge serves
/// from JetStream alone when it is unreachable at start.
async fn open_store(config: &Config) -> Option<buildwire_record::Store> {
    match buildwire_record::Store::from_config(config).await {
        Ok(store) => Some(store),
        Err(err) => {
            tracing::warn!(%err, "database unavailable: status and history come from JetStream only");
            None
        }
    }
}

/// Lets the rate limiters forget idle keys every [`guard::PRUNE_EVERY`] while the node runs.
async fn prune_guards(state: std::sync::Weak<EdgeState>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(guard::PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => match state.upgrade() {
                Some(state) => state.guards.prune(),
                None => return,
            },
        }
    }
}

/// Binds `config.http_addr` and serves until `shutdown` fires.
pub async fn start(
    config: &Config,
    nats: Nats,
    shutdown: CancellationToken,
    mode: Mode,
) -> Result<EdgeHandle, EdgeError> {
    let jwt_keys = buildwire_runtime::secrets::jwt_keys(config)?;
    let (service_keys, keyring) = keys(config, &jwt_keys)?;
    let listener = listener::Listener::bind(&config.http_addr)
        .await
        .map_err(|source| EdgeError::Bind {
            addr: config.http_addr.clone(),
            source,
        })?;
    let addr = listener.local_addr();
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let urls = PublicUrls::new(&base).map_err(EdgeError::Config)?;
    let kv = |bucket: &'static str| {
        let js = nats.js.clone();
        async move {
            js.get_key_value(bucket).await.map_err(|e| {
                EdgeError::Nats(format!(
                    "KV bucket {bucket}: {e} (are the nats/ definitions applied?)"
                ))
            })
        }
    };
    let metrics = metrics::Metrics::new();
    let jetstream = log::jetstream::JetStreamLog::new(nats.client.clone());
    let database = open_store(config)
        .await
        .map(|store| Arc::new(log::database::DatabaseLog::new(store)) as Arc<dyn log::BuildLog>);
    let signer = buildwire_runtime::signing::UrlSigner::from_keyring(&jwt_keys)?;
    let hub = hub::Hub::new(
        Arc::new(log::layered::Layered::new(
            Arc::new(jetstream.clone()),
            database,
        )),
        Arc::new(hub::live::NatsLive::new(
            nats.client.clone(),
            nats.resyncs.clone(),
        )),
        logs::Links::new(signer.clone(), &base),
        metrics.clone(),
        hub::HubOptions::with_linger(Duration::from_secs(config.feed_linger_secs)),
        shutdown.clone(),
    );
    let state = Arc::new(EdgeState {
        publisher: Publisher::new(nats.js.clone()),
        hub,
        jetstream,
        guards: guard::Guards::new(
            config,
            buildwire_runtime::breaker::Breaker::open(&nats).await,
            metrics.clone(),
        ),
        idempotency: kv(bucket::IDEMPOTENCY).await?,
        owners: owners::Owners::new(kv(bucket::OWNERS).await?),
        cancels: CancelFlags::require(&nats).await?,
        artifacts: buildwire_runtime::objects::Artifacts::open(&nats).await?,
        logs: buildwire_runtime::objects::Bucket::open(&nats, bucket::LOGS).await?,
        sources: buildwire_runtime::objects::Sources::open(&nats).await?,
        webhook_allow_private: config.webhook_allow_private,
        signer,
        nats,
        keyring,
        service_keys,
        metrics,
        urls,
        allowed_origins: config.websocket_cors_origin.as_ref().map(|origins| {
            origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect()
        }),
        shutdown: shutdown.clone(),
    });
    tokio::spawn(prune_guards(Arc::downgrade(&state), shutdown.clone()));
    let endpoint = app(state.clone(), mode);
    let options = listener::ListenOptions {
        header_timeout: Duration::from_secs(config.header_timeout_secs),
        max_per_addr: config.max_connections_per_addr,
        grace: Duration::from_secs(5),
    };
    let task =
        tokio::spawn(listener.serve(endpoint, options, shutdown.clone(), state.metrics.clone()));
    tracing::info!(%addr, url = %base, "edge listening");
    Ok(EdgeHandle {
        addr,
        url: base,
        state,
        task,
    })
}
