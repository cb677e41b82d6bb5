//! The edge's own view of delivery latency, as a cross-check: the histogram
//! `buildwire_edge_delivery_latency_seconds` (JetStream store to socket write) scraped from
//! `/metrics` before and after a phase, and its quantiles read from the bucket bounds.

use std::net::SocketAddr;

use anyhow::{Context, Result};

const BUCKET: &str = "buildwire_edge_delivery_latency_seconds_bucket{le=\"";

/// Cumulative bucket counts by upper bound (seconds), ascending.
#[derive(Clone, Debug, Default)]
pub struct Buckets(Vec<(f64, u64)>);

/// Scrapes the edge at `addr`.
pub async fn scrape(addr: SocketAddr) -> Result<Buckets> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .context("GET /metrics")?
        .text()
        .await?;
    Ok(parse(&text))
}

fn parse(text: &str) -> Buckets {
    let mut buckets: Vec<(f64, u64)> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(BUCKET)?;
            let (bound, rest) = rest.split_once("\"}")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, rest.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Buckets(buckets)
}

impl Buckets {
    /// What was observed between `earlier` and `self`.
    pub fn since(&self, earlier: &Buckets) -> Buckets {
        Buckets(
            self.0
                .iter()
                .map(|(bound, n)| {
                    let before = earlier
                        .0
                        .iter()
                        .find(|(b, _)| b == bound)
                        .map_or(0, |(_, n)| *n);
                    (*bound, n.saturating_sub(before))
                })
                .collect(),
        )
    }

    /// The upper bound (ms) of the bucket holding quantile `q`; NaN when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.0.last().map_or(0, |(_, n)| *n);
        if total == 0 {
            return f64::NAN;
        }
        let rank = (q * total as f64).ceil() as u64;
        self.0
            .iter()
            .find(|(_, n)| *n >= rank)
            .map_or(f64::NAN, |(bound, _)| bound * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_bucket_bounds() {
        let before = parse(&format!(
            "{BUCKET}0.001\"}} 1\n{BUCKET}0.002\"}} 1\n{BUCKET}+Inf\"}} 1\n"
        ));
        let after = parse(&format!(
            "{BUCKET}0.001\"}} 51\n{BUCKET}0.002\"}} 100\n{BUCKET}+Inf\"}} 101\n"
        ));
        let phase = after.since(&before);
        assert_eq!(phase.quantile_ms(0.5), 1.0);
        assert_eq!(phase.quantile_ms(0.99), 2.0);
        assert!(phase.quantile_ms(1.0).is_infinite());
    }
}
