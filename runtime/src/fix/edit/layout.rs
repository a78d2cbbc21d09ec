//! Where each node of a YAML file lies in its text: byte ranges, styles, anchors and
//! aliases, read from the same parser events as the manifest loader (runtime/src/manifest).

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

use crate::manifest::scalar;

/// A node and the bytes it covers.
#[derive(Debug, Clone)]
pub(super) struct Tree {
    pub kind: Kind,
    /// Byte offset of the node's first character (the `-` of a block sequence, the first key
    /// of a block mapping, the `[` or `{` of a flow collection, the quote of a scalar).
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
    /// Has an anchor (`&a`) or is an alias (`*a`): its text is shared, not editable.
    pub shared: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Scalar(ScalarStyle),
    /// An alias; what it copies is not at this place.
    Alias,
    List {
        flow: bool,
        items: Vec<Tree>,
    },
    Map {
        flow: bool,
        entries: Vec<Entry>,
    },
}

/// A mapping entry: its key as the loader reads it, where the key starts, and its value.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub key: String,
    pub key_start: usize,
    /// Byte offset just past the key (before its `:`).
    pub key_end: usize,
    /// A merge key (`<<`) or an anchored or aliased key: the mapping is not editable.
    pub special: bool,
    pub value: Tree,
}

impl Tree {
    pub fn is_flow(&self) -> bool {
        matches!(
            self.kind,
            Kind::List { flow: true, .. } | Kind::Map { flow: true, .. }
        )
    }

    pub fn is_block_scalar(&self) -> bool {
        matches!(
            self.kind,
            Kind::Scalar(ScalarStyle::Literal | ScalarStyle::Folded)
        )
    }

    /// Whether an anchor or alias lies anywhere in this subtree.
    pub fn holds_shared(&self) -> bool {
        self.shared
            || match &self.kind {
                Kind::List { items, .. } => items.iter().any(Tree::holds_shared),
                Kind::Map { entries, .. } => {
                    entries.iter().any(|e| e.special || e.value.holds_shared())
                }
                _ => false,
            }
    }
}

/// The documents of a file that the loader keeps (not the empty ones), in order.
pub(super) fn documents(text: &str) -> Result<Vec<Tree>, (u32, String)> {
    let offsets = ByteOffsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut docs = Vec::new();
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            (
                u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
                e.info().to_string(),
            )
        })?;
        let start = offsets.of(span.start);
        let node = match event {
            Event::Scalar(value, style, anchor, tag) => {
                if stack.is_empty()
                    && style == ScalarStyle::Plain
                    && tag.is_none()
                    && matches!(&*value, "" | "~" | "null" | "Null" | "NULL")
                {
                    // An empty document, which the loader ignores.
                    continue;
                }
                let end = scalar_end(text, start, style, offsets.of(span.end));
                let keyed = matches!(stack.last(), Some(Open::Map { key: None, .. }));
                if keyed {
                    let merge = style == ScalarStyle::Plain && value == "<<";
                    let key = scalar::key_text(value, style, tag.as_deref());
                    if let Some(Open::Map { key: slot, .. }) = stack.last_mut() {
                        *slot = Some((key, start, end, merge || anchor != 0));
                    }
                    continue;
                }
                let start = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    block_indicator(text, start)
                } else {
                    start
                };
                Tree {
                    kind: Kind::Scalar(style),
                    start,
                    end,
                    shared: anchor != 0,
                }
            }
            Event::Alias(_) => {
                if let Some(Open::Map {
                    key: key @ None, ..
                }) = stack.last_mut()
                {
                    // An aliased key.
                    *key = Some((String::new(), start, offsets.of(span.end), true));
                    continue;
                }
                Tree {
                    kind: Kind::Alias,
                    start,
                    end: offsets.of(span.end),
                    shared: true,
                }
            }
            Event::SequenceStart(anchor, _) => {
                let flow = text[start..offsets.of(span.end)].contains('[');
                let start = if flow {
                    start
                } else {
                    dash_before(text, start)
                };
                stack.push(Open::List {
                    start,
                    flow,
                    shared: anchor != 0,
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                let flow = text[start..offsets.of(span.end)].contains('{');
                stack.push(Open::Map {
                    start,
                    flow,
                    shared: anchor != 0,
                    entries: Vec::new(),
                    key: None,
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::List {
                    start,
                    flow,
                    shared,
                    items,
                }) => {
                    // The span of a closing bracket may run on over a trailing comment.
                    let end = if flow {
                        offsets.of(span.start) + 1
                    } else {
                        items.last().map_or(start, |i| i.end)
                    };
                    Tree {
                        kind: Kind::List { flow, items },
                        start,
                        end,
                        shared,
                    }
                }
                _ => return Err((line_of(text, start), "unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map {
                    start,
                    flow,
                    shared,
                    entries,
                    ..
                }) => {
                    let end = if flow {
                        offsets.of(span.start) + 1
                    } else {
                        entries.last().map_or(start, |e| e.value.end)
                    };
                    Tree {
                        kind: Kind::Map { flow, entries },
                        start,
                        end,
                        shared,
                    }
                }
                _ => return Err((line_of(text, start), "unbalanced mapping".into())),
            },
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => continue,
        };
        match stack.last_mut() {
            None => docs.push(node),
            Some(Open::List { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => {
                let (key, key_start, key_end, special) = key.take().unwrap_or_default();
                let mut node = node;
                if matches!(node.kind, Kind::Scalar(ScalarStyle::Plain)) && node.start == node.end {
                    // An empty value is placed at the `:`; it lies after it.
                    let colon = text[key_end..]
                        .find(':')
                        .map_or(key_end, |c| key_end + c + 1);
                    node.start = colon;
                    node.end = colon;
                }
                entries.push(Entry {
                    key,
                    key_start,
                    key_end,
                    special,
                    value: node,
                });
            }
        }
    }
    Ok(docs)
}

/// A collection whose children are being read.
enum Open {
    List {
        start: usize,
        flow: bool,
        shared: bool,
        items: Vec<Tree>,
    },
    Map {
        start: usize,
        flow: bool,
        shared: bool,
        entries: Vec<Entry>,
        /// The key read, waiting for its value: text, start, end, special.
        key: Option<(String, usize, usize, bool)>,
    },
}

/// The parser's span of a quoted scalar may run on over a trailing comment: find the
/// closing quote. A block scalar runs to the start of the line after its content.
fn scalar_end(text: &str, start: usize, style: ScalarStyle, span_end: usize) -> usize {
    let bytes = text.as_bytes();
    match style {
        ScalarStyle::SingleQuoted => {
            let mut i = start + 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return i + 1;
                }
                i += 1;
            }
            span_end
        }
        ScalarStyle::DoubleQuoted => {
            let mut i = start + 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return i + 1,
                    _ => i += 1,
                }
            }
            span_end
        }
        _ => span_end.max(start),
    }
}

/// The parser places a block scalar at its content; its `|` or `>` comes before.
fn block_indicator(text: &str, content: usize) -> usize {
    text[..content].rfind(['|', '>']).unwrap_or(content)
}

/// A block sequence may be placed at its first item's content: move back to the `-`.
fn dash_before(text: &str, start: usize) -> usize {
    let before = text[..start].trim_end_matches(' ');
    if before.ends_with('-') && text.as_bytes().get(start) != Some(&b'-') {
        before.len() - 1
    } else {
        start
    }
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> u32 {
    let n = memchr::memchr_iter(b'\n', &text.as_bytes()[..offset.min(text.len())]).count() + 1;
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Character indexes (as the parser counts) to byte offsets.
struct ByteOffsets {
    /// Byte offset of each character, when the text is not all ASCII.
    table: Option<Vec<usize>>,
    len: usize,
}

impl ByteOffsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        ByteOffsets {
            table,
            len: text.len(),
        }
    }

    fn of(&self, mark: Marker) -> usize {
        let index = mark.index();
        match &self.table {
            None => index.min(self.len),
            Some(t) => t.get(index).copied().unwrap_or(self.len),
        }
    }
}
