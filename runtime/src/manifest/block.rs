//! A scanner for the block-style YAML that Kubernetes manifests are written in.
//!
//! Manifests use a small part of YAML: block mappings and sequences indented with spaces,
//! plain and quoted one-line scalars, literal and folded block scalars, comments, and empty or
//! one-line flow collections. This scanner reads exactly that part, line by line and without
//! an event stream, and builds the same [`Node`] trees as the full parser (`build.rs`), with
//! the same positions and the same scalar resolution (`scalar.rs`).
//!
//! Anything else makes it decline (`None`), and the caller reads the chunk again with the full
//! parser: anchors, aliases, tags, directives, `?` keys, multi-line plain or quoted scalars,
//! multi-line or nested flow collections, tabs, carriage returns, a byte-order mark, merge
//! keys, and every error (a duplicate key, a bad indentation, a scalar the resolver refuses).
//! So an error is always reported by the full parser, and the scanner never has to phrase one.
//! runtime/tests/manifest_block.rs checks both parsers give the same result on the corpora
//! and on generated YAML.

use std::borrow::Cow;

use saphyr_parser::ScalarStyle;

use super::{scalar, Node, Value};

/// Longest plain or quoted key the scanner reads (YAML's limit on an implicit key).
const MAX_KEY: usize = 1024;

/// Deepest nesting the scanner reads itself. It recurses once per level, so it leaves deeper
/// input (possible when `--max-depth` is raised) to the full parser, which keeps its stack
/// of open collections on the heap.
const MAX_SCANNER_DEPTH: usize = 256;

/// Reads one chunk (at most one document start, see `chunks`): the roots of its documents,
/// one `Null` for a `---` with nothing after it, none for a chunk of comments. `None` when the
/// text is outside the subset this scanner reads.
pub(super) fn parse(text: &str, line_offset: u32, max_depth: usize) -> Option<Vec<Node>> {
    let bytes = text.as_bytes();
    if memchr::memchr2(b'\t', b'\r', bytes).is_some() || text.starts_with('\u{feff}') {
        return None;
    }
    let mut scanner = Scanner {
        bytes,
        text,
        pos: 0,
        line: 1,
        line_start: 0,
        line_offset,
        depth: 0,
        max_depth: max_depth.min(MAX_SCANNER_DEPTH).saturating_sub(1),
    };
    scanner.document()
}

struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    /// Current byte offset.
    pos: usize,
    /// 1-based line (relative to the chunk) of `line_start`.
    line: u32,
    /// Offset of the first byte of the current line.
    line_start: usize,
    line_offset: u32,
    /// Open collections.
    depth: usize,
    max_depth: usize,
}

/// A key read from the start of a mapping entry.
struct Key {
    text: String,
    line: u32,
    col: u32,
    /// Where its `:` is, where the full parser places an empty value.
    colon: (u32, u32),
}

impl<'t> Scanner<'t> {
    fn document(&mut self) -> Option<Vec<Node>> {
        let mut started = false;
        let Some(indent) = self.next_content_line() else {
            return Some(Vec::new());
        };
        if indent == 0 && self.rest_of_line().starts_with(b"---") {
            self.pos += 3;
            if !matches!(self.peek(), None | Some(b' ' | b'\n')) {
                return None;
            }
            self.end_of_line()?;
            started = true;
        }
        let Some(indent) = self.next_content_line() else {
            return Some(if started {
                vec![Node::new(Value::Null, 0, 0)]
            } else {
                Vec::new()
            });
        };
        let first = self.bytes[self.pos];
        if indent == 0 && (first == b'%' || self.rest_of_line().starts_with(b"...")) {
            return None;
        }
        let root = self.block_node(indent)?;
        // Only comments and blank lines may follow the root.
        if self.next_content_line().is_some() {
            return None;
        }
        Some(vec![root])
    }

    /// A block mapping or sequence starting at the current position, the first content of a
    /// line indented by `indent` (more than its parent's, which the callers check).
    fn block_node(&mut self, indent: usize) -> Option<Node> {
        if self.at_dash() {
            return self.sequence(indent);
        }
        let key = self.key()?;
        self.mapping(indent, key)
    }

    /// A block sequence whose `-` is at the current position, in column `indent` (0-based).
    fn sequence(&mut self, indent: usize) -> Option<Node> {
        let (line, col) = self.position(self.pos);
        self.open()?;
        let mut items = Vec::new();
        loop {
            // At the `-` of an item.
            self.pos += 1;
            self.skip_spaces();
            let item = if self.at_line_end() {
                // An empty item is placed at the end of its line, as the full parser does.
                let (line, col) = self.position(self.line_end());
                self.end_of_line()?;
                match self.next_content_line() {
                    Some(next) if next > indent => self.block_node(next)?,
                    _ => Node::new(Value::Null, line, col),
                }
            } else if self.at_dash() {
                return None;
            } else if let Some(key) = self.try_key()? {
                let column = self.column_of(key.col)?;
                self.mapping(column, key)?
            } else {
                self.inline_value(indent)?
            };
            items.push(item);
            match self.next_content_line() {
                Some(next) if next == indent && self.at_dash() => {}
                Some(next) if next > indent => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        Some(Node::new(Value::List(items), line, col))
    }

    /// A block mapping at column `indent` whose first key has been read.
    fn mapping(&mut self, indent: usize, first: Key) -> Option<Node> {
        let (line, col) = (first.line, first.col);
        self.open()?;
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut key = first;
        loop {
            if key.text == "<<" || entries.iter().any(|(k, _)| *k == key.text) {
                return None;
            }
            let value = self.value(indent, &key)?;
            entries.push((key.text, value));
            match self.next_content_line() {
                Some(next) if next == indent => {
                    if self.at_dash() {
                        return None;
                    }
                    key = self.key()?;
                }
                Some(next) if next > indent => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        Some(Node::new(Value::Map(entries), line, col))
    }

    /// The value after a key's `:` in a mapping at column `indent`; ends at the start of a
    /// line (or the end of the text).
    fn value(&mut self, indent: usize, key: &Key) -> Option<Node> {
        self.skip_spaces();
        if !self.at_line_end() {
            return self.inline_value(indent);
        }
        self.end_of_line()?;
        let node = match self.next_content_line() {
            Some(next) if next > indent => self.block_node(next)?,
            // An indentless sequence: `key:` then `- item` in the key's column.
            Some(next) if next == indent && self.at_dash() => self.sequence(indent)?,
            // Nothing: a null, placed at the key's `:` as the full parser does.
            _ => return Some(Node::new(Value::Null, key.colon.0, key.colon.1)),
        };
        // A block collection that is a mapping's value is placed at its key.
        Some(Node::new(node.value, key.line, key.col))
    }

    /// A scalar or flow collection that starts at the current position, and the rest of its
    /// line; ends at the start of a line (or the end of the text).
    fn inline_value(&mut self, indent: usize) -> Option<Node> {
        let start = self.pos;
        let (line, col) = self.position(start);
        let value = match self.bytes[start] {
            b'"' => Value::String(self.double_quoted()?),
            b'\'' => Value::String(self.single_quoted()?),
            // A block scalar ends at the start of the line after its content.
            b'|' | b'>' => return Some(Node::new(self.block_scalar(indent)?, line, col)),
            b'[' => self.flow_sequence()?,
            b'{' => {
                if self.bytes.get(start + 1) != Some(&b'}') {
                    return None;
                }
                self.pos += 2;
                Value::Map(Vec::new())
            }
            _ => {
                let text = self.plain()?;
                scalar::resolve(Cow::Borrowed(text), ScalarStyle::Plain, None).ok()?
            }
        };
        self.end_of_line()?;
        Some(Node::new(value, line, col))
    }

    /// A plain scalar running to the end of the line or a comment.
    fn plain(&mut self) -> Option<&'t str> {
        let start = self.pos;
        if is_indicator(self.bytes[start]) || self.at_dash() {
            return None;
        }
        if matches!(self.bytes[start], b'?' | b':')
            && matches!(self.bytes.get(start + 1), None | Some(b' ' | b'\n'))
        {
            return None;
        }
        let end = self.line_end();
        let mut stop = end;
        let line = &self.bytes[start..end];
        let mut i = 0;
        while i < line.len() {
            match line[i] {
                b'#' if i > 0 && line[i - 1] == b' ' => {
                    stop = start + i;
                    break;
                }
                b':' if matches!(line.get(i + 1), None | Some(b' ')) => return None,
                _ => {}
            }
            i += 1;
        }
        let text = self.text[start..stop].trim_end_matches(' ');
        self.pos = start + text.len();
        Some(text)
    }

    /// A double-quoted scalar closed on its line, with the common escapes.
    fn double_quoted(&mut self) -> Option<String> {
        let end = self.line_end();
        let mut out = String::new();
        let mut i = self.pos + 1;
        let mut run = i;
        while i < end {
            match self.bytes[i] {
                b'"' => {
                    out.push_str(&self.text[run..i]);
                    self.pos = i + 1;
                    return Some(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run..i]);
                    let escaped = match *self.bytes.get(i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'0' => '\0',
                        _ => return None,
                    };
                    out.push(escaped);
                    i += 2;
                    run = i;
                }
                _ => i += 1,
            }
        }
        None
    }

    /// A single-quoted scalar closed on its line (`''` is a quote).
    fn single_quoted(&mut self) -> Option<String> {
        let end = self.line_end();
        let mut out = String::new();
        let mut i = self.pos + 1;
        let mut run = i;
        while i < end {
            if self.bytes[i] == b'\'' {
                out.push_str(&self.text[run..i]);
                if self.bytes.get(i + 1) == Some(&b'\'') {
                    out.push('\'');
                    i += 2;
                    run = i;
                    continue;
                }
                self.pos = i + 1;
                return Some(out);
            }
            i += 1;
        }
        None
    }

    /// `[]`, or a one-line flow sequence of plain and quoted scalars.
    fn flow_sequence(&mut self) -> Option<Value> {
        self.open()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Some(Value::List(items));
        }
        loop {
            self.skip_spaces();
            let start = self.pos;
            let (line, col) = self.position(start);
            let value = match self.peek()? {
                b'"' => Value::String(self.double_quoted()?),
                b'\'' => Value::String(self.single_quoted()?),
                _ => {
                    let text = self.flow_plain()?;
                    scalar::resolve(Cow::Borrowed(text), ScalarStyle::Plain, None).ok()?
                }
            };
            items.push(Node::new(value, line, col));
            self.skip_spaces();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_spaces();
                    if matches!(self.peek()?, b']' | b',') {
                        return None;
                    }
                }
                b']' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(Value::List(items))
    }

    /// A plain scalar inside a flow sequence: up to `,` or `]`.
    fn flow_plain(&mut self) -> Option<&'t str> {
        let start = self.pos;
        if is_indicator(self.bytes[start]) || matches!(self.bytes[start], b'-' | b'?' | b':') {
            return None;
        }
        let end = self.line_end();
        let mut i = start;
        while i < end {
            match self.bytes[i] {
                b',' | b']' => break,
                b'[' | b'{' | b'}' | b':' | b'#' => return None,
                _ => i += 1,
            }
        }
        let text = self.text[start..i].trim_end_matches(' ');
        if text.is_empty() {
            return None;
        }
        self.pos = start + text.len();
        Some(text)
    }

    /// A literal (`|`) or folded (`>`) block scalar whose indicator is at the current
    /// position, inside a collection at column `parent`. Ends at the start of the first line
    /// after its content.
    fn block_scalar(&mut self, parent: usize) -> Option<Value> {
        let folded = self.bytes[self.pos] == b'>';
        self.pos += 1;
        let chomp = match self.peek() {
            Some(b'-') => Chomp::Strip,
            Some(b'+') => Chomp::Keep,
            _ => Chomp::Clip,
        };
        if chomp != Chomp::Clip {
            self.pos += 1;
        }
        if !matches!(self.peek(), None | Some(b' ' | b'\n')) {
            return None;
        }
        self.skip_spaces();
        self.end_of_line()?;
        // Lines of the scalar: (text after the indentation, or None for an empty line).
        let mut indent = None;
        let mut lines: Vec<Option<&str>> = Vec::new();
        while self.pos < self.bytes.len() {
            let end = self.line_end();
            let line = &self.text[self.pos..end];
            let spaces = line.len() - line.trim_start_matches(' ').len();
            if spaces == line.len() {
                // A line of spaces only: empty, unless it reaches past the indentation.
                if indent.is_some_and(|n| spaces > n) || (indent.is_none() && spaces > parent) {
                    return None;
                }
                lines.push(None);
            } else {
                let n = *indent.get_or_insert(spaces);
                if spaces < n {
                    break;
                }
                if n <= parent {
                    // Content no deeper than the parent: the scalar is empty.
                    return None;
                }
                let content = &line[n..];
                if folded && content.starts_with(' ') {
                    return None;
                }
                lines.push(Some(content));
            }
            self.next_line();
        }
        // Trailing empty lines belong to the scalar only as line breaks (chomping), and the
        // lines after it start where the content ended.
        let trailing = lines.iter().rev().take_while(|l| l.is_none()).count();
        let content = &lines[..lines.len() - trailing];
        if content.is_empty() {
            return None;
        }
        let mut out = String::new();
        let mut previous_text = false;
        let mut empties = 0;
        for line in content {
            match line {
                None => empties += 1,
                Some(text) => {
                    if folded {
                        if previous_text && empties == 0 {
                            out.push(' ');
                        }
                        out.extend(std::iter::repeat_n('\n', empties));
                    } else {
                        out.extend(std::iter::repeat_n(
                            '\n',
                            empties + usize::from(previous_text),
                        ));
                    }
                    out.push_str(text);
                    previous_text = true;
                    empties = 0;
                }
            }
        }
        match chomp {
            Chomp::Strip => {}
            Chomp::Clip => out.push('\n'),
            Chomp::Keep => out.extend(std::iter::repeat_n('\n', 1 + trailing)),
        }
        let style = if folded {
            ScalarStyle::Folded
        } else {
            ScalarStyle::Literal
        };
        scalar::resolve(Cow::Owned(out), style, None).ok()
    }

    /// A mapping key at the current position, with its `:` and the space after it read.
    fn key(&mut self) -> Option<Key> {
        self.try_key()?
    }

    /// Reads a key when the text at the current position is one (`Some(None)` when it is
    /// not, leaving the position alone; `None` when the scanner must decline).
    fn try_key(&mut self) -> Option<Option<Key>> {
        let start = self.pos;
        let (line, col) = self.position(start);
        let end = self.line_end();
        let (text, after) = match self.bytes[start] {
            b'"' => {
                let text = self.double_quoted()?;
                (
                    scalar::key_text(Cow::Owned(text), ScalarStyle::DoubleQuoted, None),
                    self.pos,
                )
            }
            b'\'' => {
                let text = self.single_quoted()?;
                (
                    scalar::key_text(Cow::Owned(text), ScalarStyle::SingleQuoted, None),
                    self.pos,
                )
            }
            first if is_indicator(first) || matches!(first, b'-' | b'?' | b':') => {
                return Some(None)
            }
            _ => {
                let line = &self.bytes[start..end];
                let mut colon = None;
                for (i, &b) in line.iter().enumerate() {
                    match b {
                        b'#' if i > 0 && line[i - 1] == b' ' => break,
                        b':' if matches!(line.get(i + 1), None | Some(b' ')) => {
                            colon = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(colon) = colon else {
                    return Some(None);
                };
                let raw = self.text[start..start + colon].trim_end_matches(' ');
                if raw.len() > MAX_KEY {
                    return None;
                }
                self.pos = start + raw.len();
                (
                    scalar::key_text(Cow::Borrowed(raw), ScalarStyle::Plain, None),
                    self.pos,
                )
            }
        };
        if after - start > MAX_KEY {
            return None;
        }
        self.skip_spaces();
        if self.peek() != Some(b':')
            || !matches!(self.bytes.get(self.pos + 1), None | Some(b' ' | b'\n'))
        {
            if matches!(self.bytes[start], b'"' | b'\'') {
                // A quoted scalar that is not a key: read it again as a value.
                self.pos = start;
                return Some(None);
            }
            return None;
        }
        let colon = self.position(self.pos);
        self.pos += 1;
        Some(Some(Key {
            text,
            line,
            col,
            colon,
        }))
    }

    /// Counts an opened collection against the depth limit (declining near it, so that the
    /// full parser reports the error).
    fn open(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < self.max_depth).then_some(())
    }

    /// Moves to the first non-space byte of the next line with content (not blank, not only a
    /// comment), from the current position if it is at a line start; returns its indentation.
    fn next_content_line(&mut self) -> Option<usize> {
        loop {
            if self.pos >= self.bytes.len() {
                return None;
            }
            let end = self.line_end();
            let line = &self.bytes[self.line_start..end];
            let indent = line.iter().take_while(|&&b| b == b' ').count();
            if indent < line.len() && line[indent] != b'#' {
                self.pos = self.line_start + indent;
                return Some(indent);
            }
            self.pos = end;
            self.next_line();
        }
    }

    /// Checks only spaces and a comment remain on the line, and moves to the next line.
    fn end_of_line(&mut self) -> Option<()> {
        self.skip_spaces();
        match self.peek() {
            None => {}
            Some(b'\n') => {}
            Some(b'#') if self.pos > self.line_start && self.bytes[self.pos - 1] == b' ' => {}
            Some(_) => return None,
        }
        self.pos = self.line_end();
        self.next_line();
        Some(())
    }

    /// From anywhere on a line, moves to the start of the next one.
    fn next_line(&mut self) {
        let end = self.line_end();
        if end < self.bytes.len() {
            self.pos = end + 1;
            self.line_start = self.pos;
            self.line += 1;
        } else {
            self.pos = end;
        }
    }

    /// Offset of the current line's `\n` (or the end of the text).
    fn line_end(&self) -> usize {
        memchr::memchr(b'\n', &self.bytes[self.pos..]).map_or(self.bytes.len(), |at| self.pos + at)
    }

    fn rest_of_line(&self) -> &'t [u8] {
        &self.bytes[self.pos..self.line_end()]
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Whether only a comment, or nothing, remains on the line.
    fn at_line_end(&self) -> bool {
        match self.peek() {
            None | Some(b'\n') => true,
            Some(b'#') => self.pos > self.line_start && self.bytes[self.pos - 1] == b' ',
            _ => false,
        }
    }

    /// Whether the current position holds a sequence entry's `-`.
    fn at_dash(&self) -> bool {
        self.peek() == Some(b'-')
            && matches!(self.bytes.get(self.pos + 1), None | Some(b' ' | b'\n'))
    }

    /// The 0-based column, in bytes, of a key found at 1-based character column `col` on the
    /// current line; the line must be ASCII up to there (it is spaces and `- `).
    fn column_of(&self, col: u32) -> Option<usize> {
        let column = usize::try_from(col).ok()? - 1;
        self.bytes[self.line_start..self.line_start + column]
            .iter()
            .all(|&b| matches!(b, b' ' | b'-'))
            .then_some(column)
    }

    /// Absolute 1-based line and column (in characters) of an offset on the current line.
    fn position(&self, offset: usize) -> (u32, u32) {
        let before = &self.bytes[self.line_start..offset];
        let col = if before.is_ascii() {
            before.len()
        } else {
            before.iter().filter(|&&b| b & 0xC0 != 0x80).count()
        };
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (
            self.line.saturating_add(self.line_offset),
            clamp(col).saturating_add(1),
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// Bytes that cannot start a plain scalar or key (YAML's c-indicators, less `-`, `?`, `:`,
/// which may when a non-space follows).
fn is_indicator(b: u8) -> bool {
    matches!(
        b,
        b',' | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}
