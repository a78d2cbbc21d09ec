//! The human format: for every finding, a codespan-style snippet of the manifest line with
//! the rule id, severity and message; then errors and notices; then a summary line.

use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label, Severity};
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, termcolor};

use crate::eval::Action;
use crate::runner::{ObjectResult, Report, RunError, Violation};

/// A one-line "file" that reports its real line number, so a snippet can be shown without
/// keeping the whole manifest in memory.
struct Snippet<'a> {
    name: &'a str,
    line: u32,
    text: &'a str,
}

impl<'a> Files<'a> for Snippet<'a> {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, (): ()) -> Result<&'a str, FilesError> {
        Ok(self.name)
    }

    fn source(&'a self, (): ()) -> Result<&'a str, FilesError> {
        Ok(self.text)
    }

    fn line_index(&'a self, (): (), _byte_index: usize) -> Result<usize, FilesError> {
        Ok(0)
    }

    fn line_number(&'a self, (): (), _line_index: usize) -> Result<usize, FilesError> {
        Ok(self.line as usize)
    }

    fn line_range(&'a self, (): (), _line_index: usize) -> Result<Range<usize>, FilesError> {
        Ok(0..self.text.len())
    }
}

/// The bytes of `text` from 1-based character column `col` to the end of the line's content
/// (trailing spaces and a trailing comment excluded), never empty unless the line is.
fn marked_range(text: &str, col: u32) -> Range<usize> {
    let start = text
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(text.len(), |(i, _)| i);
    let rest = &text[start..];
    let end = rest.find(" #").map_or(rest.len(), |i| i);
    let end = start + rest[..end].trim_end().len();
    if end > start {
        start..end
    } else {
        let next = rest.chars().next().map_or(0, char::len_utf8);
        start..start + next
    }
}

fn emit(buffer: &mut termcolor::Buffer, snippet: &Snippet, diagnostic: &Diagnostic<()>) {
    let config = term::Config::default();
    // Rendering only fails on a range outside the snippet, which marked_range never makes.
    let _ = term::emit_to_write_style(buffer, &config, snippet, diagnostic);
}

fn violation(buffer: &mut termcolor::Buffer, r: &ObjectResult, v: &Violation) {
    let severity = if v.fails() {
        Severity::Error
    } else if v.exemption.is_some() || v.baselined {
        Severity::Note
    } else {
        Severity::Warning
    };
    // A finding about the whole object has no path: no dangling separator.
    let mut notes = vec![if v.path.is_empty() {
        r.describe()
    } else {
        format!("{} · {}", r.describe(), v.path)
    }];
    if let Some(e) = &v.exemption {
        let mut note = format!("exempted ({}): {}", e.origin, e.reason);
        if let Some(until) = &e.until {
            note.push_str(&format!(" (until {until})"));
        }
        notes.push(note);
    }
    let snippet = Snippet {
        name: &r.file,
        line: v.line,
        text: &v.source_line,
    };
    let label = if v.exemption.is_some() {
        format!("{} (exempted)", v.severity)
    } else if v.baselined {
        format!("{} (in the baseline)", v.severity)
    } else if v.action == Action::Deny && !v.at_threshold {
        format!("{} (below --fail-on-severity)", v.severity)
    } else {
        v.severity.to_string()
    };
    let diagnostic = Diagnostic::new(severity)
        .with_code(&v.rule)
        .with_message(&v.message)
        .with_labels(vec![Label::primary(
            (),
            marked_range(&v.source_line, v.col),
        )
        .with_message(label)])
        .with_notes(notes);
    emit(buffer, &snippet, &diagnostic);
}

fn problem(buffer: &mut termcolor::Buffer, e: &RunError, severity: Severity) {
    let diagnostic = Diagnostic::new(severity).with_message(&e.message);
    match (e.line, e.col, &e.source_line) {
        (Some(line), Some(col), Some(text)) => {
            let snippet = Snippet {
                name: &e.file,
                line,
                text,
            };
            let diagnostic =
                diagnostic.with_labels(vec![Label::primary((), marked_range(text, col))]);
            emit(buffer, &snippet, &diagnostic);
        }
        _ => {
            let place = match (e.line, e.col) {
                (Some(line), Some(col)) => format!("{}:{line}:{col}", e.file),
                _ => e.file.clone(),
            };
            let diagnostic = diagnostic.with_notes(vec![format!("in {place}")]);
            let snippet = Snippet {
                name: &e.file,
                line: 0,
                text: "",
            };
            emit(buffer, &snippet, &diagnostic);
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The closing summary line.
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let verdict = if s.errors > 0 {
        "error"
    } else if report.failed() {
        "fail"
    } else {
        "pass"
    };
    let mut line = format!(
        "{verdict}: {} checked, {} in {}: {}, {}, {} exempted, {} skipped, {}",
        plural(report.rules.len(), "rule", "rules"),
        plural(s.resources, "resource", "resources"),
        plural(s.files, "file", "files"),
        plural(s.violations, "violation", "violations"),
        plural(s.warnings, "warning", "warnings"),
        s.exempted,
        s.skipped,
        plural(s.errors, "error", "errors"),
    );
    if let Some(gate) = report.gate.describe() {
        let baseline = match &report.gate.baseline {
            Some(_) => format!(
                ", {} in the baseline, {} stale",
                s.baselined,
                report.gate.stale.len()
            ),
            None => String::new(),
        };
        line.push_str(&format!("; {} failing ({gate}{baseline})", s.failing));
    }
    line
}

/// Most skipped files named in the human summary; the JSON report names them all.
const SKIPPED_NAMED: usize = 10;

/// The line naming the inputs that hold no Kubernetes object, or documents that are not
/// one, if any.
pub fn skipped_line(report: &Report) -> Option<String> {
    let files = &report.skipped_files;
    if files.is_empty() {
        return None;
    }
    let mut names: Vec<String> = files
        .iter()
        .take(SKIPPED_NAMED)
        .map(|f| match (f.no_object, f.documents) {
            (true, 0) => format!("{} (empty)", f.file),
            (true, _) => format!("{} (no Kubernetes object)", f.file),
            (false, n) => format!("{} ({})", f.file, plural(n, "document", "documents")),
        })
        .collect();
    if files.len() > SKIPPED_NAMED {
        names.push(format!("and {} more", files.len() - SKIPPED_NAMED));
    }
    Some(format!(
        "not Kubernetes objects (no apiVersion and kind): {}",
        names.join(", ")
    ))
}

/// The kinds whose objects had no schema to be checked against, as a line (empty if none).
fn unvalidated_line(report: &Report) -> String {
    if report.unvalidated.is_empty() {
        return String::new();
    }
    let kinds: Vec<String> = report
        .unvalidated
        .iter()
        .map(|((api_version, kind), n)| format!("`{api_version}` `{kind}` ({n})"))
        .collect();
    format!(
        "not validated against a schema: {} of {}: {}\n",
        plural(report.summary.unvalidated, "object", "objects"),
        plural(kinds.len(), "kind", "kinds"),
        kinds.join(", ")
    )
}

/// Renders the report for a terminal.
pub fn render(report: &Report, color: bool) -> String {
    let mut text = String::new();
    for r in &report.results {
        text.push_str(&result(r, color));
    }
    text.push_str(&tail(report, color));
    text
}

fn buffer(color: bool) -> termcolor::Buffer {
    if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    }
}

/// The findings of one object, as snippets.
pub fn result(r: &ObjectResult, color: bool) -> String {
    let mut buffer = buffer(color);
    for v in &r.violations {
        violation(&mut buffer, r, v);
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

/// What follows the findings: errors, notices, the skipped inputs and kinds, the summary line
/// (the results are not read).
pub fn tail(report: &Report, color: bool) -> String {
    let mut buffer = buffer(color);
    for e in &report.errors {
        problem(&mut buffer, e, Severity::Error);
    }
    for n in &report.notices {
        problem(&mut buffer, n, Severity::Warning);
    }
    let mut text = String::from_utf8_lossy(buffer.as_slice()).into_owned();
    if let Some(line) = skipped_line(report) {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&unvalidated_line(report));
    text.push_str(&summary_line(report));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::marked_range;

    #[test]
    fn marks_the_value_up_to_a_comment() {
        let line = "    privileged: true # why";
        assert_eq!(&line[marked_range(line, 17)], "true");
        assert_eq!(&line[marked_range(line, 5)], "privileged: true");
        assert_eq!(marked_range("", 1), 0..0);
    }
}
