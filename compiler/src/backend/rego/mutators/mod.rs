//! Gatekeeper mutators for `fix` clauses (spec/fix.md §7.2): written by `rampart build
//! --target gatekeeper` (and `gatekeeper-cel`) in `mutations/`, one file per rule with an
//! exported fix.
//!
//! - `set p = v` is an `Assign` (`parameters.assign.value: v`), or, for a label or
//!   annotation of the object itself, an `AssignMetadata` (which only ever adds);
//! - `add p, v` is a `ModifySet` `merge` of `[v]` (a missing list is created with it);
//! - `remove p, v` is a `ModifySet` `prune` of `[v]`, with a `MustExist` test on the list
//!   so that no parent is created where there is no list.
//!
//! A mutator has no condition on other fields, so a fix translates only when its outcome's
//! `when` is decided by the fixed field alone ([`condition`]); `pathTests` then select the
//! states where it fires (`MustExist` on the field: "when set to another value";
//! `MustNotExist`: "when absent"). A fix under a `for` is located through Gatekeeper's list
//! glob, `spec.containers[name:*]`, which visits every element. Gatekeeper has no autogen:
//! a pod rule gets one mutator per shape (the Pod, the pod template of the controllers,
//! CronJob's job template), each with its `applyTo` and `match.kinds`. Rules with a fix
//! that does not translate are left out whole, with a warning.

pub mod condition;

use serde_json::{json, Map, Value as Json};

use super::gatekeeper::{self, ExportError, OutputFile};
use crate::backend::cel::patch::{binder_list_fields, describe, exported_fixes, fix_value, shapes};
use crate::ir::{Fix, FixOp, Outcome, PathRoot, PathStep, Rule, Target, Value};
use crate::names;

/// The folder of the mutators in the Gatekeeper output.
pub const MUTATIONS_DIR: &str = "mutations";

/// The name of this export in diagnostics.
pub const TARGET: &str = "Gatekeeper mutators";

/// One node of a location: a field, or every element of the list before it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Field(String),
    Glob,
}

/// A location as Gatekeeper's path parser reads it: fields separated by `.`, quoted when
/// not made of letters, digits, `_` and `-`; `[name:*]` after a list.
fn render(nodes: &[Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        match n {
            Node::Field(f) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if !f.is_empty()
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    out.push_str(f);
                } else {
                    out.push('"');
                    out.push_str(&f.replace('\\', "\\\\").replace('"', "\\\""));
                    out.push('"');
                }
            }
            Node::Glob => out.push_str("[name:*]"),
        }
    }
    out
}

/// The mutator files of every rule with an exported fix, and a warning for each such rule
/// whose fixes do not all translate (it is left out).
pub fn export_all(
    program: &crate::ir::Program,
    review: bool,
) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut files = Vec::new();
    let mut gaps = Vec::new();
    for rule in &program.rules {
        match export_rule(rule, review) {
            Ok(Some(f)) => files.push(f),
            Ok(None) => {}
            Err(e) => gaps.push(e),
        }
    }
    (files, gaps)
}

/// The mutators of one rule as JSON documents, `None` when it has no exported fix.
pub fn rule_mutators(rule: &Rule, review: bool) -> Result<Option<Vec<Json>>, ExportError> {
    let fail = |construct: String, message: String| ExportError {
        rule: rule.id.clone(),
        construct,
        target: TARGET,
        message,
        other: None,
    };
    let fixes = exported_fixes(rule, review);
    if fixes.is_empty() {
        return Ok(None);
    }
    if let Some(why) = unmatchable(rule) {
        return Err(fail("its `match`".into(), why));
    }
    let shapes = shapes(rule);
    let base = gatekeeper::constraint_name(&rule.id);
    let mut docs = Vec::new();
    for (outcome, fix) in fixes {
        let construct = format!("the fix `{} {}`", fix.op.word(), describe(rule, fix));
        let mutators = fix_mutators(rule, outcome, fix, &shapes).map_err(|m| fail(construct, m))?;
        for spec in mutators {
            let name = names::fit(&format!("{base}-{}", docs.len() + 1));
            let mut doc = json!({
                "apiVersion": "mutations.gatekeeper.sh/v1",
                "kind": spec.kind,
                "metadata": {"name": name, "annotations": {"rampart.dev/rule": rule.id}},
                "spec": spec.spec,
            });
            if spec.kind == "AssignMetadata" {
                doc["spec"].as_object_mut().map(|s| s.remove("applyTo"));
            }
            docs.push(doc);
        }
    }
    Ok(Some(docs))
}

/// The file of one rule, `None` when it has no exported fix.
pub fn export_rule(rule: &Rule, review: bool) -> Result<Option<OutputFile>, ExportError> {
    let Some(docs) = rule_mutators(rule, review)? else {
        return Ok(None);
    };
    let mut contents = format!(
        "# Rampart rule {}: {}\n# The rule's fixes as Gatekeeper mutators.\n# Generated by `rampart build --target gatekeeper`; do not edit.\n",
        rule.id,
        super::comment_text(&rule.meta.title)
    );
    for d in &docs {
        contents.push_str("---\n");
        contents.push_str(&gatekeeper::to_yaml(d));
    }
    Ok(Some(OutputFile {
        path: format!(
            "{MUTATIONS_DIR}/{}.yaml",
            gatekeeper::constraint_name(&rule.id)
        ),
        contents,
    }))
}

/// Why a mutator's `match` cannot select exactly the rule's objects, if it cannot: a
/// mutator has no Rego to re-check what `match` leaves out.
fn unmatchable(rule: &Rule) -> Option<String> {
    let m = &rule.matcher;
    if m.targets.is_empty()
        || m.targets
            .iter()
            .any(|t| t.gvk.kind == crate::ir::EVERY_KIND)
    {
        return Some("a mutator names the kinds it changes".into());
    }
    if !m.labels.is_empty() || !m.exclude_labels.is_empty() {
        return Some("label matching is not translated to a mutator's `labelSelector`".into());
    }
    let globs = m.namespaces.iter().chain(&m.exclude_namespaces);
    if let Some(g) = globs.clone().find(|g| !gatekeeper::gatekeeper_glob(g)) {
        return Some(format!(
            "the namespace glob `{g}` has no Gatekeeper equivalent"
        ));
    }
    if globs.count() > 0 && m.targets.iter().any(|t| t.gvk.kind == "Namespace") {
        return Some("Gatekeeper matches a Namespace's namespaces by its own name".into());
    }
    None
}

/// A mutator's kind and spec.
struct Mutator {
    kind: &'static str,
    spec: Json,
}

/// The nodes of the lists the fix's `for` iterates, below the subject (one empty prefix for
/// a fix rooted at the subject).
fn list_prefixes(outcome: &Outcome, fix: &Fix) -> Result<Vec<Vec<Node>>, String> {
    match (fix.path.root, outcome.binders.as_slice()) {
        (PathRoot::Subject, []) => Ok(vec![Vec::new()]),
        (PathRoot::Binder(item), [b]) if b.item == item => Ok(binder_list_fields(b)?
            .into_iter()
            .map(|l| {
                let mut nodes: Vec<Node> = l.into_iter().map(Node::Field).collect();
                nodes.push(Node::Glob);
                nodes
            })
            .collect()),
        (PathRoot::Subject, _) => Err("a fix of the object under a `for` applies where any element fires, which a mutator cannot test".into()),
        _ => Err("a fix under more than one `for`, or with an index binder".into()),
    }
}

/// The mutators of one fix: one per shape and list.
fn fix_mutators(
    rule: &Rule,
    outcome: &Outcome,
    fix: &Fix,
    shapes: &[Vec<&Target>],
) -> Result<Vec<Mutator>, String> {
    let value = match fix.op {
        FixOp::Remove => {
            return Err("Gatekeeper mutators cannot remove a field or a list element".into())
        }
        _ => fix_value(rule, fix)?.unwrap_or(Value::Null),
    };
    let mut steps = Vec::new();
    for s in &fix.path.steps {
        match s {
            PathStep::Field(f) | PathStep::Key(f) => steps.push(Node::Field(f.clone())),
            PathStep::Index(_) => return Err("a fix path with a list index".into()),
        }
    }
    let binder = match fix.path.root {
        PathRoot::Binder(l) => Some(l),
        PathRoot::Subject => None,
    };
    let tests = condition::path_tests(
        rule,
        outcome.when.as_ref(),
        binder,
        &fix.path.steps,
        fix.op,
        &value,
    )?;
    let metadata =
        binder.is_none() && matches!(steps.first(), Some(Node::Field(f)) if f == "metadata");
    let mut out = Vec::new();
    for shape in shapes {
        let subject: Vec<Node> = shape[0]
            .subject_path
            .iter()
            .map(|f| Node::Field(f.clone()))
            .collect();
        for list in list_prefixes(outcome, fix)? {
            let mut root = subject.clone();
            root.extend(list);
            let at = |depth: usize| {
                let mut nodes = root.clone();
                nodes.extend(steps[..depth].iter().cloned());
                render(&nodes)
            };
            let location = at(steps.len());
            let kind = match fix.op {
                FixOp::Set if metadata && subject.is_empty() => {
                    let label = steps.len() == 3
                        && matches!(&steps[1], Node::Field(f) if f == "labels" || f == "annotations");
                    if !label || !matches!(value, Value::String(_)) {
                        return Err("Gatekeeper changes an object's own metadata only by adding a label or an annotation".into());
                    }
                    if tests.must_exist > 0 || tests.must_not_exist != Some(steps.len()) {
                        return Err("AssignMetadata only adds a missing label or annotation, and the outcome fires on other values too".into());
                    }
                    "AssignMetadata"
                }
                FixOp::Set => "Assign",
                _ => "ModifySet",
            };
            let mut path_tests = Vec::new();
            if tests.must_exist > 0 {
                path_tests.push(json!({"subPath": at(tests.must_exist), "condition": "MustExist"}));
            } else if !subject.is_empty() && binder.is_none() {
                // A controller without a pod template has no pods to fix.
                path_tests.push(json!({"subPath": render(&subject), "condition": "MustExist"}));
            }
            if let Some(d) = tests.must_not_exist {
                if kind != "AssignMetadata" {
                    path_tests.push(json!({"subPath": at(d), "condition": "MustNotExist"}));
                }
            }
            let mut parameters = Map::new();
            match fix.op {
                FixOp::Set => {
                    parameters.insert("assign".into(), json!({"value": value.to_json()}));
                }
                FixOp::Add | FixOp::RemoveValue => {
                    let operation = if fix.op == FixOp::Add {
                        "merge"
                    } else {
                        "prune"
                    };
                    parameters.insert("operation".into(), operation.into());
                    parameters.insert("values".into(), json!({"fromList": [value.to_json()]}));
                }
                FixOp::Remove => unreachable!("refused above"),
            }
            if !path_tests.is_empty() {
                parameters.insert("pathTests".into(), Json::Array(path_tests));
            }
            let mut spec = Map::new();
            spec.insert("applyTo".into(), apply_to(shape));
            spec.insert("match".into(), matcher(rule, shape));
            spec.insert("location".into(), location.into());
            spec.insert("parameters".into(), Json::Object(parameters));
            out.push(Mutator {
                kind,
                spec: Json::Object(spec),
            });
        }
    }
    Ok(out)
}

/// `applyTo`: the exact group, version and kind of each target of the shape.
fn apply_to(shape: &[&Target]) -> Json {
    Json::Array(
        shape
            .iter()
            .map(|t| json!({"groups": [t.gvk.group], "kinds": [t.gvk.kind], "versions": [t.gvk.version]}))
            .collect(),
    )
}

/// `match`: the kinds by group, and the rule's namespaces (cluster-scoped objects are left
/// out when the rule names namespaces, as spec/language.md §3 says).
fn matcher(rule: &Rule, shape: &[&Target]) -> Json {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for t in shape {
        match groups.iter_mut().find(|(g, _)| *g == t.gvk.group) {
            Some((_, kinds)) if kinds.contains(&t.gvk.kind.as_str()) => {}
            Some((_, kinds)) => kinds.push(&t.gvk.kind),
            None => groups.push((&t.gvk.group, vec![&t.gvk.kind])),
        }
    }
    let kinds: Vec<Json> = groups
        .iter()
        .map(|(g, ks)| json!({"apiGroups": [g], "kinds": ks}))
        .collect();
    let m = &rule.matcher;
    let mut out = Map::new();
    out.insert("kinds".into(), Json::Array(kinds));
    if !m.namespaces.is_empty() {
        out.insert("scope".into(), "Namespaced".into());
        out.insert("namespaces".into(), json!(m.namespaces));
    }
    if !m.exclude_namespaces.is_empty() {
        out.insert("excludedNamespaces".into(), json!(m.exclude_namespaces));
    }
    Json::Object(out)
}
