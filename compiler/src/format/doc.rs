//! A small Wadler-style layout engine: a document is text with optional line breaks; a
//! group is printed on one line when it fits in the width, otherwise its breaks become
//! newlines (its inner groups decide again for themselves).

/// A document to lay out.
#[derive(Clone, Debug)]
pub enum Doc {
    /// Text without line breaks (text with a newline never fits on one line and is printed
    /// as it is: the formatter uses that for expressions kept as written).
    Text(String),
    /// A space, or a newline when its group is broken.
    Line,
    /// Nothing, or a newline when its group is broken.
    SoftLine,
    /// Inner lines indented by this many more columns.
    Nest(usize, Box<Doc>),
    /// Flat when it fits, otherwise broken.
    Group(Box<Doc>),
    Concat(Vec<Doc>),
}

/// Text.
pub fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

/// The parts one after another.
pub fn concat(parts: Vec<Doc>) -> Doc {
    Doc::Concat(parts)
}

/// A group.
pub fn group(d: Doc) -> Doc {
    Doc::Group(Box::new(d))
}

/// Nested by `n` columns.
pub fn nest(n: usize, d: Doc) -> Doc {
    Doc::Nest(n, Box::new(d))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Flat,
    Break,
}

/// Lays `doc` out within `width` columns, starting at column `indent` with `indent` as the
/// base indentation of broken lines.
pub fn render(doc: &Doc, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(indent, Mode::Break, doc)];
    while let Some((ind, mode, d)) = stack.pop() {
        match d {
            Doc::Text(s) => {
                out.push_str(s);
                col = match s.rfind('\n') {
                    Some(n) => s.len() - n - 1,
                    None => col + s.chars().count(),
                };
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Break => {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', ind));
                col = ind;
            }
            Doc::Line => {
                out.push(' ');
                col += 1;
            }
            Doc::SoftLine => {}
            Doc::Nest(n, inner) => stack.push((ind + n, mode, inner)),
            Doc::Concat(parts) => stack.extend(parts.iter().rev().map(|p| (ind, mode, p))),
            Doc::Group(inner) => {
                let flat =
                    mode == Mode::Flat || fits(width.saturating_sub(col) as isize, inner, &stack);
                let mode = if flat { Mode::Flat } else { Mode::Break };
                stack.push((ind, mode, inner));
            }
        }
    }
    out
}

/// Whether `doc`, flat, and what follows it up to the next possible break fit in `room`.
fn fits(mut room: isize, doc: &Doc, rest: &[(usize, Mode, &Doc)]) -> bool {
    let mut todo: Vec<(Mode, &Doc)> = vec![(Mode::Flat, doc)];
    let mut rest = rest.iter().rev();
    loop {
        let (mode, d) = match todo.pop() {
            Some(x) => x,
            None => match rest.next() {
                Some((_, m, d)) => (*m, *d),
                None => return true,
            },
        };
        match d {
            Doc::Text(s) => {
                if s.contains('\n') {
                    return false;
                }
                room -= s.chars().count() as isize;
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Break => return true,
            Doc::Line => room -= 1,
            Doc::SoftLine => {}
            Doc::Nest(_, inner) => todo.push((mode, inner)),
            Doc::Group(inner) => todo.push((mode, inner)),
            Doc::Concat(parts) => todo.extend(parts.iter().rev().map(|p| (mode, p))),
        }
        if room < 0 {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> Doc {
        let mut inner = vec![Doc::SoftLine];
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(text(*a));
        }
        group(concat(vec![
            text("f("),
            nest(2, concat(inner)),
            Doc::SoftLine,
            text(")"),
        ]))
    }

    #[test]
    fn a_group_that_fits_stays_flat() {
        assert_eq!(render(&call(&["a", "b"]), 20, 0), "f(a, b)");
    }

    #[test]
    fn a_group_too_wide_breaks_every_line() {
        assert_eq!(
            render(&call(&["aaaa", "bbbb", "cccc"]), 10, 2),
            "f(\n    aaaa,\n    bbbb,\n    cccc\n  )"
        );
    }

    #[test]
    fn text_with_a_newline_breaks_its_group() {
        let d = group(concat(vec![text("a"), Doc::Line, text("b\nc")]));
        assert_eq!(render(&d, 80, 0), "a\nb\nc");
    }
}
