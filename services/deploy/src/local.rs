//! Target `local` (the default): the build stage already put the artifacts in the
//! `artifacts` bucket and every edge node serves them at `/preview/<buildId>/`, so
//! deploying is checking they are there and announcing the URL.

use buildwire_runtime::objects::Artifacts;
use buildwire_runtime::stage::{Job, StageError};
use tokio::time::Instant;

use crate::{DeployError, Deployed, Target};

/// Deploys to the edge's own preview route.
#[derive(Clone, Debug)]
pub struct LocalTarget {
    artifacts: Artifacts,
    public_base: String,
}

impl LocalTarget {
    /// Previews announced under `public_base` (the edge's URL).
    pub fn new(artifacts: Artifacts, public_base: &str) -> LocalTarget {
        LocalTarget {
            artifacts,
            public_base: public_base.trim_end_matches('/').to_string(),
        }
    }

    /// Where the edge serves `build_id`'s preview.
    pub fn preview_url(&self, build_id: &str) -> String {
        format!("{}/preview/{build_id}/", self.public_base)
    }
}

impl Target for LocalTarget {
    fn name(&self) -> &'static str {
        "the local preview"
    }

    async fn deploy(&self, job: &mut Job, _deadline: Instant) -> Result<Deployed, DeployError> {
        let build_id = job.command.build_id.clone();
        if !self.artifacts.has_index(&build_id).await? {
            return Err(StageError::fatal(
                "NO_ARTIFACTS",
                "the build stored no index.html to serve",
            )
            .into());
        }
        Ok(Deployed {
            preview_url: self.preview_url(&build_id),
            deployment_id: build_id,
            deploy_log_url: None,
        })
    }
}
