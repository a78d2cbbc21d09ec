//! The GitHub Actions format: workflow commands that annotate the pull request
//! (`::error file=…,line=…,col=…,title=…::message`).

use std::fmt::Write;

use crate::eval::Action;
use crate::runner::{Report, RunError};

/// Escapes a command's message (`%`, CR and LF are special).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command's property value (also `:` and `,`).
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

fn problem(out: &mut String, level: &str, e: &RunError) {
    let _ = write!(out, "::{level} file={}", property(&e.file));
    if let (Some(line), Some(col)) = (e.line, e.col) {
        let _ = write!(out, ",line={line},col={col}");
    }
    let _ = writeln!(out, "::{}", data(&e.message));
}

/// Renders the report as workflow commands, then a summary line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.results {
        for v in &r.violations {
            let level = match (&v.exemption, v.action) {
                (Some(_), _) => "notice",
                (None, Action::Deny) => "error",
                (None, Action::Warn) => "warning",
            };
            let mut message = format!("{} ({}, {})", v.message, r.describe(), v.path);
            if let Some(e) = &v.exemption {
                message.push_str(&format!(" exempted: {}", e.reason));
            }
            let _ = writeln!(
                out,
                "::{level} file={},line={},col={},title={}::{}",
                property(&r.file),
                v.line,
                v.col,
                property(&format!("{} ({})", v.rule, v.severity)),
                data(&message)
            );
        }
    }
    for e in &report.errors {
        problem(&mut out, "error", e);
    }
    for n in &report.notices {
        problem(&mut out, "warning", n);
    }
    out.push_str(&super::human::summary_line(report));
    out.push('\n');
    out
}
