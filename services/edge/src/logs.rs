//! Full logs behind signed, expiring links.
//!
//! - `GET /v1/builds/{id}/logs/build?expires=&kid=&sig=`: a build's full log from the
//!   `logs` bucket (the signature is the authorization, so a browser can follow the link).
//!   Logs over 1 MiB are stored gzipped and sent with `Content-Encoding: gzip`.
//! - `GET /v1/builds/{id}/logs/deploy?expires=&kid=&sig=`: its deploy log (object
//!   `<id>/deploy.log`, written by the deploy stage), the same way.
//! - [`Links`]: stored events and progress rows keep a reference to the log (its path);
//!   the edge signs a fresh link each time it hands one out (API, history, WebSocket, SSE),
//!   so a replayed event never carries an expired link.

use std::sync::Arc;

use buildwire_runtime::signing::UrlSigner;
use buildwire_schemas::api::{BuildProgress, ProblemCode};
use buildwire_schemas::{Event, EventBody};
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use crate::api::validate;
use crate::frame::{Frame, Utf8Bytes};
use crate::problem::ApiError;
use crate::state::EdgeState;

/// The signature of a log URL.
#[derive(Deserialize, Debug)]
pub struct Signed {
    expires: i64,
    kid: String,
    sig: String,
}

/// The path a build log URL signs; also what a stored event keeps as its reference.
pub use buildwire_schemas::commands::build_log_path as log_path;
/// The path a deploy log URL signs; also what `deployLogUrl` keeps in stored events.
pub use buildwire_schemas::commands::deploy_log_path;

/// Signs log links on the way out.
#[derive(Clone, Debug)]
pub struct Links {
    signer: UrlSigner,
    base: String,
}

impl Links {
    /// Links under `base` (the public URL), signed by `signer`.
    pub fn new(signer: UrlSigner, base: &str) -> Links {
        Links {
            signer,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// A fresh signed URL of `path` (valid for the signer's lifetime from now).
    fn sign(&self, path: &str) -> String {
        let query = self.signer.sign(path, chrono::Utc::now().timestamp());
        format!("{}{path}?{query}", self.base)
    }

    /// A fresh signed URL of `build_id`'s build log.
    pub fn build_log(&self, build_id: &str) -> String {
        self.sign(&log_path(build_id))
    }

    /// Replaces the event's log links by fresh ones: a build log link is re-signed for the
    /// event's build whatever was stored (a reference, or an old signed URL); a deploy log
    /// link is signed when it is a reference to this edge (`/v1/...`), kept otherwise (a
    /// deploy target's own URL).
    pub fn sign_event(&self, event: &mut Event) {
        let fresh = || self.build_log(&event.build_id);
        let url = match &mut event.body {
            EventBody::BuildStarted(update)
            | EventBody::BuildProgress(update)
            | EventBody::BuildCompleted(update)
            | EventBody::BuildFailed(update) => update.build_log_url.as_mut().map(|u| (u, true)),
            EventBody::Complete(complete) => complete.build_log_url.as_mut().map(|u| (u, true)),
            EventBody::DeployStarted(update)
            | EventBody::DeployProgress(update)
            | EventBody::DeployCompleted(update)
            | EventBody::DeployFailed(update) => update.deploy_log_url.as_mut().map(|u| (u, false)),
            _ => None,
        };
        match url {
            Some((url, true)) => *url = fresh(),
            Some((url, false)) => self.sign_deploy_log(url),
            None => {}
        }
    }

    /// Signs a deploy log link when it is a reference to this edge (`/v1/...`); a deploy
    /// target's own URL is kept as it is.
    fn sign_deploy_log(&self, url: &mut String) {
        if url.starts_with("/v1/") {
            *url = self.sign(url);
        }
    }

    /// The log links of a progress, fresh: the build log's always, the deploy log's when
    /// it is a reference to this edge.
    pub fn sign_progress(&self, progress: &mut BuildProgress) {
        if progress.build_log_url.is_some() {
            progress.build_log_url = Some(self.build_log(&progress.build_id));
        }
        if let Some(url) = progress.deploy_log_url.as_mut() {
            self.sign_deploy_log(url);
        }
    }

    /// The text to send for `frame`: its shared text, or, when it carries log links, the
    /// event re-rendered with fresh ones.
    pub fn frame_text(&self, frame: &Frame) -> Utf8Bytes {
        match &frame.event {
            Some(event) if frame.has_links() => {
                let mut event = event.clone();
                self.sign_event(&mut event);
                serde_json::to_string(&event)
                    .map(Utf8Bytes::from)
                    .unwrap_or_else(|_| frame.text.clone())
            }
            _ => frame.text.clone(),
        }
    }
}

/// Serves the build log when the signature holds.
#[handler]
pub async fn build_log(
    Path(build_id): Path<String>,
    Query(signed): Query<Signed>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    validate::build_id(&build_id)?;
    serve(state, &build_id, &log_path(&build_id), &signed, "build").await
}

/// Serves the deploy log when the signature holds.
#[handler]
pub async fn deploy_log(
    Path(build_id): Path<String>,
    Query(signed): Query<Signed>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    validate::build_id(&build_id)?;
    serve(
        state,
        &build_id,
        &deploy_log_path(&build_id),
        &signed,
        "deploy",
    )
    .await
}

/// Checks the signature of `path`, then answers object `<build_id>/<kind>.log` (or its
/// gzipped `.log.gz`) from bucket `logs`.
async fn serve(
    state: &EdgeState,
    build_id: &str,
    path: &str,
    signed: &Signed,
    kind: &str,
) -> Result<Response, ApiError> {
    state
        .signer
        .verify(
            path,
            signed.expires,
            &signed.kid,
            &signed.sig,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                ProblemCode::LogLinkInvalid,
                e.to_string(),
            )
        })?;
    for (suffix, encoding) in [("log", None), ("log.gz", Some("gzip"))] {
        if let Some(data) = state
            .logs
            .get(&format!("{build_id}/{kind}.{suffix}"))
            .await?
        {
            let mut response = data
                .with_content_type("text/plain; charset=utf-8")
                .with_header("Cache-Control", "private, no-store")
                .into_response();
            if let Some(encoding) = encoding
                && let Ok(value) = encoding.parse()
            {
                response.headers_mut().insert("Content-Encoding", value);
            }
            return Ok(response);
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        ProblemCode::LogNotFound,
        format!("build {build_id} has no stored {kind} log"),
    ))
}
