//! Applying concrete fixes to an object (spec/language.md §4.12).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Fix, FixOp};
use crate::manifest::PathSegment;

/// Two fixes that would set one path to different values: neither is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub path: Vec<PathSegment>,
    /// The indexes (into the fixes given to [`apply`]) of the fixes in conflict.
    pub fixes: Vec<usize>,
}

/// What [`apply`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Indexes of the fixes applied (including those that found the object already fixed).
    pub applied: Vec<usize>,
    /// Fixes left out because they disagree with another one.
    pub conflicts: Vec<Conflict>,
    /// Indexes of fixes whose path crosses a value of the wrong kind (a string where a
    /// mapping is needed, an index past the end of a list): not applied.
    pub unreachable: Vec<usize>,
}

/// Applies `fixes` to `object` in order. Element removals run last, from the highest index
/// down, so that an earlier removal does not move the element a later fix points at.
///
/// `set` creates missing parent mappings; `add` creates a missing list and appends the value
/// unless an equal element is there; `remove` of an absent path does nothing.
pub fn apply(object: &mut Value, fixes: &[Fix]) -> Applied {
    let mut out = Applied::default();
    let conflicted = conflicts(fixes);
    for c in &conflicted {
        out.conflicts.push(c.clone());
    }
    let skip = |i: usize| conflicted.iter().any(|c| c.fixes.contains(&i));

    let mut order: Vec<usize> = (0..fixes.len()).filter(|&i| !skip(i)).collect();
    // Removals of list elements go last and from the end of their list backwards.
    order.sort_by(|&a, &b| {
        let key = |i: usize| {
            let f = &fixes[i];
            let element =
                f.op == FixOp::Remove && matches!(f.path.last(), Some(PathSegment::Index(_)));
            (
                element,
                if element {
                    Some(std::cmp::Reverse(f.path.clone()))
                } else {
                    None
                },
            )
        };
        key(a).cmp(&key(b)).then(a.cmp(&b))
    });
    let mut removed: Vec<&[PathSegment]> = Vec::new();
    for i in order {
        let fix = &fixes[i];
        // The same element removed twice (two findings on one container) is removed once.
        if fix.op == FixOp::Remove && removed.contains(&fix.path.as_slice()) {
            out.applied.push(i);
            continue;
        }
        if apply_one(object, fix) {
            if fix.op == FixOp::Remove {
                removed.push(&fix.path);
            }
            out.applied.push(i);
        } else {
            out.unreachable.push(i);
        }
    }
    out.applied.sort_unstable();
    out
}

/// `set`s of one path with different values, and a `set` of a path that another fix
/// removes.
fn conflicts(fixes: &[Fix]) -> Vec<Conflict> {
    let mut by_path: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in fixes.iter().enumerate() {
        if matches!(f.op, FixOp::Set | FixOp::Remove) {
            by_path
                .entry(crate::manifest::format_path(&f.path))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for (_, ids) in by_path {
        let first = &fixes[ids[0]];
        let agree = ids
            .iter()
            .all(|&i| fixes[i].op == first.op && fixes[i].value == first.value);
        if !agree {
            out.push(Conflict {
                path: first.path.clone(),
                fixes: ids,
            });
        }
    }
    out
}

/// Applies one fix; false when its path cannot be followed.
fn apply_one(object: &mut Value, fix: &Fix) -> bool {
    let Some((last, parents)) = fix.path.split_last() else {
        return false;
    };
    let create = matches!(fix.op, FixOp::Set | FixOp::Add);
    let Some(parent) = walk(object, parents, create) else {
        // An absent parent: nothing to remove.
        return !create && absent(object, parents);
    };
    let value = fix.value.clone().unwrap_or(Value::Null);
    match fix.op {
        FixOp::Set => match (parent, last) {
            (Value::Object(map), PathSegment::Field(k) | PathSegment::Key(k)) => {
                map.insert(k.clone(), value);
                true
            }
            (Value::Array(items), PathSegment::Index(i)) if *i < items.len() => {
                items[*i] = value;
                true
            }
            _ => false,
        },
        FixOp::Add | FixOp::RemoveValue => {
            let list = match (parent, last) {
                (Value::Object(map), PathSegment::Field(k) | PathSegment::Key(k)) => {
                    if fix.op == FixOp::Add {
                        let slot = map.entry(k.clone()).or_insert(Value::Null);
                        if slot.is_null() {
                            *slot = Value::Array(Vec::new());
                        }
                        slot
                    } else {
                        match map.get_mut(k) {
                            Some(v) => v,
                            None => return true,
                        }
                    }
                }
                (Value::Array(items), PathSegment::Index(i)) if *i < items.len() => &mut items[*i],
                _ => return false,
            };
            match (list, fix.op) {
                (Value::Array(items), FixOp::Add) => {
                    if !items.contains(&value) {
                        items.push(value);
                    }
                    true
                }
                (Value::Array(items), _) => {
                    items.retain(|v| *v != value);
                    true
                }
                (Value::Null, FixOp::RemoveValue) => true,
                _ => false,
            }
        }
        FixOp::Remove => match (parent, last) {
            (Value::Object(map), PathSegment::Field(k) | PathSegment::Key(k)) => {
                map.remove(k);
                true
            }
            (Value::Array(items), PathSegment::Index(i)) => {
                if *i < items.len() {
                    items.remove(*i);
                }
                true
            }
            (Value::Null, _) => true,
            _ => false,
        },
    }
}

/// Follows `path`; with `create`, absent or null mapping steps become empty mappings.
fn walk<'a>(mut node: &'a mut Value, path: &[PathSegment], create: bool) -> Option<&'a mut Value> {
    for step in path {
        node = match step {
            PathSegment::Field(k) | PathSegment::Key(k) => {
                if create && node.is_null() {
                    *node = Value::Object(Map::new());
                }
                let map = node.as_object_mut()?;
                if create {
                    map.entry(k.clone()).or_insert(Value::Null)
                } else {
                    map.get_mut(k)?
                }
            }
            PathSegment::Index(i) => node.as_array_mut()?.get_mut(*i)?,
        };
    }
    if create && node.is_null() {
        *node = Value::Object(Map::new());
    }
    Some(node)
}

/// Whether `path` runs into an absent or null value (so a removal has nothing to do) rather
/// than into a value of the wrong kind.
fn absent(object: &Value, path: &[PathSegment]) -> bool {
    let mut node = object;
    for step in path {
        let next = match (node, step) {
            (Value::Object(m), PathSegment::Field(k) | PathSegment::Key(k)) => m.get(k),
            (Value::Array(items), PathSegment::Index(i)) => items.get(*i),
            (Value::Null, _) => return true,
            _ => return false,
        };
        match next {
            Some(n) => node = n,
            None => return true,
        }
    }
    node.is_null()
}

#[cfg(test)]
mod tests;
