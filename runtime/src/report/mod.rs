//! Output formats of `rampart test`: one module per format, each turning a
//! [`Report`](crate::runner::Report) into text.

pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;
pub mod tap;

use std::io::Write;
use std::path::Path;

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
    }
}

/// Writes a file atomically: a temporary file in the same folder, renamed over the target,
/// so a reader never sees half a report.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
