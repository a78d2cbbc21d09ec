//! Generated objects (spec/language.md §4.14, spec/abi.md "Generated objects"): an outcome's
//! `generate` template filled from the subject of one finding, on the host.

use rampart_compiler::ir::{PathStep, Template};

use crate::manifest::{Node, PathSegment, Value};

/// The object `template` generates for a finding whose rule judged the subject at
/// `subject_path` in `object`; `None` when a path it reads is absent or not a scalar.
pub fn fill(
    template: &Template,
    object: &Node,
    subject_path: &[PathSegment],
) -> Option<serde_json::Value> {
    let (subject, matched) = object.locate(subject_path);
    if matched < subject_path.len() {
        return None;
    }
    let autogen = !subject_path.is_empty();
    template.fill(&mut |steps| {
        // Under autogen the rule reads the controller's namespace (spec/language.md §3).
        let namespace = matches!(steps, [PathStep::Field(m), PathStep::Field(n)]
            if m == "metadata" && n == "namespace");
        let mut node = if autogen && namespace {
            object
        } else {
            subject
        };
        for step in steps {
            node = match step {
                PathStep::Field(k) | PathStep::Key(k) => node.get(k)?,
                PathStep::Index(i) => node.as_list()?.get(usize::try_from(*i).ok()?)?,
            };
        }
        print(node)
    })
}

/// A scalar printed as messages print it (spec/language.md §4.9); `None` for anything else.
fn print(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(_) => Some(node.to_json().to_string()),
        Value::Null | Value::List(_) | Value::Map(_) => None,
    }
}

#[cfg(test)]
mod tests;
