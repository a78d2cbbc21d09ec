//! Comments, which the lexer skips: found in the gaps between tokens, so that text inside
//! string literals is never mistaken for one. The formatter and the language server read
//! them; parsing does not.

use super::ast::Span;
use super::lexer::Lexer;

/// A `// …` or `# …` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// From the comment marker to the end of its line (the newline excluded).
    pub span: Span,
    /// The comment as written, trailing white space removed.
    pub text: String,
    /// Code precedes it on its line (`deny … // why`).
    pub trailing: bool,
}

/// Every comment of `src`, in order. Text the lexer refuses is treated like a token, so a
/// file with lexical errors still yields the comments around them.
pub fn comments(src: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let mut gap_start = 0;
    for token in Lexer::new(src) {
        let (start, end) = match token {
            Ok((s, _, e)) => (s, e),
            Err(e) => (e.start, e.end),
        };
        scan_gap(src, gap_start, start, &mut out);
        gap_start = end;
    }
    scan_gap(src, gap_start, src.len(), &mut out);
    out
}

/// Finds the comments in `src[from..to]`, which holds only white space and comments.
fn scan_gap(src: &str, from: usize, to: usize, out: &mut Vec<Comment>) {
    let gap = &src[from..to];
    let mut i = 0;
    while i < gap.len() {
        let rest = &gap[i..];
        if rest.starts_with("//") || rest.starts_with('#') {
            let len = rest.find('\n').unwrap_or(rest.len());
            let start = from + i;
            let line_start = src[..start].rfind('\n').map_or(0, |n| n + 1);
            out.push(Comment {
                span: Span::new(start, start + len),
                text: rest[..len].trim_end().to_string(),
                trailing: !src[line_start..start].trim().is_empty(),
            });
            i += len;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_between_tokens_not_inside_strings() {
        let src = "// head\nmodule a # tail\nrule r { title \"a # b // c\" } // end";
        let found: Vec<_> = comments(src)
            .into_iter()
            .map(|c| (c.text, c.trailing))
            .collect();
        assert_eq!(
            found,
            vec![
                ("// head".to_string(), false),
                ("# tail".to_string(), true),
                ("// end".to_string(), true),
            ]
        );
    }

    #[test]
    fn spans_cover_the_comment() {
        let src = "a\n  // x  \nb";
        let c = &comments(src)[0];
        assert_eq!(&src[c.span.start..c.span.end], "// x  ");
        assert_eq!(c.text, "// x");
        assert!(!c.trailing);
    }
}
