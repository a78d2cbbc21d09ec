//! Source text to syntax tree: the logos lexer, the lalrpop grammar and string literals.

pub mod ast;
pub mod lexer;
pub mod trivia;

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
    /// Found by the parser's error recovery (a later one may be a consequence of it).
    pub recovered: bool,
}

impl SyntaxError {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>, help: Option<&str>) -> SyntaxError {
        SyntaxError {
            span,
            message: message.into(),
            help: help.map(str::to_string),
            recovered: false,
        }
    }

    pub(crate) fn from_recovery(
        src: &str,
        e: ErrorRecovery<usize, Token<'_>, LexError>,
    ) -> SyntaxError {
        let misspelled = match &e.error {
            ParseError::UnrecognizedToken {
                token: (l, t, r),
                expected,
            } => misspelled_keyword(src, *l, t, *r, expected),
            _ => None,
        };
        let mut err = misspelled.unwrap_or_else(|| Self::from_parse(e.error));
        err.recovered = true;
        err
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

/// The words that start a rule item; a misspelling of one is reported as such.
const RULE_ITEM_WORDS: &[&str] = &[
    "deny", "warn", "match", "exclude", "let", "param", "autogen", "message", "when", "fix",
];

/// A misspelled keyword: the unexpected word itself (`mesage` where `message` is expected),
/// or the word before an unexpected token (`denny for c in …`).
fn misspelled_keyword(
    src: &str,
    l: usize,
    t: &Token<'_>,
    r: usize,
    expected: &[String],
) -> Option<SyntaxError> {
    use crate::diagnostics::did_you_mean;
    let wants_message = expected.iter().any(|e| e == "\"message\"");
    if wants_message && matches!(t, Token::RBrace | Token::Deny | Token::Warn | Token::Let) {
        return Some(SyntaxError::new(
            Span::new(l, r),
            format!("this outcome has no `message` before `{t}`"),
            Some("end the outcome with `message \"…\"`"),
        ));
    }
    if let Token::Ident(word) = t {
        let keywords = expected
            .iter()
            .map(|e| e.trim_matches('"'))
            .filter(|e| e.chars().all(|c| c.is_ascii_lowercase()));
        let s = did_you_mean(word, keywords)?;
        return Some(SyntaxError::new(
            Span::new(l, r),
            format!("unexpected `{word}`"),
            Some(&format!("did you mean `{s}`?")),
        ));
    }
    let before = src.get(..l)?.trim_end();
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let word = &before[start..];
    if word.is_empty() || RULE_ITEM_WORDS.contains(&word) {
        return None;
    }
    let s = did_you_mean(word, RULE_ITEM_WORDS.iter().copied())?;
    Some(SyntaxError::new(
        Span::new(start, start + word.len()),
        format!("unknown word `{word}`"),
        Some(&format!("did you mean `{s}`?")),
    ))
}

/// Keeps one error per rule item: a recovery error is dropped when no line between it and
/// the previous one starts a new rule item or top-level item (it is a consequence).
fn drop_cascades(src: &str, errors: &mut Vec<SyntaxError>) {
    const STARTS: &[&str] = &[
        "rule", "fn", "import", "module", "deny", "warn", "match", "exclude", "let", "param",
        "autogen", "}",
    ];
    let mut last: Option<usize> = None;
    errors.retain(|e| {
        if !e.recovered {
            return true;
        }
        let keep = match last {
            None => true,
            Some(prev) if prev >= e.span.start => false,
            Some(prev) => src
                .get(prev..e.span.start)
                .unwrap_or("")
                .lines()
                .skip(1)
                .any(|line| {
                    let first = line
                        .trim_start()
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '}'))
                        .next()
                        .unwrap_or("");
                    STARTS.contains(&first) || line.trim_start().starts_with('}')
                }),
        };
        if keep {
            last = Some(e.span.start);
        }
        keep
    });
}

/// "expected one of …", with lalrpop's terminal names made readable.
fn expected_help(expected: &[String]) -> Option<String> {
    if expected.is_empty() {
        return None;
    }
    // Where a name is expected, the keywords that may be names are not worth listing.
    const SOFT: &[&str] = &[
        "module",
        "import",
        "as",
        "rule",
        "fn",
        "param",
        "match",
        "exclude",
        "namespaces",
        "labels",
        "deny",
        "warn",
        "autogen",
        "off",
        "fix",
        "review",
        "set",
        "add",
        "remove",
        "generate",
    ];
    const HARD: &[&str] = &[
        "and", "or", "not", "in", "if", "then", "else", "true", "false", "null", "any", "all",
        "let", "for", "when", "at", "message",
    ];
    let word = |e: &String| {
        let w = e.trim_matches('"');
        SOFT.contains(&w) || HARD.contains(&w)
    };
    if expected.iter().all(|e| e == "IDENT" || word(e)) && expected.iter().any(|e| e == "IDENT") {
        return Some("expected a name".to_string());
    }
    let expression = expected.iter().any(|e| e == "\"(\"");
    let expected: Vec<String> = if expression {
        expected
            .iter()
            .filter(|e| !SOFT.contains(&e.trim_matches('"')))
            .cloned()
            .collect()
    } else {
        expected.to_vec()
    };
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
    drop_cascades(src, &mut errors);
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
    e.parens = true;
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
                    if bytes[j] == b'\\' && bytes.get(j + 1) == Some(&b'"') {
                        // `\"` inside `{…}` stands for `"`.
                        in_str = !in_str;
                        j += 2;
                        continue;
                    }
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
                let unescaped = unescape_quotes(src, inner_start, body_start + close);
                let src = unescaped.as_deref().unwrap_or(src);
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
                        } else if is_repetition(inner) {
                            err = SyntaxError::new(
                                Span::new(body_start + i, body_start + close + 1),
                                format!("`{{{inner}}}` is read as an interpolation"),
                                Some("for a regular expression write a raw string, `r\"^[0-9]{1,3}$\"`, or escape the brace: `\\{1,3\\}`"),
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

/// `{m}`, `{m,}` or `{m,n}`: a regular expression's repetition, not an interpolation.
fn is_repetition(inner: &str) -> bool {
    let mut parts = inner.splitn(2, ',');
    let first = parts.next().unwrap_or("");
    let second = parts.next().unwrap_or("");
    !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_digit())
        && second.bytes().all(|b| b.is_ascii_digit())
}

/// The source with `\"` inside `src[start..end]` (an interpolation) read as `"`, keeping every
/// byte position: an opening `\"` becomes ` "`, a closing one `" `. `None` when there is none.
fn unescape_quotes(src: &str, start: usize, end: usize) -> Option<String> {
    let region = &src[start..end];
    if !region.contains("\\\"") {
        return None;
    }
    let bytes = region.as_bytes();
    let mut out = String::with_capacity(src.len());
    out.push_str(&src[..start]);
    let mut rewritten = Vec::with_capacity(bytes.len());
    let mut in_str = false;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'\\' && bytes.get(j + 1) == Some(&b'"') {
            rewritten.extend_from_slice(if in_str { b"\" " } else { b" \"" });
            in_str = !in_str;
            j += 2;
            continue;
        }
        if bytes[j] == b'"' {
            in_str = !in_str;
        }
        rewritten.push(bytes[j]);
        j += 1;
    }
    out.push_str(std::str::from_utf8(&rewritten).ok()?);
    out.push_str(&src[end..]);
    Some(out)
}

/// A raw string token `r"…"`: its text as written, without escapes or interpolation.
pub(crate) fn raw_string_literal(
    errors: &mut Vec<SyntaxError>,
    raw: &str,
    l: usize,
    r: usize,
) -> Expr {
    let body = &raw[2..raw.len() - 1];
    mk(
        errors,
        ExprKind::Str(vec![StrPart::Text(body.to_string())]),
        l,
        r,
    )
}
