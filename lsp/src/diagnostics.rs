//! The compiler's diagnostics as protocol diagnostics, and "did you mean" as a quick fix.

use crate::text::LineIndex;
use crate::world::{refused, World};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, Diagnostic,
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position, Range,
    TextEdit, Url, WorkspaceEdit,
};
use rampart_compiler::diagnostics::Level;
use std::collections::HashMap;

/// The diagnostics of the document `uri` in `world` (one for a refused document).
pub fn for_document(world: &World, uri: &Url, text: &str) -> Vec<Diagnostic> {
    if let Some(reason) = refused(text) {
        return vec![Diagnostic {
            range: Range::new(Position::new(0, 0), Position::new(0, 0)),
            severity: Some(DiagnosticSeverity::ERROR),
            code: Some(NumberOrString::String("unreadable".into())),
            source: Some("rampart".into()),
            message: reason,
            ..Default::default()
        }];
    }
    let Some(file) = world.file(uri) else {
        return Vec::new();
    };
    let index = LineIndex::new(&file.text);
    world
        .compilation
        .diagnostics
        .iter()
        .filter(|d| d.file == Some(file.id))
        .map(|d| {
            let mut message = d.message.clone();
            for note in &d.notes {
                message.push('\n');
                message.push_str(note);
            }
            let related: Vec<DiagnosticRelatedInformation> = d
                .secondary
                .iter()
                .map(|(span, label)| DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), index.range(*span)),
                    message: label.clone(),
                })
                .collect();
            Diagnostic {
                range: index.range(d.span),
                severity: Some(match d.level {
                    Level::Error => DiagnosticSeverity::ERROR,
                    _ => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.to_string())),
                source: Some("rampart".into()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..Default::default()
            }
        })
        .collect()
}

/// The suggestion of a "did you mean `x`?" help line.
pub fn suggestion(message: &str) -> Option<&str> {
    let rest = &message[message.find("did you mean `")? + "did you mean `".len()..];
    Some(&rest[..rest.find('`')?])
}

/// Quick fixes: replace the diagnosed text by the suggestion of its "did you mean".
pub fn code_actions(params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
    params
        .context
        .diagnostics
        .iter()
        .filter_map(|d| {
            let s = suggestion(&d.message)?;
            let edit = TextEdit::new(d.range, s.to_string());
            let changes = HashMap::from([(params.text_document.uri.clone(), vec![edit])]);
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("replace with `{s}`"),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(changes),
                    ..Default::default()
                }),
                is_preferred: Some(true),
                ..Default::default()
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::suggestion;

    #[test]
    fn the_suggestion_is_read_from_the_help_line() {
        assert_eq!(
            suggestion("unknown field `privilegd`\nhelp: did you mean `privileged`?"),
            Some("privileged")
        );
        assert_eq!(suggestion("unknown field `x`"), None);
    }
}
