//! Main-app routes: submit, progress, history, cancel, fresh token.

use std::sync::Arc;

use buildwire_schemas::api::{BuildAccepted, BuildProgress, BuildToken, EventsPage, SubmitBuild};
use buildwire_schemas::events::Cancelled;
use buildwire_schemas::{Event, EventBody};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use serde_json::json;

use super::ApiTags;
use super::submit::{self, USER_HEADER};
use super::validate;
use crate::auth::ServiceKey;
use crate::history::MAX_BATCH;
use crate::problem::{ApiError, ProblemResponse};
use crate::state::EdgeState;

/// `202` with the new build.
#[derive(ApiResponse)]
pub enum Accepted {
    /// Queued: connect to `websocketUrl` (or `eventsUrl`) with `buildToken`.
    #[oai(status = 202)]
    Accepted(Json<BuildAccepted>),
}

/// `202` with the cancelled build's progress.
#[derive(ApiResponse)]
pub enum CancelAccepted {
    /// Cancelled; running work stops.
    #[oai(status = 202)]
    Accepted(Json<BuildProgress>),
}

type Answer<T> = Result<T, ProblemResponse>;

/// The main app's routes.
pub struct BuildsApi;

#[OpenApi]
impl BuildsApi {
    /// Submit a prompt.
    ///
    /// Queues the build (`build.<id>.cmd.plan` and a first `status` event, `QUEUED`) and
    /// answers with a build token and the stream URLs. Repeats with the same
    /// `Idempotency-Key` (across every edge node) answer with the same build.
    #[oai(path = "/v1/builds", method = "post", tag = "ApiTags::Builds")]
    async fn submit(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<SubmitBuild>,
    ) -> Answer<Accepted> {
        let accepted = submit::submit(&state, body.0, idempotency_key.0).await?;
        Ok(Accepted::Accepted(Json(accepted)))
    }

    /// Submit a prompt (the plan's route; same as `POST /v1/builds`).
    #[oai(path = "/build-preview", method = "post", tag = "ApiTags::Builds")]
    async fn build_preview(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<SubmitBuild>,
    ) -> Answer<Accepted> {
        let accepted = submit::submit(&state, body.0, idempotency_key.0).await?;
        Ok(Accepted::Accepted(Json(accepted)))
    }

    /// A build's progress.
    #[oai(path = "/v1/builds/:id", method = "get", tag = "ApiTags::Builds")]
    async fn status(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        id: Path<String>,
    ) -> Answer<Json<BuildProgress>> {
        Ok(Json(progress(&state, &id.0).await?))
    }

    /// A page of a build's events, oldest first (`seq` > `after`).
    #[oai(
        path = "/v1/builds/:id/events",
        method = "get",
        tag = "ApiTags::Builds"
    )]
    async fn events(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        id: Path<String>,
        /// Return events after this `seq` (default 0: from the start).
        after: Query<Option<u64>>,
        /// Page size, 1-1000 (default 100).
        limit: Query<Option<u32>>,
    ) -> Answer<Json<EventsPage>> {
        validate::build_id(&id.0)?;
        let limit = limit.0.unwrap_or(100) as usize;
        if !(1..=MAX_BATCH).contains(&limit) {
            return Err(ApiError::invalid("INVALID_LIMIT", "limit must be 1-1000").into());
        }
        let (events, has_more) = events_page(&state, &id.0, after.0.unwrap_or(0), limit).await?;
        Ok(Json(EventsPage { events, has_more }))
    }

    /// Cancel a build.
    ///
    /// Sets the build's cancel flag (KV `cancel`, honoured by every stage) and records a
    /// terminal `cancelled` event. A build that already ended answers 409.
    #[oai(
        path = "/v1/builds/:id/cancel",
        method = "post",
        tag = "ApiTags::Builds"
    )]
    async fn cancel(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        id: Path<String>,
    ) -> Answer<CancelAccepted> {
        let mut progress = progress(&state, &id.0).await?;
        if progress.status.is_terminal() {
            if progress.status == buildwire_schemas::BuildStatus::Cancelled {
                return Ok(CancelAccepted::Accepted(Json(progress)));
            }
            return Err(ApiError::new(
                poem::http::StatusCode::CONFLICT,
                "BUILD_FINISHED",
                format!("build {} already ended ({:?})", id.0, progress.status),
            )
            .into());
        }
        let flag = json!({ "cancelledAt": chrono::Utc::now() }).to_string();
        state
            .cancels
            .put(&id.0, flag.into())
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        let first = state
            .hub
            .history()
            .first(&id.0)
            .await
            .map_err(ApiError::from)?;
        let request_id = first
            .as_ref()
            .and_then(|(frame, _)| frame.event.as_ref())
            .map_or_else(|| id.0.clone(), |e| e.request_id.clone());
        let mut event = Event::new(
            &id.0,
            request_id,
            EventBody::Cancelled(Cancelled {
                message: "Build cancelled".into(),
                stage: progress.status.stage(),
            }),
        );
        let published = state
            .publisher
            .event(&event, &format!("{}:edge:cancelled", id.0))
            .await
            .map_err(ApiError::from)?;
        event.seq = published.seq;
        progress.apply(&event);
        tracing::info!(build_id = %id.0, "build cancelled");
        Ok(CancelAccepted::Accepted(Json(progress)))
    }

    /// A fresh build token (same build and user, new expiry, current signing key).
    #[oai(
        path = "/v1/builds/:id/token",
        method = "post",
        tag = "ApiTags::Builds"
    )]
    async fn token(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        id: Path<String>,
    ) -> Answer<Json<BuildToken>> {
        validate::build_id(&id.0)?;
        let (_, headers) = state
            .hub
            .history()
            .first(&id.0)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::unknown_build(&id.0))?;
        let user = headers
            .get(USER_HEADER)
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        let (build_token, token_expires_at) = state.keyring.issue(&id.0, &user);
        Ok(Json(BuildToken {
            build_token,
            token_expires_at,
        }))
    }
}

/// A page of history: the database's recorded events, topped up from JetStream when the
/// recorder is behind (or the database is away). 404 when neither knows the build.
pub async fn events_page(
    state: &EdgeState,
    build_id: &str,
    after: u64,
    limit: usize,
) -> Result<(Vec<Event>, bool), ApiError> {
    let mut events = Vec::new();
    if let Some(store) = &state.store {
        match store.events_after(build_id, after, limit as u64).await {
            Ok((recorded, true)) => return Ok((recorded, true)),
            Ok((recorded, false)) => events = recorded,
            Err(err) => {
                tracing::warn!(%build_id, %err, "database unavailable: history from JetStream")
            }
        }
    }
    let cursor = events.last().map_or(after, |e| e.seq);
    let page = state
        .hub
        .history()
        .after(build_id, cursor, limit - events.len().min(limit - 1))
        .await?;
    let has_more = page.pending > 0 || events.len() + page.frames.len() > limit;
    events.extend(page.frames.into_iter().filter_map(|f| f.event));
    events.truncate(limit);
    if events.is_empty() && after == 0 && state.hub.history().first(build_id).await?.is_none() {
        return Err(ApiError::unknown_build(build_id));
    }
    Ok((events, has_more))
}

/// A build's progress: the recorded row, else folded from its stored events (404 when
/// neither exists).
pub async fn progress(state: &EdgeState, build_id: &str) -> Result<BuildProgress, ApiError> {
    validate::build_id(build_id)?;
    if let Some(store) = &state.store {
        match store.progress(build_id).await {
            Ok(Some(mut progress)) => {
                // Prefer JetStream when the recorder has not caught up yet.
                let newest = state.hub.history().last(build_id).await?;
                if newest.is_none_or(|frame| frame.seq <= progress.last_seq) {
                    if progress.build_log_url.is_some() {
                        progress.build_log_url = Some(crate::logs::log_url(state, build_id));
                    }
                    return Ok(progress);
                }
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(%build_id, %err, "database unavailable: progress from JetStream")
            }
        }
    }
    let frames = state.hub.history().all_after(build_id, 0).await?;
    if frames.is_empty() {
        return Err(ApiError::unknown_build(build_id));
    }
    let events = frames.iter().filter_map(|f| f.event.as_ref());
    let mut progress = BuildProgress::from_events(build_id, events);
    if let Some(last) = frames.last() {
        progress.last_seq = progress.last_seq.max(last.seq);
    }
    // The URL in the events expired 15 minutes after the build; hand out a fresh one.
    if progress.build_log_url.is_some() {
        progress.build_log_url = Some(crate::logs::log_url(state, build_id));
    }
    Ok(progress)
}
