//! Output formats of `rampart test`: one module per format, each turning a
//! [`Report`](crate::runner::Report) into text; [`Writer`] writes a report while the run goes
//! on, each file's results as soon as the runner hands them on.

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

use crate::runner::{ObjectResult, Report};

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

/// Whether a format is written as the run goes: the human, JSON, GitHub and TAP formats
/// write each object's results when the runner hands them on and what needs the whole run
/// (errors, summary) at the end. The others (JUnit's and SARIF's counts and documents, the
/// HTML page's charts, PolicyReport's objects grouped by namespace) hold the results (the
/// findings, never the objects) until the end.
pub fn streams(format: Format) -> bool {
    matches!(
        format,
        Format::Human | Format::Json | Format::Github | Format::Tap
    )
}

/// A report being written: [`Writer::file`] takes each file's results as the runner hands
/// them on, [`Writer::finish`] the rest of the report.
pub struct Writer<'w> {
    format: Format,
    color: bool,
    w: &'w mut (dyn Write + Send),
    json: Option<json::Stream>,
    /// Results written so far.
    written: usize,
    /// Results held for [`Writer::finish`]: every result when the format does not stream or
    /// when they are asked for.
    held: Option<Vec<ObjectResult>>,
    baseline: bool,
}

impl<'w> Writer<'w> {
    /// Starts a report in `format`. `baseline`: whether the run has a baseline; `keep`: hold
    /// the results for the report given to [`Writer::finish`] even if the format streams.
    pub fn start(
        format: Format,
        color: bool,
        baseline: bool,
        keep: bool,
        w: &'w mut (dyn Write + Send),
    ) -> std::io::Result<Writer<'w>> {
        let held = (keep || !streams(format)).then(Vec::new);
        let mut writer = Writer {
            format,
            color,
            w,
            json: None,
            written: 0,
            held,
            baseline,
        };
        match format {
            Format::Json => writer.json = Some(json::Stream::start(baseline, writer.w)?),
            Format::Tap => writer.w.write_all(tap::HEAD.as_bytes())?,
            _ => {}
        }
        Ok(writer)
    }

    /// Writes (or holds) one file's results.
    pub fn file(&mut self, results: Vec<ObjectResult>) -> std::io::Result<()> {
        if streams(self.format) {
            for r in &results {
                self.written += 1;
                match self.format {
                    Format::Json => match &mut self.json {
                        Some(stream) => stream.result(r, self.w)?,
                        None => unreachable!("the JSON stream is started with the writer"),
                    },
                    Format::Human => self.w.write_all(human::result(r, self.color).as_bytes())?,
                    Format::Github => self.w.write_all(github::result(r).as_bytes())?,
                    Format::Tap => self
                        .w
                        .write_all(tap::result(self.written, r, self.baseline).as_bytes())?,
                    _ => {}
                }
            }
        }
        if let Some(held) = &mut self.held {
            held.extend(results);
        }
        Ok(())
    }

    /// Flushes what is written so far to the output.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }

    /// Writes the rest of the report; the results held, if any, are put in `report`.
    pub fn finish(self, report: &mut Report) -> std::io::Result<()> {
        if let Some(held) = self.held {
            report.results = held;
        }
        match self.format {
            Format::Json => match self.json {
                Some(stream) => stream.finish(report, self.w),
                None => unreachable!("the JSON stream is started with the writer"),
            },
            Format::Human => self.w.write_all(human::tail(report, self.color).as_bytes()),
            Format::Github => self.w.write_all(github::tail(report).as_bytes()),
            Format::Tap => self.w.write_all(tap::tail(report, self.written).as_bytes()),
            format => self
                .w
                .write_all(render(report, format, self.color).as_bytes()),
        }
    }
}
