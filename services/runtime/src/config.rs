//! The one configuration of every buildwire service.
//!
//! Precedence: built-in defaults < the TOML file named by `BUILDWIRE_CONFIG` < environment
//! variables. With nothing set, the defaults run a laptop stack. Each field's doc names its
//! environment variable and default; the README's table repeats them.

use std::path::PathBuf;

use figment::{
    Figment, Metadata, Profile, Provider,
    providers::{Format, Serialized, Toml},
    value::{Dict, Map, Value},
};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Log line format.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Every setting of every service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `BUILDWIRE_HTTP_ADDR`: where the edge listens. Default `127.0.0.1:8080`.
    pub http_addr: String,
    /// `BUILDWIRE_PUBLIC_URL`: base of the URLs handed out. Default `http://<http_addr>`.
    pub public_url: Option<String>,
    /// `BUILDWIRE_DATA_DIR`: local state (managed NATS, SQLite). Default `./.buildwire`.
    pub data_dir: PathBuf,
    /// `NATS_URL`: comma-separated server URLs. Unset: `up` and `demo` start a managed
    /// nats-server; other services use `nats://127.0.0.1:4222`.
    pub nats_url: Option<String>,
    /// `NATS_USER`: the NATS user this service connects as (its role: `edge`, `plan`,
    /// `execute`, `build`, `deploy`, `record`; `admin` may change definitions). Unset: the
    /// user in `NATS_URL` (`nats://user:password@host`), else none. `up` and `demo` with a
    /// managed server connect each service as its own role with generated passwords.
    pub nats_user: Option<String>,
    /// `NATS_PASSWORD`: the password of `NATS_USER` (both or neither).
    pub nats_password: Option<String>,
    /// `BUILDWIRE_NATS_SERVER`: the nats-server binary for managed NATS. Default: the
    /// project's `.tools/bin/nats-server` (installed by `scripts/setup`), then `PATH`.
    pub nats_server: Option<PathBuf>,
    /// `BUILDWIRE_NATS_DEFINITIONS`: a folder laid out like `nats/` whose definitions replace
    /// the built-in copies. Default: the definitions compiled into the binary.
    pub nats_definitions: Option<PathBuf>,
    /// `BUILDWIRE_NATS_REPLICAS`: stream replicas. Default: 3 when the server is clustered,
    /// else 1 (never lowered on an existing stream).
    pub nats_replicas: Option<usize>,
    /// `DATABASE_URL`: `sqlite://...` or `postgres://...`. Default: SQLite under the data dir.
    pub database_url: Option<String>,
    /// `BUILDWIRE_SERVICE_KEYS`: comma-separated main-app keys.
    pub service_keys: Option<String>,
    /// `BUILDWIRE_JWT_KEYS`: build-token keyring `kid:secret,...`; the first one signs.
    pub jwt_keys: Option<String>,
    /// `BUILDWIRE_LLM`: `offline` (default), `anthropic` (Claude, Messages API) or `openai`
    /// (any OpenAI-compatible Chat Completions server: OpenAI, OpenRouter, Ollama, vLLM,
    /// llama.cpp's server, LM Studio).
    pub llm: String,
    /// `ANTHROPIC_API_KEY`: required with `BUILDWIRE_LLM=anthropic`.
    pub anthropic_api_key: Option<String>,
    /// `ANTHROPIC_BASE_URL`, without `/v1` as Anthropic's SDKs take it. Default
    /// `https://api.anthropic.com`.
    pub anthropic_base_url: String,
    /// `ANTHROPIC_MODEL`: the Claude model. Default `claude-sonnet-4-5`.
    pub anthropic_model: String,
    /// `OPENAI_BASE_URL`, with `/v1` as OpenAI's SDKs take it. Default
    /// `https://api.openai.com/v1`; Ollama: `http://localhost:11434/v1`.
    pub openai_base_url: String,
    /// `OPENAI_API_KEY`: sent as `Authorization: Bearer` when set (local servers need none).
    pub openai_api_key: Option<String>,
    /// `OPENAI_MODEL`: the model name the server knows. Default `gpt-4.1`.
    pub openai_model: String,
    /// `BUILDWIRE_LLM_MAX_TOKENS`: output tokens one model answer may use. Default 16384.
    pub llm_max_tokens: u32,
    /// `BUILDWIRE_LLM_TEMPERATURE`: sampling temperature, 0 to 2. Default unset: the
    /// model's own default (some models accept no other).
    pub llm_temperature: Option<f64>,
    /// `BUILDWIRE_LLM_TIMEOUT_MS`: longest wait for a model's response headers, and longest
    /// silence while it streams; past it the attempt is retried. Default 120000.
    pub llm_timeout_ms: u64,
    /// `BUILDWIRE_LLM_RETRIES`: retries (429, 529, 5xx, cut or silent streams) one plan or
    /// one task may spend, with exponential backoff and jitter honouring `retry-after`;
    /// then the stage fails with `LLM_UNAVAILABLE`. Default 4.
    pub llm_retries: u32,
    /// `BUILDWIRE_AUTOFIX_ATTEMPTS`: how often a failed `npm run build` goes back to the
    /// model (its log's end and the failing files) before the build fails; 0 turns auto-fix
    /// off, and the offline provider has none. Default 2.
    pub autofix_attempts: u32,
    /// `BUILDWIRE_DEPLOY_TARGET`: `local` (default) or `cloudflare`.
    pub deploy_target: String,
    /// `BUILD_TIMEOUT_MS`: limit of one npm build. Default 300000.
    pub build_timeout_ms: u64,
    /// `DEPLOY_TIMEOUT_MS`: limit of one whole deploy (reading the artifacts, uploading,
    /// waiting for the target); past it the build fails with `DEPLOY_TIMEOUT`. Default 120000.
    pub deploy_timeout_ms: u64,
    /// `CLOUDFLARE_ACCOUNT_ID`: the account of the Pages projects (target `cloudflare`).
    pub cloudflare_account_id: Option<String>,
    /// `CLOUDFLARE_API_TOKEN`: an API token with Cloudflare Pages edit permission (target
    /// `cloudflare`).
    pub cloudflare_api_token: Option<String>,
    /// `CLOUDFLARE_PAGES_PROJECT`: the one Pages project every build deploys to. Unset: one
    /// project per buildwire project, created when missing.
    pub cloudflare_pages_project: Option<String>,
    /// `CLOUDFLARE_API_BASE`: the Cloudflare API. Default
    /// `https://api.cloudflare.com/client/v4` (tests point it at a local fake).
    pub cloudflare_api_base: String,
    /// `MAIN_APP_URL`: the main app's webhook endpoint; unset: no notifications.
    pub main_app_url: Option<String>,
    /// `MAIN_APP_WEBHOOK_SECRET`: `whsec_<base64>`, the Standard Webhooks signing secret
    /// (required with `MAIN_APP_URL`).
    pub main_app_webhook_secret: Option<String>,
    /// `BUILDWIRE_WEBHOOK_STATUS_EVENTS`: also send every `status` event, not only the
    /// terminal ones. Default false.
    pub webhook_status_events: bool,
    /// `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`: allow webhook targets on loopback and private
    /// addresses (a laptop, tests). Default false: refused.
    pub webhook_allow_private: bool,
    /// `BUILDWIRE_METRICS_ADDR`: where a service without an HTTP server of its own (the
    /// stages, `record`, `notify`) serves `GET /metrics`. Unset: not served.
    pub metrics_addr: Option<String>,
    /// `WEBSOCKET_CORS_ORIGIN`: allowed browser origin(s), comma-separated. Default: any.
    pub websocket_cors_origin: Option<String>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: trace export when set.
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// `BUILDWIRE_LOG_FORMAT`: `human` (default) or `json`.
    pub log_format: LogFormat,
    /// `BUILDWIRE_STAGE_CONCURRENCY`: commands one stage process works on at once. Default 4.
    pub stage_concurrency: usize,
    /// `BUILDWIRE_TOKEN_TTL_SECS`: lifetime of a build token. Default 3600 (the plan's hour).
    pub token_ttl_secs: u64,
    /// `BUILDWIRE_RATE_USER_PER_MIN`: submissions per user per minute (sustained). Default 10.
    pub rate_user_per_min: u32,
    /// `BUILDWIRE_RATE_USER_BURST`: submissions a user may make at once. Default 5.
    pub rate_user_burst: u32,
    /// `BUILDWIRE_RATE_GLOBAL_PER_MIN`: submissions per edge node per minute, all users. Default 600.
    pub rate_global_per_min: u32,
    /// `BUILDWIRE_BREAKER_FAILURES`: fatal failures within the window that open a user's circuit (0: off). Default 3.
    pub breaker_failures: u32,
    /// `BUILDWIRE_BREAKER_WINDOW_SECS`: the circuit breaker's window. Default 300.
    pub breaker_window_secs: u64,
    /// `BUILDWIRE_MAX_VIEWERS_PER_BUILD`: concurrent streams of one build per edge node. Default 500.
    pub max_viewers_per_build: u32,
    /// `BUILDWIRE_MAX_VIEWERS_PER_USER`: concurrent streams of one user per edge node. Default 100.
    pub max_viewers_per_user: u32,
    /// `BUILDWIRE_CONNECT_RATE_PER_MIN`: new stream connections per client address per minute. Default 120.
    pub connect_rate_per_min: u32,
    /// `BUILDWIRE_HEADER_TIMEOUT_SECS`: a client must send a request's whole head within
    /// this time after connecting or after the previous response (so it also closes idle
    /// keep-alive connections); slow senders (slowloris) are closed. Default 10.
    pub header_timeout_secs: u64,
    /// `BUILDWIRE_MAX_CONNECTIONS_PER_ADDR`: connections one client address may hold open
    /// before their requests are read (streams count until their upgrade or response
    /// starts); past it new ones are closed at once. 0: no cap. Default 256.
    pub max_connections_per_addr: u32,
    /// `BUILDWIRE_FEED_LINGER_SECS`: how long an edge node keeps a build's live feed (its
    /// subscription and last 512 events) after its last viewer left, so viewers coming
    /// back from a network blip resume from memory. 0 drops feeds at once. Default 30.
    pub feed_linger_secs: u64,
    /// `BUILDWIRE_DRAIN_TIMEOUT_MS`: on SIGTERM, how long in-flight work may finish before
    /// it is handed back to NATS for another worker. Default 20000.
    pub drain_timeout_ms: u64,
    /// `BUILDWIRE_SANDBOX`: how the build stage isolates npm. `bubblewrap` (default): every
    /// npm step runs under bubblewrap, and a build fails with `SANDBOX_UNAVAILABLE` on a
    /// machine without a working `bwrap`. `off`: no sandbox, a deliberate opt-in for
    /// trusted code only (package scripts then run with the worker's files and network).
    pub sandbox: String,
    /// `BUILDWIRE_BUILD_CONCURRENCY`: npm runs (install and build) one build host runs at
    /// once; builds beyond it wait in line and are told their place. Default: the CPU count.
    pub build_concurrency: Option<usize>,
    /// `BUILDWIRE_NPM_CACHE`: the npm cache the download step shares, warmed once per
    /// machine when several data dirs point at one. Default `<data dir>/npm-cache`.
    pub npm_cache: Option<PathBuf>,
    /// `BUILDWIRE_BUILD_CACHE`: `on` (default): installs prefer the npm cache, a project's
    /// lockfile is kept in its tree, installed `node_modules` are reused from this host's
    /// install cache (`<data dir>/build-cache`); `off`: a full `npm install` every build, as
    /// before (the benchmark's baseline).
    pub build_cache: String,
    /// `BUILDWIRE_BUILD_CACHE_MAX_MB`: size past which the install cache drops its least
    /// recently used entries. Default 4096.
    pub build_cache_max_mb: u64,
    /// `BUILDWIRE_BUILD_CACHE_MAX_AGE_HOURS`: install cache entries unused this long are
    /// dropped. Default 168 (a week).
    pub build_cache_max_age_hours: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http_addr: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./.buildwire"),
            nats_url: None,
            nats_user: None,
            nats_password: None,
            nats_server: None,
            nats_definitions: None,
            nats_replicas: None,
            database_url: None,
            service_keys: None,
            jwt_keys: None,
            llm: "offline".into(),
            anthropic_api_key: None,
            anthropic_base_url: "https://api.anthropic.com".into(),
            anthropic_model: "claude-sonnet-4-5".into(),
            openai_base_url: "https://api.openai.com/v1".into(),
            openai_api_key: None,
            openai_model: "gpt-4.1".into(),
            llm_max_tokens: 16_384,
            llm_temperature: None,
            llm_timeout_ms: 120_000,
            llm_retries: 4,
            autofix_attempts: 2,
            deploy_target: "local".into(),
            build_timeout_ms: 300_000,
            deploy_timeout_ms: 120_000,
            cloudflare_account_id: None,
            cloudflare_api_token: None,
            cloudflare_pages_project: None,
            cloudflare_api_base: "https://api.cloudflare.com/client/v4".into(),
            main_app_url: None,
            main_app_webhook_secret: None,
            webhook_status_events: false,
            webhook_allow_private: false,
            metrics_addr: None,
            websocket_cors_origin: None,
            otel_exporter_otlp_endpoint: None,
            log_format: LogFormat::Human,
            stage_concurrency: 4,
            token_ttl_secs: 3600,
            rate_user_per_min: 10,
            rate_user_burst: 5,
            rate_global_per_min: 600,
            breaker_failures: 3,
            breaker_window_secs: 300,
            max_viewers_per_build: 500,
            max_viewers_per_user: 100,
            connect_rate_per_min: 120,
            feed_linger_secs: 30,
            header_timeout_secs: 10,
            max_connections_per_addr: 256,
            drain_timeout_ms: 20_000,
            sandbox: "bubblewrap".into(),
            build_concurrency: None,
            npm_cache: None,
            build_cache: "on".into(),
            build_cache_max_mb: 4096,
            build_cache_max_age_hours: 168,
        }
    }
}

/// Environment variable -> config field. Names are the contract of design.md.
const ENV: &[(&str, &str)] = &[
    ("BUILDWIRE_HTTP_ADDR", "http_addr"),
    ("BUILDWIRE_PUBLIC_URL", "public_url"),
    ("BUILDWIRE_DATA_DIR", "data_dir"),
    ("NATS_URL", "nats_url"),
    ("NATS_USER", "nats_user"),
    ("NATS_PASSWORD", "nats_password"),
    ("BUILDWIRE_NATS_SERVER", "nats_server"),
    ("BUILDWIRE_NATS_DEFINITIONS", "nats_definitions"),
    ("BUILDWIRE_NATS_REPLICAS", "nats_replicas"),
    ("DATABASE_URL", "database_url"),
    ("BUILDWIRE_SERVICE_KEYS", "service_keys"),
    ("BUILDWIRE_JWT_KEYS", "jwt_keys"),
    ("BUILDWIRE_LLM", "llm"),
    ("ANTHROPIC_API_KEY", "anthropic_api_key"),
    ("ANTHROPIC_BASE_URL", "anthropic_base_url"),
    ("ANTHROPIC_MODEL", "anthropic_model"),
    ("OPENAI_BASE_URL", "openai_base_url"),
    ("OPENAI_API_KEY", "openai_api_key"),
    ("OPENAI_MODEL", "openai_model"),
    ("BUILDWIRE_LLM_MAX_TOKENS", "llm_max_tokens"),
    ("BUILDWIRE_LLM_TEMPERATURE", "llm_temperature"),
    ("BUILDWIRE_LLM_TIMEOUT_MS", "llm_timeout_ms"),
    ("BUILDWIRE_LLM_RETRIES", "llm_retries"),
    ("BUILDWIRE_AUTOFIX_ATTEMPTS", "autofix_attempts"),
    ("BUILDWIRE_DEPLOY_TARGET", "deploy_target"),
    ("BUILD_TIMEOUT_MS", "build_timeout_ms"),
    ("DEPLOY_TIMEOUT_MS", "deploy_timeout_ms"),
    ("CLOUDFLARE_ACCOUNT_ID", "cloudflare_account_id"),
    ("CLOUDFLARE_API_TOKEN", "cloudflare_api_token"),
    ("CLOUDFLARE_PAGES_PROJECT", "cloudflare_pages_project"),
    ("CLOUDFLARE_API_BASE", "cloudflare_api_base"),
    ("MAIN_APP_URL", "main_app_url"),
    ("MAIN_APP_WEBHOOK_SECRET", "main_app_webhook_secret"),
    ("BUILDWIRE_WEBHOOK_STATUS_EVENTS", "webhook_status_events"),
    ("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "webhook_allow_private"),
    ("BUILDWIRE_METRICS_ADDR", "metrics_addr"),
    ("WEBSOCKET_CORS_ORIGIN", "websocket_cors_origin"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
    ("BUILDWIRE_LOG_FORMAT", "log_format"),
    ("BUILDWIRE_STAGE_CONCURRENCY", "stage_concurrency"),
    ("BUILDWIRE_DRAIN_TIMEOUT_MS", "drain_timeout_ms"),
    ("BUILDWIRE_SANDBOX", "sandbox"),
    ("BUILDWIRE_BUILD_CONCURRENCY", "build_concurrency"),
    ("BUILDWIRE_NPM_CACHE", "npm_cache"),
    ("BUILDWIRE_BUILD_CACHE", "build_cache"),
    ("BUILDWIRE_BUILD_CACHE_MAX_MB", "build_cache_max_mb"),
    (
        "BUILDWIRE_BUILD_CACHE_MAX_AGE_HOURS",
        "build_cache_max_age_hours",
    ),
    ("BUILDWIRE_TOKEN_TTL_SECS", "token_ttl_secs"),
    ("BUILDWIRE_RATE_USER_PER_MIN", "rate_user_per_min"),
    ("BUILDWIRE_RATE_USER_BURST", "rate_user_burst"),
    ("BUILDWIRE_RATE_GLOBAL_PER_MIN", "rate_global_per_min"),
    ("BUILDWIRE_BREAKER_FAILURES", "breaker_failures"),
    ("BUILDWIRE_BREAKER_WINDOW_SECS", "breaker_window_secs"),
    ("BUILDWIRE_MAX_VIEWERS_PER_BUILD", "max_viewers_per_build"),
    ("BUILDWIRE_MAX_VIEWERS_PER_USER", "max_viewers_per_user"),
    ("BUILDWIRE_CONNECT_RATE_PER_MIN", "connect_rate_per_min"),
    ("BUILDWIRE_FEED_LINGER_SECS", "feed_linger_secs"),
    ("BUILDWIRE_HEADER_TIMEOUT_SECS", "header_timeout_secs"),
    (
        "BUILDWIRE_MAX_CONNECTIONS_PER_ADDR",
        "max_connections_per_addr",
    ),
];

/// Fields whose environment values are numbers; every other variable is taken as text.
const NUMERIC: &[&str] = &[
    "nats_replicas",
    "build_timeout_ms",
    "deploy_timeout_ms",
    "stage_concurrency",
    "drain_timeout_ms",
    "build_concurrency",
    "build_cache_max_mb",
    "build_cache_max_age_hours",
    "token_ttl_secs",
    "rate_user_per_min",
    "rate_user_burst",
    "rate_global_per_min",
    "breaker_failures",
    "breaker_window_secs",
    "max_viewers_per_build",
    "max_viewers_per_user",
    "connect_rate_per_min",
    "feed_linger_secs",
    "header_timeout_secs",
    "max_connections_per_addr",
    "llm_max_tokens",
    "llm_timeout_ms",
    "llm_retries",
    "autofix_attempts",
];

/// Fields whose environment values are decimal numbers.
const DECIMAL: &[&str] = &["llm_temperature"];

/// Fields whose environment values are switches: `1`/`true`/`yes`/`on` or
/// `0`/`false`/`no`/`off` (anything else stays text and is refused by name).
const BOOLEAN: &[&str] = &["webhook_status_events", "webhook_allow_private"];

/// A switch's value, if `text` is one.
fn switch(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The documented environment variables as a figment provider (empty values are unset).
struct EnvVars(Dict);

impl<I: IntoIterator<Item = (String, String)>> From<I> for EnvVars {
    fn from(env: I) -> Self {
        let mut dict = Dict::new();
        for (name, value) in env {
            let Some((_, field)) = ENV.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let value = match (value.trim().parse::<u64>(), value.trim().parse::<f64>()) {
                (Ok(number), _) if NUMERIC.contains(field) => Value::from(number),
                (_, Ok(number)) if DECIMAL.contains(field) => Value::from(number),
                _ => match switch(&value) {
                    Some(on) if BOOLEAN.contains(field) => Value::from(on),
                    _ => Value::from(value),
                },
            };
            dict.insert((*field).to_string(), value);
        }
        EnvVars(dict)
    }
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

impl Config {
    /// Reads defaults, then `BUILDWIRE_CONFIG` (TOML) when set, then the environment.
    pub fn load() -> Result<Config> {
        let file = std::env::var_os("BUILDWIRE_CONFIG").map(PathBuf::from);
        Self::load_from(file, std::env::vars())
    }

    /// [`Config::load`] with an explicit file and environment (for tests and tools).
    pub fn load_from(
        file: Option<PathBuf>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(Error::Config(format!(
                    "BUILDWIRE_CONFIG names {}, which is not a file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(EnvVars::from(env))
            .extract()
            .map_err(|err| Error::Config(err.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        if self.stage_concurrency == 0 {
            return Err(Error::Config(
                "BUILDWIRE_STAGE_CONCURRENCY must be at least 1".into(),
            ));
        }
        if self.build_concurrency == Some(0) {
            return Err(Error::Config(
                "BUILDWIRE_BUILD_CONCURRENCY must be at least 1".into(),
            ));
        }
        if !(10..=7 * 24 * 3600).contains(&self.token_ttl_secs) {
            return Err(Error::Config(
                "BUILDWIRE_TOKEN_TTL_SECS must be 10 to 604800 (a week)".into(),
            ));
        }
        for (name, value) in [
            ("BUILDWIRE_RATE_USER_PER_MIN", self.rate_user_per_min),
            ("BUILDWIRE_RATE_USER_BURST", self.rate_user_burst),
            ("BUILDWIRE_RATE_GLOBAL_PER_MIN", self.rate_global_per_min),
            (
                "BUILDWIRE_MAX_VIEWERS_PER_BUILD",
                self.max_viewers_per_build,
            ),
            ("BUILDWIRE_MAX_VIEWERS_PER_USER", self.max_viewers_per_user),
            ("BUILDWIRE_CONNECT_RATE_PER_MIN", self.connect_rate_per_min),
        ] {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        if !(1..=600).contains(&self.header_timeout_secs) {
            return Err(Error::Config(
                "BUILDWIRE_HEADER_TIMEOUT_SECS must be 1 to 600".into(),
            ));
        }
        if self.nats_replicas.is_some_and(|r| !(1..=5).contains(&r)) {
            return Err(Error::Config(
                "BUILDWIRE_NATS_REPLICAS must be 1 to 5".into(),
            ));
        }
        for (name, value, allowed) in [
            (
                "BUILDWIRE_LLM",
                &self.llm,
                &["offline", "anthropic", "openai"][..],
            ),
            (
                "BUILDWIRE_DEPLOY_TARGET",
                &self.deploy_target,
                &["local", "cloudflare"],
            ),
            ("BUILDWIRE_SANDBOX", &self.sandbox, &["bubblewrap", "off"]),
            ("BUILDWIRE_BUILD_CACHE", &self.build_cache, &["on", "off"]),
        ] {
            if !allowed.contains(&value.as_str()) {
                return Err(Error::Config(format!(
                    "{name}={value:?}: expected one of {allowed:?}"
                )));
            }
        }
        if !(1..=1_000_000).contains(&self.llm_max_tokens) {
            return Err(Error::Config(
                "BUILDWIRE_LLM_MAX_TOKENS must be 1 to 1000000".into(),
            ));
        }
        if self
            .llm_temperature
            .is_some_and(|t| !(0.0..=2.0).contains(&t))
        {
            return Err(Error::Config(
                "BUILDWIRE_LLM_TEMPERATURE must be 0 to 2".into(),
            ));
        }
        if !(100..=3_600_000).contains(&self.llm_timeout_ms) {
            return Err(Error::Config(
                "BUILDWIRE_LLM_TIMEOUT_MS must be 100 to 3600000".into(),
            ));
        }
        if self.llm_retries > 20 {
            return Err(Error::Config(
                "BUILDWIRE_LLM_RETRIES must be 0 to 20".into(),
            ));
        }
        if self.autofix_attempts > 10 {
            return Err(Error::Config(
                "BUILDWIRE_AUTOFIX_ATTEMPTS must be 0 to 10".into(),
            ));
        }
        if self.nats_user.is_some() != self.nats_password.is_some() {
            return Err(Error::Config(
                "NATS_USER and NATS_PASSWORD go together: set both or neither".into(),
            ));
        }
        self.validate_targets()?;
        if self.http_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(Error::Config(format!(
                "BUILDWIRE_HTTP_ADDR={:?} is not an address like 127.0.0.1:8080",
                self.http_addr
            )));
        }
        Ok(())
    }

    /// The deploy target's and the notifier's settings: what goes together, URL shapes.
    fn validate_targets(&self) -> Result<()> {
        if self.deploy_timeout_ms < 1000 {
            return Err(Error::Config(
                "DEPLOY_TIMEOUT_MS must be at least 1000".into(),
            ));
        }
        if self.deploy_target == "cloudflare"
            && (self.cloudflare_account_id.is_none() || self.cloudflare_api_token.is_none())
        {
            return Err(Error::Config(
                "BUILDWIRE_DEPLOY_TARGET=cloudflare needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN".into(),
            ));
        }
        let http = |url: &str| url.starts_with("http://") || url.starts_with("https://");
        if !http(&self.cloudflare_api_base) {
            return Err(Error::Config(format!(
                "CLOUDFLARE_API_BASE={:?} is not an http(s) URL",
                self.cloudflare_api_base
            )));
        }
        if let Some(url) = &self.main_app_url {
            if !http(url) {
                return Err(Error::Config(format!(
                    "MAIN_APP_URL={url:?} is not an http(s) URL"
                )));
            }
            if !self
                .main_app_webhook_secret
                .as_deref()
                .is_some_and(|s| s.starts_with("whsec_"))
            {
                return Err(Error::Config(
                    "MAIN_APP_URL needs MAIN_APP_WEBHOOK_SECRET, a Standard Webhooks secret `whsec_<base64>`".into(),
                ));
            }
        }
        if let Some(addr) = &self.metrics_addr
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(Error::Config(format!(
                "BUILDWIRE_METRICS_ADDR={addr:?} is not an address like 127.0.0.1:9090"
            )));
        }
        Ok(())
    }

    /// How long one whole deploy may take (`DEPLOY_TIMEOUT_MS`).
    pub fn deploy_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.deploy_timeout_ms)
    }

    /// The base of URLs handed out: `public_url`, else `http://<http_addr>`.
    pub fn public_base(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.http_addr))
            .trim_end_matches('/')
            .to_string()
    }

    /// The NATS URL services connect to when none is configured and none is managed.
    pub fn nats_url_or_default(&self) -> String {
        self.nats_url
            .clone()
            .unwrap_or_else(|| "nats://127.0.0.1:4222".into())
    }

    /// `NATS_USER` with `NATS_PASSWORD`, when set.
    pub fn nats_credentials(&self) -> Option<crate::nats::Credentials> {
        Some(crate::nats::Credentials {
            user: self.nats_user.clone()?,
            password: self.nats_password.clone()?,
        })
    }

    /// How long in-flight work may run after SIGTERM.
    pub fn drain_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.drain_timeout_ms)
    }

    /// `BUILDWIRE_BUILD_CONCURRENCY`, else the CPU count (at least 1).
    pub fn build_concurrency(&self) -> usize {
        self.build_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_run_a_laptop_stack() {
        let config = Config::load_from(None, env(&[])).expect("defaults are valid");
        assert_eq!(config, Config::default());
        assert_eq!(config.nats_url_or_default(), "nats://127.0.0.1:4222");
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("buildwire.toml");
        std::fs::write(&file, "build_timeout_ms = 1000\nstage_concurrency = 2\n").expect("write");
        let config = Config::load_from(
            Some(file),
            env(&[
                ("BUILD_TIMEOUT_MS", "5000"),
                ("NATS_URL", "nats://a:1"),
                ("UNRELATED", "x"),
                ("DATABASE_URL", ""),
            ]),
        )
        .expect("valid");
        assert_eq!(config.build_timeout_ms, 5000);
        assert_eq!(config.stage_concurrency, 2);
        assert_eq!(config.nats_url.as_deref(), Some("nats://a:1"));
        assert_eq!(config.database_url, None);
    }

    #[test]
    fn llm_settings_come_from_the_environment() {
        let config = Config::load_from(
            None,
            env(&[
                ("BUILDWIRE_LLM", "openai"),
                ("OPENAI_BASE_URL", "http://localhost:11434/v1"),
                ("OPENAI_MODEL", "qwen2.5-coder"),
                ("BUILDWIRE_LLM_TEMPERATURE", "0.2"),
                ("BUILDWIRE_LLM_MAX_TOKENS", "8000"),
                ("BUILDWIRE_LLM_RETRIES", "0"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.llm, "openai");
        assert_eq!(config.openai_model, "qwen2.5-coder");
        assert_eq!(config.llm_temperature, Some(0.2));
        assert_eq!((config.llm_max_tokens, config.llm_retries), (8000, 0));
        let whole = Config::load_from(None, env(&[("BUILDWIRE_LLM_TEMPERATURE", "1")]))
            .expect("a whole temperature");
        assert_eq!(whole.llm_temperature, Some(1.0));
    }

    #[test]
    fn autofix_attempts_default_to_two() {
        let load =
            |value: &str| Config::load_from(None, env(&[("BUILDWIRE_AUTOFIX_ATTEMPTS", value)]));
        assert_eq!(
            Config::load_from(None, env(&[]))
                .expect("default")
                .autofix_attempts,
            2
        );
        assert_eq!(load("0").expect("off").autofix_attempts, 0);
        let refused = load("11").expect_err("too many");
        assert!(
            refused.to_string().contains("BUILDWIRE_AUTOFIX_ATTEMPTS"),
            "{refused}"
        );
    }

    #[test]
    fn notifier_and_cloudflare_settings_read_from_the_environment() {
        let config = Config::load_from(
            None,
            env(&[
                ("BUILDWIRE_DEPLOY_TARGET", "cloudflare"),
                ("CLOUDFLARE_ACCOUNT_ID", "acc"),
                ("CLOUDFLARE_API_TOKEN", "tok"),
                ("MAIN_APP_URL", "https://app.example/hooks"),
                ("MAIN_APP_WEBHOOK_SECRET", "whsec_c2VjcmV0"),
                ("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "1"),
                ("BUILDWIRE_WEBHOOK_STATUS_EVENTS", "true"),
            ]),
        )
        .expect("valid");
        assert!(config.webhook_allow_private && config.webhook_status_events);
        assert_eq!(
            config.cloudflare_api_base,
            "https://api.cloudflare.com/client/v4"
        );
        assert_eq!(config.cloudflare_pages_project, None);
        let off = Config::load_from(None, env(&[("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "0")]))
            .expect("valid");
        assert!(!off.webhook_allow_private);
    }

    #[test]
    fn bad_values_are_typed_errors() {
        for (k, v) in [
            ("BUILD_TIMEOUT_MS", "soon"),
            ("BUILDWIRE_LLM", "gpt"),
            ("BUILDWIRE_HTTP_ADDR", "nowhere"),
            ("BUILDWIRE_STAGE_CONCURRENCY", "0"),
            ("NATS_USER", "edge"),
            ("BUILDWIRE_LLM_TEMPERATURE", "3"),
            ("BUILDWIRE_LLM_TEMPERATURE", "warm"),
            ("BUILDWIRE_LLM_MAX_TOKENS", "0"),
            ("BUILDWIRE_LLM_RETRIES", "100"),
            ("BUILDWIRE_DEPLOY_TARGET", "cloudflare"),
            ("MAIN_APP_URL", "ftp://x"),
            ("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "maybe"),
            ("BUILDWIRE_METRICS_ADDR", "here"),
            ("DEPLOY_TIMEOUT_MS", "10"),
        ] {
            let err = Config::load_from(None, env(&[(k, v)])).expect_err(k);
            assert!(matches!(err, Error::Config(_)), "{k}: {err}");
        }
        let err = Config::load_from(None, env(&[("MAIN_APP_URL", "https://app.example/hooks")]))
            .expect_err("a URL without its secret");
        assert!(err.to_string().contains("MAIN_APP_WEBHOOK_SECRET"), "{err}");
        let err = Config::load_from(Some("/nonexistent.toml".into()), env(&[]))
            .expect_err("missing file");
        assert!(err.to_string().contains("not a file"));
    }

    #[test]
    fn build_host_settings_read_from_the_environment() {
        let defaults = Config::default();
        assert!(defaults.build_concurrency() >= 1, "the CPU count");
        assert_eq!(defaults.build_cache, "on");
        let config = Config::load_from(
            None,
            env(&[
                ("BUILDWIRE_BUILD_CONCURRENCY", "3"),
                ("BUILDWIRE_NPM_CACHE", "/var/cache/npm"),
                ("BUILDWIRE_BUILD_CACHE", "off"),
                ("BUILDWIRE_BUILD_CACHE_MAX_MB", "512"),
                ("BUILDWIRE_BUILD_CACHE_MAX_AGE_HOURS", "24"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.build_concurrency(), 3);
        assert_eq!(config.npm_cache, Some(PathBuf::from("/var/cache/npm")));
        assert_eq!(config.build_cache, "off");
        assert_eq!(
            (config.build_cache_max_mb, config.build_cache_max_age_hours),
            (512, 24)
        );
        for (k, v) in [
            ("BUILDWIRE_BUILD_CONCURRENCY", "0"),
            ("BUILDWIRE_BUILD_CACHE", "maybe"),
        ] {
            let err = Config::load_from(None, env(&[(k, v)])).expect_err(k);
            assert!(err.to_string().contains(k), "{err}");
        }
    }
}
