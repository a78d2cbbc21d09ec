//! The text edits that turn a node's text into the text of its fixed value, found by
//! walking the node's layout and the old and new values side by side.

use saphyr_parser::ScalarStyle;
use serde_json::{Map, Value};

use super::layout::{Entry, Kind, Tree};
use super::render;

/// Replace the bytes `start..end` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Why a value cannot be edited: at which byte, and what stands in the way.
pub(super) type Refusal = (usize, String);

/// Where a node sits, which decides how a new collection is written in its place.
#[derive(Clone, Copy)]
enum Place {
    /// A document (or a `List`'s item object).
    Root,
    /// The value of a block mapping entry whose key starts at column `key_col`; the value
    /// starts after the `:` at byte `colon_end`.
    Entry { key_col: usize, colon_end: usize },
    /// An item of a block sequence.
    Item,
    /// Inside a flow collection.
    Flow,
}

/// The edits for one object.
pub(super) struct Differ<'t> {
    pub text: &'t str,
    pub nl: &'t str,
    pub edits: Vec<Edit>,
}

/// Longest lists aligned element by element.
const MAX_ALIGNED: usize = 1_000;

impl Differ<'_> {
    pub fn object(&mut self, tree: &Tree, old: &Value, new: &Value) -> Result<(), Refusal> {
        self.node(tree, old, new, Place::Root)
    }

    fn node(&mut self, tree: &Tree, old: &Value, new: &Value, place: Place) -> Result<(), Refusal> {
        if old == new {
            return Ok(());
        }
        if tree.shared {
            return Err((
                tree.start,
                "an anchor or alias is on the edited value".into(),
            ));
        }
        if tree.is_flow() && self.text[tree.start..tree.end].contains('\n') {
            let what = if place_is_root(place) && self.is_json() {
                "a JSON document"
            } else {
                "a flow collection over several lines"
            };
            return Err((tree.start, format!("the edit falls inside {what}")));
        }
        if self.text[tree.start..tree.end].contains("{{") {
            return Err((tree.start, "the edited value is templated (`{{`)".into()));
        }
        match (&tree.kind, old, new) {
            (Kind::Map { flow, entries }, Value::Object(o), Value::Object(n)) => {
                if entries.is_empty() && !flow {
                    return Err((tree.start, "unexpected empty block mapping".into()));
                }
                if entries.is_empty() {
                    if let Place::Entry { .. } = place {
                        // `key: {}` becomes block lines.
                        return self.replace_with_block(tree, new, place);
                    }
                }
                self.map(tree, *flow, entries, o, n)
            }
            (Kind::List { flow, items }, Value::Array(o), Value::Array(n)) => {
                self.list(tree, *flow, items, o, n, place)
            }
            (Kind::Scalar(style), _, _) if !new.is_array() && !new.is_object() => {
                if tree.is_block_scalar() {
                    return Err((tree.start, "the edit falls inside a block scalar".into()));
                }
                let style = if new.is_string() {
                    *style
                } else {
                    ScalarStyle::Plain
                };
                let flow = matches!(place, Place::Flow);
                let mut text = render::scalar(new, style, flow).unwrap_or_default();
                if tree.start == tree.end && matches!(place, Place::Entry { .. }) {
                    // An empty value: `key:` becomes `key: value`.
                    text.insert(0, ' ');
                }
                self.push(tree.start, tree.end, text);
                Ok(())
            }
            (Kind::Alias, _, _) => Err((tree.start, "an alias is on the edited value".into())),
            _ => {
                if tree.is_block_scalar() {
                    return Err((tree.start, "the edit falls inside a block scalar".into()));
                }
                if matches!(tree.kind, Kind::Scalar(_)) || tree.is_flow() {
                    return self.replace_with_block(tree, new, place);
                }
                Err((
                    tree.start,
                    "a block collection would be replaced by a value of another kind".into(),
                ))
            }
        }
    }

    /// Replaces a one-line value: by block lines under its key when it is a block mapping's
    /// value and the new value is a non-empty collection, else by its flow text.
    fn replace_with_block(
        &mut self,
        tree: &Tree,
        new: &Value,
        place: Place,
    ) -> Result<(), Refusal> {
        let collection = matches!(new, Value::Object(m) if !m.is_empty())
            || matches!(new, Value::Array(a) if !a.is_empty());
        match place {
            Place::Entry { key_col, colon_end } if collection => {
                let at = self.line_end(tree.end);
                let mut lines = String::new();
                render_children(new, key_col + 2, self.nl, &mut lines);
                if at == self.text.len() && !self.text.ends_with('\n') {
                    lines.insert_str(0, self.nl);
                }
                self.push(colon_end, tree.end, String::new());
                self.push(at, at, lines);
                Ok(())
            }
            Place::Root => Err((tree.start, "the whole document would be replaced".into())),
            _ => {
                let text = match new {
                    Value::Array(_) | Value::Object(_) => render::flow(new),
                    _ => render::scalar(new, ScalarStyle::Plain, matches!(place, Place::Flow))
                        .unwrap_or_default(),
                };
                let lead = if tree.start == tree.end && matches!(place, Place::Entry { .. }) {
                    " "
                } else {
                    ""
                };
                self.push(tree.start, tree.end, format!("{lead}{text}"));
                Ok(())
            }
        }
    }

    fn map(
        &mut self,
        tree: &Tree,
        flow: bool,
        entries: &[Entry],
        old: &Map<String, Value>,
        new: &Map<String, Value>,
    ) -> Result<(), Refusal> {
        if let Some(e) = entries.iter().find(|e| e.special) {
            return Err((
                e.key_start,
                "a merge key (`<<`) or an anchored key is in the edited mapping".into(),
            ));
        }
        let key_col = entries.first().map_or(0, |e| self.col(e.key_start));
        if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
            if new.is_empty() && !flow {
                // Every entry removed: the mapping stays, empty.
                if entries.iter().any(|e| e.value.holds_shared()) {
                    return Err((
                        first.key_start,
                        "the removed entry holds an anchor or alias".into(),
                    ));
                }
                self.push(first.key_start, last.value.end, "{}".into());
                return Ok(());
            }
        }
        let mut kept = 0;
        let mut removed = vec![false; entries.len()];
        for (i, entry) in entries.iter().enumerate() {
            let Some(old_value) = old.get(&entry.key) else {
                continue;
            };
            match new.get(&entry.key) {
                Some(v) => {
                    kept += 1;
                    let place = if flow {
                        Place::Flow
                    } else {
                        Place::Entry {
                            key_col,
                            colon_end: self.colon_end(entry.key_end),
                        }
                    };
                    self.node(&entry.value, old_value, v, place)?;
                }
                None => {
                    if entry.value.holds_shared() {
                        return Err((
                            entry.key_start,
                            "the removed entry holds an anchor or alias".into(),
                        ));
                    }
                    removed[i] = true;
                    if !flow {
                        let next = entries.get(i + 1).map(|e| e.key_start);
                        self.remove_block(entry.key_start, entry.value.end, next)?;
                    }
                }
            }
        }
        if flow {
            let spans: Vec<(usize, usize)> =
                entries.iter().map(|e| (e.key_start, e.value.end)).collect();
            self.remove_flow(&spans, &removed);
        }
        let added: Vec<(&String, &Value)> =
            new.iter().filter(|(k, _)| !old.contains_key(*k)).collect();
        if added.is_empty() {
            return Ok(());
        }
        if flow {
            let mut text = String::new();
            for (k, v) in &added {
                if kept > 0 || !text.is_empty() {
                    text.push_str(", ");
                }
                text.push_str(&format!("{}: {}", render::key(k, true), render::flow(v)));
            }
            let at = match entries.iter().zip(&removed).rev().find(|(_, r)| !**r) {
                Some((e, _)) => e.value.end,
                // After the removed ones (or inside an empty `{}`).
                None => entries.last().map_or(tree.end - 1, |e| e.value.end),
            };
            self.push(at, at, text);
        } else {
            let last = entries.last().map_or(tree.end, |e| e.value.end);
            let at = self.line_end(last);
            let mut text = String::new();
            if at == self.text.len() && !self.text.ends_with('\n') {
                text.push_str(self.nl);
            }
            for (k, v) in added {
                render::block_entry(k, v, key_col, self.nl, &mut text);
            }
            self.push(at, at, text);
        }
        Ok(())
    }

    fn list(
        &mut self,
        tree: &Tree,
        flow: bool,
        items: &[Tree],
        old: &[Value],
        new: &[Value],
        place: Place,
    ) -> Result<(), Refusal> {
        let Some(steps) = align(old, new) else {
            return Err((tree.start, "the list is too long to align".into()));
        };
        let removed = steps
            .iter()
            .filter(|s| matches!(s, Step::Remove(_)))
            .count();
        if !flow && removed == items.len() && new.is_empty() {
            // A block sequence cannot be empty: `key: []` instead.
            let Place::Entry { colon_end, .. } = place else {
                return Err((
                    tree.start,
                    "every item of this list would be removed".into(),
                ));
            };
            let first = self.line_start(tree.start);
            let end = self.line_end(tree.end);
            self.push(colon_end, colon_end, " []".into());
            self.push(first, end, String::new());
            return Ok(());
        }
        let item_place = if flow { Place::Flow } else { Place::Item };
        let mut gone = vec![false; items.len()];
        for step in &steps {
            match *step {
                Step::Pair(i, j) => self.node(&items[i], &old[i], &new[j], item_place)?,
                Step::Remove(i) => {
                    let item = &items[i];
                    if item.holds_shared() {
                        return Err((
                            item.start,
                            "the removed item holds an anchor or alias".into(),
                        ));
                    }
                    gone[i] = true;
                    if !flow {
                        let line_start = self.line_start(item.start);
                        let before = &self.text[line_start..item.start];
                        let own_dash = before.trim() == "-"
                            && self.col(line_start + before.find('-').unwrap_or(0))
                                == self.col(tree.start);
                        if !own_dash {
                            return Err((item.start, "the removed item shares its line".into()));
                        }
                        self.push(
                            self.line_start(item.start),
                            self.line_end(item.end),
                            String::new(),
                        );
                    }
                }
                Step::Append(_) => {}
            }
        }
        if flow {
            let spans: Vec<(usize, usize)> = items.iter().map(|t| (t.start, t.end)).collect();
            self.remove_flow(&spans, &gone);
        }
        let appended: Vec<&Value> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Append(j) => Some(&new[*j]),
                _ => None,
            })
            .collect();
        if appended.is_empty() {
            return Ok(());
        }
        let kept = gone.iter().any(|g| !g);
        if flow {
            let mut text = String::new();
            for v in appended {
                if kept || !text.is_empty() {
                    text.push_str(", ");
                }
                text.push_str(&render::flow(v));
            }
            let at = match items.iter().zip(&gone).rev().find(|(_, g)| !**g) {
                Some((t, _)) => t.end,
                None => items.last().map_or(tree.end - 1, |t| t.end),
            };
            self.push(at, at, text);
        } else {
            let last = items.last().map_or(tree.end, |t| t.end);
            let at = self.line_end(last);
            let indent = self.col(tree.start);
            let mut text = String::new();
            if at == self.text.len() && !self.text.ends_with('\n') {
                text.push_str(self.nl);
            }
            for v in appended {
                render::block_item(v, indent, self.nl, &mut text);
            }
            self.push(at, at, text);
        }
        Ok(())
    }

    /// Deletes a block mapping entry with its lines; the first entry of a `- ` item gives
    /// its place on the dash's line to the next entry.
    fn remove_block(
        &mut self,
        start: usize,
        end: usize,
        next: Option<usize>,
    ) -> Result<(), Refusal> {
        let line_start = self.line_start(start);
        let before = self.text[line_start..start].trim();
        if before.is_empty() {
            self.push(line_start, self.line_end(end), String::new());
            return Ok(());
        }
        match next {
            Some(next) if before == "-" => {
                self.push(start, next, String::new());
                Ok(())
            }
            _ => Err((start, "the removed entry shares its line".into())),
        }
    }

    /// Deletes the `removed` entries or items of a one-line flow collection (their
    /// `spans`) with their commas: each up to the next one, and the trailing run of removed
    /// ones from the end of the last one kept.
    fn remove_flow(&mut self, spans: &[(usize, usize)], removed: &[bool]) {
        let trailing = removed.iter().rev().take_while(|r| **r).count();
        let run = spans.len() - trailing;
        for i in 0..run {
            if removed[i] {
                self.push(spans[i].0, spans[i + 1].0, String::new());
            }
        }
        if trailing > 0 {
            let end = spans[spans.len() - 1].1;
            let start = match run.checked_sub(1) {
                Some(last_kept) => spans[last_kept].1,
                None => spans[0].0,
            };
            self.push(start, end, String::new());
        }
    }

    fn push(&mut self, start: usize, end: usize, text: String) {
        self.edits.push(Edit { start, end, text });
    }

    fn is_json(&self) -> bool {
        self.text.trim_start().starts_with(['{', '['])
    }

    /// Column (in characters, 0-based) of a byte offset.
    fn col(&self, at: usize) -> usize {
        self.text[self.line_start(at)..at].chars().count()
    }

    fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    /// The start of the line after the one holding the byte before `end` (a value that
    /// ends with its newline, such as a block scalar, ends its own line).
    fn line_end(&self, end: usize) -> usize {
        if end > 0 && self.text.as_bytes()[end - 1] == b'\n' {
            return end;
        }
        self.text[end..]
            .find('\n')
            .map_or(self.text.len(), |i| end + i + 1)
    }

    fn colon_end(&self, key_end: usize) -> usize {
        self.text[key_end..]
            .find(':')
            .map_or(key_end, |i| key_end + i + 1)
    }
}

fn place_is_root(place: Place) -> bool {
    matches!(place, Place::Root)
}

/// The entries or items of a non-empty collection as block lines at `indent`.
fn render_children(value: &Value, indent: usize, nl: &str, out: &mut String) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                render::block_entry(k, v, indent, nl, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                render::block_item(v, indent, nl, out);
            }
        }
        _ => {}
    }
}

/// How an old list becomes the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Old item `i` is new item `j` (perhaps changed).
    Pair(usize, usize),
    Remove(usize),
    /// New item `j` is appended.
    Append(usize),
}

/// The cheapest way to turn `old` into `new` by changing items, removing them, and
/// appending at the end (what fixes do to lists); `None` for lists too long to align.
fn align(old: &[Value], new: &[Value]) -> Option<Vec<Step>> {
    let (m, k) = (old.len(), new.len());
    if m > MAX_ALIGNED || k > MAX_ALIGNED {
        return None;
    }
    // cost[i][j]: aligning old[i..] with new[j..].
    let mut cost = vec![vec![0usize; k + 1]; m + 1];
    for (j, c) in cost[m].iter_mut().enumerate() {
        *c = k - j;
    }
    for i in (0..m).rev() {
        cost[i][k] = m - i;
        for j in (0..k).rev() {
            let pair = cost[i + 1][j + 1] + usize::from(old[i] != new[j]);
            let remove = cost[i + 1][j] + 1;
            cost[i][j] = pair.min(remove);
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut steps = Vec::new();
    while i < m || j < k {
        if i == m {
            steps.push(Step::Append(j));
            j += 1;
        } else if j == k {
            steps.push(Step::Remove(i));
            i += 1;
        } else if cost[i][j] == cost[i + 1][j + 1] + usize::from(old[i] != new[j]) {
            steps.push(Step::Pair(i, j));
            i += 1;
            j += 1;
        } else {
            steps.push(Step::Remove(i));
            i += 1;
        }
    }
    Some(steps)
}
