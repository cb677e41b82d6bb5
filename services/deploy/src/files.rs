//! A build's output as the build stage left it in bucket `artifacts` (`<buildId>/<path>`).
//!
//! The bucket keeps no index per build, so the names are found by listing the bucket's
//! object metadata (names and sizes, no content) and keeping the build's prefix; then each
//! file is read. Listing costs one metadata message per object in the bucket (30 days of
//! builds): fine for a laptop or a modest fleet; an index object written by the build
//! stage would make it one read.

use std::collections::BTreeMap;

use buildwire_runtime::nats::Nats;
use buildwire_runtime::objects::Artifacts;
use buildwire_runtime::stage::StageError;
use bytes::Bytes;
use futures::StreamExt;

use crate::DeployError;

/// One built file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Its path under the build's output (`assets/index-abc.js`).
    pub path: String,
    /// Its content.
    pub data: Bytes,
}

fn unavailable(what: &str, err: impl std::fmt::Display) -> DeployError {
    StageError::retryable("INFRASTRUCTURE", format!("artifacts bucket: {what}: {err}")).into()
}

/// Reads the build's output files from the artifacts bucket.
#[derive(Clone, Debug)]
pub struct BuildOutput {
    nats: Nats,
    artifacts: Artifacts,
}

impl BuildOutput {
    /// Opens the `artifacts` bucket.
    pub async fn open(nats: &Nats) -> Result<BuildOutput, DeployError> {
        Ok(BuildOutput {
            nats: nats.clone(),
            artifacts: Artifacts::open(nats).await?,
        })
    }

    /// Every file `build_id` published, by path. Fails with `NO_ARTIFACTS` (fatal) when
    /// there is no `index.html`.
    pub async fn files(&self, build_id: &str) -> Result<Vec<OutputFile>, DeployError> {
        let prefix = format!("{build_id}/");
        let store = self
            .nats
            .js
            .get_object_store("artifacts")
            .await
            .map_err(|e| unavailable("open", e))?;
        let mut names = BTreeMap::new();
        let mut list = store.list().await.map_err(|e| unavailable("list", e))?;
        while let Some(info) = list.next().await {
            let info = info.map_err(|e| unavailable("list", e))?;
            if let Some(path) = info.name.strip_prefix(&prefix)
                && !info.deleted
            {
                names.insert(path.to_string(), info.size);
            }
        }
        if !names.contains_key("index.html") {
            return Err(StageError::fatal(
                "NO_ARTIFACTS",
                "the build stored no index.html to serve",
            )
            .into());
        }
        let mut files = Vec::with_capacity(names.len());
        for path in names.into_keys() {
            // A file replaced or removed since the listing is skipped, not an error.
            if let Some(data) = self.artifacts.get(build_id, &path).await? {
                files.push(OutputFile { path, data });
            }
        }
        Ok(files)
    }
}
