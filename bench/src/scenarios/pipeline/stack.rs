//! One `buildwire up` stack for the pipeline scenario (its own nats-server, data dir and npm
//! cache, the build settings of its mode) and one build through it: submitted with
//! `POST /v1/builds`, watched over the WebSocket the 202 names until its terminal event,
//! its preview fetched (the page and every asset it loads: a working preview), its stored
//! events read from `live.build.*.events` with their `Nats-Time-Stamp`, so each stage's
//! time and the install and `npm run build` inside the build stage come from JetStream's
//! own clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use crate::marker::now_ns;
use crate::scenarios::Settings;
use crate::servers::{NatsServer, SERVICE_KEY, Server};
use crate::tokens;

/// How long one build may take.
const BUILD_LIMIT: Duration = Duration::from_secs(300);
/// Stages in pipeline order.
const STAGES: [&str; 4] = ["plan", "execute", "build", "deploy"];

/// How a stack builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `BUILDWIRE_BUILD_CACHE=off`: a full `npm install` every build (as before issue 20).
    Baseline,
    /// The lockfile kept and `--prefer-offline`, but no `node_modules` kept
    /// (`BUILDWIRE_BUILD_CACHE_MAX_MB=0` evicts every install cache entry at once).
    Lockfile,
    /// Everything on (the default).
    Cached,
}

impl Mode {
    /// Every mode, baseline first.
    pub const ALL: [Mode; 3] = [Mode::Baseline, Mode::Lockfile, Mode::Cached];

    /// The mode's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Baseline => "baseline (npm install every build)",
            Mode::Lockfile => "lockfile + --prefer-offline only",
            Mode::Cached => "build cache (default)",
        }
    }

    fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Mode::Baseline => &[("BUILDWIRE_BUILD_CACHE", "off")],
            Mode::Lockfile => &[("BUILDWIRE_BUILD_CACHE_MAX_MB", "0")],
            Mode::Cached => &[],
        }
    }
}

/// One stored event as JetStream republished it.
#[derive(Clone, Debug)]
struct Stored {
    stored_ns: u64,
    stage: String,
    /// `type`, or `status:<CODE>`.
    kind: String,
    /// `build_completed`'s summary line.
    summary: Option<String>,
}

type Ledger = Arc<Mutex<HashMap<String, Vec<Stored>>>>;

/// A running stack.
pub struct Stack {
    /// Its mode.
    pub mode: Mode,
    /// `buildwire up`.
    pub up: Server,
    nats: NatsServer,
    ledger: Ledger,
    http: reqwest::Client,
    _npm_cache: tempfile::TempDir,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    build_id: String,
    build_token: String,
    websocket_url: String,
}

/// One build's figures (seconds).
#[derive(Clone, Debug)]
pub struct BuildFigures {
    /// The build id.
    pub build_id: String,
    /// Whether it ended in `complete` with a preview that served.
    pub ok: bool,
    /// Prompt sent to the preview's page and assets fetched.
    pub preview: f64,
    /// Each stage's first to last stored event, in [`STAGES`] order.
    pub stages: [f64; 4],
    /// Inside the build stage: waiting for a slot, dependencies, `npm run build`.
    pub queued: f64,
    /// Dependencies (install or reuse, install scripts).
    pub install: f64,
    /// `npm run build`.
    pub compile: f64,
    /// Where `node_modules` came from, as `build_completed` says.
    pub origin: String,
    /// "Waiting for a build slot" statuses the build got.
    pub told: Vec<String>,
}

impl Stack {
    /// A fresh stack in `mode`: nats-server, data dir and npm cache all new (cold).
    pub async fn start(settings: &Settings, mode: Mode) -> Result<Stack> {
        let nats = NatsServer::start(&settings.tools)?;
        let ledger: Ledger = Arc::default();
        watch_store(&nats.url(), ledger.clone()).await?;
        let npm_cache = tempfile::tempdir()?;
        let cache = npm_cache.path().to_string_lossy().into_owned();
        let keyring = tokens::keyring();
        let mut env: Vec<(&str, &str)> = vec![
            ("BUILDWIRE_NPM_CACHE", &cache),
            ("BUILDWIRE_JWT_KEYS", &keyring),
            ("BUILDWIRE_MAX_VIEWERS_PER_BUILD", "1000000"),
            ("BUILDWIRE_MAX_VIEWERS_PER_USER", "1000000"),
            ("BUILDWIRE_CONNECT_RATE_PER_MIN", "1000000000"),
            ("BUILDWIRE_MAX_CONNECTIONS_PER_ADDR", "0"),
            ("BUILDWIRE_RATE_USER_PER_MIN", "1000"),
            ("BUILDWIRE_RATE_USER_BURST", "100"),
        ];
        env.extend_from_slice(mode.env());
        let up = Server::up(&settings.tools, &nats.url(), &env).await?;
        Ok(Stack {
            mode,
            up,
            nats,
            ledger,
            http: reqwest::Client::new(),
            _npm_cache: npm_cache,
        })
    }

    /// The nats-server's URL (for the load phase's publisher).
    pub fn nats_url(&self) -> String {
        self.nats.url()
    }

    /// Stops `buildwire up` and its nats-server.
    pub async fn stop(self) {
        self.up.stop().await;
    }

    /// Submits `prompt` as `user` (a follow-up of `parent` in `project` when given).
    pub async fn submit(
        &self,
        prompt: &str,
        user: &str,
        project: &str,
        parent: Option<&str>,
    ) -> Result<Submitted> {
        let sent = now_ns();
        let mut body =
            serde_json::json!({ "prompt": prompt, "userId": user, "projectId": project });
        if let Some(parent) = parent {
            body["parentBuildId"] = parent.into();
        }
        let response = self
            .http
            .post(format!("http://{}/v1/builds", self.up.addr))
            .bearer_auth(SERVICE_KEY)
            .json(&body)
            .send()
            .await
            .context("POST /v1/builds")?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            bail!("POST /v1/builds answered {}", response.status());
        }
        let accepted: Accepted = response.json().await?;
        let url = format!(
            "{}?token={}&after=0",
            accepted.websocket_url, accepted.build_token
        );
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .context("opening the build's WebSocket")?;
        Ok(Submitted {
            sent,
            build_id: accepted.build_id,
            ws,
        })
    }

    /// Follows a submitted build to its end and measures it.
    pub async fn follow(&self, submitted: Submitted) -> Result<BuildFigures> {
        let Submitted {
            sent,
            build_id,
            mut ws,
        } = submitted;
        let span = |to: u64| to.saturating_sub(sent) as f64 / 1e9;
        let mut outcome = String::from("timeout");
        let mut preview_url = None;
        let deadline = tokio::time::Instant::now() + BUILD_LIMIT;
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, ws.next()).await {
            let Ok(Message::Text(text)) = message else {
                break;
            };
            let event: serde_json::Value = serde_json::from_str(&text)?;
            let kind = event["type"].as_str().unwrap_or_default().to_string();
            if matches!(kind.as_str(), "complete" | "failed" | "cancelled") {
                preview_url = event["previewUrl"].as_str().map(str::to_owned);
                outcome = kind;
                break;
            }
        }
        let served = match &preview_url {
            Some(url) => self.preview_works(url).await,
            None => false,
        };
        let preview = span(now_ns());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stored = self
            .ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&build_id)
            .cloned()
            .unwrap_or_default();
        Ok(figures(
            build_id,
            outcome == "complete" && served,
            preview,
            &stored,
        ))
    }

    /// Whether the preview's page and every script and stylesheet it loads answer 200.
    async fn preview_works(&self, url: &str) -> bool {
        let Ok(page) = self.http.get(url).send().await else {
            return false;
        };
        let Ok(html) = page.text().await else {
            return false;
        };
        let assets: Vec<String> = html
            .split("./assets/")
            .skip(1)
            .map(|piece| piece.split('"').next().unwrap_or_default().to_owned())
            .collect();
        if !html.contains("id=\"root\"") || assets.is_empty() {
            return false;
        }
        for asset in assets {
            let answer = self.http.get(format!("{url}assets/{asset}")).send().await;
            if !answer.is_ok_and(|a| a.status().is_success()) {
                return false;
            }
        }
        true
    }
}

/// A build submitted and its socket open.
pub struct Submitted {
    sent: u64,
    /// Its id.
    pub build_id: String,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

fn figures(build_id: String, ok: bool, preview: f64, stored: &[Stored]) -> BuildFigures {
    let secs = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e9;
    let stages = STAGES.map(|stage| {
        let times: Vec<u64> = stored
            .iter()
            .filter(|s| s.stage == stage)
            .map(|s| s.stored_ns)
            .collect();
        match (times.iter().min(), times.iter().max()) {
            (Some(first), Some(last)) => secs(*first, *last),
            _ => f64::NAN,
        }
    });
    let at = |kind: &str| {
        stored
            .iter()
            .filter(|s| s.stage == "build" && s.kind == kind)
            .map(|s| s.stored_ns)
            .min()
    };
    let build_start = stored
        .iter()
        .filter(|s| s.stage == "build")
        .map(|s| s.stored_ns)
        .min();
    let between = |from: Option<u64>, to: Option<u64>| match (from, to) {
        (Some(from), Some(to)) => secs(from, to),
        _ => f64::NAN,
    };
    let install_at = at("status:INSTALL");
    let build_at = at("status:BUILD");
    let optimize_at = at("status:OPTIMIZE");
    let origin = stored
        .iter()
        .filter(|s| s.kind == "build_completed")
        .find_map(|s| s.summary.as_deref())
        .and_then(|line| line.split("(dependencies ").nth(1))
        .and_then(|rest| rest.split(" in ").next())
        .unwrap_or("?")
        .to_owned();
    let told = stored
        .iter()
        .filter(|s| s.kind == "status:QUEUED" && s.stage == "build")
        .filter_map(|s| s.summary.clone())
        .collect();
    BuildFigures {
        build_id,
        ok,
        preview,
        stages,
        queued: between(build_start, install_at),
        install: between(install_at, build_at),
        compile: between(build_at, optimize_at),
        origin,
        told,
    }
}

fn stage_of(msg_id: &str) -> String {
    msg_id.split(':').nth(1).unwrap_or("?").to_string()
}

async fn watch_store(nats_url: &str, ledger: Ledger) -> Result<()> {
    let client = async_nats::connect(nats_url).await?;
    let mut live = client.subscribe("live.build.*.events").await?;
    tokio::spawn(async move {
        while let Some(message) = live.next().await {
            let Some(build) = message.subject.split('.').nth(2) else {
                continue;
            };
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_string())
            };
            let stored_ns = header("Nats-Time-Stamp")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .and_then(|t| t.timestamp_nanos_opt())
                .and_then(|n| u64::try_from(n).ok());
            let stage = header("Nats-Msg-Id").map_or("?".into(), |id| stage_of(&id));
            let event: serde_json::Value =
                serde_json::from_slice(&message.payload).unwrap_or_default();
            let kind = match event["type"].as_str() {
                Some("status") => format!("status:{}", event["code"].as_str().unwrap_or("?")),
                Some(kind) => kind.to_owned(),
                None => "?".into(),
            };
            let summary = match kind.as_str() {
                "build_completed" => event["logs"][0].as_str().map(str::to_owned),
                "status:QUEUED" => event["message"].as_str().map(str::to_owned),
                _ => None,
            };
            if let Some(stored_ns) = stored_ns {
                ledger
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(build.to_string())
                    .or_default()
                    .push(Stored {
                        stored_ns,
                        stage,
                        kind,
                        summary,
                    });
            }
        }
    });
    Ok(())
}
