//! The crate's one error type. A target failure ends the build with `deploy_failed` (its
//! `code`, `retryable` and `suggestedAction`) and a soft `failed`; [`DeployError::Stage`]
//! goes back to the stage loop as is (cancel, hand-back, NATS trouble, no artifacts).

use buildwire_runtime::stage::StageError;

/// Why a deploy did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Cloudflare refused the API token (401/403), or the upload token it handed out.
    #[error("Cloudflare refused the API token ({status}): {message}")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// Cloudflare's errors.
        message: String,
    },
    /// `CLOUDFLARE_PAGES_PROJECT` names a project the account does not have.
    #[error("Cloudflare Pages project {project:?} does not exist in account {account}")]
    ProjectNotFound {
        /// The project name.
        project: String,
        /// The account id.
        account: String,
    },
    /// The deployment was created but one of its stages failed.
    #[error("Cloudflare Pages deployment {id} failed in its {stage} stage: {message}")]
    DeploymentFailed {
        /// The deployment id.
        id: String,
        /// The stage that failed (`deploy`, ...).
        stage: String,
        /// The last lines of its log.
        message: String,
        /// The reference to its stored log, when stored.
        log_url: Option<String>,
    },
    /// `DEPLOY_TIMEOUT_MS` passed before the deploy finished.
    #[error("the deploy took longer than DEPLOY_TIMEOUT_MS ({limit_ms} ms){}", last.as_deref().map(|l| format!("; last problem: {l}")).unwrap_or_default())]
    Timeout {
        /// The limit.
        limit_ms: u64,
        /// What was being retried when time ran out (429, 503, a refused connection).
        last: Option<String>,
    },
    /// Cloudflare refused a request in a way retrying cannot fix (400, 404, 409, ...).
    #[error("Cloudflare answered {status} to {what}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The request (`POST /pages/assets/upload`).
        what: String,
        /// Cloudflare's errors.
        message: String,
    },
    /// A built file is larger than Pages accepts.
    #[error("{path} is {size} bytes; Cloudflare Pages takes files up to {limit} bytes")]
    AssetTooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The configuration cannot deploy (a target setting is missing).
    #[error("deploy configuration: {0}")]
    Config(String),
    /// Not a target failure: the stage loop handles it (cancel, hand-back, NATS, no output).
    #[error(transparent)]
    Stage(#[from] StageError),
}

impl From<buildwire_runtime::Error> for DeployError {
    fn from(err: buildwire_runtime::Error) -> Self {
        DeployError::Stage(err.into())
    }
}

impl DeployError {
    /// The machine-readable code in `deploy_failed` and `failed`.
    pub fn code(&self) -> &str {
        match self {
            DeployError::Unauthorized { .. } => "CLOUDFLARE_UNAUTHORIZED",
            DeployError::ProjectNotFound { .. } => "PAGES_PROJECT_NOT_FOUND",
            DeployError::DeploymentFailed { .. } => "DEPLOYMENT_FAILED",
            DeployError::Timeout { .. } => "DEPLOY_TIMEOUT",
            DeployError::Api { .. } => "CLOUDFLARE_API_ERROR",
            DeployError::AssetTooLarge { .. } => "ASSET_TOO_LARGE",
            DeployError::Config(_) => "DEPLOY_CONFIG",
            DeployError::Stage(StageError::Retryable { code, .. })
            | DeployError::Stage(StageError::Fatal { code, .. }) => code,
            DeployError::Stage(StageError::Interrupted) => "INTERRUPTED",
            DeployError::Stage(StageError::Cancelled) => "CANCELLED",
        }
    }

    /// Whether submitting the build again may succeed as things stand.
    pub fn retryable(&self) -> bool {
        match self {
            DeployError::Timeout { .. } | DeployError::DeploymentFailed { .. } => true,
            DeployError::Api { status, .. } => *status == 409,
            DeployError::Stage(StageError::Retryable { .. }) => true,
            _ => false,
        }
    }

    /// What the user (or the operator) can do about it.
    pub fn suggested_action(&self) -> Option<String> {
        Some(match self {
            DeployError::Unauthorized { .. } => "The operator should check CLOUDFLARE_API_TOKEN: it must be valid and allow Cloudflare Pages: Edit on CLOUDFLARE_ACCOUNT_ID.".into(),
            DeployError::ProjectNotFound { project, .. } => format!(
                "The operator should create the Pages project {project:?} (or unset CLOUDFLARE_PAGES_PROJECT so each project gets its own, created on first deploy)."
            ),
            DeployError::DeploymentFailed { .. } => {
                "Submit the build again; if it fails the same way, the deploy log has Cloudflare's reason.".into()
            }
            DeployError::Timeout { .. } => "Submit the build again; if deploys keep timing out, check Cloudflare's status or raise DEPLOY_TIMEOUT_MS.".into(),
            DeployError::Api { .. } => "The operator should read the error: Cloudflare refused a request buildwire sent.".into(),
            DeployError::AssetTooLarge { .. } => {
                "Make the file smaller (or load it from elsewhere) and build again.".into()
            }
            DeployError::Config(_) => "The operator should fix the deploy settings.".into(),
            DeployError::Stage(_) => return None,
        })
    }
}
