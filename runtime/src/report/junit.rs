//! The JUnit XML format: one testsuite per file, one testcase per object; deny findings
//! (and evaluation errors) are failures, files that could not be read are errors.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::eval::Action;
use crate::runner::{ObjectResult, Report, RunError};

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
}

fn testcase(out: &mut String, r: &ObjectResult) {
    let name = format!("{} (document {})", r.describe(), r.document);
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\"",
        xml(&name),
        xml(&r.file)
    );
    let denies: Vec<_> = r.active().filter(|v| v.action == Action::Deny).collect();
    let others: Vec<_> = r
        .violations
        .iter()
        .filter(|v| v.exemption.is_some() || v.action == Action::Warn)
        .collect();
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
                "{}:{}:{}: {} [{}, {}] {}",
                r.file, v.line, v.col, v.rule, v.severity, v.path, v.message
            );
        }
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"deny\">{}</failure>",
            xml(&message),
            xml(&body)
        );
    }
    if !others.is_empty() {
        let mut body = String::new();
        for v in &others {
            let kind = match (&v.exemption, v.action) {
                (Some(_), _) => "exempted",
                (None, Action::Warn) => "warn",
                (None, Action::Deny) => "deny",
            };
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
    let count_failures = |objects: &[&ObjectResult]| {
        objects
            .iter()
            .filter(|r| r.active().any(|v| v.action == Action::Deny))
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
            let place = match (e.line, e.col) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}", e.file),
                _ => e.file.clone(),
            };
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\">\n      <error message=\"{}\" type=\"input\"/>\n    </testcase>",
                xml(&place),
                xml(&e.file),
                xml(&e.message)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
