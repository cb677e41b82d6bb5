//! `POST /v1/builds`: accept a prompt, queue its plan command and first event, answer with
//! the build's token and URLs. With an `Idempotency-Key`, the first submission wins on
//! every node (KV `idempotency`, atomic create) and repeats get the same build. A
//! `webhookUrl` is checked here and kept as a header of the build's first event, where the
//! notifier reads it; a `restoreFromBuildId` is checked by [`super::restore`].

use async_nats::HeaderMap;
use async_nats::jetstream::kv::CreateErrorKind;
use buildwire_schemas::api::{BuildAccepted, ProblemCode, SubmitBuild};
use buildwire_schemas::events::{StatusCode, StatusUpdate};
use buildwire_schemas::{BuildStatus, Event, EventBody, Stage, StageCommand};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::validate;
use crate::problem::ApiError;
use crate::state::EdgeState;

/// Header on the first stored event naming the submitting user (read back when a fresh
/// token is minted; never sent to browsers).
pub const USER_HEADER: &str = "Buildwire-User-Id";

/// Header on the first stored event holding the build's own webhook endpoint.
pub use buildwire_notify::target::WEBHOOK_URL_HEADER;

/// What KV `idempotency` remembers about a submission.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Remembered {
    build_id: String,
    request_id: String,
    fingerprint: String,
}

fn fingerprint(body: &SubmitBuild) -> String {
    let text = serde_json::to_string(body).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The span a submission runs in: a child of the main app's W3C `traceparent` when the
/// request carries one, so a build's trace starts in the main app. The build's first event
/// and its plan command carry it on (`runtime::trace_context`).
pub fn span(headers: &poem::http::HeaderMap) -> tracing::Span {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let span = tracing::info_span!(
        "submit build",
        otel.kind = "server",
        buildId = tracing::field::Empty,
        traceId = tracing::field::Empty,
    );
    buildwire_runtime::trace_context::adopt_w3c(&span, header("traceparent"), header("tracestate"));
    span
}

/// Accepts `body`, once per `idempotency_key`. A repeat of an accepted submission gets its
/// build before any rate limit or circuit check: a retry must never be refused.
pub async fn submit(
    state: &EdgeState,
    body: SubmitBuild,
    idempotency_key: Option<String>,
) -> Result<BuildAccepted, ApiError> {
    validate::submission(&body)?;
    if let Some(url) = &body.webhook_url {
        validate::webhook_url(url, state.webhook_allow_private)?;
    }
    // With NATS away every step below would wait out a timeout, and a buffered `QUEUED`
    // would be stored once NATS is back with no command after it: refuse at once instead
    // (nothing is queued; the caller retries).
    if state.nats.client.connection_state() != async_nats::connection::State::Connected {
        return Err(ApiError::unavailable(
            "NATS is unreachable; nothing was queued, retry shortly",
        ));
    }
    let key = match &idempotency_key {
        Some(key) => {
            validate::idempotency_key(key)?;
            let kv_key = hex::encode(Sha256::digest(key.as_bytes()));
            if let Some(first) = remembered(state, &kv_key).await? {
                return repeat(state, &body, first).await;
            }
            Some(kv_key)
        }
        None => None,
    };
    let project = owned(state, &body).await?;
    state.guards.submission(&body.user_id).await?;
    let build_id = ulid::Ulid::generate().to_string();
    let request_id = body.request_id.clone().unwrap_or_else(|| build_id.clone());
    let Some(kv_key) = key else {
        enqueue(state, &body, project.as_deref(), &build_id, &request_id).await?;
        return Ok(accepted(state, &build_id, &body.user_id));
    };
    let remembered = Remembered {
        build_id,
        request_id,
        fingerprint: fingerprint(&body),
    };
    let value = serde_json::to_vec(&remembered).unwrap_or_default();
    match state.idempotency.create(&kv_key, value.into()).await {
        Ok(_) => {}
        Err(err) if err.kind() == CreateErrorKind::AlreadyExists => {
            // Another node accepted the same key a moment ago.
            let first = self::remembered(state, &kv_key)
                .await?
                .ok_or_else(|| ApiError::unavailable("idempotency record vanished; retry"))?;
            return repeat(state, &body, first).await;
        }
        Err(err) => return Err(ApiError::unavailable(err.to_string())),
    }
    let (build_id, request_id) = (&remembered.build_id, &remembered.request_id);
    enqueue(state, &body, project.as_deref(), build_id, request_id).await?;
    Ok(accepted(state, build_id, &body.user_id))
}

/// What KV `idempotency` remembers under `kv_key`, if anything.
async fn remembered(state: &EdgeState, kv_key: &str) -> Result<Option<Remembered>, ApiError> {
    let Some(entry) = state
        .idempotency
        .get(kv_key)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&entry)
        .map(Some)
        .map_err(|e| ApiError::unavailable(format!("idempotency record: {e}")))
}

/// The answer to a repeat of the submission `first`: its build, when the body is the same.
async fn repeat(
    state: &EdgeState,
    body: &SubmitBuild,
    first: Remembered,
) -> Result<BuildAccepted, ApiError> {
    if first.fingerprint != fingerprint(body) {
        return Err(ApiError::invalid(
            ProblemCode::IdempotencyKeyReused,
            "this Idempotency-Key was used with a different body",
        ));
    }
    // The first node may have died between remembering and publishing; publishing again
    // with the same Nats-Msg-Ids stores nothing twice.
    if state.jetstream.first(&first.build_id).await?.is_none() {
        let project = owned(state, body).await?;
        enqueue(
            state,
            body,
            project.as_deref(),
            &first.build_id,
            &first.request_id,
        )
        .await?;
    }
    Ok(accepted(state, &first.build_id, &body.user_id))
}

/// Refuses (404) a project, parent or restored build that is not the submitting user's;
/// answers the build's project (for a restore without one: the restored build's).
async fn owned(state: &EdgeState, body: &SubmitBuild) -> Result<Option<String>, ApiError> {
    if let Some(parent) = &body.parent_build_id {
        state
            .owners
            .check_build(parent, &body.user_id, &state.jetstream)
            .await?;
    }
    let project = match &body.restore_from_build_id {
        Some(from) => super::restore::check(state, body, from).await?,
        None => body.project_id.clone(),
    };
    if let Some(project) = &project {
        state.owners.claim_project(project, &body.user_id).await?;
    }
    Ok(project)
}

/// Records the build's owner (and `project`), then stores its first event (queued) and
/// its plan command.
async fn enqueue(
    state: &EdgeState,
    body: &SubmitBuild,
    project: Option<&str>,
    build_id: &str,
    request_id: &str,
) -> Result<(), ApiError> {
    let queued = Event::new(
        build_id,
        request_id,
        EventBody::Status(StatusUpdate {
            code: StatusCode::Queued,
            message: "Queued".into(),
            progress: Some(0),
            build_status: Some(BuildStatus::Queued),
        }),
    );
    tracing::Span::current().record("buildId", build_id);
    state
        .owners
        .record_build(build_id, &body.user_id, project)
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(USER_HEADER, body.user_id.as_str());
    if let Some(url) = &body.webhook_url {
        headers.insert(WEBHOOK_URL_HEADER, url.as_str());
    }
    state
        .publisher
        .event_with_headers(&queued, &format!("{build_id}:edge:queued"), headers)
        .await?;
    let command = StageCommand {
        build_id: build_id.to_string(),
        request_id: request_id.to_string(),
        user_id: body.user_id.clone(),
        prompt: body.prompt.trim().to_string(),
        project_id: project.map(str::to_string),
        parent_build_id: body.parent_build_id.clone(),
        restore_from_build_id: body.restore_from_build_id.clone(),
        plan: None,
        extra: Default::default(),
    };
    state
        .publisher
        .command(Stage::Plan, &command, &format!("{build_id}:edge:cmd:plan"))
        .await?;
    state.metrics.builds_submitted.inc();
    tracing::info!(%build_id, %request_id, user_id = %body.user_id, "build queued");
    Ok(())
}

fn accepted(state: &EdgeState, build_id: &str, user_id: &str) -> BuildAccepted {
    let (build_token, token_expires_at) = state.keyring.issue(build_id, user_id);
    BuildAccepted {
        build_id: build_id.to_string(),
        build_token,
        token_expires_at,
        websocket_url: state.urls.websocket(build_id),
        events_url: state.urls.events(build_id),
        status_url: state.urls.status(build_id),
    }
}
