//! The GitHub Actions format: workflow commands that annotate the pull request
//! (`::error file=…,line=…,col=…,title=…::message`).

use std::fmt::Write;

use std::collections::BTreeMap;

use crate::runner::gate::rank;
use crate::runner::{ObjectResult, Report, RunError, Violation};

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
        out.push_str(&result(r));
    }
    out.push_str(&tail(report));
    out
}

/// The workflow commands of one object's findings.
pub fn result(r: &ObjectResult) -> String {
    let mut out = String::new();
    for v in &r.violations {
        let level = if v.fails() {
            "error"
        } else if v.exemption.is_some() || v.baselined {
            "notice"
        } else {
            "warning"
        };
        let mut message = format!("{} ({}, {})", v.message, r.describe(), v.path);
        if let Some(e) = &v.exemption {
            message.push_str(&format!(" exempted: {}", e.reason));
        } else if v.baselined {
            message.push_str(" (in the baseline)");
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
    out
}

/// What follows the findings: errors, notices and the summary line (the results are not
/// read).
pub fn tail(report: &Report) -> String {
    let mut out = String::new();
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

/// Most findings listed in the step summary.
const TOP_FINDINGS: usize = 20;

/// Makes text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// The Markdown job summary (for `$GITHUB_STEP_SUMMARY`): the verdict, counts per rule and
/// severity, and the top findings, those that fail the run first. GitHub shows only a few
/// annotations per step; this page shows the rest.
pub fn step_summary(report: &Report) -> String {
    let s = &report.summary;
    let verdict = super::human::summary_line(report);
    let mut out = format!("## Rampart\n\n`{}`\n\n", verdict.replace('`', "'"));
    if let Some(line) = super::human::skipped_line(report) {
        let _ = writeln!(out, "{}\n", cell(&line));
    }
    // Rule id -> (severity, failing, findings not exempted, exempted).
    let mut rules: BTreeMap<&str, (&str, usize, usize, usize)> = BTreeMap::new();
    for v in report.results.iter().flat_map(|r| &r.violations) {
        let row = rules.entry(&v.rule).or_insert((&v.severity, 0, 0, 0));
        row.1 += usize::from(v.fails());
        if v.exemption.is_some() {
            row.3 += 1;
        } else {
            row.2 += 1;
        }
    }
    if rules.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    let mut rows: Vec<_> = rules.into_iter().collect();
    rows.sort_by(|a, b| {
        (b.1 .1, rank(b.1 .0), b.1 .2)
            .cmp(&(a.1 .1, rank(a.1 .0), a.1 .2))
            .then(a.0.cmp(b.0))
    });
    out.push_str("| rule | severity | failing | findings | exempted |\n|---|---|---:|---:|---:|\n");
    for (rule, (severity, failing, found, exempted)) in &rows {
        let _ = writeln!(
            out,
            "| `{rule}` | {severity} | {failing} | {found} | {exempted} |"
        );
    }
    let mut findings: Vec<(&ObjectResult, &Violation)> = report
        .results
        .iter()
        .flat_map(|r| r.violations.iter().map(move |v| (r, v)))
        .filter(|(_, v)| v.exemption.is_none())
        .collect();
    // Stable: the report's order within one standing and severity.
    findings.sort_by_key(|(_, v)| (!v.fails(), std::cmp::Reverse(rank(&v.severity))));
    let shown = findings.len().min(TOP_FINDINGS);
    let _ = writeln!(
        out,
        "\n### Top findings ({shown} of {})\n",
        s.violations + s.warnings
    );
    out.push_str("| | rule | severity | object | where | message |\n|---|---|---|---|---|---|\n");
    for (r, v) in findings.into_iter().take(TOP_FINDINGS) {
        let mark = if v.fails() {
            "❌"
        } else if v.baselined {
            "➖"
        } else {
            "⚠️"
        };
        let _ = writeln!(
            out,
            "| {mark} | `{}` | {} | {} | `{}:{}` `{}` | {} |",
            v.rule,
            v.severity,
            cell(&r.describe()),
            cell(&r.file),
            v.line,
            cell(&v.path),
            cell(&v.message)
        );
    }
    out
}
