//! `restoreFromBuildId` of `POST /v1/builds`, checked before anything is queued: the
//! restored build must be the submitting user's (else 404 `RESTORE_BUILD_NOT_FOUND`, the
//! same answer as for no build, so existence does not leak), of the named project when
//! both have one (a restore stays in its project), and have its file tree saved (else 409
//! `SOURCE_NOT_SAVED`). A restore without `projectId` joins the restored build's project,
//! so that project's next follow-up starts from the restored tree.

use buildwire_schemas::api::{ProblemCode, SubmitBuild};
use poem::http::StatusCode;

use crate::problem::ApiError;
use crate::state::EdgeState;

fn not_found(build_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ProblemCode::RestoreBuildNotFound,
        format!("no build {build_id} is known for this user and project"),
    )
}

/// The build's tree is not saved (yet).
pub fn source_not_saved(build_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ProblemCode::SourceNotSaved,
        format!(
            "build {build_id} has no saved file tree: it has not written its files yet, or \
             failed before"
        ),
    )
}

/// Checks the restore of `from` that `body` asks for; answers the project the new build
/// belongs to (the request's, else the restored build's).
pub async fn check(
    state: &EdgeState,
    body: &SubmitBuild,
    from: &str,
) -> Result<Option<String>, ApiError> {
    if !state
        .owners
        .owns_build(from, &body.user_id, &state.jetstream)
        .await?
    {
        return Err(not_found(from));
    }
    let recorded = state.owners.project_of(from).await?;
    let project = match (&body.project_id, recorded) {
        (Some(asked), Some(recorded)) if *asked != recorded => return Err(not_found(from)),
        (Some(asked), _) => Some(asked.clone()),
        (None, recorded) => recorded,
    };
    if !state.sources.has_build(from).await? {
        return Err(source_not_saved(from));
    }
    Ok(project)
}
