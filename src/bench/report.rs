//! What a run counted, and the report made of it: a readable table, or one JSON object.

use super::latency::{Latencies, Summary};
use super::procfs::ServerFigures;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The counters the simulated devices share while a run goes on.
#[derive(Debug, Default)]
pub struct Tally {
    pub counts: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub latencies: Latencies,
    pub items: u64,
}

impl Tally {
    pub fn count(&mut self, what: &str, n: u64) {
        *self.counts.entry(what.to_string()).or_default() += n;
    }

    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub url: String,
    pub version: String,
    pub devices: usize,
    pub users: usize,
    pub elapsed_s: f64,
    pub counts: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub error_total: u64,
    pub latency_ms: BTreeMap<String, Summary>,
    pub items: u64,
    /// Items over the time the scenario spent moving them (initial-sync), when it moves any.
    pub items_per_s: Option<f64>,
    /// Scenario-specific derived figures, e.g. `kb_per_held_ping`.
    pub figures: BTreeMap<String, f64>,
    pub server: Option<ServerFigures>,
    pub notes: Vec<String>,
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "easd bench {}: {} devices, {} users, {} (EAS {}), {:.1} s",
            self.scenario, self.devices, self.users, self.url, self.version, self.elapsed_s
        );
        let _ = writeln!(out, "\ncounts");
        for (k, v) in &self.counts {
            let _ = writeln!(out, "  {k:<36} {v:>10}");
        }
        if self.items > 0 || self.items_per_s.is_some() {
            let _ = write!(out, "  {:<36} {:>10}", "items", self.items);
            if let Some(r) = self.items_per_s {
                let _ = write!(out, "  ({r:.0} items/s)");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "\nerrors: {}", self.error_total);
        for (k, v) in &self.errors {
            let _ = writeln!(out, "  {k:<36} {v:>10}");
        }
        if !self.latency_ms.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<24} {:>8} {:>9} {:>9} {:>9} {:>9}",
                "latency (ms)", "count", "p50", "p90", "p99", "max"
            );
            for (op, s) in &self.latency_ms {
                let _ = writeln!(
                    out,
                    "  {op:<22} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                    s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
                );
            }
        }
        if !self.figures.is_empty() {
            let _ = writeln!(out, "\nfigures");
            for (k, v) in &self.figures {
                let _ = writeln!(out, "  {k:<36} {v:>12.2}");
            }
        }
        if let Some(s) = &self.server {
            let _ = writeln!(
                out,
                "\nserver pid {}: VmRSS {} (peak sampled {}, VmHWM {}), CPU {:.2} s during the run ({:.1}% of one core)",
                s.pid,
                mb(s.last.rss_kb),
                mb(s.peak_rss_kb),
                mb(s.last.hwm_kb),
                s.cpu_s,
                s.cpu_percent
            );
            for m in &s.marks {
                let _ = writeln!(
                    out,
                    "  {:>8.1} s  {:<26} VmRSS {:>10}  CPU {:>8.2} s",
                    m.at.at_s,
                    m.name,
                    mb(m.at.rss_kb),
                    m.at.cpu_s
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nnotes");
            for n in &self.notes {
                let _ = writeln!(out, "  {n}");
            }
        }
        out
    }
}
