//! `GET /v1/builds/{id}/source.zip`: the project's file tree as the build left it (bucket
//! `sources`, `builds/<id>`), streamed as a ZIP archive.
//!
//! - Who: the main app (service key) or a browser holding the build's token (`?token=` or
//!   `Authorization: Bearer`), as for the build's streams; another build's token is 403.
//! - What: every entry under one top folder named like the file
//!   (`<project>-<buildId>/...`, or `build-<buildId>/...` without a project), so unpacking
//!   never spills into the current directory. Every stored path is checked before the
//!   first byte is sent (relative, no `..`, no backslash, no drive or absolute path): a
//!   tree holding one that is not is refused whole (500), never sent in part.
//! - When not: 404 `BUILD_NOT_FOUND` for an unknown build; 409 `SOURCE_NOT_SAVED` for a
//!   known build whose tree is not saved (it has not written its files yet, or failed
//!   before).
//!
//! The archive is written on a blocking thread into a bounded channel of chunks, so a
//! slow client holds back the writer instead of buffering the whole archive.

use std::io::Write;
use std::sync::Arc;

use buildwire_runtime::objects::FileTree;
use buildwire_schemas::api::ProblemCode;
use bytes::Bytes;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use tokio::sync::mpsc;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::api::{restore, validate};
use crate::problem::ApiError;
use crate::state::EdgeState;

/// Bytes per chunk sent to the client.
const CHUNK: usize = 64 * 1024;

/// The optional `?token=`.
#[derive(Deserialize, Debug, Default)]
pub struct TokenQuery {
    token: Option<String>,
}

/// Streams the build's tree as a ZIP.
#[handler]
pub async fn source_zip(
    req: &Request,
    Path(build_id): Path<String>,
    Query(query): Query<TokenQuery>,
    Data(state): Data<&Arc<EdgeState>>,
) -> Result<Response, ApiError> {
    validate::build_id(&build_id)?;
    authorize(state, req, &build_id, query.token.as_deref())?;
    let tree = match state.sources.of_build(&build_id).await? {
        Some(tree) => tree,
        None if state.hub.log().progress(&build_id).await?.is_some() => {
            return Err(restore::source_not_saved(&build_id));
        }
        None => return Err(ApiError::unknown_build(&build_id)),
    };
    let project = state.owners.project_of(&build_id).await?;
    let name = archive_name(&build_id, project.as_deref());
    let entries = entries(&name, tree).map_err(|err| {
        tracing::error!(%build_id, %err, "a stored tree holds a refused path");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ProblemCode::Internal,
            format!("build {build_id}'s stored tree holds a refused path"),
        )
    })?;
    Ok(Response::builder()
        .content_type("application/zip")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.zip\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(stream(entries)))
}

/// The service key, else a token of this build (`?token=`, else the bearer).
fn authorize(
    state: &EdgeState,
    req: &Request,
    build_id: &str,
    query_token: Option<&str>,
) -> Result<(), ApiError> {
    let bearer = req
        .header(header::AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer.is_some_and(|key| state.service_keys.accepts(key)) {
        return Ok(());
    }
    let token = query_token.or(bearer).unwrap_or_default();
    state.keyring.verify(token, build_id)?;
    Ok(())
}

/// The archive's name (and top folder): `<project>-<buildId>` with the project id's
/// characters outside `A-Z a-z 0-9 . _ -` as `-`, or `build-<buildId>`.
pub fn archive_name(build_id: &str, project_id: Option<&str>) -> String {
    match project_id {
        Some(project) => {
            let slug: String = project
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{}-{build_id}", slug.trim_start_matches('.'))
        }
        None => format!("build-{build_id}"),
    }
}

/// The archive's entries, `<top>/<path>`, each path checked as a project path (and kept
/// only when it is already in its normal form).
pub fn entries(
    top: &str,
    tree: FileTree,
) -> Result<Vec<(String, String)>, buildwire_runtime::paths::PathError> {
    tree.into_iter()
        .map(|(path, content)| {
            let checked = buildwire_runtime::paths::check(&path)?;
            if checked != path {
                return Err(buildwire_runtime::paths::PathError {
                    path,
                    reason: "not in normal form",
                });
            }
            Ok((format!("{top}/{checked}"), content))
        })
        .collect()
}

/// The body: the archive of `entries`, written on a blocking thread.
fn stream(entries: Vec<(String, String)>) -> Body {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let errors = tx.clone();
        if let Err(err) = write_zip(entries, Chunks::new(tx)) {
            tracing::warn!(%err, "source.zip stopped");
            let _ = errors.blocking_send(Err(std::io::Error::other(err.to_string())));
        }
    });
    Body::from_bytes_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// Writes `entries` as a ZIP (deflated, mode 0644) into `out`.
pub fn write_zip<W: Write>(entries: Vec<(String, String)>, out: W) -> zip::result::ZipResult<()> {
    let mut zip = ZipWriter::new_stream(out);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, content) in entries {
        zip.start_file(name, options)?;
        zip.write_all(content.as_bytes())?;
    }
    zip.finish()?.flush()?;
    Ok(())
}

/// A writer that sends what it is given as chunks of about [`CHUNK`] bytes.
struct Chunks {
    buffer: Vec<u8>,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
}

impl Chunks {
    fn new(tx: mpsc::Sender<std::io::Result<Bytes>>) -> Chunks {
        Chunks {
            buffer: Vec::with_capacity(CHUNK),
            tx,
        }
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[&str]) -> FileTree {
        paths
            .iter()
            .map(|p| (p.to_string(), format!("content of {p}")))
            .collect()
    }

    #[test]
    fn names_are_safe_slugs() {
        assert_eq!(archive_name("01B", None), "build-01B");
        assert_eq!(
            archive_name("01B", Some("team@x:todo+1")),
            "team-x-todo-1-01B"
        );
        assert_eq!(archive_name("01B", Some("..proj")), "proj-01B");
    }

    #[test]
    fn paths_leaving_the_tree_are_refused() {
        for bad in [
            "/etc/passwd",
            "../up.txt",
            "src/../../x",
            "src\\app.ts",
            "C:/x",
            "./src/a.ts",
            "",
        ] {
            assert!(entries("top", tree(&["ok.txt", bad])).is_err(), "{bad:?}");
        }
        let ok = entries("top", tree(&["src/App.tsx", "package.json"])).expect("ok");
        assert_eq!(ok[0].0, "top/package.json");
        assert_eq!(ok[1].0, "top/src/App.tsx");
    }

    #[test]
    fn the_archive_unpacks_to_the_tree() {
        let files = tree(&["index.html", "src/main.tsx", "src/components/List.tsx"]);
        let mut out = Vec::new();
        write_zip(entries("top", files.clone()).expect("entries"), &mut out).expect("zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(out)).expect("a ZIP");
        let mut unpacked = FileTree::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).expect("entry");
            let name = file.name().expect("name");
            let name = name.strip_prefix("top/").expect("top").to_string();
            let mut content = String::new();
            std::io::Read::read_to_string(&mut file, &mut content).expect("read");
            unpacked.insert(name, content);
        }
        assert_eq!(unpacked, files);
    }
}
