//! Output formats of `rampart test`: one module per format, each turning a
//! [`Report`](crate::runner::Report) into text.

pub mod controls;
pub mod github;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod policyreport;
pub mod sarif;
pub mod tap;

use std::io::Write;

use crate::runner::Report;

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Snippets of the manifests with the findings, and a summary line.
    Human,
    /// The stable JSON document scripts read.
    Json,
    /// JUnit XML: one testsuite per file, one testcase per object.
    Junit,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands.
    Github,
    /// Test Anything Protocol, version 13.
    Tap,
    /// `wgpolicyk8s.io` PolicyReport and ClusterPolicyReport objects, in a `v1` List.
    PolicyReport,
    /// One self-contained HTML page (no network access): summaries and findings.
    Html,
}

/// Renders a report; `color` only matters for the human format.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Sarif => sarif::render(report),
        Format::Github => github::render(report),
        Format::Tap => tap::render(report),
        Format::PolicyReport => policyreport::render(report),
        Format::Html => html::render(report),
    }
}

/// Writes a report to `w`. JSON, the format of large CI runs, is written as it is
/// serialised; the others are rendered first.
pub fn write(
    report: &Report,
    format: Format,
    color: bool,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => json::write(report, w),
        _ => w.write_all(render(report, format, color).as_bytes()),
    }
}
