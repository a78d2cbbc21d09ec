//! Source text to syntax tree: the logos lexer, the lalrpop grammar and string literals.

pub mod ast;
pub mod lexer;

use ast::{Expr, ExprKind, SourceFile, Span, StrPart, MAX_DEPTH};
use lalrpop_util::{ErrorRecovery, ParseError};
use lexer::{LexError, Lexer, Token};

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, unused_parens, dead_code)]
    grammar,
    "/syntax/grammar.rs"
);

/// A syntax error with its span and an optional help line.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

impl SyntaxError {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>, help: Option<&str>) -> SyntaxError {
        SyntaxError {
            span,
            message: message.into(),
            help: help.map(str::to_string),
        }
    }

    pub(crate) fn from_recovery(e: ErrorRecovery<usize, Token<'_>, LexError>) -> SyntaxError {
        Self::from_parse(e.error)
    }

    fn from_parse(e: ParseError<usize, Token<'_>, LexError>) -> SyntaxError {
        match e {
            ParseError::InvalidToken { location } => {
                SyntaxError::new(Span::new(location, location + 1), "invalid token", None)
            }
            ParseError::UnrecognizedEof { location, expected } => SyntaxError::new(
                Span::new(location, location),
                "unexpected end of file",
                expected_help(&expected).as_deref(),
            ),
            ParseError::UnrecognizedToken {
                token: (l, t, r),
                expected,
            } => SyntaxError::new(
                Span::new(l, r),
                format!("unexpected `{t}`"),
                expected_help(&expected).as_deref(),
            ),
            ParseError::ExtraToken { token: (l, t, r) } => {
                SyntaxError::new(Span::new(l, r), format!("unexpected `{t}`"), None)
            }
            ParseError::User { error } if error.unterminated_string => SyntaxError::new(
                Span::new(error.start, error.end),
                "unterminated string",
                Some(
                    "a string ends on its own line; inside `{…}` every `{` and `\"` must be closed",
                ),
            ),
            ParseError::User { error } => SyntaxError::new(
                Span::new(error.start, error.end),
                "unexpected character",
                None,
            ),
        }
    }
}

/// "expected one of …", with lalrpop's terminal names made readable.
fn expected_help(expected: &[String]) -> Option<String> {
    if expected.is_empty() {
        return None;
    }
    let names: Vec<String> = expected
        .iter()
        .map(|e| match e.as_str() {
            "IDENT" => "a name".to_string(),
            "INT" => "an integer".to_string(),
            "NUMBER" => "a number".to_string(),
            "STR" => "a string".to_string(),
            other => format!("`{}`", other.trim_matches('"')),
        })
        .collect();
    if names.len() > 8 {
        Some(format!("expected one of {}, …", names[..8].join(", ")))
    } else {
        Some(format!("expected {}", names.join(", ")))
    }
}

/// Parses one file, returning its syntax tree and every syntax error found.
pub fn parse_file(src: &str) -> (SourceFile, Vec<SyntaxError>) {
    let mut errors = Vec::new();
    let result = grammar::FileParser::new().parse(src, &mut errors, Lexer::new(src));
    match result {
        Ok(file) => (file, errors),
        Err(e) => {
            errors.push(SyntaxError::from_parse(e));
            (
                SourceFile {
                    module: None,
                    items: Vec::new(),
                },
                errors,
            )
        }
    }
}

/// Builds an expression node, refusing nesting deeper than [`MAX_DEPTH`].
pub(crate) fn mk(errors: &mut Vec<SyntaxError>, kind: ExprKind, l: usize, r: usize) -> Expr {
    let span = Span::new(l, r);
    let e = Expr::new(kind, span);
    if e.depth > MAX_DEPTH {
        // Report once: the children were all within the limit, so this node is the first too deep.
        errors.push(SyntaxError::new(
            span,
            format!("expression nested more than {MAX_DEPTH} levels deep"),
            Some("split it with `let` or helper functions"),
        ));
        return Expr::error(span);
    }
    e
}

/// A parenthesised expression: one level deeper, same node.
pub(crate) fn nest(errors: &mut Vec<SyntaxError>, mut e: Expr, l: usize, r: usize) -> Expr {
    e.depth += 1;
    if e.depth > MAX_DEPTH {
        errors.push(SyntaxError::new(
            Span::new(l, r),
            format!("expression nested more than {MAX_DEPTH} levels deep"),
            Some("split it with `let` or helper functions"),
        ));
        return Expr::error(Span::new(l, r));
    }
    e
}

pub(crate) fn int_literal(errors: &mut Vec<SyntaxError>, text: &str, l: usize, r: usize) -> Expr {
    match text.parse::<i64>() {
        Ok(n) => mk(errors, ExprKind::Int(n), l, r),
        Err(_) => {
            errors.push(SyntaxError::new(
                Span::new(l, r),
                format!("integer `{text}` does not fit in 64 bits"),
                None,
            ));
            Expr::error(Span::new(l, r))
        }
    }
}

pub(crate) fn number_literal(
    errors: &mut Vec<SyntaxError>,
    text: &str,
    l: usize,
    r: usize,
) -> Expr {
    let n: f64 = text.parse().unwrap_or(f64::NAN);
    mk(errors, ExprKind::Number(n), l, r)
}

/// Turns a string token (quotes included) into text and interpolated expressions.
pub(crate) fn string_literal(
    src: &str,
    errors: &mut Vec<SyntaxError>,
    raw: &str,
    l: usize,
    r: usize,
) -> Expr {
    let body_start = l + 1;
    let body = &raw[1..raw.len() - 1];
    let mut parts = Vec::new();
    let mut text = String::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < body.len() {
        let c = body[i..].chars().next().unwrap_or('\0');
        match c {
            '\\' => {
                let next = body[i + 1..].chars().next().unwrap_or('\\');
                match next {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    '"' | '\\' | '{' | '}' => text.push(next),
                    other => errors.push(SyntaxError::new(
                        Span::new(body_start + i, body_start + i + 1 + other.len_utf8()),
                        format!("unknown escape `\\{other}`"),
                        Some("known escapes: \\\" \\\\ \\n \\t \\{ \\}"),
                    )),
                }
                i += 1 + next.len_utf8();
            }
            '{' => {
                // Find the matching close brace, skipping nested braces and strings.
                let mut depth = 0usize;
                let mut j = i;
                let mut in_str = false;
                let mut close = None;
                while j < bytes.len() {
                    match bytes[j] {
                        b'\\' if in_str => j += 1,
                        b'"' => in_str = !in_str,
                        b'{' if !in_str => depth += 1,
                        b'}' if !in_str => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let Some(close) = close else {
                    errors.push(SyntaxError::new(
                        Span::new(body_start + i, body_start + i + 1),
                        "unclosed `{` in string",
                        Some("write `\\{` for a literal brace"),
                    ));
                    break;
                };
                if !text.is_empty() {
                    parts.push(StrPart::Text(std::mem::take(&mut text)));
                }
                let inner_start = body_start + i + 1;
                let inner = &src[inner_start..body_start + close];
                let parsed = grammar::ExprParser::new().parse(
                    src,
                    errors,
                    Lexer::with_offset(inner, inner_start),
                );
                match parsed {
                    Ok(e) => parts.push(StrPart::Expr(e)),
                    Err(e) => {
                        let mut err = SyntaxError::from_parse(e);
                        if inner.trim().is_empty() {
                            err = SyntaxError::new(
                                Span::new(body_start + i, body_start + close + 1),
                                "empty interpolation `{}`",
                                Some("write `\\{` for a literal brace"),
                            );
                        }
                        errors.push(err);
                        parts.push(StrPart::Expr(Expr::error(Span::new(
                            inner_start,
                            body_start + close,
                        ))));
                    }
                }
                i = close + 1;
            }
            '}' => {
                errors.push(SyntaxError::new(
                    Span::new(body_start + i, body_start + i + 1),
                    "unmatched `}` in string",
                    Some("write `\\}` for a literal brace"),
                ));
                i += 1;
            }
            c => {
                text.push(c);
                i += c.len_utf8();
            }
        }
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(StrPart::Text(text));
    }
    mk(errors, ExprKind::Str(parts), l, r)
}
