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

/// Writes a file atomically: a temporary file in the same folder, renamed over the target,
/// so a reader never sees half a report.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomically`], with the contents written by `fill` through a buffer.
pub fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut w = std::io::BufWriter::new(tmp);
    fill(&mut w)?;
    let tmp = w.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
