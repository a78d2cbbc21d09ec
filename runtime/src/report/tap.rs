//! The TAP format (Test Anything Protocol, version 13): one test per object and one per
//! unreadable input; findings as YAML diagnostics under the test line; the plan comes last,
//! so that each object's test is written as soon as it is known.

use std::fmt::Write;

use crate::report::json::{action, baseline_state};
use crate::runner::{ObjectResult, Report, Violation};

/// Quotes a string for the YAML diagnostic block.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Renders the report as TAP.
pub fn render(report: &Report) -> String {
    let baseline = report.gate.baseline.is_some();
    let mut out = String::from(HEAD);
    for (i, r) in report.results.iter().enumerate() {
        out.push_str(&result(i + 1, r, baseline));
    }
    out.push_str(&tail(report, report.results.len()));
    out
}

/// The first line.
pub const HEAD: &str = "TAP version 13\n";

/// The test line of one object, the `n`th test, with its findings as a YAML block.
pub fn result(n: usize, r: &ObjectResult, baseline: bool) -> String {
    let mut out = String::new();
    let failed = r.error.is_some() || r.violations.iter().any(Violation::fails);
    let _ = writeln!(
        out,
        "{} {n} - {} {} (document {})",
        if failed { "not ok" } else { "ok" },
        r.file,
        r.describe(),
        r.document
    );
    if r.violations.is_empty() && r.error.is_none() {
        return out;
    }
    out.push_str("  ---\n");
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  error: {}", quoted(e));
    }
    if !r.violations.is_empty() {
        out.push_str("  findings:\n");
    }
    for v in &r.violations {
        let _ = writeln!(out, "    - rule: {}", quoted(&v.rule));
        let _ = writeln!(out, "      action: {}", action(v.action));
        let _ = writeln!(out, "      severity: {}", quoted(&v.severity));
        let _ = writeln!(out, "      message: {}", quoted(&v.message));
        let _ = writeln!(out, "      path: {}", quoted(&v.path));
        let _ = writeln!(out, "      line: {}", v.line);
        let _ = writeln!(out, "      column: {}", v.col);
        let _ = writeln!(out, "      fails: {}", v.fails());
        if let Some(state) = baseline_state(v, baseline) {
            let _ = writeln!(out, "      baselineState: {state}");
        }
        if let Some(e) = &v.exemption {
            let _ = writeln!(out, "      exempted: {}", quoted(&e.reason));
        }
    }
    out.push_str("  ...\n");
    out
}

/// What follows the `results` objects' tests: one test per error, the notices as comments,
/// and the plan, last (TAP allows it at the end, where the number of tests is known).
pub fn tail(report: &Report, results: usize) -> String {
    let mut out = String::new();
    let mut n = results;
    for e in &report.errors {
        n += 1;
        let place = match (e.line, e.col) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", e.file),
            _ => e.file.clone(),
        };
        let _ = writeln!(out, "not ok {n} - {place}");
        let _ = writeln!(out, "  ---\n  error: {}\n  ...", quoted(&e.message));
    }
    for notice in &report.notices {
        let _ = writeln!(out, "# warning: {}: {}", notice.file, notice.message);
    }
    let _ = writeln!(out, "1..{n}");
    out
}
