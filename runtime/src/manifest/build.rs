//! Builds [`Node`] trees from saphyr parser events and sorts documents into objects.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span};

use super::{block, scalar, Limits, LoadError, Loaded, Node, Object, Value};

/// Maps with more entries than this get a hash index for the duplicate-key check; smaller
/// ones are scanned, which is faster and allocates nothing.
const INDEX_THRESHOLD: usize = 32;

/// How many misindented closing brackets one document may have before we give up on it.
const MAX_BRACKET_FIXES: usize = 100;

/// Why parsing a chunk stopped.
enum Failure {
    /// The YAML parser rejected the text; the marker is relative to the chunk.
    Scan(ScanError),
    /// The text is YAML but breaks one of our rules; the position is absolute.
    Load(LoadError),
}

/// A value anchored with `&name`, kept for the aliases that copy it.
struct Anchored {
    node: Node,
    /// Number of nodes in `node`, charged to the expansion budget on every alias.
    size: usize,
    /// Collection nesting depth of `node` (0 for a scalar).
    depth: usize,
}

/// A mapping key waiting for its value.
struct PendingKey {
    text: String,
    line: u32,
    col: u32,
    /// A plain `<<`: the value is merged into the mapping instead of stored under a key.
    merge: bool,
}

enum FrameKind {
    List,
    Map {
        key: Option<PendingKey>,
        /// Key to entry index (absolute in `Builder::entries`), built once the map is large.
        index: Option<HashMap<String, usize>>,
        /// Merged mappings, with the number of explicit entries that preceded each `<<`.
        merges: Vec<(usize, Vec<(String, Node)>)>,
    },
}

/// An open collection. Its children live in the builder's shared stacks from `start` on, so
/// that a collection costs one exact-size allocation when it is closed.
struct Frame {
    kind: FrameKind,
    start: usize,
    line: u32,
    col: u32,
    anchor: usize,
}

/// State saved at the start of a chunk so that a re-parse can start over cleanly.
#[derive(Clone, Copy)]
struct Snapshot {
    objects: usize,
    skipped: usize,
    documents: usize,
    next_doc_index: usize,
}

/// The text being parsed and how to turn its positions into absolute ones.
struct Source<'t> {
    text: &'t str,
    line_offset: u32,
    /// 1-based line (relative to `text`) that starts at byte `cursor_offset`.
    cursor_line: usize,
    cursor_offset: usize,
    /// End of the previous event, where the search for a block scalar's indicator starts.
    last_end: Marker,
}

impl Source<'_> {
    fn position(&self, mark: Marker) -> (u32, u32) {
        self.absolute(mark.line(), mark.col())
    }

    /// Absolute 1-based position of a relative 1-based line and 0-based column.
    fn absolute(&self, line: usize, col: usize) -> (u32, u32) {
        let line = u32::try_from(line)
            .unwrap_or(u32::MAX)
            .saturating_add(self.line_offset);
        let col = u32::try_from(col).unwrap_or(u32::MAX).saturating_add(1);
        (line, col)
    }

    /// The parser places a block scalar at its content; move it back to its `|` or `>`,
    /// the first one after the previous event, unless a property (`&`, `!`) comes first, in
    /// which case the span already starts there.
    fn block_scalar_position(&mut self, start: Marker) -> (u32, u32) {
        let from = self.last_end;
        for line in from.line()..=start.line() {
            let skip = if line == from.line() { from.col() } else { 0 };
            let found = self
                .line_text(line)
                .chars()
                .enumerate()
                .skip(skip)
                .find(|(_, c)| matches!(c, '|' | '>' | '&' | '!'));
            match found {
                Some((col, '|' | '>')) => return self.absolute(line, col),
                Some(_) => break,
                None => {}
            }
        }
        self.position(start)
    }

    /// Returns the text of the given 1-based relative line (without its newline).
    fn line_text(&mut self, line: usize) -> &str {
        if line < self.cursor_line {
            self.cursor_line = 1;
            self.cursor_offset = 0;
        }
        let bytes = self.text.as_bytes();
        while self.cursor_line < line {
            match memchr::memchr(b'\n', &bytes[self.cursor_offset..]) {
                Some(at) => {
                    self.cursor_offset += at + 1;
                    self.cursor_line += 1;
                }
                None => break,
            }
        }
        let rest = &self.text[self.cursor_offset..];
        let end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        &rest[..end]
    }

    /// The parser places an indentless block sequence (`key:\n- item`) at its first item;
    /// move it back to the `-` so that the node starts at its first character.
    fn sequence_column(&mut self, mark: Marker) -> usize {
        let col = mark.col();
        let line = self.line_text(mark.line());
        let Some((at, c)) = line.char_indices().nth(col) else {
            return col;
        };
        if c == '-' {
            return col;
        }
        let before = line[..at].trim_end_matches(' ');
        if before.ends_with('-') {
            // Only spaces lie between the dash and `at`, one byte and one column each.
            col - (at - (before.len() - 1))
        } else {
            col
        }
    }
}

/// Turns parser events into nodes and objects.
pub(super) struct Builder<'l> {
    limits: &'l Limits,
    /// Top-level sequences are streams of documents (JSON arrays).
    top_level_list_is_stream: bool,
    frames: Vec<Frame>,
    items: Vec<Node>,
    entries: Vec<(String, Node)>,
    /// Line of each key in `entries`, for the duplicate-key message.
    key_lines: Vec<u32>,
    anchors: Vec<Option<Anchored>>,
    /// Nodes copied by aliases in the current document.
    expanded: usize,
    /// Every document seen, empty ones included, for the document limit.
    documents: usize,
    next_doc_index: usize,
    loaded: Loaded,
}

impl<'l> Builder<'l> {
    pub(super) fn new(limits: &'l Limits, top_level_list_is_stream: bool) -> Self {
        Builder {
            limits,
            top_level_list_is_stream,
            frames: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            key_lines: Vec::new(),
            anchors: Vec::new(),
            expanded: 0,
            documents: 0,
            next_doc_index: 0,
            loaded: Loaded::default(),
        }
    }

    pub(super) fn finish(self) -> Loaded {
        self.loaded
    }

    /// Loads one chunk of whole documents starting at absolute line `line_offset + 1`.
    ///
    /// Kubernetes' YAML library (like libyaml and PyYAML) accepts a flow collection whose
    /// closing bracket is less indented than the YAML spec demands (`args: [\n  "a",\n]`), and
    /// real manifests rely on it; saphyr rejects it. When that is the error, the bracket is
    /// indented in a copy of the chunk and the chunk parsed again: lines stay where they were,
    /// and only the bracket's own column moves.
    pub(super) fn load_chunk(&mut self, text: &str, line_offset: u32) -> Result<(), LoadError> {
        let snapshot = self.snapshot();
        let mut error = match self.parse(text, line_offset) {
            Ok(()) => return Ok(()),
            Err(Failure::Load(error)) => return Err(error),
            Err(Failure::Scan(error)) => error,
        };
        let original = scan_error(&error, line_offset);
        let mut patched = text.to_owned();
        let mut patched_lines = Vec::new();
        loop {
            if patched_lines.len() == MAX_BRACKET_FIXES
                || patched_lines.contains(&error.marker().line())
                || !indent_closing_bracket(&mut patched, &error)
            {
                return Err(if patched_lines.is_empty() {
                    original
                } else {
                    scan_error(&error, line_offset)
                });
            }
            patched_lines.push(error.marker().line());
            self.restore(snapshot);
            error = match self.parse(&patched, line_offset) {
                Ok(()) => return Ok(()),
                Err(Failure::Load(error)) => return Err(error),
                // A new error on a line we moved is better reported as the first one.
                Err(Failure::Scan(error)) if patched_lines.contains(&error.marker().line()) => {
                    return Err(original)
                }
                Err(Failure::Scan(error)) => error,
            };
        }
    }

    /// Loads one chunk with the block scanner; `false` (and nothing changed) when the chunk
    /// is outside the scanner's subset, or in a stream of JSON array elements.
    pub(super) fn load_block_chunk(&mut self, text: &str, line_offset: u32) -> bool {
        if self.top_level_list_is_stream {
            return false;
        }
        let Some(documents) = block::parse(text, line_offset, self.limits.max_depth) else {
            return false;
        };
        if self.documents + documents.len() > self.limits.max_documents {
            return false;
        }
        self.documents += documents.len();
        for root in documents {
            self.document(root);
        }
        true
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            objects: self.loaded.objects.len(),
            skipped: self.loaded.skipped,
            documents: self.documents,
            next_doc_index: self.next_doc_index,
        }
    }

    fn restore(&mut self, snapshot: Snapshot) {
        self.loaded.objects.truncate(snapshot.objects);
        self.loaded.skipped = snapshot.skipped;
        self.documents = snapshot.documents;
        self.next_doc_index = snapshot.next_doc_index;
    }

    fn parse(&mut self, text: &str, line_offset: u32) -> Result<(), Failure> {
        self.frames.clear();
        self.items.clear();
        self.entries.clear();
        self.key_lines.clear();
        let mut source = Source {
            text,
            line_offset,
            cursor_line: 1,
            cursor_offset: 0,
            last_end: Marker::new(0, 1, 0),
        };
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(Failure::Scan)?;
            self.event(event, span, &mut source)
                .map_err(Failure::Load)?;
            source.last_end = span.end;
        }
        Ok(())
    }

    fn event(
        &mut self,
        event: Event<'_>,
        span: Span,
        source: &mut Source,
    ) -> Result<(), LoadError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > self.limits.max_documents {
                    let (line, col) = source.position(span.start);
                    return Err(LoadError::new(
                        line,
                        col,
                        format!("more than {} documents", self.limits.max_documents),
                    ));
                }
                self.anchors.clear();
                self.expanded = 0;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let (line, col) = match style {
                    ScalarStyle::Literal | ScalarStyle::Folded => {
                        source.block_scalar_position(span.start)
                    }
                    _ => source.position(span.start),
                };
                if self.expected_key().is_some() {
                    let merge = style == ScalarStyle::Plain && text == "<<";
                    let text = scalar::key_text(text, style, tag.as_deref());
                    if anchor != 0 {
                        let node = Node::new(Value::String(text.clone()), line, col);
                        self.define_anchor(anchor, &node);
                    }
                    *self.expected_key().expect("checked above") = Some(PendingKey {
                        text,
                        line,
                        col,
                        merge,
                    });
                    return Ok(());
                }
                let value = scalar::resolve(text, style, tag.as_deref())
                    .map_err(|message| LoadError::new(line, col, message))?;
                let node = Node::new(value, line, col);
                if anchor != 0 {
                    self.define_anchor(anchor, &node);
                }
                self.push(node)?;
            }
            Event::SequenceStart(anchor, _) => {
                let mark = span.start;
                let col = if span.start == span.end {
                    source.sequence_column(mark)
                } else {
                    mark.col()
                };
                let (line, _) = source.position(mark);
                let col = u32::try_from(col).unwrap_or(u32::MAX).saturating_add(1);
                let (line, col) = self.value_position(line, col);
                self.open(FrameKind::List, self.items.len(), line, col, anchor)?;
            }
            Event::MappingStart(anchor, _) => {
                let (line, col) = source.position(span.start);
                let (line, col) = self.value_position(line, col);
                let kind = FrameKind::Map {
                    key: None,
                    index: None,
                    merges: Vec::new(),
                };
                self.open(kind, self.entries.len(), line, col, anchor)?;
            }
            Event::SequenceEnd => {
                let frame = self.frames.pop().expect("the parser balances sequences");
                let items: Vec<Node> = self.items.drain(frame.start..).collect();
                self.close(frame, Value::List(items))?;
            }
            Event::MappingEnd => {
                let frame = self.frames.pop().expect("the parser balances mappings");
                let mut entries: Vec<(String, Node)> = self.entries.drain(frame.start..).collect();
                self.key_lines.truncate(frame.start);
                if let FrameKind::Map { merges, .. } = &frame.kind {
                    if !merges.is_empty() {
                        entries = apply_merges(entries, merges);
                    }
                }
                self.close(frame, Value::Map(entries))?;
            }
            Event::Alias(id) => {
                let (line, col) = source.position(span.start);
                self.alias(id, line, col)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// Where a collection starting at `line`:`col` is placed: a block collection that is a
    /// mapping's value (it starts on a later line than its key) is placed at its key, so
    /// that a finding on it, or on a field missing from it, points at `spec:` and not at
    /// its first entry, which may be any unrelated field.
    fn value_position(&self, line: u32, col: u32) -> (u32, u32) {
        match self.frames.last() {
            Some(Frame {
                kind: FrameKind::Map { key: Some(key), .. },
                ..
            }) if key.line < line => (key.line, key.col),
            _ => (line, col),
        }
    }

    /// The key slot of the innermost mapping when it is waiting for a key.
    fn expected_key(&mut self) -> Option<&mut Option<PendingKey>> {
        match self.frames.last_mut() {
            Some(Frame {
                kind: FrameKind::Map { key, .. },
                ..
            }) if key.is_none() => Some(key),
            _ => None,
        }
    }

    fn open(
        &mut self,
        kind: FrameKind,
        start: usize,
        line: u32,
        col: u32,
        anchor: usize,
    ) -> Result<(), LoadError> {
        if self.expected_key().is_some() {
            return Err(LoadError::new(line, col, "mapping keys must be scalars"));
        }
        if self.frames.len() >= self.limits.max_depth {
            return Err(depth_error(line, col, self.limits.max_depth));
        }
        self.frames.push(Frame {
            kind,
            start,
            line,
            col,
            anchor,
        });
        Ok(())
    }

    fn close(&mut self, frame: Frame, value: Value) -> Result<(), LoadError> {
        let node = Node::new(value, frame.line, frame.col);
        if frame.anchor != 0 {
            self.define_anchor(frame.anchor, &node);
        }
        self.push(node)
    }

    fn define_anchor(&mut self, id: usize, node: &Node) {
        if self.anchors.len() <= id {
            self.anchors.resize_with(id + 1, || None);
        }
        let (size, depth) = measure(node);
        self.anchors[id] = Some(Anchored {
            node: node.clone(),
            size,
            depth,
        });
    }

    fn alias(&mut self, id: usize, line: u32, col: u32) -> Result<(), LoadError> {
        let Some(Some(anchored)) = self.anchors.get(id) else {
            // The parser knows the anchor, so it is still open: the alias is inside it.
            return Err(LoadError::new(
                line,
                col,
                "alias refers to its own enclosing anchor",
            ));
        };
        if self.frames.len() + anchored.depth > self.limits.max_depth {
            return Err(depth_error(line, col, self.limits.max_depth));
        }
        self.expanded = self.expanded.saturating_add(anchored.size);
        if self.expanded > self.limits.max_alias_expansion {
            return Err(LoadError::new(
                line,
                col,
                format!(
                    "aliases expand to more than {} nodes in one document",
                    self.limits.max_alias_expansion
                ),
            ));
        }
        let mut node = anchored.node.clone();
        node.line = line;
        node.col = col;
        if let Some(key) = self.expected_key() {
            let text = match &node.value {
                Value::String(s) => s.clone(),
                Value::Null => "null".to_owned(),
                Value::Bool(b) => b.to_string(),
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::List(_) | Value::Map(_) => {
                    return Err(LoadError::new(line, col, "mapping keys must be scalars"))
                }
            };
            *key = Some(PendingKey {
                text,
                line,
                col,
                merge: false,
            });
            return Ok(());
        }
        self.push(node)
    }

    /// Adds a finished node to the innermost collection, or ends the document with it.
    fn push(&mut self, node: Node) -> Result<(), LoadError> {
        let Some(frame) = self.frames.last_mut() else {
            self.document(node);
            return Ok(());
        };
        let FrameKind::Map { key, index, merges } = &mut frame.kind else {
            self.items.push(node);
            return Ok(());
        };
        let key = key.take().expect("a value follows its key");
        if key.merge {
            let explicit = self.entries.len() - frame.start;
            return merge_sources(node, &mut |entries| merges.push((explicit, entries)));
        }
        let first = match index {
            Some(index) => index.get(&key.text).copied(),
            None => self.entries[frame.start..]
                .iter()
                .position(|(k, _)| *k == key.text)
                .map(|i| frame.start + i),
        };
        if let Some(first) = first {
            return Err(LoadError::new(
                key.line,
                key.col,
                format!(
                    "duplicate key `{}` (first at line {})",
                    key.text, self.key_lines[first]
                ),
            ));
        }
        match index {
            Some(index) => {
                index.insert(key.text.clone(), self.entries.len());
            }
            None if self.entries.len() - frame.start >= INDEX_THRESHOLD => {
                let mut built = HashMap::with_capacity(INDEX_THRESHOLD * 2);
                for (i, (k, _)) in self.entries.iter().enumerate().skip(frame.start) {
                    built.insert(k.clone(), i);
                }
                built.insert(key.text.clone(), self.entries.len());
                *index = Some(built);
            }
            None => {}
        }
        self.entries.push((key.text, node));
        self.key_lines.push(key.line);
        Ok(())
    }

    /// Handles a finished document root (or one element of a top-level JSON array).
    fn document(&mut self, node: Node) {
        // An empty document (`---` followed by nothing) resolves to null and is ignored.
        if matches!(node.value, Value::Null) {
            return;
        }
        if self.top_level_list_is_stream {
            if let Value::List(items) = node.value {
                for item in items {
                    let doc_index = self.next_doc_index;
                    self.next_doc_index += 1;
                    self.loaded.document(item, doc_index);
                }
                return;
            }
        }
        let doc_index = self.next_doc_index;
        self.next_doc_index += 1;
        self.loaded.document(node, doc_index);
    }
}

impl Loaded {
    /// Sorts one document into objects: a `*List` with `items` gives its items, a document
    /// without string `apiVersion` and `kind` is counted as skipped.
    pub(super) fn document(&mut self, node: Node, doc_index: usize) {
        let is_list = match type_meta(&node) {
            Some((_, kind)) => {
                kind.ends_with("List") && node.get("items").and_then(Node::as_list).is_some()
            }
            None => {
                self.skipped += 1;
                return;
            }
        };
        if !is_list {
            self.object(node, doc_index, None);
            return;
        }
        let Value::Map(entries) = node.value else {
            unreachable!("type_meta only accepts mappings")
        };
        for (key, value) in entries {
            if key != "items" {
                continue;
            }
            let Value::List(items) = value.value else {
                unreachable!("checked above")
            };
            for (i, item) in items.into_iter().enumerate() {
                self.object(item, doc_index, Some(i));
            }
            break;
        }
    }

    fn object(&mut self, node: Node, doc_index: usize, item_index: Option<usize>) {
        let Some((api_version, kind)) = type_meta(&node) else {
            self.skipped += 1;
            return;
        };
        let (api_version, kind) = (api_version.to_owned(), kind.to_owned());
        let metadata = node.get("metadata");
        let text = |field: &str| {
            metadata
                .and_then(|m| m.get(field))
                .and_then(Node::as_str)
                .map(str::to_owned)
        };
        let name = text("name");
        let namespace = text("namespace");
        self.objects.push(Object {
            node,
            doc_index,
            item_index,
            api_version,
            kind,
            name,
            namespace,
        });
    }
}

/// `apiVersion` and `kind` of an object, when both are strings.
fn type_meta(node: &Node) -> Option<(&str, &str)> {
    let api_version = node.get("apiVersion")?.as_str()?;
    let kind = node.get("kind")?.as_str()?;
    Some((api_version, kind))
}

/// Hands the mappings named by a `<<` value to `sink`, in order.
fn merge_sources(node: Node, sink: &mut dyn FnMut(Vec<(String, Node)>)) -> Result<(), LoadError> {
    let (line, col) = (node.line, node.col);
    let bad = || {
        LoadError::new(
            line,
            col,
            "the value of a merge key `<<` must be a mapping or a list of mappings",
        )
    };
    match node.value {
        Value::Map(entries) => sink(entries),
        Value::List(items) => {
            for item in items {
                let Value::Map(entries) = item.value else {
                    return Err(bad());
                };
                sink(entries);
            }
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// Adds merged entries where their `<<` stood; explicit keys win, then earlier merges.
fn apply_merges(
    entries: Vec<(String, Node)>,
    merges: &[(usize, Vec<(String, Node)>)],
) -> Vec<(String, Node)> {
    let mut taken: HashSet<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    let mut out =
        Vec::with_capacity(entries.len() + merges.iter().map(|m| m.1.len()).sum::<usize>());
    let mut pending = merges.iter().peekable();
    let mut add_merges_before = |position: usize, out: &mut Vec<(String, Node)>| {
        while let Some((_, merged)) = pending.next_if(|(at, _)| *at <= position) {
            for (k, v) in merged {
                if taken.insert(k.clone()) {
                    out.push((k.clone(), v.clone()));
                }
            }
        }
    };
    for (i, entry) in entries.into_iter().enumerate() {
        add_merges_before(i, &mut out);
        out.push(entry);
    }
    add_merges_before(usize::MAX, &mut out);
    out
}

/// Number of nodes and collection depth of a tree.
fn measure(node: &Node) -> (usize, usize) {
    match &node.value {
        Value::List(items) => items.iter().fold((1, 1), |(size, depth), item| {
            let (s, d) = measure(item);
            (size + s, depth.max(d + 1))
        }),
        Value::Map(entries) => entries.iter().fold((1, 1), |(size, depth), (_, value)| {
            let (s, d) = measure(value);
            (size + s, depth.max(d + 1))
        }),
        _ => (1, 0),
    }
}

fn depth_error(line: u32, col: u32, max_depth: usize) -> LoadError {
    LoadError::new(
        line,
        col,
        format!("nesting is deeper than the limit of {max_depth} levels"),
    )
}

fn scan_error(error: &ScanError, line_offset: u32) -> LoadError {
    let mark = error.marker();
    let line = u32::try_from(mark.line())
        .unwrap_or(u32::MAX)
        .saturating_add(line_offset);
    let col = u32::try_from(mark.col())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    LoadError::new(line, col, error.info().to_owned())
}

/// If `error` is saphyr's complaint about a closing `]` or `}`, indents that bracket one
/// column past the previous content line (always enough, see `Builder::load_chunk`).
fn indent_closing_bracket(text: &mut String, error: &ScanError) -> bool {
    if error.info() != "invalid indentation" {
        return false;
    }
    let mark = error.marker();
    let mut line_start = 0;
    let mut previous_indent = None;
    for _ in 1..mark.line() {
        let Some(at) = memchr::memchr(b'\n', &text.as_bytes()[line_start..]) else {
            return false;
        };
        let line = &text[line_start..line_start + at];
        let content = line.trim_start_matches(' ');
        if !content.trim().is_empty() && !content.starts_with('#') {
            previous_indent = Some(line.len() - content.len());
        }
        line_start += at + 1;
    }
    let Some(previous_indent) = previous_indent else {
        return false;
    };
    let line = &text[line_start..];
    let Some((at, bracket)) = line.char_indices().nth(mark.col()) else {
        return false;
    };
    if !matches!(bracket, ']' | '}') || !line[..at].bytes().all(|b| b == b' ') {
        return false;
    }
    let wanted = (previous_indent + 1).max(mark.col() + 1);
    let padding = " ".repeat(wanted - mark.col());
    text.insert_str(line_start + at, &padding);
    true
}
