//! The fake's routes: the Pages API under `/client/v4`, and deployed files at
//! `/<deploymentId>/<path>`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use poem::http::{HeaderMap, Method, StatusCode};
use poem::{Endpoint, Request, Response};
use serde_json::{Value, json};

use crate::support::{form_fields, looks_like_hash, ok, refuse, wrangler_hash};
use crate::{Deployment, State, StoredAsset};

/// The fake as a poem endpoint.
pub fn app(state: Arc<Mutex<State>>) -> impl Endpoint {
    poem::endpoint::make(move |mut request: Request| {
        let state = state.clone();
        async move {
            let body = request.take_body().into_vec().await.unwrap_or_default();
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            let path = request.uri().path().to_string();
            match path.strip_prefix("/client/v4/") {
                Some(api) => {
                    let method = request.method().clone();
                    let response = route(&mut state, &method, api, request.headers(), &body);
                    state
                        .requests
                        .push(format!("{method} /{api} {}", response.status().as_u16()));
                    response
                }
                None => serve(&state, &path),
            }
        }
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn unauthorized() -> Response {
    refuse(StatusCode::UNAUTHORIZED, 10000, "Authentication error")
}

fn route(
    state: &mut State,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if state.script.rate_limit_next > 0 {
        state.script.rate_limit_next -= 1;
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            971,
            "Please wait and consider throttling your request speed",
        );
        response
            .headers_mut()
            .insert("retry-after", poem::http::HeaderValue::from_static("1"));
        return response;
    }
    if state.script.server_errors_next > 0 {
        state.script.server_errors_next -= 1;
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            10013,
            "Service unavailable",
        );
    }
    let segments: Vec<&str> = path.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["pages", "assets", asset_route]) => assets(state, asset_route, headers, body),
        (_, ["accounts", account, "pages", "projects", rest @ ..]) => {
            if bearer(headers) != Some(state.token.as_str()) {
                return unauthorized();
            }
            if *account != state.account {
                return refuse(StatusCode::FORBIDDEN, 10000, "Authentication error");
            }
            projects(state, method, rest, headers, body)
        }
        _ => refuse(
            StatusCode::NOT_FOUND,
            7003,
            "Could not route to the requested path",
        ),
    }
}

fn project_missing() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        8000007,
        "Project not found. The specified project name does not match any of your existing projects.",
    )
}

fn projects(
    state: &mut State,
    method: &Method,
    rest: &[&str],
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let ("POST", []) = (method.as_str(), rest) {
        return create_project(state, body);
    }
    let Some((project, rest)) = rest.split_first() else {
        return refuse(StatusCode::NOT_FOUND, 7003, "Could not route");
    };
    if !state.projects.contains_key(*project) {
        return project_missing();
    }
    match (method.as_str(), rest) {
        ("GET", ["upload-token"]) => {
            let claims = json!({ "project": project, "nonce": rand::random::<u64>() });
            let jwt = format!(
                "eyJhbGciOiJIUzI1NiJ9.{}.{}",
                URL_SAFE_NO_PAD.encode(claims.to_string()),
                hex::encode(rand::random::<[u8; 16]>())
            );
            state.jwts.insert(jwt.clone(), project.to_string());
            ok(json!({ "jwt": jwt }))
        }
        ("POST", ["deployments"]) => create_deployment(state, project, headers, body),
        ("GET", ["deployments", id]) => match find(state, project, id) {
            Some(deployment) => ok(deployment_json(deployment, Instant::now())),
            None => refuse(StatusCode::NOT_FOUND, 8000009, "Deployment not found"),
        },
        ("GET", ["deployments", id, "history", "logs"]) => match find(state, project, id) {
            Some(deployment) => {
                let data: Vec<Value> = timeline(deployment, Instant::now())
                    .logs
                    .into_iter()
                    .map(|line| json!({ "ts": chrono::Utc::now().to_rfc3339(), "line": line }))
                    .collect();
                ok(json!({ "total": data.len(), "includes_container_logs": false, "data": data }))
            }
            None => refuse(StatusCode::NOT_FOUND, 8000009, "Deployment not found"),
        },
        _ => refuse(StatusCode::NOT_FOUND, 7003, "Could not route"),
    }
}

fn create_project(state: &mut State, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return refuse(StatusCode::BAD_REQUEST, 8000000, "invalid JSON");
    };
    let Some(name) = request["name"].as_str() else {
        return refuse(StatusCode::BAD_REQUEST, 8000000, "a project needs a name");
    };
    let valid = !name.is_empty()
        && name.len() <= 58
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        state
            .problems
            .push(format!("invalid project name {name:?}"));
        return refuse(StatusCode::BAD_REQUEST, 8000001, "invalid project name");
    }
    if state.projects.contains_key(name) {
        return refuse(
            StatusCode::CONFLICT,
            8000002,
            "A project with this name already exists",
        );
    }
    let branch = request["production_branch"].as_str().unwrap_or("main");
    state.projects.insert(name.into(), branch.into());
    ok(
        json!({ "name": name, "production_branch": branch, "subdomain": format!("{name}.pages.dev") }),
    )
}

fn find<'a>(state: &'a State, project: &str, id: &str) -> Option<&'a Deployment> {
    state
        .deployments
        .iter()
        .find(|d| d.id == id && d.project == project)
}

fn assets(state: &mut State, route: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(project) = bearer(headers).and_then(|jwt| state.jwts.get(jwt)).cloned() else {
        return unauthorized();
    };
    if state.script.expire_upload_token_once {
        state.script.expire_upload_token_once = false;
        return refuse(StatusCode::UNAUTHORIZED, 8000013, "upload JWT expired");
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        state.problems.push(format!("{route}: body is not JSON"));
        return refuse(StatusCode::BAD_REQUEST, 8000000, "invalid JSON");
    };
    let known = state.assets.entry(project.clone()).or_default();
    match route {
        "check-missing" | "upsert-hashes" => {
            let hashes: Vec<String> = request["hashes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|h| h.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(bad) = hashes.iter().find(|h| !looks_like_hash(h)) {
                state
                    .problems
                    .push(format!("{route}: {bad:?} is not a hash"));
                return refuse(StatusCode::BAD_REQUEST, 8000000, "invalid hash");
            }
            let missing: Vec<&String> = hashes.iter().filter(|h| !known.contains_key(*h)).collect();
            if route == "check-missing" {
                return ok(json!(missing));
            }
            if !missing.is_empty() {
                state.problems.push(format!(
                    "upsert-hashes of files never uploaded: {missing:?}"
                ));
                return refuse(StatusCode::BAD_REQUEST, 8000000, "unknown hashes");
            }
            ok(json!(true))
        }
        "upload" => {
            let Some(files) = request.as_array() else {
                state.problems.push("upload: body is not an array".into());
                return refuse(StatusCode::BAD_REQUEST, 8000000, "expected an array");
            };
            let mut accepted = Vec::new();
            for file in files {
                let key = file["key"].as_str().unwrap_or_default();
                let value = file["value"].as_str().unwrap_or_default();
                let content_type = file["metadata"]["contentType"].as_str().unwrap_or_default();
                let decoded = STANDARD.decode(value);
                let fault = if !looks_like_hash(key) {
                    Some("key is not a hash")
                } else if file["base64"] != json!(true) {
                    Some("base64 is not true")
                } else if decoded.is_err() {
                    Some("value is not base64")
                } else if content_type.is_empty() {
                    Some("no metadata.contentType")
                } else {
                    None
                };
                if let Some(fault) = fault {
                    state.problems.push(format!("upload {key:?}: {fault}"));
                    return refuse(StatusCode::BAD_REQUEST, 8000000, fault);
                }
                accepted.push((
                    key.to_string(),
                    StoredAsset {
                        base64: value.to_string(),
                        bytes: decoded.unwrap_or_default(),
                        content_type: content_type.to_string(),
                    },
                ));
            }
            for (key, asset) in accepted {
                state.uploaded.push((project.clone(), key.clone()));
                state
                    .assets
                    .entry(project.clone())
                    .or_default()
                    .insert(key, asset);
            }
            ok(json!(null))
        }
        _ => refuse(StatusCode::NOT_FOUND, 7003, "Could not route"),
    }
}

fn create_deployment(
    state: &mut State,
    project: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let fields = match form_fields(content_type, body) {
        Ok(fields) => fields,
        Err(err) => {
            state.problems.push(format!("deployment form: {err}"));
            return refuse(StatusCode::BAD_REQUEST, 8000000, &err);
        }
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let Some(manifest) =
        field("manifest").and_then(|m| serde_json::from_str::<BTreeMap<String, String>>(&m).ok())
    else {
        state
            .problems
            .push("deployment without a manifest of path -> hash".into());
        return refuse(StatusCode::BAD_REQUEST, 8000096, "invalid manifest");
    };
    let known = state.assets.get(project).cloned().unwrap_or_default();
    for (path, hash) in &manifest {
        let fault = match known.get(hash) {
            _ if !path.starts_with('/') => Some("path does not start with /".to_string()),
            None => Some("names a file never uploaded".to_string()),
            Some(asset) if wrangler_hash(&asset.base64, path) != *hash => Some(format!(
                "hash {hash} is not the file's (BLAKE3 of base64 + extension gives {})",
                wrangler_hash(&asset.base64, path)
            )),
            Some(_) => None,
        };
        if let Some(fault) = fault {
            state.problems.push(format!("manifest {path}: {fault}"));
            return refuse(
                StatusCode::BAD_REQUEST,
                8000096,
                &format!("manifest {path}: {fault}"),
            );
        }
    }
    let id = format!(
        "{}-{}-{}",
        hex::encode(rand::random::<[u8; 4]>()),
        hex::encode(rand::random::<[u8; 2]>()),
        hex::encode(rand::random::<[u8; 6]>())
    );
    let deployment = Deployment {
        url: format!("{}/{id}/", state.base),
        id,
        project: project.to_string(),
        branch: field("branch"),
        manifest,
        created: Instant::now(),
        stage_step: state.script.stage_step,
        deploy_takes: state.script.deploy_takes,
        fails: state.script.fail_deploy,
    };
    let answer = deployment_json(&deployment, Instant::now());
    state.deployments.push(deployment);
    ok(answer)
}

/// Where a deployment stands at a moment: each stage's status, and its log so far.
struct Timeline {
    stages: Vec<(&'static str, &'static str)>,
    logs: Vec<String>,
}

fn timeline(deployment: &Deployment, now: Instant) -> Timeline {
    let elapsed = now.saturating_duration_since(deployment.created);
    let step = deployment.stage_step;
    let done = elapsed >= step * 2 + deployment.deploy_takes;
    let mut logs = vec![];
    let status = |start, end| match elapsed {
        e if e < start => "idle",
        e if e < end => "active",
        _ => "success",
    };
    let queued = status(std::time::Duration::ZERO, step);
    let initialize = status(step, step * 2);
    let deploy = match (done, deployment.fails) {
        (true, true) => "failure",
        _ => status(step * 2, step * 2 + deployment.deploy_takes),
    };
    if elapsed >= step {
        logs.push("Initializing build environment...".to_string());
    }
    if elapsed >= step * 2 {
        logs.push("Success: Finished initializing build environment".into());
        logs.push("Deploying your site to Cloudflare's global network...".into());
        logs.push(format!("Uploading... ({0}/{0})", deployment.manifest.len()));
    }
    if done {
        logs.push(match deployment.fails {
            true => "Failed: an internal error occurred while deploying".into(),
            false => "Success: Your site was deployed!".into(),
        });
    }
    Timeline {
        stages: vec![
            ("queued", queued),
            ("initialize", initialize),
            ("deploy", deploy),
        ],
        logs,
    }
}

fn deployment_json(deployment: &Deployment, now: Instant) -> Value {
    let timeline = timeline(deployment, now);
    let latest = timeline
        .stages
        .iter()
        .rev()
        .find(|(_, status)| *status != "idle")
        .copied()
        .unwrap_or(("queued", "active"));
    let stages: Vec<Value> = timeline
        .stages
        .iter()
        .map(|(name, status)| json!({ "name": name, "status": status }))
        .collect();
    json!({
        "id": deployment.id,
        "short_id": &deployment.id[..8],
        "project_name": deployment.project,
        "environment": if deployment.branch.as_deref() == Some("main") { "production" } else { "preview" },
        "url": deployment.url,
        "created_on": chrono::Utc::now().to_rfc3339(),
        "deployment_trigger": { "type": "ad_hoc", "metadata": { "branch": deployment.branch } },
        "latest_stage": { "name": latest.0, "status": latest.1 },
        "stages": stages,
    })
}

/// Files of live deployments: `/<id>/<path>`; a directory answers its `index.html`, an
/// unknown path the top `index.html` (Pages' single-page-app fallback).
fn serve(state: &State, path: &str) -> Response {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let id = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    let Some(deployment) = state.deployments.iter().find(|d| d.id == id) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("no such deployment");
    };
    let live = timeline(deployment, Instant::now())
        .stages
        .iter()
        .any(|(name, status)| *name == "deploy" && *status == "success");
    if !live {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("deployment not live");
    }
    let wanted = format!("/{rest}");
    let candidates = [
        wanted.clone(),
        format!("{}/index.html", wanted.trim_end_matches('/')),
        "/index.html".to_string(),
    ];
    let assets = state.assets.get(&deployment.project);
    for candidate in candidates {
        if let Some(asset) = deployment
            .manifest
            .get(&candidate)
            .and_then(|hash| assets.and_then(|a| a.get(hash)))
        {
            return Response::builder()
                .content_type(asset.content_type.clone())
                .body(asset.bytes.clone());
        }
    }
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body("not found")
}
