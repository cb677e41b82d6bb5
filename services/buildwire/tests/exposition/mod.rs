//! Reading a Prometheus/OpenMetrics exposition, and the metrics `ops/` queries.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// Every metric name an exposition declares or samples (counters and histograms with the
/// suffixes their samples carry).
pub fn names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            names.insert(name.to_string());
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[],
            };
            for suffix in suffixes {
                names.insert(format!("{name}{suffix}"));
            }
        } else if !line.starts_with('#') {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    names
}

/// The plan's key metrics (issue 19), as exposed names: builds finished by outcome, stage
/// durations by stage and outcome, events stored by type, errors by stage and code, breaker
/// trips, SSE fallbacks, connections by transport, commands in flight and redeliveries per
/// stage, LLM tokens by provider, recorder lag, queue depth per stage, delivery latency,
/// webhooks.
pub const KEY_METRICS: &[&str] = &[
    "buildwire_builds_finished_total",
    "buildwire_stage_duration_seconds_bucket",
    "buildwire_recorder_events_stored_total",
    "buildwire_stage_errors_total",
    "buildwire_breaker_trips_total",
    "buildwire_edge_sse_fallbacks_total",
    "buildwire_edge_connections",
    "buildwire_stage_commands_in_flight",
    "buildwire_stage_redeliveries_total",
    "buildwire_llm_tokens_total",
    "buildwire_recorder_lag_seconds",
    "buildwire_recorder_lag_messages",
    "buildwire_stage_queue_depth",
    "buildwire_stage_workers",
    "buildwire_edge_delivery_latency_seconds_bucket",
    "buildwire_notify_webhooks_total",
];

/// The `buildwire_*` metrics the alert rules and the Grafana dashboard query.
pub fn referenced_by_ops() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops");
    let mut exprs = Vec::new();
    let alerts: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("prometheus/alerts.yml")).expect("alerts.yml"),
    )
    .expect("alerts.yml is YAML");
    for group in alerts["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            exprs.push(rule["expr"].as_str().expect("expr").to_string());
        }
    }
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/dashboards/buildwire.json"))
            .expect("dashboard"),
    )
    .expect("dashboard is JSON");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    let mut names = BTreeSet::new();
    for expr in exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("buildwire_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    names
}
