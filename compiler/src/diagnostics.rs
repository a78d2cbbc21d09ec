//! Errors and warnings as values with spans, and the one place that renders them
//! (codespan-reporting for people, JSON for editors and CI).

use crate::syntax::ast::Span;
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::{Files as _, SimpleFiles};
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

/// Index of a file in [`Files`].
pub type FileId = usize;

/// The source files of one compilation: parser, checker and reporter share it.
#[derive(Default)]
pub struct Files {
    inner: SimpleFiles<String, String>,
}

impl Files {
    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.inner.add(name.into(), text.into())
    }
    /// The file's name.
    pub fn name(&self, id: FileId) -> &str {
        self.inner
            .get(id)
            .map(|f| f.name().as_str())
            .unwrap_or("<unknown>")
    }
    /// The file's text.
    pub fn text(&self, id: FileId) -> &str {
        self.inner
            .get(id)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }
    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        match self.inner.location(id, offset) {
            Ok(loc) => (loc.line_number, loc.column_number),
            Err(_) => (1, 1),
        }
    }
}

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// A diagnostic about a policy source.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub level: Level,
    /// A stable short code, e.g. `unknown-field`.
    pub code: &'static str,
    /// One lowercase line; user input in backticks.
    pub message: String,
    /// Where: `None` for problems with a whole file (unreadable, not UTF-8).
    pub file: Option<FileId>,
    pub span: Span,
    /// The label on the primary span.
    pub label: String,
    /// Other places worth showing.
    pub secondary: Vec<(Span, String)>,
    /// `help:` and `note:` lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span` of `file`.
    pub fn error(code: &'static str, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Error,
            code,
            message: message.into(),
            file: Some(file),
            span,
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
        }
    }
    /// A warning at `span` of `file`.
    pub fn warning(
        code: &'static str,
        file: FileId,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            level: Level::Warning,
            ..Self::error(code, file, span, message)
        }
    }
    /// An error about a whole file that could not be read, named by path.
    pub fn file_error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: None,
            ..Self::error(code, 0, Span::default(), message)
        }
    }
    /// Sets the primary label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    /// Adds a secondary span.
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }
    /// Adds `help: …`.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.notes.push(format!("help: {}", help.into()));
        self
    }
    /// Adds `note: …`.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(format!("note: {}", note.into()));
        self
    }
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

/// Renders diagnostics as codespan-reporting does on a terminal, with or without colour.
pub fn render(files: &Files, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut buffer = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    let config = term::Config::default();
    for d in diagnostics {
        let mut cs = match d.level {
            Level::Error => CsDiagnostic::error(),
            Level::Warning => CsDiagnostic::warning(),
        }
        .with_code(d.code)
        .with_message(&d.message)
        .with_notes(d.notes.clone());
        if let Some(file) = d.file {
            let mut labels =
                vec![Label::primary(file, d.span.start..d.span.end).with_message(&d.label)];
            labels.extend(
                d.secondary
                    .iter()
                    .map(|(s, l)| Label::secondary(file, s.start..s.end).with_message(l)),
            );
            cs = cs.with_labels(labels);
        }
        // Rendering only fails on spans outside the file, which the parser never makes.
        let _ = term::emit_to_write_style(&mut buffer, &config, &files.inner, &cs);
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

/// One diagnostic in the JSON form (`rampart check -o json`).
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub level: Level,
    pub code: &'a str,
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub notes: &'a [String],
}

/// The JSON form of diagnostics.
pub fn to_json<'a>(files: &'a Files, diagnostics: &'a [Diagnostic]) -> Vec<JsonDiagnostic<'a>> {
    diagnostics
        .iter()
        .map(|d| {
            let (start, end) = match d.file {
                Some(f) => (
                    Some(files.line_col(f, d.span.start)),
                    Some(files.line_col(f, d.span.end)),
                ),
                None => (None, None),
            };
            JsonDiagnostic {
                level: d.level,
                code: d.code,
                message: &d.message,
                file: d.file.map(|f| files.name(f)),
                line: start.map(|s| s.0),
                column: start.map(|s| s.1),
                end_line: end.map(|s| s.0),
                end_column: end.map(|s| s.1),
                notes: &d.notes,
            }
        })
        .collect()
}

/// The closest candidate to `name` by normalised edit distance, if close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::normalized_damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let fields = ["privileged", "procMount", "runAsUser"];
        assert_eq!(did_you_mean("privilegd", fields), Some("privileged"));
        assert_eq!(did_you_mean("runasuser", fields), Some("runAsUser"));
        assert_eq!(did_you_mean("capabilities", fields), None);
    }
}
