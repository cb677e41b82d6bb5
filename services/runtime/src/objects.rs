//! The object-store buckets stages hand work through (design.md, "NATS topology"):
//! `sources` (a project's file tree after each build, so a follow-up starts from it on any
//! host), `artifacts` (built output, which previews are served from) and `logs`.

use std::collections::BTreeMap;

use async_nats::jetstream::object_store::{self, GetErrorKind, ObjectStore};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use crate::{Error, Result, nats::Nats};

/// A project's files: relative path -> content.
pub type FileTree = BTreeMap<String, String>;

fn failed(bucket: &str, what: &str, err: impl std::fmt::Display) -> Error {
    Error::JetStream {
        subject: format!("OBJ_{bucket}"),
        reason: format!("{what}: {err}"),
    }
}

/// One bucket.
#[derive(Clone)]
pub struct Bucket {
    name: &'static str,
    store: ObjectStore,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({})", self.name)
    }
}

impl Bucket {
    /// Opens bucket `name` (created by the `nats/` definitions).
    pub async fn open(nats: &Nats, name: &'static str) -> Result<Bucket> {
        let store = nats
            .js
            .get_object_store(name)
            .await
            .map_err(|e| failed(name, "open (are the nats/ definitions applied?)", e))?;
        Ok(Bucket { name, store })
    }

    /// Stores `data` as `object`, replacing an older version.
    pub async fn put(&self, object: &str, data: &[u8]) -> Result<()> {
        let mut reader = data;
        self.store
            .put(object, &mut reader)
            .await
            .map_err(|e| failed(self.name, &format!("put {object}"), e))?;
        Ok(())
    }

    /// The content of `object`, or `None` when it does not exist.
    pub async fn get(&self, object: &str) -> Result<Option<Bytes>> {
        let mut found = match self.store.get(object).await {
            Ok(found) => found,
            Err(err) if err.kind() == GetErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(failed(self.name, &format!("get {object}"), err)),
        };
        let mut data = Vec::new();
        found
            .read_to_end(&mut data)
            .await
            .map_err(|e| failed(self.name, &format!("read {object}"), e))?;
        Ok(Some(data.into()))
    }

    /// Whether `object` exists.
    pub async fn contains(&self, object: &str) -> Result<bool> {
        match self.store.info(object).await {
            Ok(info) => Ok(!info.deleted),
            Err(err) if err.kind() == object_store::InfoErrorKind::NotFound => Ok(false),
            Err(err) => Err(failed(self.name, &format!("info {object}"), err)),
        }
    }
}

/// Project trees in bucket `sources`: `builds/<buildId>` for every build and
/// `projects/<projectId>` for a project's newest tree.
#[derive(Clone, Debug)]
pub struct Sources {
    bucket: Bucket,
}

impl Sources {
    /// Opens the `sources` bucket.
    pub async fn open(nats: &Nats) -> Result<Sources> {
        Ok(Sources {
            bucket: Bucket::open(nats, "sources").await?,
        })
    }

    /// Saves the tree `build_id` produced (and as its project's newest).
    pub async fn save(
        &self,
        build_id: &str,
        project_id: Option<&str>,
        files: &FileTree,
    ) -> Result<()> {
        let data = serde_json::to_vec(files)?;
        self.bucket
            .put(&format!("builds/{build_id}"), &data)
            .await?;
        if let Some(project) = project_id {
            self.bucket
                .put(&format!("projects/{project}"), &data)
                .await?;
        }
        Ok(())
    }

    /// The tree of `build_id`, if saved.
    pub async fn of_build(&self, build_id: &str) -> Result<Option<FileTree>> {
        self.load(&format!("builds/{build_id}")).await
    }

    /// Whether the tree of `build_id` is saved.
    pub async fn has_build(&self, build_id: &str) -> Result<bool> {
        self.bucket.contains(&format!("builds/{build_id}")).await
    }

    /// The newest tree of `project_id`, if any.
    pub async fn of_project(&self, project_id: &str) -> Result<Option<FileTree>> {
        self.load(&format!("projects/{project_id}")).await
    }

    /// The tree a build starts from: its parent build's, else its project's newest, else
    /// empty (a new project). `None` when a named parent build has no saved tree.
    pub async fn starting_tree(
        &self,
        parent_build_id: Option<&str>,
        project_id: Option<&str>,
    ) -> Result<Option<FileTree>> {
        if let Some(parent) = parent_build_id {
            return self.of_build(parent).await;
        }
        if let Some(project) = project_id {
            return Ok(Some(self.of_project(project).await?.unwrap_or_default()));
        }
        Ok(Some(FileTree::new()))
    }

    async fn load(&self, object: &str) -> Result<Option<FileTree>> {
        match self.bucket.get(object).await? {
            Some(data) => Ok(Some(serde_json::from_slice(&data)?)),
            None => Ok(None),
        }
    }
}

/// Built output in bucket `artifacts`: `<buildId>/<path>` per file.
#[derive(Clone, Debug)]
pub struct Artifacts {
    bucket: Bucket,
}

impl Artifacts {
    /// Opens the `artifacts` bucket.
    pub async fn open(nats: &Nats) -> Result<Artifacts> {
        Ok(Artifacts {
            bucket: Bucket::open(nats, "artifacts").await?,
        })
    }

    /// Stores one built file.
    pub async fn put(&self, build_id: &str, path: &str, data: &[u8]) -> Result<()> {
        self.bucket.put(&format!("{build_id}/{path}"), data).await
    }

    /// One built file, if present.
    pub async fn get(&self, build_id: &str, path: &str) -> Result<Option<Bytes>> {
        self.bucket.get(&format!("{build_id}/{path}")).await
    }

    /// Whether the build has an `index.html`.
    pub async fn has_index(&self, build_id: &str) -> Result<bool> {
        self.bucket
            .contains(&format!("{build_id}/index.html"))
            .await
    }
}
