//! The JUnit XML format: one testsuite per file, one testcase per object; findings that fail
//! the run (`deny`, or warnings with `--fail-on-warn`, at the `--fail-on-severity` threshold,
//! not in the baseline) are failures, files that could not be read and evaluation errors
//! are errors, warnings about the run are the `system-err` of their file's suite.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::eval::Action;
use crate::report::json::action;
use crate::runner::{ObjectResult, Report, RunError, Violation};

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot hold other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct Suite<'a> {
    objects: Vec<&'a ObjectResult>,
    errors: Vec<&'a RunError>,
    /// Warnings about the run (expired or unused exceptions, stale baseline entries).
    notices: Vec<&'a RunError>,
}

/// `FILE:LINE:COL`, or what of it is known.
fn place(e: &RunError) -> String {
    match (e.line, e.col) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", e.file),
        _ => e.file.clone(),
    }
}

/// Why a finding that does not fail the run is listed.
fn standing(v: &Violation) -> &'static str {
    if v.exemption.is_some() {
        "exempted"
    } else if v.baselined {
        "baseline"
    } else if v.action == Action::Warn {
        "warn"
    } else {
        "below-threshold"
    }
}

fn testcase(out: &mut String, r: &ObjectResult) {
    let name = format!("{} (document {})", r.describe(), r.document);
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\"",
        xml(&name),
        xml(&r.file)
    );
    let (denies, others): (Vec<&Violation>, Vec<&Violation>) =
        r.violations.iter().partition(|v| v.fails());
    if denies.is_empty() && others.is_empty() && r.error.is_none() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if let Some(e) = &r.error {
        let _ = writeln!(
            out,
            "      <error message=\"{}\" type=\"evaluation\"/>",
            xml(e)
        );
    }
    if !denies.is_empty() {
        let message = denies
            .iter()
            .map(|v| v.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let mut body = String::new();
        for v in &denies {
            let _ = writeln!(
                body,
                "{} {}:{}:{}: {} [{}, {}] {}",
                action(v.action),
                r.file,
                v.line,
                v.col,
                v.rule,
                v.severity,
                v.path,
                v.message
            );
        }
        let kind = if denies.iter().all(|v| v.action == Action::Warn) {
            "warn"
        } else {
            "deny"
        };
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
            xml(&message),
            xml(&body)
        );
    }
    if !others.is_empty() {
        let mut body = String::new();
        for v in &others {
            let kind = standing(v);
            let _ = writeln!(
                body,
                "{kind} {}:{}:{}: {} [{}, {}] {}",
                r.file, v.line, v.col, v.rule, v.severity, v.path, v.message
            );
        }
        let _ = writeln!(out, "      <system-out>{}</system-out>", xml(&body));
    }
    out.push_str("    </testcase>\n");
}

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut suites: BTreeMap<&str, Suite> = BTreeMap::new();
    for r in &report.results {
        suites.entry(&r.file).or_default().objects.push(r);
    }
    for e in &report.errors {
        suites.entry(&e.file).or_default().errors.push(e);
    }
    for n in &report.notices {
        suites.entry(&n.file).or_default().notices.push(n);
    }
    let count_failures = |objects: &[&ObjectResult]| {
        objects
            .iter()
            .filter(|r| r.violations.iter().any(Violation::fails))
            .count()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = suites
        .values()
        .map(|s| s.objects.len() + s.errors.len())
        .sum();
    let failures: usize = suites.values().map(|s| count_failures(&s.objects)).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"rampart\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\">",
        report.errors.len()
    );
    for (file, suite) in &suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            xml(file),
            suite.objects.len() + suite.errors.len(),
            count_failures(&suite.objects),
            suite.errors.len()
        );
        for r in &suite.objects {
            testcase(&mut out, r);
        }
        for e in &suite.errors {
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\">\n      <error message=\"{}\" type=\"input\"/>\n    </testcase>",
                xml(&place(e)),
                xml(&e.file),
                xml(&e.message)
            );
        }
        if !suite.notices.is_empty() {
            let text: String = suite
                .notices
                .iter()
                .map(|n| format!("warning: {}: {}\n", place(n), n.message))
                .collect();
            let _ = writeln!(out, "    <system-err>{}</system-err>", xml(&text));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
