//! `fix` clauses as Kyverno ClusterPolicy `mutate` rules (`kyverno.io/v1`, spec/fix.md
//! §7.3): written by `rampart build --target kyverno` beside the validation ClusterPolicies,
//! one policy `fix-<rule>` per rule with an exported fix.
//!
//! Autogen is off (`pod-policies.kyverno.io/autogen-controllers: none`): a pod rule gets
//! one Kyverno rule per shape (the Pod, the controllers' pod template, CronJob's), as the
//! MutatingPolicy export picks the template in CEL. A fix under a `for` is a `foreach` over
//! each list the binder iterates, whose `preconditions` hold the outcome's `when` in
//! JMESPath ([`super::jmespath`]) with the element as `element`, and whose
//! `patchesJson6902` reach it at `{{elementIndex}}`. A JSON patch is a constant, so each
//! depth at which the fix path stops existing gets its own entry (mutually exclusive
//! preconditions), creating the missing parents; every entry also requires that the fix
//! changes something, so a second run is a no-op. A second `for` and `remove p, v` are
//! nested `foreach`es (`element0`, `{{elementIndex0}}` for the outer element).

use serde_json::Value as Json;
use serde_yaml_ng::Value as Y;

use super::jmespath::{ident, literal, Jmes};
use super::kind_name;
use crate::backend::cel::patch::{binder_list_fields, describe, exported_fixes, fix_value, shapes};
use crate::backend::cel::{yaml_docs, yaml_map, ylist, ys, ExportError, OutputFile};
use crate::ir::{ExprKind, Fix, FixOp, Outcome, PathRoot, PathStep, Program, Rule, Target, Value};
use crate::names;

/// The name of this export in diagnostics.
pub const TARGET: &str = "Kyverno mutate rules";

/// The mutate ClusterPolicy files of every rule with an exported fix, and a warning for each
/// such rule that cannot be expressed (its validation is still exported).
pub fn export_all(program: &Program, review: bool) -> (Vec<OutputFile>, Vec<ExportError>) {
    export_each(program, policy_name, |rule| export_rule(rule, review))
}

/// The ClusterPolicy file `export` writes for each rule (if any) and the warnings of the
/// rules it cannot express; the files' names (`name` of the rule) must not clash.
pub(super) fn export_each(
    program: &Program,
    name: fn(&Rule) -> String,
    export: impl Fn(&Rule) -> Result<Option<OutputFile>, ExportError>,
) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut claims = names::Claims::default();
    for rule in &program.rules {
        match export(rule) {
            Ok(Some(f)) => {
                claims.claim("ClusterPolicy name", &name(rule), &rule.id);
                files.push(f)
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    errors.extend(crate::backend::cel::clash_errors(claims, "kyverno"));
    (files, errors)
}

fn policy_name(rule: &Rule) -> String {
    names::fit(&format!("fix-{}", names::label(&rule.id)))
}

/// The mutate ClusterPolicy of one rule, `None` when it has no exported fix.
pub fn export_rule(rule: &Rule, review: bool) -> Result<Option<OutputFile>, ExportError> {
    let fail = |construct: String| ExportError {
        rule: rule.id.clone(),
        construct,
        target: TARGET.into(),
        other: None,
    };
    let fixes = exported_fixes(rule, review);
    if fixes.is_empty() {
        return Ok(None);
    }
    unmatchable(rule).map_err(|why| fail(format!("its `match`: {why}")))?;
    let mut rules = Vec::new();
    let base = names::label(&rule.name);
    for (outcome, fix) in fixes {
        for shape in shapes(rule) {
            let kyverno_rules = fix_rules(rule, outcome, fix, &shape).map_err(|why| {
                fail(format!(
                    "the fix `{} {}`: {why}",
                    fix.op.word(),
                    describe(rule, fix)
                ))
            })?;
            for (preconditions, mutate) in kyverno_rules {
                let name = names::fit(&format!("{base}-{}", rules.len() + 1));
                let mut entries = vec![("name", ys(&name))];
                entries.extend(matcher(rule, &shape));
                if !preconditions.is_empty() {
                    entries.push(("preconditions", conditions(&preconditions)));
                }
                entries.push(("mutate", mutate));
                rules.push(yaml_map(entries));
            }
        }
    }
    Ok(Some(cluster_policy(&policy_name(rule), rule, false, rules)))
}

/// A ClusterPolicy `name` of `rules` for `rule` (autogen off, annotated with the rule),
/// run at admission and, with `background`, on the objects already in the cluster.
pub(super) fn cluster_policy(
    name: &str,
    rule: &Rule,
    background: bool,
    rules: Vec<Y>,
) -> OutputFile {
    let doc = yaml_map(vec![
        ("apiVersion", ys("kyverno.io/v1")),
        ("kind", ys("ClusterPolicy")),
        (
            "metadata",
            yaml_map(vec![
                ("name", ys(name)),
                (
                    "annotations",
                    yaml_map(vec![
                        ("pod-policies.kyverno.io/autogen-controllers", ys("none")),
                        ("policies.kyverno.io/title", ys(&rule.meta.title)),
                        ("rampart.dev/rule", ys(&rule.id)),
                    ]),
                ),
            ]),
        ),
        (
            "spec",
            yaml_map(vec![
                ("admission", Y::Bool(true)),
                ("background", Y::Bool(background)),
                ("rules", Y::Sequence(rules)),
            ]),
        ),
    ]);
    OutputFile {
        path: format!("{name}.yaml"),
        contents: yaml_docs(&[doc]),
    }
}

/// Why the rule's match cannot be written on mutate rules, if it cannot: its kinds must be
/// named, and label matching or namespaces of cluster-scoped kinds need the CEL
/// preconditions of the validation export, which are not carried over.
pub(super) fn unmatchable(rule: &Rule) -> Result<(), String> {
    let m = &rule.matcher;
    if m.targets.is_empty()
        || m.targets
            .iter()
            .any(|t| t.gvk.kind == crate::ir::EVERY_KIND)
    {
        return Err("a mutate rule names the kinds it changes".into());
    }
    if !m.labels.is_empty() || !m.exclude_labels.is_empty() {
        return Err("label matching is not translated to mutate rules".into());
    }
    let namespaces = !m.namespaces.is_empty() || !m.exclude_namespaces.is_empty();
    if namespaces && m.targets.iter().any(|t| !t.namespaced) {
        return Err("Kyverno matches a cluster-scoped object's namespaces by its name".into());
    }
    Ok(())
}

/// `match` (kinds of the shape, the rule's namespaces) and `exclude`.
pub(super) fn matcher(rule: &Rule, shape: &[&Target]) -> Vec<(&'static str, Y)> {
    let mut kinds: Vec<String> = Vec::new();
    for t in shape {
        let k = kind_name(t);
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let mut resources = vec![("kinds", ylist(&kinds))];
    if !rule.matcher.namespaces.is_empty() {
        resources.push(("namespaces", ylist(&rule.matcher.namespaces)));
    }
    let any = |r: Y| {
        yaml_map(vec![(
            "any",
            Y::Sequence(vec![yaml_map(vec![("resources", r)])]),
        )])
    };
    let mut out = vec![("match", any(yaml_map(resources)))];
    if !rule.matcher.exclude_namespaces.is_empty() {
        let r = yaml_map(vec![(
            "namespaces",
            ylist(&rule.matcher.exclude_namespaces),
        )]);
        out.push(("exclude", any(r)));
    }
    out
}

/// `preconditions`: every JMESPath condition must be true.
pub(super) fn conditions(conds: &[String]) -> Y {
    let all = conds
        .iter()
        .map(|c| {
            yaml_map(vec![
                ("key", ys(&format!("{{{{ {c} }}}}"))),
                ("operator", ys("Equals")),
                ("value", Y::Bool(true)),
            ])
        })
        .collect();
    yaml_map(vec![("all", Y::Sequence(all))])
}

/// Where a fix path starts: a JMESPath read and the JSON pointer (with Kyverno variables).
struct Base {
    read: String,
    pointer: String,
}

/// One conditional JSON patch: the conditions under which it applies, and its operations.
struct Variant {
    conditions: Vec<String>,
    ops: Vec<Json>,
}

/// A JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The Kyverno rules of one fix on one shape: each rule's preconditions and `mutate`.
fn fix_rules(
    rule: &Rule,
    outcome: &Outcome,
    fix: &Fix,
    shape: &[&Target],
) -> Result<Vec<(Vec<String>, Y)>, String> {
    let value = fix_value(rule, fix)?;
    let mut steps = Vec::new();
    for s in &fix.path.steps {
        match s {
            PathStep::Field(f) | PathStep::Key(f) => steps.push(f.clone()),
            PathStep::Index(_) => return Err("a fix path with a list index".into()),
        }
    }
    let subject_path = &shape[0].subject_path;
    let subject = Base {
        read: std::iter::once("request.object".to_string())
            .chain(subject_path.iter().map(|f| ident(f)))
            .collect::<Vec<_>>()
            .join("."),
        pointer: subject_path
            .iter()
            .map(|f| format!("/{}", escape(f)))
            .collect(),
    };
    // A controller without a pod template has no pods to fix.
    let template = (!subject_path.is_empty()).then(|| format!("({} != `null`)", subject.read));
    match (fix.path.root, outcome.binders.as_slice()) {
        (PathRoot::Subject, []) => {
            let mut jmes = Jmes::new(rule, &subject.read, &[]);
            let mut pre: Vec<String> = template.into_iter().collect();
            if let Some(w) = &outcome.when {
                pre.push(jmes.condition(w)?);
            }
            if fix.op == FixOp::RemoveValue {
                let entry = remove_value(&subject, &steps, value.as_ref(), "elementIndex");
                return Ok(vec![(pre, yaml_map(vec![("foreach", Y::Sequence(vec![entry]))]))]);
            }
            let mut out = Vec::new();
            for v in variants(&subject, &steps, fix.op, value.as_ref())? {
                let mut conds = pre.clone();
                conds.extend(v.conditions);
                out.push((conds, yaml_map(vec![("patchesJson6902", patch_text(&v.ops))])));
            }
            Ok(out)
        }
        (root, [b]) if root == PathRoot::Binder(b.item) || fix.op == FixOp::Set => {
            let mut jmes = Jmes::new(rule, &subject.read, &[(b.item, "element")]);
            let fires = match &outcome.when {
                Some(w) => Some(jmes.condition(w)?),
                None => None,
            };
            let mut entries = Vec::new();
            for fields in binder_list_fields(b)? {
                let read = std::iter::once(subject.read.clone())
                    .chain(fields.iter().map(|f| ident(f)))
                    .collect::<Vec<_>>()
                    .join(".");
                let list = format!("not_null({read}, `[]`)");
                let list_pointer: String = fields.iter().map(|f| format!("/{}", escape(f))).collect();
                let element = Base {
                    read: "element".into(),
                    pointer: format!("{}{list_pointer}/{{{{elementIndex}}}}", subject.pointer),
                };
                let removes_element = root != PathRoot::Subject && steps.is_empty();
                if fix.op == FixOp::RemoveValue {
                    // A nested `foreach` over the list: the outer element's index is
                    // `elementIndex0` there.
                    let outer = Base {
                        read: "element".into(),
                        pointer: element.pointer.replace("{{elementIndex}}", "{{elementIndex0}}"),
                    };
                    let inner = remove_value(&outer, &steps, value.as_ref(), "elementIndex1");
                    let mut entry = vec![("list", ys(&list))];
                    if let Some(f) = &fires {
                        entry.push(("preconditions", conditions(std::slice::from_ref(f))));
                    }
                    entry.push(("foreach", Y::Sequence(vec![inner])));
                    entries.push(yaml_map(entry));
                    continue;
                }
                let found = if removes_element {
                    if fix.op != FixOp::Remove {
                        return Err("a fix of a whole element".into());
                    }
                    vec![Variant {
                        conditions: Vec::new(),
                        ops: vec![serde_json::json!({"op": "remove", "path": element.pointer})],
                    }]
                } else if root == PathRoot::Subject {
                    variants(&subject, &steps, fix.op, value.as_ref())?
                } else {
                    variants(&element, &steps, fix.op, value.as_ref())?
                };
                entries.extend(foreach_entries(&list, removes_element, fires.as_ref(), found));
            }
            // A controller without a template has an empty list: no precondition needed.
            Ok(vec![(Vec::new(), yaml_map(vec![("foreach", Y::Sequence(entries))]))])
        }
        (PathRoot::Binder(item), [outer, inner]) if inner.item == item => {
            let inner_fields = local_fields(&inner.collection, outer.item).ok_or(
                "a fix under two `for`s whose inner one iterates something other than a field \
                 path of the outer element",
            )?;
            if inner.key.is_some() {
                return Err("a fix under a `for` with a key or index binder".into());
            }
            let elements = [(outer.item, "element0"), (inner.item, "element")];
            let mut jmes = Jmes::new(rule, &subject.read, &elements);
            let fires = match &outcome.when {
                Some(w) => Some(jmes.condition(w)?),
                None => None,
            };
            let inner_read = std::iter::once("element".to_string())
                .chain(inner_fields.iter().map(|f| ident(f)))
                .collect::<Vec<_>>()
                .join(".");
            let inner_pointer: String = inner_fields
                .iter()
                .map(|f| format!("/{}", escape(f)))
                .collect();
            let mut entries = Vec::new();
            for fields in binder_list_fields(outer)? {
                let read = std::iter::once(subject.read.clone())
                    .chain(fields.iter().map(|f| ident(f)))
                    .collect::<Vec<_>>()
                    .join(".");
                let list_pointer: String =
                    fields.iter().map(|f| format!("/{}", escape(f))).collect();
                let element = Base {
                    read: "element".into(),
                    pointer: format!(
                        "{}{list_pointer}/{{{{elementIndex0}}}}{inner_pointer}/{{{{elementIndex1}}}}",
                        subject.pointer
                    ),
                };
                let removes_element = steps.is_empty();
                let found = match fix.op {
                    FixOp::Remove if removes_element => vec![Variant {
                        conditions: Vec::new(),
                        ops: vec![serde_json::json!({"op": "remove", "path": element.pointer})],
                    }],
                    FixOp::RemoveValue => {
                        return Err("`remove p, v` under two `for`s".into());
                    }
                    _ => variants(&element, &steps, fix.op, value.as_ref())?,
                };
                let inner_list = format!("not_null({inner_read}, `[]`)");
                let nested = foreach_entries(&inner_list, removes_element, fires.as_ref(), found);
                entries.push(yaml_map(vec![
                    ("list", ys(&format!("not_null({read}, `[]`)"))),
                    ("foreach", Y::Sequence(nested)),
                ]));
            }
            Ok(vec![(Vec::new(), yaml_map(vec![("foreach", Y::Sequence(entries))]))])
        }
        (PathRoot::Subject, [_]) => Err(
            "a fix of the object under a `for` other than `set` would be applied once per firing element".into(),
        ),
        _ => Err("a fix under more than one `for`, or rooted at an outer `for`".into()),
    }
}

/// `remove p, v` at `base`: a `foreach` over the list `p` that removes each element equal to
/// `v` at its index (`index`, the variable of the list's nesting), from the list's end so
/// that a removal does not shift the elements still to visit. An absent list has none.
fn remove_value(base: &Base, steps: &[String], value: Option<&Value>, index: &str) -> Y {
    let read = std::iter::once(base.read.clone())
        .chain(steps.iter().map(|s| ident(s)))
        .collect::<Vec<_>>()
        .join(".");
    let pointer: String = steps.iter().map(|s| format!("/{}", escape(s))).collect();
    let v = literal(&value.cloned().unwrap_or(Value::Null));
    let remove = serde_json::json!({
        "op": "remove",
        "path": format!("{}{pointer}/{{{{{index}}}}}", base.pointer),
    });
    yaml_map(vec![
        ("list", ys(&format!("not_null({read}, `[]`)"))),
        ("order", ys("Descending")),
        ("preconditions", conditions(&[format!("(element == {v})")])),
        ("patchesJson6902", patch_text(&[remove])),
    ])
}

/// One `foreach` entry over `list` per variant: the outcome's condition (`fires`) and the
/// variant's, then its patch; a removal of the element visits the list from its end, so
/// that it does not shift the elements still to visit.
fn foreach_entries(
    list: &str,
    removes_element: bool,
    fires: Option<&String>,
    found: Vec<Variant>,
) -> Vec<Y> {
    let mut out = Vec::new();
    for v in found {
        let mut conds: Vec<String> = fires.into_iter().cloned().collect();
        conds.extend(v.conditions);
        let mut entry = vec![("list", ys(list))];
        if removes_element {
            entry.push(("order", ys("Descending")));
        }
        if !conds.is_empty() {
            entry.push(("preconditions", conditions(&conds)));
        }
        entry.push(("patchesJson6902", patch_text(&v.ops)));
        out.push(yaml_map(entry));
    }
    out
}

/// The field names of a path from the local `l`.
fn local_fields(e: &crate::ir::Expr, l: crate::ir::Local) -> Option<Vec<String>> {
    match &e.kind {
        ExprKind::Local(x) if *x == l => Some(Vec::new()),
        ExprKind::Field(inner, f) => {
            let mut p = local_fields(inner, l)?;
            p.push(f.clone());
            Some(p)
        }
        _ => None,
    }
}

/// The JSON patch text: YAML, whose block form holds no `{{` but Kyverno's variables.
fn patch_text(ops: &[Json]) -> Y {
    let y: Y = serde_yaml_ng::to_value(ops).expect("a patch converts to YAML");
    ys(serde_yaml_ng::to_string(&y)
        .expect("a patch serializes")
        .trim_end())
}

/// The conditional patches of a fix at `base`: one per depth at which the path stops
/// existing (mutually exclusive), each also requiring that the fix changes something.
fn variants(
    base: &Base,
    steps: &[String],
    op: FixOp,
    value: Option<&Value>,
) -> Result<Vec<Variant>, String> {
    let n = steps.len();
    if n == 0 {
        return Err("a fix of the whole subject".into());
    }
    let read = |d: usize| {
        std::iter::once(base.read.clone())
            .chain(steps[..d].iter().map(|s| ident(s)))
            .collect::<Vec<_>>()
            .join(".")
    };
    let pointer = |d: usize| {
        format!(
            "{}{}",
            base.pointer,
            steps[..d]
                .iter()
                .map(|s| format!("/{}", escape(s)))
                .collect::<String>()
        )
    };
    let exists = |d: usize| format!("({} != `null`)", read(d));
    let absent = |d: usize| format!("({} == `null`)", read(d));
    let v = value.cloned().unwrap_or(Value::Null);
    let lit = literal(&v);
    // The value created at depth `d + 1` when the steps from there are missing.
    let nested = |d: usize, leaf: Json| {
        steps[d + 1..]
            .iter()
            .rev()
            .fold(leaf, |below, s| serde_json::json!({ s.clone(): below }))
    };
    let add =
        |path: String, value: Json| serde_json::json!({"op": "add", "path": path, "value": value});
    // The parents from depth 1 up to `d` exist (the base always does).
    let parents = |d: usize| if d > 0 { vec![exists(d)] } else { Vec::new() };
    let mut out = Vec::new();
    match op {
        FixOp::Set => {
            let needed = format!("({} != {lit})", read(n));
            for d in 0..n {
                let mut conditions = vec![needed.clone()];
                conditions.extend(parents(d));
                if d + 1 < n {
                    conditions.push(absent(d + 1));
                }
                out.push(Variant {
                    conditions,
                    ops: vec![add(pointer(d + 1), nested(d, v.to_json()))],
                });
            }
        }
        FixOp::Add => {
            let needed = format!("!(contains(not_null({}, `[]`), {lit}))", read(n));
            for d in 0..n {
                let mut conditions = vec![needed.clone()];
                conditions.extend(parents(d));
                conditions.push(absent(d + 1));
                out.push(Variant {
                    conditions,
                    ops: vec![add(
                        pointer(d + 1),
                        nested(d, Json::Array(vec![v.to_json()])),
                    )],
                });
            }
            out.push(Variant {
                conditions: vec![needed, exists(n)],
                ops: vec![add(format!("{}/-", pointer(n)), v.to_json())],
            });
        }
        FixOp::Remove => out.push(Variant {
            conditions: vec![exists(n)],
            ops: vec![serde_json::json!({"op": "remove", "path": pointer(n)})],
        }),
        FixOp::RemoveValue => unreachable!("a `foreach` of its own: `remove_value`"),
    }
    Ok(out)
}
