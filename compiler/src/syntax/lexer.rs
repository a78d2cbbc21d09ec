//! The lexer: source text to `(start, Token, end)` triples for the lalrpop parser.

use logos::Logos;
use std::fmt;

/// A token of the policy language.
#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"(//|#)[^\n]*", allow_greedy = true))]
pub enum Token<'a> {
    #[token("module")]
    Module,
    #[token("import")]
    Import,
    #[token("as")]
    As,
    #[token("rule")]
    Rule,
    #[token("fn")]
    Fn,
    #[token("let")]
    Let,
    #[token("param")]
    Param,
    #[token("match")]
    Match,
    #[token("exclude")]
    Exclude,
    #[token("namespaces")]
    Namespaces,
    #[token("labels")]
    Labels,
    #[token("deny")]
    Deny,
    #[token("warn")]
    Warn,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("when")]
    When,
    #[token("at")]
    At,
    #[token("message")]
    Message,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("not")]
    Not,
    #[token("any")]
    Any,
    #[token("all")]
    All,
    #[token("if")]
    If,
    #[token("then")]
    Then,
    #[token("else")]
    Else,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("null")]
    Null,
    #[token("autogen")]
    Autogen,
    #[token("off")]
    Off,
    #[token("fix")]
    Fix,
    #[token("review")]
    Review,
    #[token("set")]
    Set,
    #[token("add")]
    Add,
    #[token("remove")]
    Remove,
    #[token("generate")]
    Generate,
    #[regex("[A-Za-z_][A-Za-z0-9_]*")]
    Ident(&'a str),
    #[regex("[0-9]+", priority = 3)]
    Int(&'a str),
    #[regex(r"[0-9]+\.[0-9]+")]
    Number(&'a str),
    /// A string literal, quotes included; escapes and interpolation are processed later.
    /// Strings may nest inside `{…}` interpolations: `"{m["app"]}"` is one token.
    #[token("\"", string_literal)]
    Str(&'a str),
    /// A raw string literal `r"…"`: no escapes, no interpolation (for regular expressions).
    #[regex(r#"r"[^"\n]*""#)]
    RawStr(&'a str),
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("??")]
    Coalesce,
    /// The optional-type marker: `quantity?`.
    #[token("?")]
    Question,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<=")]
    Le,
    #[token(">=")]
    Ge,
    #[token("<")]
    Lt,
    #[token(">")]
    Gt,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("=")]
    Assign,
    #[token("->")]
    Arrow,
    #[token("/")]
    Slash,
    /// `match *`: every kind.
    #[token("*")]
    Star,
    /// Accepted only to say "use `and`" (and the like) in a clear error.
    #[token("&&")]
    AmpAmp,
    #[token("||")]
    PipePipe,
    #[token("!")]
    Bang,
}

/// Lexes the rest of a string literal after its opening quote, following `{…}`
/// interpolations (which may hold strings of their own). Fails at a newline or the end.
fn string_literal<'a>(lex: &mut logos::Lexer<'a, Token<'a>>) -> Option<&'a str> {
    let rest = lex.remainder().as_bytes();
    // Each entry is the brace depth at which a string was opened.
    let mut strings = vec![0usize];
    let mut depth = 0usize;
    let mut i = 0;
    while i < rest.len() {
        let in_string = strings.last() == Some(&depth);
        // Inside `{…}`, `\"` stands for `"` (a string within the interpolation).
        if depth > 0 && rest[i] == b'\\' && rest.get(i + 1) == Some(&b'"') {
            if in_string {
                strings.pop();
            } else {
                strings.push(depth);
            }
            i += 2;
            continue;
        }
        match rest[i] {
            b'\n' => return None,
            b'\\' if in_string => i += 1,
            b'"' if in_string => {
                strings.pop();
                if strings.is_empty() {
                    lex.bump(i + 1);
                    return Some(lex.slice());
                }
            }
            b'"' => strings.push(depth),
            b'{' if in_string => depth += 1,
            b'}' if !in_string && depth > 0 => depth -= 1,
            b'}' => {}
            _ => {}
        }
        i += 1;
    }
    None
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s)
            | Token::Int(s)
            | Token::Number(s)
            | Token::Str(s)
            | Token::RawStr(s) => write!(f, "{s}"),
            other => {
                let text = format!("{other:?}");
                write!(f, "{}", describe(&text))
            }
        }
    }
}

/// The source text of a punctuation or keyword token, from its variant name.
fn describe(variant: &str) -> &'static str {
    match variant {
        "Module" => "module",
        "Import" => "import",
        "As" => "as",
        "Rule" => "rule",
        "Fn" => "fn",
        "Let" => "let",
        "Param" => "param",
        "Match" => "match",
        "Exclude" => "exclude",
        "Namespaces" => "namespaces",
        "Labels" => "labels",
        "Deny" => "deny",
        "Warn" => "warn",
        "For" => "for",
        "In" => "in",
        "When" => "when",
        "At" => "at",
        "Message" => "message",
        "And" => "and",
        "Or" => "or",
        "Not" => "not",
        "Any" => "any",
        "All" => "all",
        "If" => "if",
        "Then" => "then",
        "Else" => "else",
        "True" => "true",
        "False" => "false",
        "Null" => "null",
        "Autogen" => "autogen",
        "Off" => "off",
        "Fix" => "fix",
        "Review" => "review",
        "Set" => "set",
        "Add" => "add",
        "Remove" => "remove",
        "Generate" => "generate",
        "LBrace" => "{",
        "RBrace" => "}",
        "LParen" => "(",
        "RParen" => ")",
        "LBracket" => "[",
        "RBracket" => "]",
        "Comma" => ",",
        "Colon" => ":",
        "Dot" => ".",
        "Coalesce" => "??",
        "Question" => "?",
        "EqEq" => "==",
        "NotEq" => "!=",
        "Le" => "<=",
        "Ge" => ">=",
        "Lt" => "<",
        "Gt" => ">",
        "Plus" => "+",
        "Minus" => "-",
        "Assign" => "=",
        "Arrow" => "->",
        "Slash" => "/",
        "Star" => "*",
        "AmpAmp" => "&&",
        "PipePipe" => "||",
        "Bang" => "!",
        _ => "token",
    }
}

/// A character sequence the lexer does not accept, at a byte range.
#[derive(Clone, Debug, PartialEq)]
pub struct LexError {
    pub start: usize,
    pub end: usize,
    /// The bad input starts a string literal that does not end on its line.
    pub unterminated_string: bool,
}

/// The token stream in the shape lalrpop's `extern` block expects.
pub struct Lexer<'a> {
    inner: logos::SpannedIter<'a, Token<'a>>,
    /// Added to every position: the start of an interpolation inside its file.
    offset: usize,
}

impl<'a> Lexer<'a> {
    /// Lexes `source`.
    pub fn new(source: &'a str) -> Self {
        Self::with_offset(source, 0)
    }
    /// Lexes `source`, which starts at byte `offset` of its file.
    pub fn with_offset(source: &'a str, offset: usize) -> Self {
        Lexer {
            inner: Token::lexer(source).spanned(),
            offset,
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<(usize, Token<'a>, usize), LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (token, span) = self.inner.next()?;
        let (start, end) = (span.start + self.offset, span.end + self.offset);
        Some(match token {
            Ok(t) => Ok((start, t, end)),
            Err(()) => Err(LexError {
                start,
                end,
                unterminated_string: self.inner.slice().starts_with('"'),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Token<'_>> {
        Lexer::new(src).map(|t| t.unwrap().1).collect()
    }

    #[test]
    fn keywords_identifiers_and_literals() {
        assert_eq!(
            kinds(r#"rule x { deny when a.b ?? 1 >= 2.5 message "m {c}" }"#),
            vec![
                Token::Rule,
                Token::Ident("x"),
                Token::LBrace,
                Token::Deny,
                Token::When,
                Token::Ident("a"),
                Token::Dot,
                Token::Ident("b"),
                Token::Coalesce,
                Token::Int("1"),
                Token::Ge,
                Token::Number("2.5"),
                Token::Message,
                Token::Str(r#""m {c}""#),
                Token::RBrace,
            ]
        );
    }

    #[test]
    fn comments_are_skipped_and_spans_are_bytes() {
        let toks: Vec<_> = Lexer::new("// c\nmodule # c\n a")
            .map(|t| t.unwrap())
            .collect();
        assert_eq!(toks[0], (5, Token::Module, 11));
        assert_eq!(toks[1], (17, Token::Ident("a"), 18));
    }

    #[test]
    fn unknown_characters_are_errors() {
        let errs: Vec<_> = Lexer::new("a @ b").filter_map(|t| t.err()).collect();
        assert_eq!(
            errs,
            vec![LexError {
                start: 2,
                end: 3,
                unterminated_string: false
            }]
        );
    }

    #[test]
    fn strings_nest_inside_interpolations() {
        assert_eq!(
            kinds(r#""a {m["k"] ?? "}"} b" x"#),
            vec![Token::Str(r#""a {m["k"] ?? "}"} b""#), Token::Ident("x")]
        );
    }

    #[test]
    fn escaped_quotes_stay_in_one_string() {
        assert_eq!(kinds(r#""a\"b""#), vec![Token::Str(r#""a\"b""#)]);
    }
}
