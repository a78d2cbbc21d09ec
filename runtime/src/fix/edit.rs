//! Applying fixes to a manifest file's text with minimal edits (spec/fix.md §4): the fixed
//! objects are computed with [`super::apply`], the differences between each object and its
//! fixed form become edits of the bytes that hold them, everything else is kept byte for
//! byte, and the edited text is read back and compared with the fixed objects before it is
//! returned.

mod diff;
mod layout;
mod render;

use serde_json::Value;

use super::{apply, Applied, Fix};
use crate::manifest::{self, Limits};
use diff::{Differ, Edit};

/// The fixes for one object of a file, which the loader numbers (`doc_index`, `item_index`).
#[derive(Clone, Debug)]
pub struct Target {
    pub doc_index: usize,
    pub item_index: Option<usize>,
    pub fixes: Vec<Fix>,
}

/// A file's text with the fixes applied.
#[derive(Clone, Debug)]
pub struct Edited {
    pub text: String,
    /// What [`apply`] did with each target's fixes, in the order of the targets.
    pub applied: Vec<Applied>,
    /// Whether the text changed.
    pub changed: bool,
}

/// Why a file is left untouched, and where (1-based line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub line: u32,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

/// Applies each target's fixes to `text`. The result reads back (with the same loader and
/// `limits`) as the fixed objects, and every other object as before; otherwise, or when a
/// change would touch text that cannot be edited safely, the file is refused whole.
pub fn edit(text: &str, targets: &[Target], limits: &Limits) -> Result<Edited, Refusal> {
    let loaded = manifest::load(text, limits).map_err(|e| Refusal {
        line: e.line,
        message: e.message,
    })?;
    let mut intended: Vec<Value> = loaded.objects.iter().map(|o| o.node.to_json()).collect();
    let mut applied = Vec::with_capacity(targets.len());
    let mut changed_objects = Vec::new();
    for target in targets {
        let Some(index) = loaded
            .objects
            .iter()
            .position(|o| o.doc_index == target.doc_index && o.item_index == target.item_index)
        else {
            return Err(Refusal {
                line: 1,
                message: format!("no object at document {}", target.doc_index + 1),
            });
        };
        let done = apply(&mut intended[index], &target.fixes);
        applied.push(done);
        if intended[index] != loaded.objects[index].node.to_json()
            && !changed_objects.contains(&index)
        {
            changed_objects.push(index);
        }
    }
    if changed_objects.is_empty() {
        return Ok(Edited {
            text: text.to_owned(),
            applied,
            changed: false,
        });
    }
    if text.trim_start().starts_with('[') {
        return Err(Refusal {
            line: 1,
            message: "a JSON array of objects cannot be edited in place".into(),
        });
    }
    let refuse_at = |(at, message): diff::Refusal| Refusal {
        line: layout::line_of(text, at),
        message,
    };
    let documents = layout::documents(text).map_err(|(line, message)| Refusal {
        line,
        message: format!("cannot read the layout of the file: {message}"),
    })?;
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut differ = Differ {
        text,
        nl,
        edits: Vec::new(),
    };
    changed_objects.sort_unstable();
    for &index in &changed_objects {
        let object = &loaded.objects[index];
        let Some(tree) = object_tree(&documents, object) else {
            return Err(Refusal {
                line: object.node.line,
                message: "cannot find the object's text".into(),
            });
        };
        differ
            .object(tree, &object.node.to_json(), &intended[index])
            .map_err(refuse_at)?;
    }
    let edited = splice(text, differ.edits).map_err(refuse_at)?;
    check(&edited, &intended, limits)?;
    Ok(Edited {
        changed: edited != text,
        text: edited,
        applied,
    })
}

/// The layout of a loaded object: its document, or the item of a `List` document.
fn object_tree<'d>(
    documents: &'d [layout::Tree],
    object: &manifest::Object,
) -> Option<&'d layout::Tree> {
    let document = documents.get(object.doc_index)?;
    let Some(item) = object.item_index else {
        return Some(document);
    };
    let layout::Kind::Map { entries, .. } = &document.kind else {
        return None;
    };
    let items = &entries.iter().find(|e| e.key == "items")?.value;
    match &items.kind {
        layout::Kind::List { items, .. } => items.get(item),
        _ => None,
    }
}

/// Applies non-overlapping edits (in the order made, for inserts at one place).
fn splice(text: &str, mut edits: Vec<Edit>) -> Result<String, diff::Refusal> {
    edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for e in &edits {
        if e.start < at {
            return Err((e.start, "two edits overlap".into()));
        }
        let line_start = text[..e.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[e.end..].find('\n').map_or(text.len(), |i| e.end + i);
        if text[line_start..line_end].contains("{{") {
            return Err((e.start, "the edited line is templated (`{{`)".into()));
        }
        out.push_str(&text[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// The edited text must read back as the intended objects, object for object.
fn check(edited: &str, intended: &[Value], limits: &Limits) -> Result<(), Refusal> {
    let reread = manifest::load(edited, limits).map_err(|e| Refusal {
        line: e.line,
        message: format!("the edited text would not load: {}", e.message),
    })?;
    if reread.objects.len() != intended.len() {
        return Err(Refusal {
            line: 1,
            message: "the edited text would hold another number of objects".into(),
        });
    }
    for (object, want) in reread.objects.iter().zip(intended) {
        if object.node.to_json() != *want {
            return Err(Refusal {
                line: object.node.line,
                message: "the edited text would not read back as the fixed object".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
