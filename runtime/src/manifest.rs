//! Loads Kubernetes manifests (YAML or JSON) into trees that remember where every value is.
//!
//! # Parser
//!
//! Parsing uses `saphyr-parser`, the maintained event parser of the yaml-rust line (yaml-rust2
//! shares its scanner; serde_yaml is archived and drops positions). Its events carry spans, it
//! borrows scalars from the input instead of copying them, and its state machine is iterative,
//! so deep input cannot overflow the stack. JSON is read by the same parser (JSON is YAML), so
//! both formats get positions the same way. A top-level JSON array is a stream: each element is
//! a document.
//!
//! # Positions
//!
//! Lines and columns are 1-based; columns count characters. A node is placed at its first
//! character, which for a node with an anchor or tag is the `&` or `!` (as in go-yaml), for a
//! block sequence its first `-`, and for an alias copy the `*` of the alias; the copied
//! children keep the positions of the anchored text.
//!
//! # Scalars
//!
//! Plain scalars are resolved as sigs.k8s.io/yaml (go-yaml v2, then encoding/json) resolves
//! them for `kubectl apply`, so a rule sees what the API server receives (spec/language.md
//! §4.10, with a table of examples that `scalar.rs` tests row by row): YAML 1.1 booleans
//! (`yes`, `on`, `y` and their opposites, three spellings each), null (`~`, `null`, empty),
//! integers as Go's `ParseInt(s, 0, 64)` after removing `_` (`0755` is 493, `0x1F` 31,
//! `0b1010` 10), floats, of which an integral one is an integer (`1e3` is 1000, as the JSON
//! kubectl sends says), and strings for the rest (`1:20`, dates). `.inf` and `.nan` are
//! errors: kubectl cannot write them as JSON. Plain keys resolve the same way and become the
//! JSON text of their value (`on:` is the key `"true"`).
//!
//! Quoted and block scalars are always strings. The core tags `!!str`, `!!int`, `!!float`,
//! `!!bool` and `!!null` are honoured (a value that does not fit is an error), other core tags
//! keep the text, and the non-specific `!` makes a string; unknown tags are ignored.
//!
//! # Documents
//!
//! Empty documents are ignored and take no `doc_index`. A document whose `apiVersion` and
//! `kind` are not both strings is counted in [`Loaded::skipped`]. A `v1` `List`, and any kind
//! ending in `List` that has an `items` list, is replaced by its items.
//!
//! Anchors and aliases are resolved by copying, and merge keys (`<<`) are supported, with
//! explicit keys winning over merged ones. Duplicate keys are an error, as on the API server.
//!
//! Like go-yaml and PyYAML, the loader accepts a closing `]` or `}` that is no more indented
//! than the key owning the flow collection, which the YAML spec (and saphyr) reject but real
//! manifests use.

mod block;
mod build;
mod json;
pub(crate) mod scalar;

use std::fmt;

use build::Builder;
pub use json::load_json;

/// A YAML/JSON value with the position of its first character (1-based line and column);
/// a block list or mapping that is a mapping's value is placed at its key (`spec:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line of the node's first character (of its key, for a block collection).
    pub line: u32,
    /// 1-based column (in characters) of that character.
    pub col: u32,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing at all.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    List(Vec<Node>),
    /// A mapping in source order; non-string scalar keys are kept as their text.
    Map(Vec<(String, Node)>),
}

/// One Kubernetes object found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The whole object.
    pub node: Node,
    /// 0-based index of the (non-empty) document holding the object.
    pub doc_index: usize,
    /// Index of the object in the `items` of a `List`, if it came from one.
    pub item_index: Option<usize>,
    /// The object's `apiVersion`.
    pub api_version: String,
    /// The object's `kind`.
    pub kind: String,
    /// `metadata.name`, if it is a string.
    pub name: Option<String>,
    /// `metadata.namespace`, if it is a string.
    pub namespace: Option<String>,
}

/// Everything found in one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The objects, in file order, lists flattened.
    pub objects: Vec<Object>,
    /// Non-empty documents (or list items) without string `apiVersion` and `kind`.
    pub skipped: usize,
}

/// Bounds that keep hostile or broken input from exhausting time or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of lists and maps.
    pub max_depth: usize,
    /// Most documents accepted in one input, empty ones included.
    pub max_documents: usize,
    /// Most nodes that aliases may copy in one document (stops "billion laughs").
    pub max_alias_expansion: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 64 << 20,
            max_depth: 200,
            max_documents: 10_000,
            max_alias_expansion: 1_000_000,
        }
    }
}

/// Why a file could not be loaded, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// 1-based line of the problem.
    pub line: u32,
    /// 1-based column (in characters) of the problem.
    pub col: u32,
    /// What is wrong, lowercase, one line.
    pub message: String,
}

impl LoadError {
    fn new(line: u32, col: u32, message: impl Into<String>) -> Self {
        LoadError {
            line,
            col,
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for LoadError {}

/// Loads every Kubernetes object from YAML or JSON text.
///
/// Each document is read by the block scanner when it stays within the block-style subset
/// that manifests use (`block.rs`), and by the full YAML parser otherwise; both give the
/// same trees, positions and errors.
pub fn load(text: &str, limits: &Limits) -> Result<Loaded, LoadError> {
    load_with(text, limits, Parsers::BlockFirst).map(|(loaded, _)| loaded)
}

/// Loads with the full YAML parser only: the reference the block scanner is tested against.
pub fn load_full(text: &str, limits: &Limits) -> Result<Loaded, LoadError> {
    load_with(text, limits, Parsers::FullOnly).map(|(loaded, _)| loaded)
}

/// Loads with the block scanner only: `None` when any document of the text is outside its
/// subset (or the text is not accepted at all), so that tests can tell which inputs it reads.
pub fn load_block(text: &str, limits: &Limits) -> Option<Loaded> {
    match load_with(text, limits, Parsers::BlockOnly) {
        Ok((loaded, true)) => Some(loaded),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Parsers {
    BlockFirst,
    FullOnly,
    BlockOnly,
}

/// Loads the text chunk by chunk; the flag says whether the block scanner read every chunk.
fn load_with(text: &str, limits: &Limits, parsers: Parsers) -> Result<(Loaded, bool), LoadError> {
    check_size(text.as_bytes(), limits)?;
    // The parser would read a NUL as the end of the input and silently drop the rest.
    if let Some(at) = memchr::memchr(0, text.as_bytes()) {
        return Err(binary_error(text.as_bytes(), at));
    }
    let first = text
        .trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace())
        .as_bytes()
        .first();
    let mut builder = Builder::new(limits, first == Some(&b'['));
    let mut line_offset = 0u32;
    let mut all_block = true;
    for chunk in chunks(text) {
        let read = parsers != Parsers::FullOnly && builder.load_block_chunk(chunk, line_offset);
        if !read {
            all_block = false;
            if parsers == Parsers::BlockOnly {
                break;
            }
            builder.load_chunk(chunk, line_offset)?;
        }
        let lines = memchr::memchr_iter(b'\n', chunk.as_bytes()).count();
        line_offset = line_offset.saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
    }
    Ok((builder.finish(), all_block))
}

/// Loads every Kubernetes object from the bytes of a file, which must be UTF-8 text.
pub fn load_bytes(bytes: &[u8], limits: &Limits) -> Result<Loaded, LoadError> {
    load(text_of(bytes, limits)?, limits)
}

/// The bytes of a manifest file as its text, checked as [`load_bytes`] checks them: within
/// the size limit, and UTF-8 (the error names the first byte that is not, or a NUL before
/// it: a binary file).
pub fn text_of<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, LoadError> {
    check_size(bytes, limits)?;
    std::str::from_utf8(bytes).map_err(|error| {
        let bad = error.valid_up_to();
        // A NUL before the bad byte says "binary" more clearly than the encoding error.
        if let Some(at) = memchr::memchr(0, &bytes[..bad]) {
            return binary_error(bytes, at);
        }
        let (line, col) = position_of(bytes, bad);
        LoadError::new(
            line,
            col,
            format!("invalid utf-8: unexpected byte 0x{:02x}", bytes[bad]),
        )
    })
}

fn check_size(bytes: &[u8], limits: &Limits) -> Result<(), LoadError> {
    if bytes.len() <= limits.max_bytes {
        return Ok(());
    }
    let (line, col) = position_of(bytes, limits.max_bytes);
    Err(LoadError::new(
        line,
        col,
        format!(
            "input is larger than the limit of {} bytes",
            limits.max_bytes
        ),
    ))
}

fn binary_error(bytes: &[u8], at: usize) -> LoadError {
    let (line, col) = position_of(bytes, at);
    LoadError::new(line, col, "binary content: found a NUL byte")
}

/// Line and column of byte `offset`, counting characters as UTF-8 lead bytes so that it also
/// works on invalid input.
fn position_of(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = &bytes[..offset];
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |at| at + 1);
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let col = before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count()
        + 1;
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (clamp(line), clamp(col))
}

/// Splits the text before each `---` line (and the directives right above it), so that every
/// chunk holds whole documents and can be parsed, and if need be re-parsed, on its own.
fn chunks(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut boundaries = memchr::memmem::find_iter(bytes, b"\n---")
        .map(|at| at + 1)
        .filter(|&start| {
            matches!(
                bytes.get(start + 3),
                None | Some(b' ' | b'\t' | b'\r' | b'\n')
            )
        })
        .map(|mut start| {
            // Keep `%YAML`/`%TAG` directives with the document they belong to.
            while start > 0 {
                let previous = memchr::memrchr(b'\n', &bytes[..start - 1]).map_or(0, |at| at + 1);
                if bytes[previous] != b'%' {
                    break;
                }
                start = previous;
            }
            start
        })
        .chain(std::iter::once(text.len()));
    let mut start = 0;
    std::iter::from_fn(move || loop {
        let end = boundaries.next()?;
        if end > start || end == text.len() {
            let chunk = &text[start..end];
            start = end;
            return Some(chunk);
        }
    })
    .filter(|chunk| !chunk.is_empty())
}

impl Node {
    /// Makes a node at the given 1-based position.
    pub fn new(value: Value, line: u32, col: u32) -> Self {
        Node { value, line, col }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, when this node is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when this node is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, when this node is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The items, when this node is a list.
    pub fn as_list(&self) -> Option<&[Node]> {
        match &self.value {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, when this node is a mapping.
    pub fn as_map(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Converts to JSON; `.inf` and `.nan`, which JSON cannot hold, become null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::List(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Follows a path; returns the deepest node that exists and how many segments were matched.
    pub fn locate(&self, path: &[PathSegment]) -> (&Node, usize) {
        let mut node = self;
        for (matched, segment) in path.iter().enumerate() {
            let next = match segment {
                PathSegment::Field(key) | PathSegment::Key(key) => node.get(key),
                PathSegment::Index(i) => node.as_list().and_then(|items| items.get(*i)),
            };
            match next {
                Some(next) => node = next,
                None => return (node, matched),
            }
        }
        (node, path.len())
    }
}

/// One step of a path into a [`Node`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSegment {
    /// A schema field, such as `spec`.
    Field(String),
    /// A list index.
    Index(usize),
    /// A user-chosen map key, such as an annotation name.
    Key(String),
}

/// Formats a path as `spec.containers[0].securityContext` or `metadata.annotations["a.b/c"]`.
pub fn format_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Field(name) | PathSegment::Key(name) if is_plain_name(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            PathSegment::Field(name) | PathSegment::Key(name) => {
                out.push('[');
                // JSON string syntax escapes quotes, backslashes and control characters.
                out.push_str(&serde_json::Value::from(name.as_str()).to_string());
                out.push(']');
            }
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Names that read unambiguously after a dot.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        chunks(text).collect()
    }

    #[test]
    fn chunks_split_before_document_markers_only() {
        assert_eq!(split("a: 1\n---\nb: 2\n"), ["a: 1\n", "---\nb: 2\n"]);
        assert_eq!(
            split("---\na: 1\n--- |\n x\n"),
            ["---\na: 1\n", "--- |\n x\n"]
        );
        assert_eq!(split("a: |\n ---x\n----\n"), ["a: |\n ---x\n----\n"]);
        assert_eq!(split("a: 1\n---"), ["a: 1\n", "---"]);
        assert_eq!(split(""), Vec::<&str>::new());
    }

    #[test]
    fn chunks_keep_directives_with_their_document() {
        assert_eq!(
            split("a: 1\n...\n%YAML 1.2\n---\nb: 2\n"),
            ["a: 1\n...\n", "%YAML 1.2\n---\nb: 2\n"]
        );
        assert_eq!(split("%YAML 1.2\n---\nb: 2\n"), ["%YAML 1.2\n---\nb: 2\n"]);
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(position_of("ab\ncé d".as_bytes(), 7), (2, 4));
        assert_eq!(position_of(b"abc", 0), (1, 1));
    }

    #[test]
    fn document_marker_positions_survive_chunking() {
        let text = "a: 1\n---\nkind: X\napiVersion: v1\nmetadata:\n  name: n\n";
        let loaded = load(text, &Limits::default()).unwrap();
        let name = loaded.objects[0]
            .node
            .get("metadata")
            .unwrap()
            .get("name")
            .unwrap();
        assert_eq!((name.line, name.col), (6, 9));
        assert_eq!(loaded.skipped, 1);
    }
}
