//! Classic `validate.pattern` / `anyPattern` ClusterPolicies (`rampart build --target kyverno
//! --kyverno-style pattern`), for Kyverno versions without CEL: written for the rules that
//! translate faithfully, a diagnostic for the others.

use serde_yaml_ng::{Mapping, Value as Y};

use super::{cluster_policy, controllers, failure_action, kinds};
use crate::backend::cel::{self, yaml_docs, yaml_map, ylist, ys, ExportError, OutputFile};
use crate::ir::{
    Action, BinOp, Builtin, Expr, ExprKind, Local, MessagePart, Outcome, Program, Rule, Type, UnOp,
    Value,
};
use crate::names;

/// The target named in diagnostics of the pattern style.
pub const PATTERN_TARGET: &str = "kyverno --kyverno-style pattern";

/// The folder (below the output folder) of the pattern-style ClusterPolicies.
pub const PATTERN_DIR: &str = "pattern";

/// What a pattern asks of one field, relative to the element it is written under.
#[derive(Clone, Debug, PartialEq)]
enum Check {
    /// Absent, or present with this value: `=(f): v`.
    AbsentOr(Y),
    /// Present with this value: `f: v`.
    Equals(Y),
    /// Absent: `X(f): null`.
    Absent,
    /// Present, any value: `f: "*"` (Kyverno's default handler short-cuts `*` to presence).
    Present,
}

impl Check {
    /// Whether the parents of the field must be present for the check to pass.
    fn needs_parents(&self) -> bool {
        matches!(self, Check::Equals(_) | Check::Present)
    }
}

/// A check on the field at `path` below the innermost scope.
#[derive(Clone, Debug)]
struct Leaf {
    path: Vec<String>,
    check: Check,
}

/// A local while translating: the element a binder iterates (by depth), or an expression.
#[derive(Clone)]
enum Bound<'a> {
    Element(usize),
    Expr(&'a Expr),
}

/// Where a path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    Subject,
    Element(usize),
}

/// The pattern of one outcome: every leaf must hold (`pattern`), or any one (`anyPattern`).
enum Shape {
    All(Y),
    Any(Vec<Y>),
}

struct PatternCx<'a> {
    rule: &'a Rule,
    env: Vec<(Local, Bound<'a>)>,
}

type PResult<T> = Result<T, String>;

/// A map key that Kyverno reads as a plain key: no anchor parentheses, no wildcards.
fn plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
        && k.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A string constant that a Kyverno string pattern compares literally: it must not parse
/// as a quantity or duration (letters first) and must hold no wildcard or operator.
fn plain_string(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

impl<'a> PatternCx<'a> {
    fn lookup(&self, l: Local) -> Option<Bound<'a>> {
        self.env
            .iter()
            .rev()
            .find(|(x, _)| *x == l)
            .map(|(_, b)| b.clone())
    }

    fn name(&self, l: Local) -> String {
        self.rule
            .local_names
            .get(l as usize)
            .cloned()
            .unwrap_or_else(|| format!("x{l}"))
    }

    /// A field path: a root followed by constant field names and map keys.
    fn path(&mut self, e: &'a Expr) -> PResult<(Root, Vec<String>)> {
        match &e.kind {
            ExprKind::Subject => Ok((Root::Subject, Vec::new())),
            ExprKind::Local(l) => match self.lookup(*l) {
                Some(Bound::Element(d)) => Ok((Root::Element(d), Vec::new())),
                Some(Bound::Expr(x)) => self.path(x),
                None => Err(format!("local `{}`", self.name(*l))),
            },
            ExprKind::Field(inner, f) if plain_key(f) => {
                let (root, mut p) = self.path(inner)?;
                p.push(f.clone());
                Ok((root, p))
            }
            ExprKind::Index(inner, key) => match &key.kind {
                ExprKind::Lit(Value::String(k)) if plain_key(k) => {
                    let (root, mut p) = self.path(inner)?;
                    p.push(k.clone());
                    Ok((root, p))
                }
                _ => Err("an index that is not a constant plain map key".into()),
            },
            ExprKind::Let(l, v, body) => {
                self.env.push((*l, Bound::Expr(v)));
                self.path(body)
            }
            _ => Err("a value that is not a field path".into()),
        }
    }

    /// A constant: a literal or a parameter (inlined as its default).
    fn constant(&self, e: &Expr) -> Option<Value> {
        match &e.kind {
            ExprKind::Lit(v) => Some(v.clone()),
            ExprKind::Param(i) => self.rule.params.get(*i as usize).map(|p| p.default.clone()),
            _ => None,
        }
    }

    /// `path ?? default` with a constant default.
    fn defaulted(&mut self, e: &'a Expr) -> Option<(Root, Vec<String>, Value)> {
        match &e.kind {
            ExprKind::Default(f, d) => {
                let d = self.constant(d)?;
                let (root, p) = self.path(f).ok()?;
                (!p.is_empty()).then_some((root, p, d))
            }
            _ => None,
        }
    }

    /// The check that passes exactly when the deny condition `e` (a single comparison,
    /// negated when `negated`) is false, with the scope its path starts at.
    fn atom(&mut self, e: &'a Expr, negated: bool) -> PResult<(Root, Leaf)> {
        let unsupported = || {
            "a condition other than a field compared with a constant (`f ?? c`, \
             `(f ?? d) == c`, `f == null` and their negations)"
                .to_string()
        };
        let inner = match &e.kind {
            ExprKind::Unary(UnOp::Not, x) => return self.atom(x, !negated),
            ExprKind::Let(l, v, body) => {
                self.env.push((*l, Bound::Expr(v)));
                return self.atom(body, negated);
            }
            ExprKind::Local(l) => match self.lookup(*l) {
                Some(Bound::Expr(x)) => return self.atom(x, negated),
                _ => return Err(unsupported()),
            },
            _ => e,
        };
        if let ExprKind::IsAbsent(f) = &inner.kind {
            let (root, path) = self.path(f)?;
            if path.is_empty() {
                return Err(unsupported());
            }
            // deny when absent → pass when present; deny when present → pass when absent.
            let check = if negated {
                Check::Absent
            } else {
                Check::Present
            };
            return Ok((root, Leaf { path, check }));
        }
        if let Some((root, path, d)) = self.defaulted(inner) {
            // deny when `f ?? b` (bool f).
            let Value::Bool(b) = d else {
                return Err(unsupported());
            };
            // The condition is true for the value `!negated`, and for absent when b != negated.
            let deny_value = !negated;
            let absent_denies = b != negated;
            let check = if absent_denies {
                Check::Equals(Y::Bool(!deny_value))
            } else {
                Check::AbsentOr(Y::Bool(!deny_value))
            };
            return Ok((root, Leaf { path, check }));
        }
        if let ExprKind::Binary(op @ (BinOp::Eq | BinOp::Ne), a, b) = &inner.kind {
            let negated = negated != (*op == BinOp::Ne);
            let (side, c) = match (self.constant(a), self.constant(b)) {
                (None, Some(c)) => (&**a, c),
                (Some(c), None) => (&**b, c),
                _ => return Err(unsupported()),
            };
            let Some((root, path, d)) = self.defaulted(side) else {
                return Err(unsupported());
            };
            let yaml = |v: &Value| -> Option<Y> {
                match v {
                    Value::Bool(x) => Some(Y::Bool(*x)),
                    Value::Int(i) => Some(Y::Number((*i).into())),
                    Value::String(s) if plain_string(s) => Some(ys(s)),
                    _ => None,
                }
            };
            let Some(cy) = yaml(&c) else {
                return Err(
                    "a comparison with a constant that Kyverno patterns do not read \
                     literally (only booleans, integers and plain words)"
                        .into(),
                );
            };
            // The value other than c that passes, when the field must differ from c.
            let differ = match &c {
                Value::Bool(x) => Some(Y::Bool(!x)),
                Value::String(s) => Some(ys(&format!("!{s}"))),
                _ => None,
            };
            let absent_denies = (d == c) != negated;
            let check = match (negated, absent_denies) {
                // deny when f == c (absent passes): pass when absent or f != c.
                (false, false) => Check::AbsentOr(differ.ok_or_else(unsupported)?),
                // deny when absent or f == c: pass when present and f != c.
                (false, true) => Check::Equals(differ.ok_or_else(unsupported)?),
                // deny when present and f != c: pass when absent or f == c.
                (true, false) => Check::AbsentOr(cy),
                // deny when absent or f != c: pass when f == c.
                (true, true) => Check::Equals(cy),
            };
            return Ok((root, Leaf { path, check }));
        }
        Err(unsupported())
    }

    /// The deny condition as a list of atoms joined by `op`, after inlining `let`s.
    fn flatten(&mut self, e: &'a Expr, op: BinOp, out: &mut Vec<&'a Expr>) {
        match &e.kind {
            ExprKind::Binary(o, a, b) if *o == op => {
                self.flatten(a, op, out);
                self.flatten(b, op, out);
            }
            ExprKind::Let(l, v, body) => {
                self.env.push((*l, Bound::Expr(v)));
                self.flatten(body, op, out);
            }
            ExprKind::Local(l) => match self.lookup(*l) {
                Some(Bound::Expr(x)) => self.flatten(x, op, out),
                _ => out.push(e),
            },
            _ => out.push(e),
        }
    }
}

/// Inserts `value` at `path` below `map`: the parents are written `=(k)` when the check
/// passes without them, plain otherwise. Two leaves that need the same key written
/// differently cannot share one pattern.
fn insert(map: &mut Mapping, path: &[String], leaf: (&str, Y), optional: bool) -> PResult<()> {
    let conflict = || "two conditions on one field that a single pattern cannot hold".to_string();
    let Some((first, rest)) = path.split_first() else {
        if map.contains_key(leaf.0) {
            return Err(conflict());
        }
        map.insert(ys(leaf.0), leaf.1);
        return Ok(());
    };
    let (key, other) = if optional {
        (format!("=({first})"), first.clone())
    } else {
        (first.clone(), format!("=({first})"))
    };
    if map.contains_key(other.as_str()) || map.contains_key(format!("X({first})").as_str()) {
        return Err(conflict());
    }
    let entry = map
        .entry(ys(&key))
        .or_insert_with(|| Y::Mapping(Mapping::new()));
    match entry {
        Y::Mapping(m) => insert(m, rest, leaf, optional),
        _ => Err(conflict()),
    }
}

fn leaf_entry(leaf: &Leaf) -> PResult<(Vec<String>, String, Y)> {
    let (last, parents) = leaf.path.split_last().expect("leaves have a field");
    let (key, value) = match &leaf.check {
        Check::AbsentOr(v) => (format!("=({last})"), v.clone()),
        Check::Equals(v) => (last.clone(), v.clone()),
        Check::Absent => (format!("X({last})"), Y::Null),
        Check::Present => (last.clone(), ys("*")),
    };
    Ok((parents.to_vec(), key, value))
}

/// A map holding all `leaves` (relative to one element).
fn element_pattern(leaves: &[Leaf]) -> PResult<Mapping> {
    let mut m = Mapping::new();
    for leaf in leaves {
        let (parents, key, value) = leaf_entry(leaf)?;
        let bare = leaf.path.last().expect("leaves have a field");
        for k in [bare.clone(), format!("=({bare})"), format!("X({bare})")] {
            if k != key && lookup(&m, &parents, &k) {
                return Err("two conditions on one field that a single pattern cannot hold".into());
            }
        }
        insert(&mut m, &parents, (&key, value), !leaf.check.needs_parents())?;
    }
    Ok(m)
}

/// Whether `key` is set in the map reached through `parents` (in either spelling).
fn lookup(m: &Mapping, parents: &[String], key: &str) -> bool {
    match parents.split_first() {
        None => m.contains_key(key),
        Some((p, rest)) => [p.clone(), format!("=({p})")].iter().any(
            |k| matches!(m.get(k.as_str()), Some(Y::Mapping(inner)) if lookup(inner, rest, key)),
        ),
    }
}

/// How the pattern of the innermost element is placed in the subject: each binder's
/// collection, outermost first.
enum Collection {
    /// A list of objects at this path below the enclosing element.
    Path(Vec<String>),
    /// `all_containers(subject)`.
    AllContainers,
}

fn wrap(collections: &[Collection], element: Mapping) -> PResult<Mapping> {
    let Some((last, outer)) = collections.split_last() else {
        return Ok(element);
    };
    let list = Y::Sequence(vec![Y::Mapping(element)]);
    let mut m = Mapping::new();
    match last {
        Collection::Path(p) => {
            let (field, parents) = p.split_last().expect("a collection has a path");
            insert(&mut m, parents, (&format!("=({field})"), list), true)?;
        }
        Collection::AllContainers => {
            for f in ["initContainers", "containers", "ephemeralContainers"] {
                insert(
                    &mut m,
                    &["spec".to_string()],
                    (&format!("=({f})"), list.clone()),
                    true,
                )?;
            }
        }
    }
    wrap(outer, m)
}

/// The pattern of one outcome, or the construct that has none.
fn outcome_shape(rule: &Rule, o: &Outcome) -> PResult<Shape> {
    let mut cx = PatternCx {
        rule,
        env: Vec::new(),
    };
    for (l, e) in &rule.lets {
        cx.env.push((*l, Bound::Expr(e)));
    }
    let mut collections = Vec::new();
    for (depth, b) in o.binders.iter().enumerate() {
        if b.key.is_some() {
            return Err("a `for` with a key or index binder".into());
        }
        if !matches!(b.collection.ty.strip_optional(), Type::List(t) if matches!(**t, Type::Object(_)))
        {
            return Err("a `for` over something other than a list of objects".into());
        }
        let scope = if depth == 0 {
            Root::Subject
        } else {
            Root::Element(depth - 1)
        };
        let c = match &b.collection.kind {
            ExprKind::Call(Builtin::AllContainers, args)
                if depth == 0 && matches!(args[0].kind, ExprKind::Subject) =>
            {
                Collection::AllContainers
            }
            _ => match cx.path(&b.collection) {
                Ok((root, p)) if root == scope && !p.is_empty() => Collection::Path(p),
                _ => {
                    return Err(
                        "a `for` over something other than a field of the enclosing element".into(),
                    )
                }
            },
        };
        collections.push(c);
        cx.env.push((b.item, Bound::Element(depth)));
    }
    let scope = match o.binders.len() {
        0 => Root::Subject,
        n => Root::Element(n - 1),
    };
    let Some(when) = &o.when else {
        return Err("an outcome without `when` (it always fires)".into());
    };
    let mut any = Vec::new();
    cx.flatten(when, BinOp::Or, &mut any);
    let mut all = Vec::new();
    if any.len() == 1 && o.binders.is_empty() {
        cx.flatten(when, BinOp::And, &mut all);
    }
    if all.len() > 1 {
        // deny when a and b: pass when any one of them is false.
        let mut patterns = Vec::new();
        for a in &all {
            let leaves = leaves_of(&mut cx, std::slice::from_ref(a), scope)?;
            patterns.push(Y::Mapping(element_pattern(&leaves)?));
        }
        return Ok(Shape::Any(patterns));
    }
    let leaves = leaves_of(&mut cx, &any, scope)?;
    let element = element_pattern(&leaves)?;
    Ok(Shape::All(Y::Mapping(wrap(&collections, element)?)))
}

/// The leaves of `atoms`, which must all be about the element of `scope`.
fn leaves_of<'a>(cx: &mut PatternCx<'a>, atoms: &[&'a Expr], scope: Root) -> PResult<Vec<Leaf>> {
    let mut leaves = Vec::new();
    for a in atoms {
        let (root, leaf) = cx.atom(a, false)?;
        if root != scope {
            return Err(
                "a condition on a value other than the innermost `for` element \
                 (a pattern checks each element on its own)"
                    .into(),
            );
        }
        leaves.push(leaf);
    }
    Ok(leaves)
}

/// The `match`/`exclude` of a pattern rule: kinds and namespaces as for the CEL rules,
/// labels through a label selector (exact values and `*` only).
fn pattern_match(rule: &Rule) -> PResult<Vec<(&'static str, Y)>> {
    let m = &rule.matcher;
    if (!m.namespaces.is_empty() || !m.exclude_namespaces.is_empty())
        && m.targets.iter().any(|t| t.gvk.kind == "Namespace")
    {
        // Kyverno matches a Namespace's own name against `namespaces`; the spec never does.
        return Err("namespace matching on a rule over Namespace objects".into());
    }
    let selector = |labels: &[(String, String)]| -> PResult<Y> {
        let mut exact = Vec::new();
        let mut exists = Vec::new();
        for (k, v) in labels {
            if v == "*" {
                exists.push(yaml_map(vec![("key", ys(k)), ("operator", ys("Exists"))]));
            } else if v.contains(['*', '?']) {
                return Err(format!(
                    "the label glob `{k}: {v}` (a selector takes exact values)"
                ));
            } else {
                exact.push((k.as_str(), ys(v)));
            }
        }
        let mut s = Vec::new();
        if !exact.is_empty() {
            s.push(("matchLabels", yaml_map(exact)));
        }
        if !exists.is_empty() {
            s.push(("matchExpressions", Y::Sequence(exists)));
        }
        Ok(yaml_map(s))
    };
    let mut resources = vec![("kinds", ylist(&kinds(rule)))];
    if !m.namespaces.is_empty() {
        resources.push(("namespaces", ylist(&m.namespaces)));
    }
    if !m.labels.is_empty() {
        resources.push(("selector", selector(&m.labels)?));
    }
    let any = |r: Y| yaml_map(vec![("any", Y::Sequence(vec![r]))]);
    let mut out = vec![(
        "match",
        any(yaml_map(vec![("resources", yaml_map(resources))])),
    )];
    let mut excludes = Vec::new();
    if !m.exclude_namespaces.is_empty() {
        excludes.push(yaml_map(vec![(
            "resources",
            yaml_map(vec![("namespaces", ylist(&m.exclude_namespaces))]),
        )]));
    }
    if !m.exclude_labels.is_empty() {
        excludes.push(yaml_map(vec![(
            "resources",
            yaml_map(vec![("selector", selector(&m.exclude_labels)?)]),
        )]));
    }
    if !excludes.is_empty() {
        out.push(("exclude", yaml_map(vec![("any", Y::Sequence(excludes))])));
    }
    Ok(out)
}

/// The static message of an outcome; `{{` would start a Kyverno variable.
fn static_message(o: &Outcome) -> String {
    o.message
        .iter()
        .map(|p| match p {
            MessagePart::Text(t) => t.clone(),
            MessagePart::Expr(_) => "…".into(),
        })
        .collect::<String>()
        .replace("{{", "{ {")
}

/// The pattern rules of one IR rule, by action, or the construct that cannot be expressed.
fn pattern_rules(rule: &Rule) -> Result<Vec<(Action, Y)>, ExportError> {
    let fail = |construct: String| ExportError {
        rule: rule.id.clone(),
        construct,
        target: PATTERN_TARGET.to_string(),
        other: None,
    };
    if let Some(c) = cel::unsupported(rule) {
        return Err(fail(c));
    }
    let matching = pattern_match(rule).map_err(&fail)?;
    let base = names::label(&rule.name);
    let mut out = Vec::new();
    for (i, o) in rule.outcomes.iter().enumerate() {
        let shape = outcome_shape(rule, o).map_err(&fail)?;
        let name = if i == 0 {
            names::fit(&base)
        } else {
            names::fit(&format!("{base}-{}", i + 1))
        };
        let mut validate = vec![("message", ys(&static_message(o)))];
        match shape {
            Shape::All(p) => validate.push(("pattern", p)),
            Shape::Any(ps) => validate.push(("anyPattern", Y::Sequence(ps))),
        }
        let mut entries = vec![("name", ys(&name))];
        entries.extend(matching.iter().cloned());
        entries.push(("validate", yaml_map(validate)));
        out.push((o.action, yaml_map(entries)));
    }
    Ok(out)
}

/// The rules that go into one pattern-style ClusterPolicy: those of one module, autogen
/// group and action.
struct PatternGroup<'a> {
    module: String,
    autogen: String,
    action: Action,
    /// The source rules, each once.
    rules: Vec<&'a Rule>,
    /// The Kyverno rules written for them.
    policy_rules: Vec<Y>,
}

/// Pattern-style ClusterPolicies (in [`PATTERN_DIR`]) for Kyverno 1.6 and later, which have
/// no CEL: one per module, autogen group and action (the failure action is per policy
/// there), and an error for each rule that patterns cannot express.
pub fn export_pattern_policies_all(program: &Program) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut errors = Vec::new();
    let mut groups: Vec<PatternGroup> = Vec::new();
    for rule in &program.rules {
        let rules = match pattern_rules(rule) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let autogen = controllers(rule);
        let holds = |g: &PatternGroup, action: Action| {
            g.module == rule.module && g.autogen == autogen && g.action == action
        };
        // Kyverno rule names are unique within a policy: `a` with two outcomes and `a_2`
        // would both give `a-2`.
        let taken = rules.iter().find_map(|(action, r)| {
            let name = r.get("name")?;
            groups
                .iter()
                .filter(|g| holds(g, *action))
                .flat_map(|g| g.policy_rules.iter())
                .any(|y| y.get("name") == Some(name))
                .then(|| name.as_str().unwrap_or_default().to_string())
        });
        if let Some(name) = taken {
            errors.push(ExportError {
                rule: rule.id.clone(),
                construct: format!("its Kyverno rule name `{name}` is taken by another rule"),
                target: PATTERN_TARGET.to_string(),
                other: None,
            });
            continue;
        }
        for (action, r) in rules {
            match groups.iter_mut().find(|g| holds(g, action)) {
                Some(g) => {
                    if !g.rules.iter().any(|x| x.id == rule.id) {
                        g.rules.push(rule);
                    }
                    g.policy_rules.push(r);
                }
                None => groups.push(PatternGroup {
                    module: rule.module.clone(),
                    autogen: autogen.clone(),
                    action,
                    rules: vec![rule],
                    policy_rules: vec![r],
                }),
            }
        }
    }
    let mut files = Vec::new();
    let mut claims = names::Claims::default();
    for group in &groups {
        let PatternGroup {
            module,
            autogen,
            action,
            rules,
            policy_rules,
        } = group;
        let mut name = format!("{}-pattern", names::label(module));
        if autogen != "none"
            && groups
                .iter()
                .any(|g| g.module == *module && g.autogen == "none")
        {
            name.push_str("-pods");
        }
        if *action == Action::Warn {
            name.push_str("-audit");
        }
        let name = names::fit(&name);
        claims.claim("ClusterPolicy name", &name, &rules[0].id);
        let doc = cluster_policy(
            &name,
            module,
            rules,
            autogen,
            vec![
                ("validationFailureAction", ys(failure_action(*action))),
                ("background", Y::Bool(true)),
                ("rules", Y::Sequence(policy_rules.clone())),
            ],
        );
        files.push(OutputFile {
            path: format!("{PATTERN_DIR}/{name}.yaml"),
            contents: yaml_docs(&[doc]),
        });
    }
    errors.extend(cel::clash_errors(claims, PATTERN_TARGET));
    (files, errors)
}
