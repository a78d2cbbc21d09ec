//! The counters `GET /metrics` shows, in the Prometheus text format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Counters by label value.
#[derive(Default)]
struct Labelled(Mutex<BTreeMap<Vec<String>, u64>>);

impl Labelled {
    fn add(&self, labels: Vec<String>, n: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(labels).or_default() += n;
    }

    fn write(&self, out: &mut String, name: &str, help: &str, names: &[&str]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (values, n) in map.iter() {
            let labels: Vec<String> = names
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {n}", labels.join(","));
        }
    }
}

/// A label value as the text format writes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Everything counted since the server started.
#[derive(Default)]
pub struct Metrics {
    /// Admission decisions by verdict (`allowed`, `denied`, `audit_denied`) and operation.
    decisions: Labelled,
    /// Findings by rule and action (`deny`, `warn`, `exempted`).
    findings: Labelled,
    /// Evaluation errors by rule (`object` for the whole object).
    errors: Labelled,
    /// HTTP requests answered with an error status, by status.
    http_errors: Labelled,
    /// Policy and certificate reloads by what (`policies`, `certificate`) and result.
    reloads: Labelled,
    /// Latency histogram of `/validate`: counts per bucket, then +Inf.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts one decision.
    pub fn decision(&self, verdict: &str, operation: &str) {
        self.decisions
            .add(vec![verdict.to_string(), operation.to_string()], 1);
    }

    pub fn finding(&self, rule: &str, action: &str) {
        self.findings
            .add(vec![rule.to_string(), action.to_string()], 1);
    }

    pub fn error(&self, rule: &str) {
        self.errors.add(vec![rule.to_string()], 1);
    }

    pub fn http_error(&self, status: u16) {
        self.http_errors.add(vec![status.to_string()], 1);
    }

    pub fn reload(&self, what: &str, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.reloads
            .add(vec![what.to_string(), result.to_string()], 1);
    }

    /// Records the time one review took.
    pub fn latency(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The text `/metrics` answers; `ready` and `rules` describe the loaded snapshot.
    pub fn render(&self, ready: bool, rules: usize) -> String {
        let mut out = String::new();
        self.decisions.write(
            &mut out,
            "rampart_admission_requests_total",
            "Admission reviews answered, by verdict and operation.",
            &["verdict", "operation"],
        );
        self.findings.write(
            &mut out,
            "rampart_rule_findings_total",
            "Findings of each rule on reviewed objects, by action.",
            &["rule", "action"],
        );
        self.errors.write(
            &mut out,
            "rampart_evaluation_errors_total",
            "Rules that could not be evaluated on a reviewed object.",
            &["rule"],
        );
        self.http_errors.write(
            &mut out,
            "rampart_http_errors_total",
            "HTTP requests refused, by status.",
            &["code"],
        );
        self.reloads.write(
            &mut out,
            "rampart_reloads_total",
            "Reloads of the policies and of the certificate, by result.",
            &["what", "result"],
        );
        let name = "rampart_admission_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a review's arrival to its answer.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.latency[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
        let _ = writeln!(
            out,
            "# HELP rampart_ready Whether policies are loaded.\n# TYPE rampart_ready gauge\nrampart_ready {}",
            u8::from(ready)
        );
        let _ = writeln!(
            out,
            "# HELP rampart_rules Rules in the loaded policies.\n# TYPE rampart_rules gauge\nrampart_rules {rules}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.decision("denied", "CREATE");
        m.decision("denied", "CREATE");
        m.finding("pss.baseline.privileged", "deny");
        m.latency(Duration::from_micros(300));
        m.latency(Duration::from_millis(3));
        let text = m.render(true, 46);
        assert!(text.contains(
            "rampart_admission_requests_total{verdict=\"denied\",operation=\"CREATE\"} 2"
        ));
        assert!(text.contains(
            "rampart_rule_findings_total{rule=\"pss.baseline.privileged\",action=\"deny\"} 1"
        ));
        assert!(text.contains("rampart_admission_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("rampart_admission_duration_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("rampart_admission_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("rampart_admission_duration_seconds_count 2"));
        assert!(text.contains("rampart_ready 1"));
    }
}
