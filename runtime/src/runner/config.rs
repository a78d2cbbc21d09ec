//! Strict reading of Rampart's own configuration files (`kind: Exceptions`, `kind: Params`):
//! the version and kind of each document, the keys of each mapping, with positions.
//!
//! These files change which findings count, so nothing in them is ever ignored: an unknown
//! key, a wrong type or a wrong kind is an error naming file, line and column (spec/config.md).

use rampart_compiler::diagnostics::did_you_mean;

use super::RunError;
use crate::manifest::{self, Node};

/// The only `apiVersion` of Rampart's configuration files.
pub const API_VERSION: &str = "rampart.dev/v1alpha1";

/// One configuration file being read: its name, its text (to place keys), and the errors
/// found so far.
pub struct ConfigFile<'a> {
    /// The file's name, as given.
    pub name: &'a str,
    text: &'a str,
    /// Everything wrong with the file.
    pub errors: Vec<RunError>,
}

impl<'a> ConfigFile<'a> {
    /// Reads the documents of a file that must all be `kind: KIND` at [`API_VERSION`], and
    /// checks the top-level keys of each against `keys`. Returns the documents' roots.
    pub fn documents(
        name: &'a str,
        bytes: &'a [u8],
        kind: &str,
        keys: &[&str],
    ) -> (Self, Vec<Node>) {
        let text = std::str::from_utf8(bytes).unwrap_or("");
        let mut file = ConfigFile {
            name,
            text,
            errors: Vec::new(),
        };
        let loaded = match manifest::load_bytes(bytes, &manifest::Limits::default()) {
            Ok(l) => l,
            Err(e) => {
                file.errors
                    .push(RunError::at(name, e.line, e.col, e.message));
                return (file, Vec::new());
            }
        };
        if loaded.skipped > 0 {
            file.errors.push(RunError::file(
                name,
                format!(
                    "{} document(s) without `apiVersion: {API_VERSION}` and `kind: {kind}`",
                    loaded.skipped
                ),
            ));
        }
        if loaded.objects.is_empty() && loaded.skipped == 0 {
            file.errors.push(RunError::file(
                name,
                format!("the file holds no `kind: {kind}` document"),
            ));
        }
        let mut docs = Vec::new();
        for object in loaded.objects {
            let root = object.node;
            if object.api_version != API_VERSION {
                let at = root.get("apiVersion").unwrap_or(&root);
                file.error(
                    at,
                    format!(
                        "unsupported `apiVersion: {}`: expected `{API_VERSION}`",
                        object.api_version
                    ),
                );
            }
            if object.kind != kind {
                let at = root.get("kind").unwrap_or(&root);
                file.error(
                    at,
                    format!(
                        "expected `kind: {kind}` in this file, found `{}`",
                        object.kind
                    ),
                );
                continue;
            }
            if object.item_index.is_some() {
                file.error(
                    &root,
                    format!("a `kind: {kind}` document cannot be a list item"),
                );
                continue;
            }
            file.check_keys(&root, keys, &format!("a `kind: {kind}` document"));
            docs.push(root);
        }
        (file, docs)
    }

    /// Records an error at a node.
    pub fn error(&mut self, at: &Node, message: String) {
        self.errors
            .push(RunError::at(self.name, at.line, at.col, message));
    }

    /// Records an error at the key `key` of a mapping entry whose value is `value`.
    pub fn error_at_key(&mut self, key: &str, value: &Node, message: String) {
        let (line, col) = key_position(self.text, key, value);
        self.errors
            .push(RunError::at(self.name, line, col, message));
    }

    /// Reports every key of mapping `node` not in `allowed`, with a suggestion.
    pub fn check_keys(&mut self, node: &Node, allowed: &[&str], what: &str) {
        for (key, value) in node.as_map().unwrap_or_default() {
            if !allowed.contains(&key.as_str()) {
                let hint = suggestion(key, allowed.iter().copied());
                let message = format!("unknown key `{key}` in {what}{hint}");
                self.error_at_key(key, value, message);
            }
        }
    }

    /// The string at `node`, or an error saying what was expected.
    pub fn string<'n>(&mut self, key: &str, node: &'n Node) -> Option<&'n str> {
        let s = node.as_str();
        if s.is_none() {
            self.error(node, format!("`{key}` must be a string"));
        }
        s
    }

    /// The errors, in file order (line, then column; whole-file errors first).
    pub fn into_errors(mut self) -> Vec<RunError> {
        self.errors.sort_by_key(|e| (e.line, e.col));
        self.errors
    }
}

/// ` (did you mean `X`?)` when a candidate is close to `name`, else nothing.
pub fn suggestion<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    did_you_mean(name, candidates)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

/// Where `key` is written, given the node of its value: the last occurrence of the key's text
/// before the value. The loader keeps positions for values only; a key is always written
/// before its value, so this finds it (the value's position when it cannot).
fn key_position(text: &str, key: &str, value: &Node) -> (u32, u32) {
    let fallback = (value.line, value.col);
    let Some(end) = offset_of(text, value.line, value.col) else {
        return fallback;
    };
    let before = &text[..end];
    let is_key = |at: usize| {
        let after = before[at + key.len()..].trim_start_matches(['"', '\'']);
        let prev = before[..at].chars().next_back();
        after.trim_start_matches([' ', '\t']).starts_with(':')
            && !prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    let Some(start) = before
        .rmatch_indices(key)
        .map(|(i, _)| i)
        .find(|&i| is_key(i))
    else {
        return fallback;
    };
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..start].matches('\n').count() + 1;
    let col = text[line_start..start].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(value.line),
        u32::try_from(col).unwrap_or(value.col),
    )
}

/// The byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: u32, col: u32) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let rest = &text[start..];
    let within = rest
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(rest.len(), |(i, _)| i);
    Some(start + within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_placed_before_their_values() {
        let text = "a:\n  namespce: x\n  b:\n    c: 1\n";
        let loaded = manifest::load(
            &format!("apiVersion: v1\nkind: K\n{text}"),
            &manifest::Limits::default(),
        )
        .unwrap();
        let root = &loaded.objects[0].node;
        let full = format!("apiVersion: v1\nkind: K\n{text}");
        let a = root.get("a").unwrap();
        assert_eq!(
            key_position(&full, "namespce", a.get("namespce").unwrap()),
            (4, 3)
        );
        // A key whose value is a mapping on the next lines.
        assert_eq!(key_position(&full, "b", a.get("b").unwrap()), (5, 3));
    }
}
