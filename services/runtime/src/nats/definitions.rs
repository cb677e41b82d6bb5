//! The stream and consumer definitions of `nats/`, applied idempotently.
//!
//! Files are in the `nats` CLI's JSON format (`nats stream add --config`, `nats consumer add
//! STREAM --config`): `streams/<NAME>.json` and `consumers/<STREAM>/<durable>.json`. KV and
//! object-store buckets are written as their streams (`KV_<bucket>`, `OBJ_<bucket>`), so one
//! path applies everything and async-nats opens them as buckets.
//!
//! Applying creates what is missing, updates what differs, and leaves the rest alone. A
//! definition the server refuses, or keeps different after an update, is an error: a
//! service never runs against silently diverged streams.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use serde_json::{Map, Value, json};

use super::Nats;
use crate::{Error, Result};

/// The files of `nats/`, compiled in so the binary runs anywhere.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "streams/EVENTS.json",
        include_str!("../../../../nats/streams/EVENTS.json"),
    ),
    (
        "streams/CMDS.json",
        include_str!("../../../../nats/streams/CMDS.json"),
    ),
    (
        "streams/KV_cancel.json",
        include_str!("../../../../nats/streams/KV_cancel.json"),
    ),
    (
        "streams/KV_idempotency.json",
        include_str!("../../../../nats/streams/KV_idempotency.json"),
    ),
    (
        "streams/KV_owners.json",
        include_str!("../../../../nats/streams/KV_owners.json"),
    ),
    (
        "streams/KV_breaker.json",
        include_str!("../../../../nats/streams/KV_breaker.json"),
    ),
    (
        "streams/OBJ_sources.json",
        include_str!("../../../../nats/streams/OBJ_sources.json"),
    ),
    (
        "streams/OBJ_artifacts.json",
        include_str!("../../../../nats/streams/OBJ_artifacts.json"),
    ),
    (
        "streams/OBJ_logs.json",
        include_str!("../../../../nats/streams/OBJ_logs.json"),
    ),
    (
        "consumers/CMDS/plan.json",
        include_str!("../../../../nats/consumers/CMDS/plan.json"),
    ),
    (
        "consumers/CMDS/execute.json",
        include_str!("../../../../nats/consumers/CMDS/execute.json"),
    ),
    (
        "consumers/CMDS/build.json",
        include_str!("../../../../nats/consumers/CMDS/build.json"),
    ),
    (
        "consumers/CMDS/deploy.json",
        include_str!("../../../../nats/consumers/CMDS/deploy.json"),
    ),
    (
        "consumers/EVENTS/record.json",
        include_str!("../../../../nats/consumers/EVENTS/record.json"),
    ),
    (
        "consumers/EVENTS/notify.json",
        include_str!("../../../../nats/consumers/EVENTS/notify.json"),
    ),
];

/// Stream replicas on a clustered server when `BUILDWIRE_NATS_REPLICAS` is unset (the files
/// say 1, so that `nats stream add --config` works on a single server as written).
pub const CLUSTER_REPLICAS: usize = 3;

/// A stream definition.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamDef {
    /// Stream name (`EVENTS`).
    pub name: String,
    /// Its configuration, as in the file.
    pub config: Map<String, Value>,
}

/// A durable consumer definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerDef {
    /// The stream it reads.
    pub stream: String,
    /// Its durable name.
    pub name: String,
    /// Its configuration, as in the file.
    pub config: Map<String, Value>,
}

/// Every stream and consumer buildwire needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Definitions {
    /// Streams, created before consumers.
    pub streams: Vec<StreamDef>,
    /// Durable consumers.
    pub consumers: Vec<ConsumerDef>,
}

/// What applying did to one stream or consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was created.
    Created,
    /// It differed and was updated.
    Updated,
    /// It already matched.
    Unchanged,
}

/// The outcome for each definition, in apply order (`EVENTS`, `CMDS/plan`, ...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyReport(pub Vec<(String, Outcome)>);

impl ApplyReport {
    /// The outcome for `name` (`EVENTS` or `CMDS/plan`).
    pub fn outcome(&self, name: &str) -> Option<Outcome> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, o)| *o)
    }

    /// Whether nothing was created or updated.
    pub fn unchanged(&self) -> bool {
        self.0.iter().all(|(_, o)| *o == Outcome::Unchanged)
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |o| self.0.iter().filter(|(_, x)| *x == o).count();
        write!(
            f,
            "{} created, {} updated, {} unchanged",
            count(Outcome::Created),
            count(Outcome::Updated),
            count(Outcome::Unchanged)
        )
    }
}

impl Definitions {
    /// The definitions compiled into the binary.
    pub fn embedded() -> Result<Definitions> {
        Self::parse(
            EMBEDDED
                .iter()
                .map(|(p, text)| (PathBuf::from(p), (*text).to_string())),
        )
    }

    /// The relative paths of the compiled-in files.
    pub fn embedded_paths() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(p, _)| *p)
    }

    /// `dir` when given (laid out like `nats/`), else the compiled-in copies.
    pub fn load(dir: Option<&Path>) -> Result<Definitions> {
        match dir {
            Some(dir) => Self::from_dir(dir),
            None => Self::embedded(),
        }
    }

    /// Reads `streams/*.json` and `consumers/*/*.json` under `dir`.
    pub fn from_dir(dir: &Path) -> Result<Definitions> {
        let mut files = Vec::new();
        for pattern in ["streams", "consumers"] {
            let root = dir.join(pattern);
            if !root.is_dir() {
                return Err(Error::Definition {
                    path: root,
                    reason: "missing folder".into(),
                });
            }
            for path in json_files(&root)? {
                let text = std::fs::read_to_string(&path)?;
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                files.push((relative, text));
            }
        }
        Self::parse(files)
    }

    fn parse(files: impl IntoIterator<Item = (PathBuf, String)>) -> Result<Definitions> {
        let mut defs = Definitions {
            streams: Vec::new(),
            consumers: Vec::new(),
        };
        for (path, text) in files {
            let bad = |reason: String| Error::Definition {
                path: path.clone(),
                reason,
            };
            let Value::Object(config) =
                serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
            else {
                return Err(bad("not a JSON object".into()));
            };
            let parts: Vec<String> = path
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match parts.first().map(String::as_str) {
                Some("streams") => {
                    let name = config
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if name != stem {
                        return Err(bad(format!(
                            "`name` is {name:?}, the file name says {stem:?}"
                        )));
                    }
                    defs.streams.push(StreamDef { name: stem, config });
                }
                Some("consumers") if parts.len() == 3 => {
                    let durable = config
                        .get("durable_name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if durable != stem {
                        return Err(bad(format!(
                            "`durable_name` is {durable:?}, the file name says {stem:?}"
                        )));
                    }
                    defs.consumers.push(ConsumerDef {
                        stream: parts[1].clone(),
                        name: stem,
                        config,
                    });
                }
                _ => {
                    return Err(bad(
                        "expected streams/<NAME>.json or consumers/<STREAM>/<name>.json".into(),
                    ));
                }
            }
        }
        for consumer in &defs.consumers {
            if !defs.streams.iter().any(|s| s.name == consumer.stream) {
                return Err(Error::Definition {
                    path: PathBuf::from(format!(
                        "consumers/{}/{}.json",
                        consumer.stream, consumer.name
                    )),
                    reason: format!("no stream {} is defined", consumer.stream),
                });
            }
        }
        // Deterministic order: streams in definition order, EVENTS and CMDS first.
        defs.streams.sort_by_key(|s| {
            (
                !matches!(s.name.as_str(), "EVENTS" | "CMDS"),
                s.name.clone(),
            )
        });
        defs.consumers
            .sort_by(|a, b| (&a.stream, &a.name).cmp(&(&b.stream, &b.name)));
        Ok(defs)
    }

    /// Writes these definitions into `dir`, laid out like `nats/`.
    pub fn write_to_dir(&self, dir: &Path) -> Result<()> {
        for stream in &self.streams {
            write_json(
                &dir.join("streams").join(format!("{}.json", stream.name)),
                &stream.config,
            )?;
        }
        for consumer in &self.consumers {
            let path = dir
                .join("consumers")
                .join(&consumer.stream)
                .join(format!("{}.json", consumer.name));
            write_json(&path, &consumer.config)?;
        }
        Ok(())
    }

    /// The stream `name`, to adjust before applying.
    pub fn stream_mut(&mut self, name: &str) -> Option<&mut Map<String, Value>> {
        self.streams
            .iter_mut()
            .find(|s| s.name == name)
            .map(|s| &mut s.config)
    }

    /// The consumer `stream/name`, to adjust before applying.
    pub fn consumer_mut(&mut self, stream: &str, name: &str) -> Option<&mut Map<String, Value>> {
        self.consumers
            .iter_mut()
            .find(|c| c.stream == stream && c.name == name)
            .map(|c| &mut c.config)
    }

    /// Creates or updates every stream, then every consumer. `replicas` forces the streams'
    /// replica count; `None` raises the files' count (1, what a single server accepts) to
    /// [`CLUSTER_REPLICAS`] on a clustered server (raising an existing R1 stream) and uses 1
    /// on a single server.
    pub async fn apply(&self, nats: &Nats, replicas: Option<usize>) -> Result<ApplyReport> {
        let mut report = ApplyReport::default();
        let clustered = nats.is_clustered();
        for stream in &self.streams {
            let outcome = apply_stream(nats, stream, replicas, clustered).await?;
            report.0.push((stream.name.clone(), outcome));
        }
        for consumer in &self.consumers {
            let outcome = apply_consumer(nats, consumer).await?;
            report
                .0
                .push((format!("{}/{}", consumer.stream, consumer.name), outcome));
        }
        Ok(report)
    }
}

fn json_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_json(path: &Path, config: &Map<String, Value>) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(config)?)?;
    Ok(())
}

/// A JetStream API call with the raw JSON body; `Ok(None)` when the server says "not found".
/// `label` names the stream or consumer in errors.
async fn api(nats: &Nats, label: &str, subject: &str, body: &Value) -> Result<Option<Value>> {
    // INFO requests take an empty payload, not `null`.
    let payload: bytes::Bytes = match body {
        Value::Null => bytes::Bytes::new(),
        body => serde_json::to_vec(body)?.into(),
    };
    let mut last = String::new();
    // Cluster meta-leader elections answer "temporarily unavailable": wait them out.
    let full = format!("$JS.API.{subject}");
    for _ in 0..40 {
        // A user without the right (every role but the admin) is refused at once.
        let mut refusals = nats.refusals.clone();
        refusals.mark_unchanged();
        let reply = tokio::select! {
            reply = nats.client.request(full.clone(), payload.clone()) => reply,
            refusal = super::refusal_of(&mut refusals, &full) => {
                return Err(Error::DefinitionRejected {
                    name: label.into(),
                    reason: format!(
                        "{refusal}: NATS user {} may not create or change it; apply the definitions as the admin user (README, \"NATS users and permissions\")",
                        nats.user.as_deref().unwrap_or("(none)")
                    ),
                });
            }
        }
        .map_err(|err| Error::JetStream {
            subject: subject.into(),
            reason: err.to_string(),
        })?;
        let response: Value = serde_json::from_slice(&reply.payload)?;
        let Some(error) = response.get("error") else {
            return Ok(Some(response));
        };
        match error.get("err_code").and_then(Value::as_u64).unwrap_or(0) {
            // stream not found, consumer not found
            10059 | 10014 => return Ok(None),
            // JetStream not ready, or too few peers while a cluster forms
            10008 | 10023 | 10074 => {
                last = error.to_string();
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            _ => {
                let reason = error
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error");
                return Err(Error::DefinitionRejected {
                    name: label.into(),
                    reason: reason.into(),
                });
            }
        }
    }
    Err(Error::JetStream {
        subject: subject.into(),
        reason: format!(
            "still unavailable after 10 s: {last} (a cluster of fewer than 3 servers needs BUILDWIRE_NATS_REPLICAS)"
        ),
    })
}

async fn apply_stream(
    nats: &Nats,
    def: &StreamDef,
    forced: Option<usize>,
    clustered: bool,
) -> Result<Outcome> {
    let name = &def.name;
    let info = api(nats, name, &format!("STREAM.INFO.{name}"), &Value::Null).await?;
    let current = info
        .as_ref()
        .and_then(|i| i.get("config"))
        .and_then(Value::as_object);
    let mut desired = def.config.clone();
    let wanted = desired
        .get("num_replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1) as usize;
    // On a cluster the files' R1 becomes R3 (an R1 stream applied with the CLI as written is
    // raised); a single server keeps R1.
    let target = if clustered {
        wanted.max(CLUSTER_REPLICAS)
    } else {
        1
    };
    let replicas = forced.unwrap_or(target);
    desired.insert("num_replicas".into(), json!(replicas));

    let Some(current) = current else {
        let created = api(
            nats,
            name,
            &format!("STREAM.CREATE.{name}"),
            &Value::Object(desired.clone()),
        )
        .await?;
        verify(
            name,
            &desired,
            created.as_ref().and_then(|c| c.get("config")),
        )?;
        return Ok(Outcome::Created);
    };
    if differences(&desired, current).is_empty() {
        return Ok(Outcome::Unchanged);
    }
    tracing::info!(stream = %name, fields = ?differences(&desired, current), "updating stream");
    let updated = api(
        nats,
        name,
        &format!("STREAM.UPDATE.{name}"),
        &Value::Object(desired.clone()),
    )
    .await?;
    verify(
        name,
        &desired,
        updated.as_ref().and_then(|c| c.get("config")),
    )?;
    Ok(Outcome::Updated)
}

async fn apply_consumer(nats: &Nats, def: &ConsumerDef) -> Result<Outcome> {
    let (stream, name) = (&def.stream, &def.name);
    let label = format!("{stream}/{name}");
    let info = api(
        nats,
        &label,
        &format!("CONSUMER.INFO.{stream}.{name}"),
        &Value::Null,
    )
    .await?;
    let current = info
        .as_ref()
        .and_then(|i| i.get("config"))
        .and_then(Value::as_object);
    let action = match current {
        None => "create",
        Some(current) if differences(&def.config, current).is_empty() => {
            return Ok(Outcome::Unchanged);
        }
        Some(current) => {
            tracing::info!(consumer = %label, fields = ?differences(&def.config, current), "updating consumer");
            "update"
        }
    };
    let body = json!({ "stream_name": stream, "config": def.config, "action": action });
    let applied = api(
        nats,
        &label,
        &format!("CONSUMER.CREATE.{stream}.{name}"),
        &body,
    )
    .await?;
    verify(
        &label,
        &def.config,
        applied.as_ref().and_then(|c| c.get("config")),
    )?;
    Ok(if action == "create" {
        Outcome::Created
    } else {
        Outcome::Updated
    })
}

fn verify(name: &str, desired: &Map<String, Value>, applied: Option<&Value>) -> Result<()> {
    let applied = applied
        .and_then(Value::as_object)
        .ok_or_else(|| Error::DefinitionRejected {
            name: name.into(),
            reason: "the server's answer has no config".into(),
        })?;
    let diff = differences(desired, applied);
    if diff.is_empty() {
        Ok(())
    } else {
        Err(Error::DefinitionRejected {
            name: name.into(),
            reason: format!("the server kept different values for {}", diff.join(", ")),
        })
    }
}

/// The keys of `desired` whose values the server's config does not have. A key the server
/// leaves out counts as its zero value (`false`, `0`, `""`, `[]`, `{}`); nested objects are
/// compared the same way.
pub fn differences(desired: &Map<String, Value>, actual: &Map<String, Value>) -> Vec<String> {
    desired
        .iter()
        .filter(|(key, _)| key.as_str() != "description" || actual.contains_key(key.as_str()))
        .filter(|(key, want)| !same(want, actual.get(key.as_str())))
        .map(|(key, _)| key.clone())
        .collect()
}

fn same(want: &Value, have: Option<&Value>) -> bool {
    match (want, have) {
        (want, None) => is_zero(want),
        (Value::Object(w), Some(Value::Object(h))) => differences(w, h).is_empty(),
        (Value::Number(w), Some(Value::Number(h))) => w.as_f64() == h.as_f64(),
        (w, Some(h)) => w == h || (is_zero(w) && is_zero(h)),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_definitions_are_the_files_in_nats() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nats");
        let on_disk = Definitions::from_dir(&root).expect("nats/ parses");
        assert_eq!(
            Definitions::embedded().expect("embedded parse"),
            on_disk,
            "add new nats/ files to EMBEDDED"
        );
        assert_eq!(
            on_disk.streams.len(),
            EMBEDDED
                .iter()
                .filter(|(p, _)| p.starts_with("streams/"))
                .count()
        );
        assert_eq!(
            on_disk.consumers.len(),
            EMBEDDED
                .iter()
                .filter(|(p, _)| p.starts_with("consumers/"))
                .count()
        );
    }

    #[test]
    fn every_stream_sets_max_consumers_and_file_storage() {
        for stream in Definitions::embedded().expect("parse").streams {
            let max = stream
                .config
                .get("max_consumers")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            assert!(
                (1..=1000).contains(&max),
                "{}: max_consumers must be set deliberately",
                stream.name
            );
            assert_eq!(
                stream.config.get("storage"),
                Some(&json!("file")),
                "{}",
                stream.name
            );
        }
    }

    #[test]
    fn comparison_ignores_server_defaults_but_not_changes() {
        let desired = json!({"name": "S", "max_age": 10, "deny_delete": false, "republish": {"src": "a", "dest": "b"}});
        let actual = json!({"name": "S", "max_age": 10, "sealed": false, "republish": {"src": "a", "dest": "b", "headers_only": false}});
        let (Value::Object(d), Value::Object(a)) = (desired, actual) else {
            unreachable!()
        };
        assert!(differences(&d, &a).is_empty());
        let mut changed = d.clone();
        changed.insert("max_age".into(), json!(20));
        assert_eq!(differences(&changed, &a), vec!["max_age".to_string()]);
    }

    #[test]
    fn malformed_files_are_refused_with_their_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("streams")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("consumers/NOPE")).expect("mkdir");
        std::fs::write(dir.path().join("streams/A.json"), "{\"name\":\"A\"}").expect("write");
        std::fs::write(
            dir.path().join("consumers/NOPE/c.json"),
            "{\"durable_name\":\"c\"}",
        )
        .expect("write");
        let err = Definitions::from_dir(dir.path()).expect_err("consumer on a missing stream");
        assert!(err.to_string().contains("no stream NOPE"), "{err}");
        std::fs::write(dir.path().join("streams/A.json"), "{\"name\":\"B\"}").expect("write");
        let err = Definitions::from_dir(dir.path()).expect_err("name mismatch");
        assert!(err.to_string().contains("streams/A.json"), "{err}");
        std::fs::write(dir.path().join("streams/A.json"), "[1]").expect("write");
        assert!(Definitions::from_dir(dir.path()).is_err());
    }
}
