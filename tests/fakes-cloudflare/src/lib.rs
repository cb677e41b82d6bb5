//! A fake of the Cloudflare Pages Direct Upload API on a local port, for tests.
//!
//! It speaks the routes wrangler uses (under `/client/v4`, answers wrapped in
//! `{success, errors, messages, result}`): the project's upload token, `check-missing`,
//! `upload`, `upsert-hashes`, project creation, deployment creation (multipart with a
//! `manifest`), the deployment and its stage logs. It checks what a real account would:
//! the API token (Bearer) on account routes and the upload JWT on asset routes, that
//! uploaded hashes look like wrangler's, and that every manifest entry names an uploaded
//! file whose content hashes (BLAKE3 of base64 + extension, recomputed here) to the entry.
//! A deployment moves through `queued`, `initialize` and `deploy` over time, logging each,
//! and once live its files are served at `http://127.0.0.1:<port>/<deploymentId>/<path>`.
//!
//! Tests script faults with [`FakeCloudflare::script`]: 429s, 503s, a failing or slow
//! deploy stage, an expired upload token; and read what happened (files uploaded,
//! deployments, problems found in requests).

mod routes;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::listener::{Acceptor, Listener, TcpListener};

/// Faults and timings a test sets.
#[derive(Clone, Debug)]
pub struct Script {
    /// The next this many API requests answer 429 with `Retry-After: 1`.
    pub rate_limit_next: u32,
    /// The next this many API requests answer 503.
    pub server_errors_next: u32,
    /// New deployments fail in their `deploy` stage.
    pub fail_deploy: bool,
    /// How long each of `queued` and `initialize` takes.
    pub stage_step: Duration,
    /// How long the `deploy` stage takes.
    pub deploy_takes: Duration,
    /// The next asset request with a valid upload token answers 401 (as an expired JWT).
    pub expire_upload_token_once: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            rate_limit_next: 0,
            server_errors_next: 0,
            fail_deploy: false,
            stage_step: Duration::from_millis(150),
            deploy_takes: Duration::from_millis(300),
            expire_upload_token_once: false,
        }
    }
}

/// An asset as uploaded.
#[derive(Clone, Debug)]
pub struct StoredAsset {
    /// The uploaded base64 text.
    pub base64: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// `metadata.contentType`.
    pub content_type: String,
}

/// A deployment as created.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// Its id (a UUID-like string).
    pub id: String,
    /// Its project.
    pub project: String,
    /// The `branch` form field.
    pub branch: Option<String>,
    /// `/path` -> hash.
    pub manifest: BTreeMap<String, String>,
    /// The URL it answers.
    pub url: String,
    /// When it was created.
    pub created: Instant,
    /// The timings and outcome scripted when it was created.
    pub stage_step: Duration,
    /// How long its deploy stage takes.
    pub deploy_takes: Duration,
    /// Whether its deploy stage fails.
    pub fails: bool,
}

/// Everything the fake knows.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub account: String,
    pub token: String,
    pub base: String,
    pub script: Script,
    /// Project name -> production branch.
    pub projects: BTreeMap<String, String>,
    /// Project -> hash -> asset.
    pub assets: HashMap<String, HashMap<String, StoredAsset>>,
    /// Upload JWT -> project.
    pub jwts: HashMap<String, String>,
    pub deployments: Vec<Deployment>,
    /// Files accepted by `upload`, each time one is sent.
    pub uploaded: Vec<(String, String)>,
    /// `METHOD /path STATUS` of every API request.
    pub requests: Vec<String>,
    /// Requests that broke the protocol (bad hashes, manifests naming unknown files...).
    pub problems: Vec<String>,
}

/// The fake, serving until dropped.
pub struct FakeCloudflare {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloudflare {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCloudflare {
    /// Starts on a free loopback port for account `account`, accepting API token `token`.
    pub async fn start(account: &str, token: &str) -> FakeCloudflare {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("the fake binds");
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("a socket address");
        let state = Arc::new(Mutex::new(State {
            account: account.into(),
            token: token.into(),
            base: format!("http://{addr}"),
            ..State::default()
        }));
        let app = routes::app(state.clone());
        let server = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        FakeCloudflare {
            addr,
            state,
            server,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `CLOUDFLARE_API_BASE` should be.
    pub fn api_base(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// Creates project `name` (production branch `main`).
    pub fn add_project(&self, name: &str) {
        self.state().projects.insert(name.into(), "main".into());
    }

    /// Changes the script.
    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.state().script);
    }

    /// The projects, by name.
    pub fn projects(&self) -> Vec<String> {
        self.state().projects.keys().cloned().collect()
    }

    /// How many files `upload` accepted so far (a file sent twice counts twice).
    pub fn files_uploaded(&self) -> usize {
        self.state().uploaded.len()
    }

    /// `(project, hash)` of every file accepted by `upload`, in order.
    pub fn uploads(&self) -> Vec<(String, String)> {
        self.state().uploaded.clone()
    }

    /// Every deployment created, oldest first.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.state().deployments.clone()
    }

    /// `METHOD /path STATUS` of every API request so far.
    pub fn requests(&self) -> Vec<String> {
        self.state().requests.clone()
    }

    /// Protocol breaches seen (should be empty for a correct client).
    pub fn problems(&self) -> Vec<String> {
        self.state().problems.clone()
    }
}
