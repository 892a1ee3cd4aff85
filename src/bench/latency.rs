//! Per-operation latency samples and their percentiles (nearest rank, so a reported p99 is a
//! time some request really took).

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct Latencies {
    samples: BTreeMap<String, Vec<Duration>>,
}

/// One operation's figures, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Latencies {
    pub fn record(&mut self, op: &str, took: Duration) {
        match self.samples.get_mut(op) {
            Some(v) => v.push(took),
            None => {
                self.samples.insert(op.to_string(), vec![took]);
            }
        }
    }

    pub fn summaries(&self) -> BTreeMap<String, Summary> {
        self.samples
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(op, v)| {
                let mut sorted = v.clone();
                sorted.sort_unstable();
                let summary = Summary {
                    count: sorted.len(),
                    p50_ms: ms(percentile(&sorted, 50.0)),
                    p90_ms: ms(percentile(&sorted, 90.0)),
                    p99_ms: ms(percentile(&sorted, 99.0)),
                    max_ms: ms(sorted[sorted.len() - 1]),
                };
                (op.clone(), summary)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for i in (1..=100).rev() {
            l.record("Sync", Duration::from_millis(i));
        }
        l.record("Ping", Duration::from_micros(1500));
        let s = l.summaries();
        assert_eq!(
            s["Sync"],
            Summary {
                count: 100,
                p50_ms: 50.0,
                p90_ms: 90.0,
                p99_ms: 99.0,
                max_ms: 100.0
            }
        );
        assert_eq!(s["Ping"].p50_ms, 1.5);
        assert_eq!(s["Ping"].p99_ms, 1.5);
    }
}
