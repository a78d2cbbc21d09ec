//! `fix` clauses (spec/language.md §3.6): their paths, typed like `at` paths; their values,
//! constants or parameters fitting the field; and the check that a fix makes its outcome
//! stop firing, where the `when` condition reads only what the fixes decide.

use std::collections::HashMap;

use super::expr::{literal_text, Scope};
use super::types::show;
use super::{constant, Checker};
use crate::diagnostics::Diagnostic;
use crate::ir::{
    self, BinOp, ExprKind as K, FixOp, FixValue, PathExpr, PathRoot, PathStep, Type, UnOp, Value,
};
use crate::syntax::ast::{self, ExprKind, FixOpKind};

/// Lowers a path expression: `object` or one of `binders`, then fields and literal
/// indexes or keys. `None` when it has another form.
pub(super) fn lower_path(at: &ast::Expr, binders: &[(String, ir::Local)]) -> Option<PathExpr> {
    let mut steps = Vec::new();
    let mut cur = at;
    loop {
        match &cur.kind {
            ExprKind::Field(base, name) => {
                steps.push(PathStep::Field(name.name.clone()));
                cur = base;
            }
            ExprKind::Index(base, index) => {
                match &index.kind {
                    ExprKind::Int(i) => steps.push(PathStep::Index(*i)),
                    _ => steps.push(PathStep::Key(literal_text(index)?)),
                }
                cur = base;
            }
            ExprKind::Var(id) => {
                let root = if id.name == "object" {
                    PathRoot::Subject
                } else {
                    let (_, local) = binders.iter().rev().find(|(n, _)| *n == id.name)?;
                    PathRoot::Binder(*local)
                };
                steps.reverse();
                return Some(PathExpr { root, steps });
            }
            _ => return None,
        }
    }
}

impl Checker<'_> {
    /// Checks and lowers the `fix` clauses of an outcome whose findings are rooted at
    /// `at.root`. Call with the outcome's binders and `let`s in scope.
    pub(super) fn fixes(
        &mut self,
        scope: &mut Scope,
        o: &ast::OutcomeDef,
        at: &PathExpr,
        binders: &[(String, ir::Local)],
        lowered: &[ir::Binder],
    ) -> Vec<ir::Fix> {
        let mut out = Vec::new();
        for f in &o.fixes {
            // Typed like any expression: unknown fields are reported at their step.
            let target = self.expr(scope, &f.path);
            let Some(path) = lower_path(&f.path, binders) else {
                let d = Diagnostic::error(
                    "bad-fix-path",
                    scope.file,
                    f.path.span,
                    "a fix path must be a field path starting at `object` or a `for` variable",
                )
                .with_help("e.g. `fix set c.securityContext.privileged = false`")
                .with_note("indexes and keys in the path must be literal");
                self.report(scope, d);
                continue;
            };
            if path.root != PathRoot::Subject && path.root != at.root {
                let d = Diagnostic::error(
                    "fix-root",
                    scope.file,
                    f.path.span,
                    "a fix path must start at `object` or at the variable the `at` path starts from",
                )
                .with_note("a finding knows where its `at` variable is in the object, and no other");
                self.report(scope, d);
                continue;
            }
            let field = target.ty.strip_optional().clone();
            let (op, want) = match (f.op, &f.value) {
                (FixOpKind::Set, _) => (FixOp::Set, Some(field)),
                (FixOpKind::Remove, None) => {
                    if let (PathRoot::Binder(l), true) = (path.root, path.steps.is_empty()) {
                        let over_list = lowered.iter().any(|b| {
                            b.item == l && matches!(b.collection.ty.strip_optional(), Type::List(_))
                        });
                        if !over_list {
                            let d = Diagnostic::error(
                                "fix-remove-element",
                                scope.file,
                                f.path.span,
                                "`remove` of a `for` variable needs a variable bound to list elements",
                            );
                            self.report(scope, d);
                            continue;
                        }
                    }
                    (FixOp::Remove, None)
                }
                (FixOpKind::Add | FixOpKind::Remove, Some(_)) => {
                    let op = if f.op == FixOpKind::Add {
                        FixOp::Add
                    } else {
                        FixOp::RemoveValue
                    };
                    match field {
                        Type::List(t) => (op, Some(*t)),
                        Type::Any => (op, Some(Type::Any)),
                        other => {
                            let d = Diagnostic::error(
                                "fix-not-list",
                                scope.file,
                                f.path.span,
                                format!(
                                    "`{}` needs a list, found `{}`",
                                    f.op.keyword(),
                                    show(&other)
                                ),
                            )
                            .with_help("use `fix set path = value` for a field");
                            self.report(scope, d);
                            continue;
                        }
                    }
                }
                // `set` and `add` always have a value (the grammar requires it).
                (FixOpKind::Add, None) => continue,
            };
            let value = match (&f.value, want) {
                (Some(v), Some(want)) => match self.fix_value(scope, v, &want) {
                    Some(v) => Some(v),
                    None => continue,
                },
                _ => None,
            };
            out.push(ir::Fix {
                review: f.review,
                op,
                path,
                value,
            });
        }
        out
    }

    /// A fix value: a constant or a parameter, fitting `want`.
    fn fix_value(&mut self, scope: &mut Scope, v: &ast::Expr, want: &Type) -> Option<FixValue> {
        let x = self.expect(scope, v, want, "the value of this fix");
        if x.ty == Type::Any && matches!(x.kind, K::Lit(Value::Null)) && *want != Type::Any {
            return None; // already reported
        }
        if let K::Param(i) = x.kind {
            return Some(FixValue::Param(i));
        }
        match constant(&x) {
            Some(c) => Some(FixValue::Const(c)),
            None => {
                let d = Diagnostic::error(
                    "fix-not-constant",
                    scope.file,
                    v.span,
                    "a fix value must be a constant or a rule parameter",
                )
                .with_note("constants keep every export target able to apply the fix");
                self.report(scope, d);
                None
            }
        }
    }

    /// Reports the outcomes whose `when` is still true after their fixes, when `when`
    /// reads only fixed paths, constants and parameters (their defaults).
    pub(super) fn check_fixes_stop(
        &mut self,
        file: crate::diagnostics::FileId,
        rule: &ir::Rule,
        defs: &[&ast::OutcomeDef],
    ) {
        for (o, def) in rule.outcomes.iter().zip(defs) {
            let (Some(when), Some(first)) = (&o.when, def.fixes.first()) else {
                continue;
            };
            let fixed = Fixed {
                fixes: &o.fixes,
                params: &rule.params,
                lets: HashMap::new(),
            };
            if fixed.eval(when) == Abs::Known(Value::Bool(true)) {
                let d = Diagnostic::error(
                    "fix-still-fires",
                    file,
                    first.span,
                    "this fix does not make the outcome stop firing",
                )
                .with_label("after the fixes, `when` is still true")
                .with_help("fix the field that `when` tests, with a value that makes it false");
                self.diags.push(d);
            }
        }
    }
}

/// A value known after the fixes, or not known (it depends on the object).
#[derive(Clone, Debug, PartialEq)]
enum Abs {
    Known(Value),
    Unknown,
}

/// Evaluates a condition on an object to which `fixes` were applied, knowing only what
/// the fixes decide.
struct Fixed<'a> {
    fixes: &'a [ir::Fix],
    params: &'a [ir::Param],
    lets: HashMap<ir::Local, Abs>,
}

impl Fixed<'_> {
    fn value(&self, v: &FixValue) -> Value {
        match v {
            FixValue::Const(c) => c.clone(),
            FixValue::Param(i) => self.params[*i as usize].default.clone(),
        }
    }

    /// What the fixes say about the path `read`.
    fn read(&self, read: &PathExpr) -> Abs {
        for f in self.fixes.iter().rev() {
            if f.path.root != read.root || !read.steps.starts_with(&f.path.steps) {
                continue;
            }
            let rest = &read.steps[f.path.steps.len()..];
            return match (f.op, &f.value) {
                (FixOp::Set, Some(v)) => Abs::Known(walk(&self.value(v), rest)),
                (FixOp::Remove, _) => Abs::Known(Value::Null),
                _ => Abs::Unknown,
            };
        }
        Abs::Unknown
    }

    fn eval(&self, x: &ir::Expr) -> Abs {
        use Abs::*;
        if let Some(p) = as_path(x) {
            if let (PathRoot::Binder(l), true) = (p.root, p.steps.is_empty()) {
                if let Some(v) = self.lets.get(&l) {
                    return v.clone();
                }
            }
            return self.read(&p);
        }
        match &x.kind {
            K::Lit(v) => Known(v.clone()),
            K::Param(i) => Known(self.params[*i as usize].default.clone()),
            K::Default(a, b) => match self.eval(a) {
                Known(Value::Null) => self.eval(b),
                Known(v) => Known(v),
                Unknown => Unknown,
            },
            K::IsAbsent(a) => match self.eval(a) {
                Known(v) => Known(Value::Bool(v == Value::Null)),
                Unknown => Unknown,
            },
            K::Unary(UnOp::Not, a) => match self.eval(a) {
                Known(Value::Bool(b)) => Known(Value::Bool(!b)),
                _ => Unknown,
            },
            K::Binary(op, a, b) => self.binary(*op, a, b),
            K::In(item, coll) => self.member(item, coll),
            K::If(c, a, b) => match self.eval(c) {
                Known(Value::Bool(true)) => self.eval(a),
                Known(Value::Bool(false)) => self.eval(b),
                _ => Unknown,
            },
            K::Let(l, v, body) => {
                let mut inner = Fixed {
                    fixes: self.fixes,
                    params: self.params,
                    lets: self.lets.clone(),
                };
                inner.lets.insert(*l, self.eval(v));
                inner.eval(body)
            }
            K::List(items) => items
                .iter()
                .map(|i| match self.eval(i) {
                    Known(v) => Some(v),
                    Unknown => None,
                })
                .collect::<Option<Vec<_>>>()
                .map_or(Unknown, |v| Known(Value::List(v))),
            _ => Unknown,
        }
    }

    fn binary(&self, op: BinOp, a: &ir::Expr, b: &ir::Expr) -> Abs {
        use Abs::*;
        let (x, y) = (self.eval(a), self.eval(b));
        let t = Known(Value::Bool(true));
        let f = Known(Value::Bool(false));
        match op {
            BinOp::And if x == f || y == f => f,
            BinOp::Or if x == t || y == t => t,
            BinOp::And | BinOp::Or => match (x, y) {
                (Known(Value::Bool(p)), Known(Value::Bool(q))) => {
                    Known(Value::Bool(if op == BinOp::And { p && q } else { p || q }))
                }
                _ => Unknown,
            },
            BinOp::Eq | BinOp::Ne => match (x, y) {
                (Known(p), Known(q)) => Known(Value::Bool(same(&p, &q) == (op == BinOp::Eq))),
                _ => Unknown,
            },
            _ => Unknown,
        }
    }

    fn member(&self, item: &ir::Expr, coll: &ir::Expr) -> Abs {
        let Abs::Known(x) = self.eval(item) else {
            return Abs::Unknown;
        };
        // A list a fix adds to holds the added value, whatever else it holds; one a fix
        // removes a value from does not hold it.
        if let Some(p) = as_path(coll) {
            for f in self.fixes.iter().rev() {
                if f.path != p {
                    continue;
                }
                match (f.op, &f.value) {
                    (FixOp::Add, Some(v)) if same(&self.value(v), &x) => {
                        return Abs::Known(Value::Bool(true))
                    }
                    (FixOp::RemoveValue, Some(v)) if same(&self.value(v), &x) => {
                        return Abs::Known(Value::Bool(false))
                    }
                    _ => {}
                }
            }
        }
        match self.eval(coll) {
            Abs::Known(Value::List(items)) => {
                Abs::Known(Value::Bool(items.iter().any(|i| same(i, &x))))
            }
            Abs::Known(Value::Map(entries)) => Abs::Known(Value::Bool(
                entries.iter().any(|(k, _)| Value::String(k.clone()) == x),
            )),
            Abs::Known(Value::Null) => Abs::Known(Value::Bool(false)),
            _ => Abs::Unknown,
        }
    }
}

/// Equality of constants, ints and numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(i), Value::Number(n)) | (Value::Number(n), Value::Int(i)) => *i as f64 == *n,
        _ => a == b,
    }
}

/// The part of a constant at `steps` (null when absent).
fn walk(v: &Value, steps: &[PathStep]) -> Value {
    let mut cur = v;
    for s in steps {
        let next = match (s, cur) {
            (PathStep::Field(k) | PathStep::Key(k), Value::Map(entries)) => {
                entries.iter().find(|(n, _)| n == k).map(|(_, v)| v)
            }
            (PathStep::Index(i), Value::List(items)) => {
                usize::try_from(*i).ok().and_then(|i| items.get(i))
            }
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return Value::Null,
        }
    }
    cur.clone()
}

/// The path an expression reads: the subject or a local, then fields and constant indexes.
fn as_path(x: &ir::Expr) -> Option<PathExpr> {
    let mut steps = Vec::new();
    let mut cur = x;
    loop {
        match &cur.kind {
            K::Field(base, name) => {
                steps.push(PathStep::Field(name.clone()));
                cur = base;
            }
            K::Index(base, index) => {
                steps.push(match &index.kind {
                    K::Lit(Value::Int(i)) => PathStep::Index(*i),
                    K::Lit(Value::String(k)) => PathStep::Key(k.clone()),
                    _ => return None,
                });
                cur = base;
            }
            K::Subject | K::Local(_) => {
                let root = match cur.kind {
                    K::Local(l) => PathRoot::Binder(l),
                    _ => PathRoot::Subject,
                };
                steps.reverse();
                return Some(PathExpr { root, steps });
            }
            _ => return None,
        }
    }
}
