//! The TAP format (Test Anything Protocol, version 13): one test per object and one per
//! unreadable input; findings as YAML diagnostics under the test line.

use std::fmt::Write;

use crate::report::json::{action, baseline_state};
use crate::runner::{Report, Violation};

/// Quotes a string for the YAML diagnostic block.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Renders the report as TAP.
pub fn render(report: &Report) -> String {
    let mut out = String::from("TAP version 13\n");
    let _ = writeln!(out, "1..{}", report.results.len() + report.errors.len());
    let baseline = report.gate.baseline.is_some();
    let mut n = 0;
    for r in &report.results {
        n += 1;
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
            continue;
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
    }
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
    out
}
