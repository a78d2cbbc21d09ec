//! Keeping only the parts of a set object that the rules read ([`Projection`], computed by
//! the compiler: spec/abi.md "Object set").

use crate::manifest::{Node, Value};
use rampart_compiler::set_reads::{Projection, EVERY};

/// The parts of `node` that `projection` names; `apiVersion` and `kind` of the object are
/// always kept, since the host sorts the set by kind.
pub fn project_object(node: &Node, projection: &Projection) -> Node {
    let mut out = project(node, projection);
    if let (Value::Map(whole), Value::Map(kept)) = (&node.value, &mut out.value) {
        for key in ["apiVersion", "kind"] {
            if !kept.iter().any(|(k, _)| k == key) {
                if let Some((k, v)) = whole.iter().find(|(k, _)| k == key) {
                    kept.insert(0, (k.clone(), v.clone()));
                }
            }
        }
    }
    out
}

/// The parts of `node` that `projection` names (spans kept).
pub fn project(node: &Node, projection: &Projection) -> Node {
    let Projection::Fields(fields) = projection else {
        return node.clone();
    };
    let every = fields.get(EVERY);
    let value = match &node.value {
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .filter_map(|(k, v)| {
                    let p = match (fields.get(k.as_str()), every) {
                        (Some(p), Some(e)) => {
                            let mut both = p.clone();
                            both.merge(e);
                            std::borrow::Cow::Owned(both)
                        }
                        (Some(p), None) | (None, Some(p)) => std::borrow::Cow::Borrowed(p),
                        (None, None) => return None,
                    };
                    Some((k.clone(), project(v, &p)))
                })
                .collect(),
        ),
        // A list is read element by element only through the `*` entry.
        Value::List(items) => match every {
            Some(p) => Value::List(items.iter().map(|x| project(x, p)).collect()),
            None => return node.clone(),
        },
        _ => return node.clone(),
    };
    Node {
        value,
        line: node.line,
        col: node.col,
    }
}
