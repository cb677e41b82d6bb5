//! Direct Upload's asset steps, as wrangler takes them: a project's upload JWT
//! (`GET .../upload-token`), `POST /pages/assets/check-missing` with every hash, the
//! missing files in batches (`POST /pages/assets/upload`: base64 content, content type),
//! then `POST /pages/assets/upsert-hashes` with every hash. A JWT refused midway is
//! fetched again once (they expire).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::api::{Api, Auth, Call};
use super::manifest::Asset;
use crate::DeployError;

/// Most bytes one upload request carries (wrangler's `MAX_BUCKET_SIZE`).
const MAX_BATCH_BYTES: usize = 40 * 1024 * 1024;
/// Most files one upload request carries (wrangler's `MAX_BUCKET_FILE_COUNT`).
const MAX_BATCH_FILES: usize = 2000;

#[derive(Deserialize)]
struct UploadToken {
    jwt: String,
}

/// Uploads to one Pages project.
pub struct Uploader<'a> {
    api: &'a Api,
    project: &'a str,
    jwt: String,
    deadline: Instant,
}

impl<'a> Uploader<'a> {
    /// Fetches `project`'s upload JWT. A missing project is [`DeployError::Api`] with
    /// status 404 (the caller knows whether to create it).
    pub async fn start(
        api: &'a Api,
        project: &'a str,
        deadline: Instant,
    ) -> Result<Uploader<'a>, DeployError> {
        let jwt = fetch_jwt(api, project, deadline).await?;
        Ok(Uploader {
            api,
            project,
            jwt,
            deadline,
        })
    }

    /// POSTs `body` to an asset route with the JWT, fetching a fresh JWT once if refused.
    async fn post<T: serde::de::DeserializeOwned>(
        &mut self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, DeployError> {
        let first = Call::new(Method::POST, path, Auth::Upload(&self.jwt)).json(body);
        match self.api.call(&first, self.deadline).await {
            Err(DeployError::Unauthorized { .. }) => {
                tracing::info!("upload token refused; fetching a fresh one");
                self.jwt = fetch_jwt(self.api, self.project, self.deadline).await?;
                let again = Call::new(Method::POST, path, Auth::Upload(&self.jwt)).json(body);
                self.api.call(&again, self.deadline).await
            }
            other => other,
        }
    }

    /// The hashes Cloudflare does not have yet.
    pub async fn missing(&mut self, assets: &[Asset]) -> Result<Vec<String>, DeployError> {
        let hashes: Vec<&str> = assets.iter().map(|a| a.hash.as_str()).collect();
        self.post("/pages/assets/check-missing", &json!({ "hashes": hashes }))
            .await
    }

    /// Uploads `assets` in batches, largest first; answers the number of requests made.
    pub async fn upload(&mut self, assets: &[&Asset]) -> Result<usize, DeployError> {
        let batches = batches(assets);
        for batch in &batches {
            let payload: Vec<serde_json::Value> = batch
                .iter()
                .map(|asset| {
                    json!({
                        "key": asset.hash,
                        "value": asset.base64,
                        "metadata": { "contentType": asset.content_type },
                        "base64": true,
                    })
                })
                .collect();
            let _: serde_json::Value = self
                .post("/pages/assets/upload", &serde_json::Value::Array(payload))
                .await?;
        }
        Ok(batches.len())
    }

    /// Tells Cloudflare every hash of the deployment is in use (so later deployments find
    /// them). Like wrangler, a refusal only costs later uploads: logged, not fatal.
    pub async fn upsert(&mut self, assets: &[Asset]) -> Result<(), DeployError> {
        let hashes: Vec<&str> = assets.iter().map(|a| a.hash.as_str()).collect();
        let upserted: Result<serde_json::Value, _> = self
            .post("/pages/assets/upsert-hashes", &json!({ "hashes": hashes }))
            .await;
        match upserted {
            Err(DeployError::Api {
                status, message, ..
            }) => {
                tracing::warn!(status, %message, "upsert-hashes refused; the next deploy may upload more");
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }
}

async fn fetch_jwt(api: &Api, project: &str, deadline: Instant) -> Result<String, DeployError> {
    let call = Call::new(
        Method::GET,
        api.project_path(project, "/upload-token"),
        Auth::Token,
    );
    let token: UploadToken = api.call(&call, deadline).await?;
    Ok(token.jwt)
}

/// Groups `assets` into requests of at most [`MAX_BATCH_BYTES`] and [`MAX_BATCH_FILES`],
/// largest files first (a file bigger than the byte cap goes alone).
fn batches<'b>(assets: &[&'b Asset]) -> Vec<Vec<&'b Asset>> {
    let mut sorted = assets.to_vec();
    sorted.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    let mut batches: Vec<Vec<&Asset>> = Vec::new();
    let mut bytes = 0;
    for asset in sorted {
        match batches.last_mut() {
            Some(batch)
                if bytes + asset.size <= MAX_BATCH_BYTES && batch.len() < MAX_BATCH_FILES =>
            {
                bytes += asset.size;
                batch.push(asset);
            }
            _ => {
                bytes = asset.size;
                batches.push(vec![asset]);
            }
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(path: &str, size: usize) -> Asset {
        Asset {
            path: path.into(),
            hash: path.into(),
            base64: String::new(),
            content_type: "text/plain",
            size,
        }
    }

    #[test]
    fn batches_respect_bytes_and_counts() {
        let big = asset("big", MAX_BATCH_BYTES - 10);
        let small: Vec<Asset> = (0..MAX_BATCH_FILES + 5)
            .map(|n| asset(&format!("f{n}"), 1))
            .collect();
        let mut all: Vec<&Asset> = small.iter().collect();
        all.push(&big);
        let made = batches(&all);
        assert_eq!(made[0][0].path, "big");
        assert!(made.iter().all(|b| b.len() <= MAX_BATCH_FILES));
        assert!(
            made.iter()
                .all(|b| b.iter().map(|a| a.size).sum::<usize>() <= MAX_BATCH_BYTES)
        );
        assert_eq!(made.iter().map(Vec::len).sum::<usize>(), all.len());
        assert!(batches(&[]).is_empty());
    }
}
