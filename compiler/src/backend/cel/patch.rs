//! `fix` clauses as RFC 6902 JSON patches written in CEL (spec/fix.md §7): the form that
//! Kubernetes' MutatingAdmissionPolicy (`patchType: JSONPatch`) evaluates.
//!
//! Each fix of an outcome becomes one patch expression, a CEL list of
//! `JSONPatch{op, path, value}`, that patches exactly where the Wasm evaluator reports a
//! finding: the outcome's `when` (compiled as for the validations) selects the firing
//! elements of the outcome's `for`, and the fix's own guard leaves an already fixed value
//! alone, so that applying the patch twice equals applying it once.
//!
//! - `set p = v`: one `add` at the deepest part of `p` that exists, carrying the missing
//!   parents as nested maps (`add /…/securityContext {"privileged": false}`), when the value
//!   is not already `v`;
//! - `add p, v`: `add /…/p/-` when the list has no element equal to `v`, or the list (and
//!   its missing parents) created with `[v]`;
//! - `remove p`: `remove` when the field is there; the element a binder is at: the list
//!   `replace`d by its elements for which the outcome does not fire;
//! - `remove p, v`: the list `replace`d by its elements not equal to `v`, when it holds one.
//!
//! The element's index is `list.indexOf(element)` (Kubernetes' list library): elements of
//! the lists fixes reach (containers, volumes, …) are told apart by their `name`, so no two
//! are equal. Each patch list is evaluated on the object as the previous mutations left
//! it (MutatingAdmissionPolicy applies its mutations in order), so a later fix of the same
//! outcome sees the earlier ones: the same result as applying every fix at once unless a
//! fix changes what another outcome's `when` reads.
//!
//! Supported: outcomes with at most one `for`, over a field path of the subject or
//! `all_containers(object)`; fix paths of fields and map keys (no list index). Other forms
//! are reported as not exportable.

use super::{literal, quote, select, setup, Cx, Dialect, ExportError, Named, C};
use crate::ir::{
    Binder, Builtin, Expr, ExprKind, Fix, FixOp, FixValue, Outcome, PathRoot, PathStep, Rule,
    Target, Value,
};

/// The fixes of one rule compiled to CEL JSON patches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CelPatches {
    pub match_conditions: Vec<Named>,
    pub variables: Vec<Named>,
    /// One JSON patch expression per exported fix, in outcome and fix order.
    pub patches: Vec<String>,
}

/// Whether a fix is exported: safe fixes always, `review` ones only when asked.
pub fn exported(fix: &Fix, review: bool) -> bool {
    review || !fix.review
}

/// The rule's exported fixes with their outcomes, in outcome and fix order.
pub(crate) fn exported_fixes(rule: &Rule, review: bool) -> Vec<(&Outcome, &Fix)> {
    rule.outcomes
        .iter()
        .flat_map(|o| o.fixes.iter().map(move |f| (o, f)))
        .filter(|(_, f)| exported(f, review))
        .collect()
}

/// The rule's fixes as CEL JSON patches for `dialect` (no autogen: the pod template of each
/// shape is picked in CEL), `None` when the rule has no exported fix.
pub fn compile_fixes(
    rule: &Rule,
    dialect: Dialect,
    target: &str,
    review: bool,
) -> Result<Option<CelPatches>, ExportError> {
    let fail = |construct: String| ExportError {
        rule: rule.id.clone(),
        construct,
        target: target.to_string(),
        other: None,
    };
    let any = rule
        .outcomes
        .iter()
        .flat_map(|o| &o.fixes)
        .any(|f| exported(f, review));
    if !any {
        return Ok(None);
    }
    if let Some(c) = super::unsupported(rule) {
        return Err(fail(c));
    }
    let (mut cx, match_conditions, mut variables) = setup(rule, dialect).map_err(&fail)?;
    let pointer = cx.unique_name("subjectPointer");
    variables.push(Named {
        name: pointer.clone(),
        expression: pointer_switch(rule),
    });
    let mut patches = Vec::new();
    for outcome in &rule.outcomes {
        for fix in outcome.fixes.iter().filter(|f| exported(f, review)) {
            let names = cx.names.clone();
            let patch = outcome_patch(&mut cx, outcome, fix, &format!("variables.{pointer}"));
            cx.names = names;
            patches.push(patch.map_err(&fail)?);
        }
    }
    Ok(Some(CelPatches {
        match_conditions,
        variables,
        patches,
    }))
}

/// The JSON pointer of the subject, by kind: `''` for an object checked as itself, the pod
/// template's for a pod controller.
fn pointer_switch(rule: &Rule) -> String {
    let mut out = quote("");
    let mut seen = Vec::new();
    for t in rule.matcher.targets.iter().rev() {
        if t.subject_path.is_empty() || seen.contains(&t.gvk.kind) {
            continue;
        }
        seen.push(t.gvk.kind.clone());
        let p: String = t
            .subject_path
            .iter()
            .map(|s| format!("/{}", escape(s)))
            .collect();
        out = format!(
            "object.kind == {} ? {} : {out}",
            quote(&t.gvk.kind),
            quote(&p)
        );
    }
    out
}

/// A JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A list the outcome's `for` iterates: its CEL (an empty list when absent) and its pointer
/// below the subject's.
struct List {
    code: String,
    pointer: String,
}

/// The field paths (from the subject) of the lists a `for` binder iterates: a field path of
/// the subject, or the three container lists of `all_containers(object)`. Shared by every
/// fix export.
pub(crate) fn binder_list_fields(b: &Binder) -> Result<Vec<Vec<String>>, String> {
    if b.key.is_some() {
        return Err("a fix under a `for` with a key or index binder".into());
    }
    match &b.collection.kind {
        ExprKind::Call(Builtin::AllContainers, args)
            if matches!(args[0].kind, ExprKind::Subject) =>
        {
            Ok(["initContainers", "containers", "ephemeralContainers"]
                .iter()
                .map(|f| vec!["spec".to_string(), f.to_string()])
                .collect())
        }
        _ => Ok(vec![subject_fields(&b.collection).ok_or(
            "a fix under a `for` over something other than a field path of the subject or \
             `all_containers(object)`",
        )?]),
    }
}

/// The lists a binder iterates, as CEL reads of the subject.
fn binder_lists(cx: &mut Cx, b: &Binder) -> Result<Vec<List>, String> {
    let subject = cx.subject.clone();
    let mut out = Vec::new();
    for fields in binder_list_fields(b)? {
        let mut code = subject.clone();
        let mut pointer = String::new();
        for f in &fields {
            code.push_str(&select(f, cx.dialect)?);
            pointer.push('/');
            pointer.push_str(&escape(f));
        }
        out.push(List {
            code: format!("{code}.orValue([])"),
            pointer,
        });
    }
    Ok(out)
}

/// The fix's path as written: `c.securityContext.privileged`.
pub(crate) fn describe(rule: &Rule, fix: &Fix) -> String {
    let mut out = match fix.path.root {
        PathRoot::Subject => "object".to_string(),
        PathRoot::Binder(l) => rule
            .local_names
            .get(l as usize)
            .cloned()
            .unwrap_or_default(),
    };
    for s in &fix.path.steps {
        match s {
            PathStep::Field(f) => out.push_str(&format!(".{f}")),
            PathStep::Key(k) => out.push_str(&format!("[{k:?}]")),
            PathStep::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The targets grouped by where the subject sits: one mutator or Kyverno rule each.
pub(crate) fn shapes(rule: &Rule) -> Vec<Vec<&Target>> {
    let mut out: Vec<Vec<&Target>> = Vec::new();
    for t in &rule.matcher.targets {
        match out.iter_mut().find(|s| s[0].subject_path == t.subject_path) {
            Some(s) => s.push(t),
            None => out.push(vec![t]),
        }
    }
    out
}

/// The field names of a path from the subject.
pub(crate) fn subject_fields(e: &Expr) -> Option<Vec<String>> {
    match &e.kind {
        ExprKind::Subject => Some(Vec::new()),
        ExprKind::Field(inner, f) => {
            let mut p = subject_fields(inner)?;
            p.push(f.clone());
            Some(p)
        }
        _ => None,
    }
}

/// The patch list of one fix of `outcome`.
fn outcome_patch(
    cx: &mut Cx,
    o: &Outcome,
    fix: &Fix,
    subject_pointer: &str,
) -> Result<String, String> {
    let value = fix_value(cx.rule, fix)?;
    let subject = cx.subject.clone();
    match (fix.path.root, o.binders.as_slice()) {
        (PathRoot::Subject, binders) => {
            let fires = cx.nest(binders, o.when.as_ref())?;
            let base = Base {
                code: subject,
                pointer: subject_pointer.to_string(),
            };
            let patch = field_patch(cx, &base, &fix.path.steps, fix.op, value.as_ref())?;
            let guard = needed(cx, &base, &fix.path.steps, fix.op, value.as_ref())?;
            Ok(format!("({fires}) && ({guard}) ? [{patch}] : []"))
        }
        (PathRoot::Binder(item), [b]) if b.item == item => {
            let mut parts = Vec::new();
            for list in binder_lists(cx, b)? {
                let var = cx.local_name(b.item);
                cx.bind(b.item, C::atom(var.clone()));
                let when = match &o.when {
                    Some(w) => cx.expr(w)?.value(),
                    None => "true".into(),
                };
                let list_pointer = format!("{subject_pointer} + {}", quote(&list.pointer));
                if fix.path.steps.is_empty() && fix.op == FixOp::Remove {
                    // The element itself: keep the others.
                    parts.push(format!(
                        "{l}.exists({var}, {when}) ? [JSONPatch{{op: 'replace', path: {list_pointer}, \
                         value: {l}.filter({var}, !({when}))}}] : []",
                        l = list.code
                    ));
                    continue;
                }
                let base = Base {
                    code: var.clone(),
                    pointer: format!(
                        "{list_pointer} + '/' + string({}.indexOf({var}))",
                        list.code
                    ),
                };
                let patch = field_patch(cx, &base, &fix.path.steps, fix.op, value.as_ref())?;
                let guard = needed(cx, &base, &fix.path.steps, fix.op, value.as_ref())?;
                parts.push(format!(
                    "{l}.filter({var}, ({when}) && ({guard})).map({var}, {patch})",
                    l = list.code
                ));
            }
            Ok(parts.join(" + "))
        }
        _ => Err("a fix under more than one `for`, or rooted at an outer `for`".into()),
    }
}

/// The value of a fix as an IR constant (a parameter's default, as the exports inline).
pub(crate) fn fix_value(rule: &Rule, fix: &Fix) -> Result<Option<Value>, String> {
    match &fix.value {
        None => Ok(None),
        Some(FixValue::Const(v)) => Ok(Some(v.clone())),
        Some(FixValue::Param(i)) => rule.param_default(*i).map(|v| Some(v.clone())),
    }
}

/// Where a fix path starts: a CEL value and its JSON pointer (a CEL string expression).
struct Base {
    code: String,
    pointer: String,
}

/// The CEL optional read of `steps` below `base`, and the pointer of each prefix.
fn reads(cx: &Cx, base: &Base, steps: &[PathStep]) -> Result<Vec<(String, String)>, String> {
    let mut code = format!("optional.of({})", base.code);
    let mut pointer = String::new();
    let mut out = Vec::new();
    for s in steps {
        let (sel, token) = match s {
            PathStep::Field(f) => (select(f, cx.dialect)?, f.clone()),
            PathStep::Key(k) => (format!("[?{}]", quote(k)), k.clone()),
            PathStep::Index(_) => return Err("a fix path with a list index".into()),
        };
        code = format!("{code}{sel}");
        pointer.push('/');
        pointer.push_str(&escape(&token));
        out.push((
            code.clone(),
            format!("{} + {}", base.pointer, quote(&pointer)),
        ));
    }
    Ok(out)
}

/// The condition under which the fix changes something at `base`.
fn needed(
    cx: &Cx,
    base: &Base,
    steps: &[PathStep],
    op: FixOp,
    value: Option<&Value>,
) -> Result<String, String> {
    let reads = reads(cx, base, steps)?;
    let Some((leaf, _)) = reads.last() else {
        return Err("a fix of the whole subject".into());
    };
    let v = value.map(literal).unwrap_or_else(|| "null".into());
    Ok(match op {
        FixOp::Set => format!("!({leaf}.hasValue() && {leaf}.value() == {v})"),
        FixOp::Add => format!("!{leaf}.orValue([]).exists(x, x == {v})"),
        FixOp::RemoveValue => format!("{leaf}.orValue([]).exists(x, x == {v})"),
        FixOp::Remove => format!("{leaf}.hasValue()"),
    })
}

/// The `JSONPatch` making the fix at `base`, where [`needed`] holds.
fn field_patch(
    cx: &Cx,
    base: &Base,
    steps: &[PathStep],
    op: FixOp,
    value: Option<&Value>,
) -> Result<String, String> {
    let reads = reads(cx, base, steps)?;
    let Some((leaf, leaf_pointer)) = reads.last() else {
        return Err("a fix of the whole subject".into());
    };
    let v = value.map(literal).unwrap_or_else(|| "null".into());
    let patch = |op: &str, path: &str, value: Option<&str>| match value {
        Some(v) => format!("JSONPatch{{op: '{op}', path: {path}, value: {v}}}"),
        None => format!("JSONPatch{{op: '{op}', path: {path}}}"),
    };
    let body = match op {
        FixOp::Remove => patch("remove", leaf_pointer, None),
        FixOp::RemoveValue => patch(
            "replace",
            leaf_pointer,
            Some(&format!("{leaf}.value().filter(x, x != {v})")),
        ),
        FixOp::Set | FixOp::Add => {
            let (last, last_value) = match op {
                FixOp::Set => (patch("add", leaf_pointer, Some(&v)), v.clone()),
                _ => (
                    patch("add", &format!("{leaf_pointer} + '/-'"), Some(&v)),
                    format!("[{v}]"),
                ),
            };
            // From the leaf up: the deepest missing step carries what is below it.
            let mut out = last;
            let mut below = last_value;
            for i in (0..reads.len()).rev() {
                let (read, pointer) = &reads[i];
                let created = patch("add", pointer, Some(&below));
                out = if i + 1 == reads.len() && op == FixOp::Set {
                    out
                } else {
                    format!("(!{read}.hasValue() ? {created} : {out})")
                };
                let key = match &steps[i] {
                    PathStep::Field(f) | PathStep::Key(f) => f.clone(),
                    PathStep::Index(_) => unreachable!("refused by `reads`"),
                };
                below = format!("{{{}: {below}}}", quote(&key));
            }
            out
        }
    };
    Ok(body)
}
