//! Who owns what, agreed on by every edge node through KV `owners`: a project belongs to
//! the user whose build first named it, a build to the user who submitted it. A user who
//! names another user's project or parent build gets the same 404 as for one that does not
//! exist, so existence does not leak. A build's project is kept too (restores stay within
//! their project). Keys are SHA-256 hex of the ids (main-app ids may hold characters KV
//! keys cannot).

use async_nats::jetstream::kv::{self, CreateErrorKind};
use buildwire_schemas::api::ProblemCode;
use sha2::{Digest, Sha256};

use crate::log::jetstream::JetStreamLog;
use crate::problem::ApiError;

/// The KV bucket.
pub const BUCKET: &str = buildwire_runtime::jetstream::bucket::OWNERS;

/// Header on a build's first event naming its user: the owner of builds submitted before
/// KV `owners` held them.
pub use crate::api::submit::USER_HEADER;

/// Ownership checks and records over KV `owners`.
#[derive(Clone)]
pub struct Owners {
    kv: kv::Store,
}

fn key(kind: &str, id: &str) -> String {
    format!("{kind}.{}", hex::encode(Sha256::digest(id.as_bytes())))
}

fn project_not_found(project_id: &str) -> ApiError {
    ApiError::new(
        poem::http::StatusCode::NOT_FOUND,
        ProblemCode::ProjectNotFound,
        format!("no project {project_id} is known for this user"),
    )
}

fn parent_not_found(build_id: &str) -> ApiError {
    ApiError::new(
        poem::http::StatusCode::NOT_FOUND,
        ProblemCode::ParentBuildNotFound,
        format!("no build {build_id} is known for this user"),
    )
}

impl Owners {
    /// Over an opened `owners` bucket.
    pub fn new(kv: kv::Store) -> Owners {
        Owners { kv }
    }

    /// Claims `project_id` for `user_id` when nobody has it yet (atomic across nodes), or
    /// checks that it is theirs.
    pub async fn claim_project(&self, project_id: &str, user_id: &str) -> Result<(), ApiError> {
        let key = key("project", project_id);
        match self
            .kv
            .create(&key, user_id.as_bytes().to_vec().into())
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == CreateErrorKind::AlreadyExists => {
                let owner = self
                    .kv
                    .get(&key)
                    .await
                    .map_err(|e| ApiError::unavailable(format!("KV {BUCKET}: {e}")))?;
                match owner {
                    Some(owner) if owner.as_ref() == user_id.as_bytes() => Ok(()),
                    _ => Err(project_not_found(project_id)),
                }
            }
            Err(err) => Err(ApiError::unavailable(format!("KV {BUCKET}: {err}"))),
        }
    }

    /// Checks that `build_id` was submitted by `user_id` ([`Owners::owns_build`]);
    /// `PARENT_BUILD_NOT_FOUND` otherwise.
    pub async fn check_build(
        &self,
        build_id: &str,
        user_id: &str,
        history: &JetStreamLog,
    ) -> Result<(), ApiError> {
        if self.owns_build(build_id, user_id, history).await? {
            Ok(())
        } else {
            Err(parent_not_found(build_id))
        }
    }

    /// Whether `build_id` was submitted by `user_id`: KV first, else the user header on
    /// the build's first event (builds from before KV `owners`).
    pub async fn owns_build(
        &self,
        build_id: &str,
        user_id: &str,
        history: &JetStreamLog,
    ) -> Result<bool, ApiError> {
        if buildwire_schemas::subjects::check_build_id(build_id).is_err() {
            return Ok(false);
        }
        let recorded = self
            .kv
            .get(key("build", build_id))
            .await
            .map_err(|e| ApiError::unavailable(format!("KV {BUCKET}: {e}")))?;
        let owner = match recorded {
            Some(owner) => Some(owner.to_vec()),
            None => history
                .first(build_id)
                .await
                .map_err(ApiError::from)?
                .and_then(|(_, headers)| {
                    headers
                        .get(USER_HEADER)
                        .map(|v| v.as_str().as_bytes().to_vec())
                }),
        };
        Ok(owner.is_some_and(|owner| owner == user_id.as_bytes()))
    }

    /// Records that `build_id` belongs to `user_id`, and to `project_id` when it has one
    /// (before its first event is stored).
    pub async fn record_build(
        &self,
        build_id: &str,
        user_id: &str,
        project_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let failed = |e: kv::PutError| ApiError::unavailable(format!("KV {BUCKET}: {e}"));
        if let Some(project) = project_id {
            self.kv
                .put(
                    key("build-project", build_id),
                    project.as_bytes().to_vec().into(),
                )
                .await
                .map_err(failed)?;
        }
        self.kv
            .put(key("build", build_id), user_id.as_bytes().to_vec().into())
            .await
            .map(|_| ())
            .map_err(failed)
    }

    /// The project `build_id` was submitted in, when one was named (and recorded).
    pub async fn project_of(&self, build_id: &str) -> Result<Option<String>, ApiError> {
        let project = self
            .kv
            .get(key("build-project", build_id))
            .await
            .map_err(|e| ApiError::unavailable(format!("KV {BUCKET}: {e}")))?;
        Ok(project.map(|p| String::from_utf8_lossy(&p).into_owned()))
    }
}
