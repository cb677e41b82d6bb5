//! Assets and the deployment manifest as wrangler makes them: each file's hash is the first
//! 32 hex characters of BLAKE3 over its base64 content followed by its extension without
//! the dot (wrangler's `hashFile`); the manifest maps `/<path>` to that hash.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::DeployError;
use crate::files::OutputFile;

/// Largest file Pages accepts (wrangler's `MAX_ASSET_SIZE`).
pub const MAX_ASSET_SIZE: usize = 25 * 1024 * 1024;

/// Files Pages treats as configuration or code rather than assets; not deployed (a
/// generated `_worker.js` would run on Cloudflare's servers).
const NOT_ASSETS: &[&str] = &["_worker.js", "_routes.json", "_headers", "_redirects"];

/// One file ready to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    /// Path under the output (`assets/app.js`).
    pub path: String,
    /// Wrangler's hash of it.
    pub hash: String,
    /// Its content as base64 (what is hashed and uploaded).
    pub base64: String,
    /// Its MIME type, by extension.
    pub content_type: &'static str,
    /// Its size in bytes.
    pub size: usize,
}

/// The extension as node's `path.extname` sees it, without the dot (`js`; `""` for
/// `README` and `.env`).
pub fn extension(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rfind('.') {
        Some(dot) if dot > 0 => &name[dot + 1..],
        _ => "",
    }
}

/// Wrangler's `hashFile`: BLAKE3(base64(content) + extension), first 32 hex characters.
pub fn asset_hash(base64: &str, path: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(base64.as_bytes());
    hasher.update(extension(path).as_bytes());
    let mut hex = hasher.finalize().to_hex().to_string();
    hex.truncate(32);
    hex
}

/// The MIME type Pages should serve `path` with.
pub fn content_type(path: &str) -> &'static str {
    match extension(path).to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" | "cjs" => "application/javascript",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// The files to deploy, hashed; Pages' special files are left out.
pub fn assets(files: &[OutputFile]) -> Result<Vec<Asset>, DeployError> {
    let mut assets = Vec::with_capacity(files.len());
    for file in files {
        let top = file.path.split('/').next().unwrap_or_default();
        if NOT_ASSETS.contains(&top) {
            tracing::warn!(path = %file.path, "not deployed: Pages reads it as configuration or code");
            continue;
        }
        if file.data.len() > MAX_ASSET_SIZE {
            return Err(DeployError::AssetTooLarge {
                path: file.path.clone(),
                size: file.data.len(),
                limit: MAX_ASSET_SIZE,
            });
        }
        let base64 = STANDARD.encode(&file.data);
        assets.push(Asset {
            hash: asset_hash(&base64, &file.path),
            content_type: content_type(&file.path),
            size: file.data.len(),
            path: file.path.clone(),
            base64,
        });
    }
    Ok(assets)
}

/// The deployment's `manifest` form field: `/<path>` -> hash.
pub fn manifest(assets: &[Asset]) -> BTreeMap<String, String> {
    assets
        .iter()
        .map(|a| (format!("/{}", a.path), a.hash.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_node_extname() {
        assert_eq!(extension("assets/index-abc.js"), "js");
        assert_eq!(extension("a.tar.gz"), "gz");
        assert_eq!(extension("README"), "");
        assert_eq!(extension(".env"), "");
        assert_eq!(extension("dir.d/file"), "");
        assert_eq!(extension("file."), "");
    }

    /// Wrangler: `blake3(Buffer.from(c).toString("base64") + ext).toString("hex").slice(0, 32)`.
    #[test]
    fn hashes_are_wranglers() {
        let b64 = STANDARD.encode(b"hello");
        assert_eq!(b64, "aGVsbG8=");
        // The hashed text is the base64 followed by the extension, no dot.
        let want = blake3::hash(b"aGVsbG8=html").to_hex().to_string();
        assert_eq!(asset_hash(&b64, "index.html"), want[..32]);
        assert_eq!(asset_hash(&b64, "index.html").len(), 32);
        // The extension is part of the hash: same bytes, another type, another hash.
        assert_ne!(asset_hash(&b64, "a.css"), asset_hash(&b64, "a.js"));
        // BLAKE3 of the empty input is the published test vector.
        assert_eq!(
            asset_hash("", "LICENSE"),
            "af1349b9f5f9a1a6a0404dea36dcc949"
        );
    }

    #[test]
    fn special_files_stay_out_and_big_ones_are_refused() {
        let file = |path: &str, size: usize| OutputFile {
            path: path.into(),
            data: vec![b'x'; size].into(),
        };
        let assets = assets(&[file("index.html", 3), file("_worker.js", 3)]).expect("ok");
        assert_eq!(assets.len(), 1);
        assert_eq!(assets[0].content_type, "text/html");
        assert_eq!(manifest(&assets).get("/index.html"), Some(&assets[0].hash));
        let err = super::assets(&[file("big.bin", MAX_ASSET_SIZE + 1)]).expect_err("too big");
        assert_eq!(err.code(), "ASSET_TOO_LARGE");
    }
}
