//! Main-app routes: submit, progress, history, cancel, fresh token.

use std::sync::Arc;

use buildwire_schemas::api::{BuildAccepted, BuildProgress, BuildToken, EventsPage, ProblemCode};
use buildwire_schemas::events::Cancelled;
use buildwire_schemas::{Event, EventBody};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::params::{BuildId, IdempotencyKey, SubmitBody};
use super::refusals::{BuildRefusals, CancelRefusals, HistoryRefusals, SubmitRefusals};
use super::submit::{self, USER_HEADER};
use super::validate;
use crate::auth::ServiceKey;
use crate::log::MAX_PAGE as MAX_BATCH;
use crate::problem::{ApiError, Refused};
use crate::state::EdgeState;

/// Declares each one-answer response: its doc, then its variant's doc, status and JSON body.
macro_rules! answers {
    ($(
        $(#[doc = $doc:tt])* $name:ident {
            $(#[doc = $vdoc:tt])* $variant:ident($status:tt, $body:ty)
        }
    )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(ApiResponse)]
            pub enum $name {
                $(#[doc = $vdoc])*
                #[oai(status = $status)]
                $variant(Json<$body>),
            }
        )*
    };
}

answers! {
    /// `202` with the new build.
    Accepted {
        /// Queued (or, for a repeated `Idempotency-Key`, the build that key already made):
        /// open `websocketUrl` (or `eventsUrl`) with `buildToken`.
        Accepted(202, BuildAccepted)
    }
    /// `200` with a build's progress.
    Progress {
        /// The build's progress, folded from its stored events.
        Ok(200, BuildProgress)
    }
    /// `200` with a page of history.
    History {
        /// Events with `seq` greater than `after`, oldest first.
        Ok(200, EventsPage)
    }
    /// `202` with the cancelled build's progress.
    CancelAccepted {
        /// Cancelled (or already cancelled): running work stops, the stream ends with
        /// `cancelled`.
        Accepted(202, BuildProgress)
    }
    /// `200` with a fresh token.
    FreshToken {
        /// A token for the build's streams, signed with the current key.
        Ok(200, BuildToken)
    }
}

/// Writes [`SubmitApi`]: the submission routes share their parameters, answer and handler
/// ([`submit::submit`]), so each entry is only a route's doc, path and operation id.
macro_rules! submit_routes {
    ($($(#[doc = $doc:tt])* $name:ident($path:tt, $op:tt);)*) => {
        /// The submission routes.
        pub struct SubmitApi;

        #[OpenApi]
        impl SubmitApi {
            $(
                $(#[doc = $doc])*
                #[oai(path = $path, method = "post", tag = "ApiTags::Builds", operation_id = $op)]
                async fn $name(
                    &self,
                    state: Data<&Arc<EdgeState>>,
                    _auth: ServiceKey,
                    /// Makes retries safe: every submission with this key gets the first one's build.
                    #[oai(name = "Idempotency-Key")]
                    idempotency_key: IdempotencyKey,
                    body: SubmitBody,
                    request: &poem::Request,
                ) -> Result<Accepted, Refused<SubmitRefusals>> {
                    let submitted = submit::submit(&state, body.0, idempotency_key.0);
                    let span = submit::span(request.headers());
                    let accepted = tracing::Instrument::instrument(submitted, span).await?;
                    Ok(Accepted::Accepted(Json(accepted)))
                }
            )*
        }
    };
}

submit_routes! {
    /// Submit a prompt.
    ///
    /// Queues the build (`build.<id>.cmd.plan` and a first `status` event, `QUEUED`) and
    /// answers with a build token and the stream URLs. Repeats with the same
    /// `Idempotency-Key` (across every edge node, for 24 hours) answer with the same build,
    /// never with a rate-limit or circuit refusal; the same key with another body is 422.
    submit("/v1/builds", "submitBuild");

    /// Submit a prompt (the plan's route).
    ///
    /// The route of the plan's callers: the same body, header and answer as
    /// `POST /v1/builds`.
    build_preview("/build-preview", "submitBuildPreview");
}

/// The main app's routes.
pub struct BuildsApi;

#[OpenApi]
impl BuildsApi {
    /// A build's progress.
    ///
    /// Status, steps, preview URL, error and a freshly signed log URL, from the recorded
    /// progress (or folded from JetStream when the recorder is behind). `previewUrl`,
    /// `errorMessage` and `buildLogUrl` are `null` until they are known.
    #[oai(
        path = "/v1/builds/:id",
        method = "get",
        tag = "ApiTags::Builds",
        operation_id = "getBuild"
    )]
    async fn status(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        /// The build.
        id: Path<BuildId>,
    ) -> Result<Progress, Refused<BuildRefusals>> {
        Ok(Progress::Ok(Json(progress(&state, id.as_str()).await?)))
    }

    /// A page of a build's events.
    ///
    /// Oldest first, `seq` greater than `after`; ask again with `after` set to the last
    /// `seq` while `hasMore` is true. The same events, in the same shapes, as the streams.
    #[oai(
        path = "/v1/builds/:id/events",
        method = "get",
        tag = "ApiTags::Builds",
        operation_id = "listBuildEvents"
    )]
    async fn events(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        /// The build.
        id: Path<BuildId>,
        /// Return events after this `seq` (0: from the start; at most 2^53 - 1, the
        /// largest integer JavaScript holds exactly).
        #[oai(
            default,
            validator(minimum(value = "0"), maximum(value = "9007199254740991"))
        )]
        after: Query<u64>,
        /// Page size, 1-1000.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
    ) -> Result<History, Refused<HistoryRefusals>> {
        let limit = usize::try_from(limit.0).unwrap_or(MAX_BATCH);
        if !(1..=MAX_BATCH).contains(&limit) {
            return Err(
                ApiError::invalid(ProblemCode::InvalidLimit, "limit must be 1-1000").into(),
            );
        }
        let (events, has_more) = events_page(&state, id.as_str(), after.0, limit).await?;
        Ok(History::Ok(Json(EventsPage { events, has_more })))
    }

    /// Cancel a build.
    ///
    /// Sets the build's cancel flag (KV `cancel`, honoured by every stage: running npm is
    /// killed) and records a terminal `cancelled` event. Cancelling a cancelled build
    /// answers its progress again; a build that completed or failed answers 409.
    #[oai(
        path = "/v1/builds/:id/cancel",
        method = "post",
        tag = "ApiTags::Builds",
        operation_id = "cancelBuild"
    )]
    async fn cancel(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        /// The build.
        id: Path<BuildId>,
    ) -> Result<CancelAccepted, Refused<CancelRefusals>> {
        let id = id.as_str();
        let mut progress = progress(&state, id).await?;
        if progress.status.is_terminal() {
            if progress.status == buildwire_schemas::BuildStatus::Cancelled {
                return Ok(CancelAccepted::Accepted(Json(progress)));
            }
            return Err(ApiError::new(
                poem::http::StatusCode::CONFLICT,
                ProblemCode::BuildFinished,
                format!("build {id} already ended ({:?})", progress.status),
            )
            .into());
        }
        state.cancels.set(id).await.map_err(ApiError::from)?;
        let first = state.jetstream.first(id).await.map_err(ApiError::from)?;
        let request_id = first
            .as_ref()
            .and_then(|(frame, _)| frame.event.as_ref())
            .map_or_else(|| id.to_string(), |e| e.request_id.clone());
        let mut event = Event::new(
            id,
            request_id,
            EventBody::Cancelled(Cancelled {
                message: "Build cancelled".into(),
                stage: progress.status.stage(),
            }),
        );
        let published = state
            .publisher
            .event(&event, &format!("{id}:edge:cancelled"))
            .await
            .map_err(ApiError::from)?;
        event.seq = published.seq;
        progress.apply(&event);
        tracing::info!(build_id = %id, "build cancelled");
        Ok(CancelAccepted::Accepted(Json(progress)))
    }

    /// A fresh build token.
    ///
    /// Same build and user, a new expiry, signed with the keyring's current key: for a
    /// browser whose token is about to expire, or after a key rotation.
    #[oai(
        path = "/v1/builds/:id/token",
        method = "post",
        tag = "ApiTags::Builds",
        operation_id = "createBuildToken"
    )]
    async fn token(
        &self,
        state: Data<&Arc<EdgeState>>,
        _auth: ServiceKey,
        /// The build.
        id: Path<BuildId>,
    ) -> Result<FreshToken, Refused<BuildRefusals>> {
        let id = id.as_str();
        let (_, headers) = state
            .jetstream
            .first(id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::unknown_build(id))?;
        let user = headers
            .get(USER_HEADER)
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        let (build_token, token_expires_at) = state.keyring.issue(id, &user);
        Ok(FreshToken::Ok(Json(BuildToken {
            build_token,
            token_expires_at,
        })))
    }
}

fn default_limit() -> u32 {
    100
}

/// A page of history from the build log (the database for what JetStream no longer
/// holds, then JetStream), log links signed on the way out. 404 when no store knows the
/// build.
pub async fn events_page(
    state: &EdgeState,
    build_id: &str,
    after: u64,
    limit: usize,
) -> Result<(Vec<Event>, bool), ApiError> {
    let page = state.hub.log().since(build_id, after, limit).await?;
    if page.position.is_none() {
        return Err(ApiError::unknown_build(build_id));
    }
    let has_more = page.has_more();
    let links = state.hub.links();
    let events = page
        .frames
        .iter()
        .filter_map(|frame| frame.event.clone())
        .map(|mut event| {
            links.sign_event(&mut event);
            event
        })
        .collect();
    Ok((events, has_more))
}

/// A build's progress from the build log (the recorded row when the recorder is up to
/// date, else folded from the events), its log link freshly signed and its trace id read
/// from its first event's `traceparent`. 404 when unknown.
pub async fn progress(state: &EdgeState, build_id: &str) -> Result<BuildProgress, ApiError> {
    validate::build_id(build_id)?;
    let (progress, first) = tokio::join!(
        state.hub.log().progress(build_id),
        state.jetstream.first(build_id)
    );
    let mut progress = progress?.ok_or_else(|| ApiError::unknown_build(build_id))?;
    // The link a stored event or row keeps is a reference: a fresh one each time.
    state.hub.links().sign_progress(&mut progress);
    // Null when JetStream no longer holds the first event (or cannot say right now).
    progress.trace_id = first
        .ok()
        .flatten()
        .and_then(|(_, headers)| buildwire_runtime::trace_context::trace_id_of(Some(&headers)));
    Ok(progress)
}
