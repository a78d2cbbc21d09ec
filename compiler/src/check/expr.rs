//! Type checking of expressions and their lowering to IR, enforcing the missing-field rule
//! (spec/language.md §4.2).

use super::types::{comparable, fits, from_schema, join, show};
use super::{Checker, FnKey};
use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::ir::{self, BinOp, Builtin, ExprKind as K, ImageField, Local, Type, UnOp};
use crate::syntax::ast::{self, BinaryOp, ExprKind, Span, StrPart, UnaryOp};

mod views;

/// What a name in scope stands for.
#[derive(Clone, Debug)]
pub struct Binding {
    pub name: String,
    pub local: Local,
    pub ty: Type,
}

/// The state of checking one rule (or one function body): scope, locals, parameters.
pub struct Scope {
    pub file: crate::diagnostics::FileId,
    pub module: String,
    /// Innermost last.
    pub bindings: Vec<Binding>,
    pub local_names: Vec<String>,
    pub params: Vec<(String, Type)>,
    /// The type of `object`, if the rule has a subject.
    pub subject: Option<Type>,
    /// Whether the rule applies to pod templates through autogen (`controller` is defined).
    pub autogen: bool,
    pub reads_kinds: Vec<ir::Gvk>,
    /// Functions being inlined, to refuse recursion.
    pub inlining: Vec<FnKey>,
    /// While inlining a function body its errors were already reported once: stay quiet.
    pub quiet: u32,
}

impl Scope {
    /// A new local named `name` of type `ty`, in scope until [`Scope::pop`].
    pub fn bind(&mut self, name: &str, ty: Type) -> Local {
        let local = self.local_names.len() as Local;
        self.local_names.push(name.to_string());
        self.bindings.push(Binding {
            name: name.to_string(),
            local,
            ty,
        });
        local
    }
    /// Removes the innermost `n` bindings.
    pub fn pop(&mut self, n: usize) {
        let keep = self.bindings.len() - n;
        self.bindings.truncate(keep);
    }
    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.bindings.iter().rev().find(|b| b.name == name)
    }
}

fn e(ty: Type, kind: K) -> ir::Expr {
    ir::Expr { ty, kind }
}

/// The placeholder after an error: `any` keeps later checks from piling on.
fn poison() -> ir::Expr {
    e(Type::Any, K::Lit(ir::Value::Null))
}

/// Whether an expression is the placeholder of an already reported error.
pub(super) fn is_poison(x: &ir::Expr) -> bool {
    x.ty == Type::Any && matches!(x.kind, K::Lit(ir::Value::Null))
}

const BUILTINS: &[&str] = &[
    "len",
    "starts_with",
    "ends_with",
    "contains",
    "lower",
    "upper",
    "glob",
    "matches",
    "quantity",
    "image",
    "keys",
    "all_containers",
    "objects",
    "who_can",
    "values",
    "trim_prefix",
    "trim_suffix",
    "split",
    "join",
    "filter",
    "map",
    "count",
];

impl Checker<'_> {
    pub(super) fn report(&mut self, scope: &Scope, d: Diagnostic) {
        if scope.quiet == 0 {
            self.diags.push(d);
        }
    }

    fn err(
        &mut self,
        scope: &Scope,
        code: &'static str,
        span: Span,
        msg: impl Into<String>,
    ) -> ir::Expr {
        self.report(scope, Diagnostic::error(code, scope.file, span, msg));
        poison()
    }

    /// Reports a use of an optional value where a present one is needed.
    fn optional_misuse(&mut self, scope: &Scope, span: Span, ty: &Type, what: &str) {
        let d = Diagnostic::error(
            "optional-value",
            scope.file,
            span,
            format!("this value may be absent, and {what} needs a present value"),
        )
        .with_label(format!("type `{}`", show(ty)))
        .with_help("give a default with `?? value`, or test it with `== null`")
        .with_note("missing and null fields are absent (spec/language.md §4.2)");
        self.report(scope, d);
    }

    /// Checks an expression that must be present and of a type fitting `want` (if given).
    pub fn expect(
        &mut self,
        scope: &mut Scope,
        x: &ast::Expr,
        want: &Type,
        what: &str,
    ) -> ir::Expr {
        let out = self.expr(scope, x);
        if is_poison(&out) {
            return out;
        }
        if out.ty.is_optional() && !want.is_optional() && out.ty != Type::Any {
            self.optional_misuse(scope, x.span, &out.ty, what);
            return poison();
        }
        if !fits(&out.ty, want) {
            let d = Diagnostic::error(
                "type-mismatch",
                scope.file,
                x.span,
                format!("{what} must be `{}`, found `{}`", show(want), show(&out.ty)),
            )
            .with_label(format!("this is `{}`", show(&out.ty)));
            self.report(scope, d);
            return poison();
        }
        out
    }

    /// Checks that a value is present (not optional), returning it.
    fn present(&mut self, scope: &mut Scope, x: &ast::Expr, what: &str) -> ir::Expr {
        let out = self.expr(scope, x);
        if is_poison(&out) {
            return out;
        }
        if out.ty.is_optional() || out.ty == Type::Null {
            self.optional_misuse(scope, x.span, &out.ty, what);
            return poison();
        }
        out
    }

    /// Type-checks and lowers one expression (noting its type when types are recorded).
    pub fn expr(&mut self, scope: &mut Scope, x: &ast::Expr) -> ir::Expr {
        let out = self.expr_kind(scope, x);
        if let Some(types) = self.types.as_mut().filter(|_| scope.quiet == 0) {
            types.push((scope.file, x.span, out.ty.clone()));
        }
        out
    }

    fn expr_kind(&mut self, scope: &mut Scope, x: &ast::Expr) -> ir::Expr {
        match &x.kind {
            ExprKind::Error => poison(),
            ExprKind::Int(n) => e(Type::Int, K::Lit(ir::Value::Int(*n))),
            ExprKind::Number(n) => e(Type::Number, K::Lit(ir::Value::Number(*n))),
            ExprKind::Bool(b) => e(Type::Bool, K::Lit(ir::Value::Bool(*b))),
            ExprKind::Null => e(Type::Null, K::Lit(ir::Value::Null)),
            ExprKind::Str(parts) => self.string(scope, parts),
            ExprKind::Var(id) => self.var(scope, id),
            ExprKind::Field(base, name) => self.field(scope, base, name),
            ExprKind::Index(base, index) => self.index(scope, base, index, x.span),
            ExprKind::Call(callee, args) => self.call(scope, callee, args, x.span),
            ExprKind::Unary(UnaryOp::Not, inner) => {
                let v = self.expect(scope, inner, &Type::Bool, "`not`");
                e(Type::Bool, K::Unary(UnOp::Not, Box::new(v)))
            }
            ExprKind::Unary(UnaryOp::Neg, inner) => {
                let v = self.present(scope, inner, "`-`");
                if !matches!(v.ty, Type::Int | Type::Number | Type::Any) {
                    return self.err(
                        scope,
                        "type-mismatch",
                        inner.span,
                        format!("`-` needs a number, found `{}`", show(&v.ty)),
                    );
                }
                e(v.ty.clone(), K::Unary(UnOp::Neg, Box::new(v)))
            }
            ExprKind::Binary(op, a, b) => self.binary(scope, *op, a, b, x.span),
            ExprKind::Quantified {
                q,
                first,
                second,
                collection,
                body,
            } => {
                let coll = self.expr(scope, collection);
                let Some((key, item, pushed)) =
                    self.bind_iteration(scope, &coll, collection.span, first, second.as_ref())
                else {
                    return poison();
                };
                let body = self.expect(scope, body, &Type::Bool, "the body of a quantifier");
                scope.pop(pushed);
                e(
                    Type::Bool,
                    K::Quantified {
                        q: *q,
                        item,
                        key,
                        collection: Box::new(coll),
                        body: Box::new(body),
                    },
                )
            }
            ExprKind::If(c, a, b) => {
                let c = self.expect(scope, c, &Type::Bool, "an `if` condition");
                let (ta, tb) = (self.expr(scope, a), self.expr(scope, b));
                match join(&ta.ty, &tb.ty) {
                    Some(ty) => e(ty, K::If(Box::new(c), Box::new(ta), Box::new(tb))),
                    None => {
                        let msg = format!(
                            "the branches of `if` have different types: `{}` and `{}`",
                            show(&ta.ty),
                            show(&tb.ty)
                        );
                        self.err(scope, "type-mismatch", x.span, msg)
                    }
                }
            }
            ExprKind::List(items) => {
                let mut out = Vec::new();
                let mut ty = None::<Type>;
                for item in items {
                    let v = self.expr(scope, item);
                    ty = match ty {
                        None => Some(v.ty.clone()),
                        Some(t) => match join(&t, &v.ty) {
                            Some(j) => Some(j),
                            None => {
                                let msg = format!(
                                    "list elements must have one type: `{}` and `{}`",
                                    show(&t),
                                    show(&v.ty)
                                );
                                return self.err(scope, "type-mismatch", item.span, msg);
                            }
                        },
                    };
                    out.push(v);
                }
                e(Type::List(Box::new(ty.unwrap_or(Type::Any))), K::List(out))
            }
            ExprKind::Map(entries) => {
                let mut out = Vec::new();
                let mut ty = None::<Type>;
                for (k, v) in entries {
                    let Some(key) = literal_text(k) else {
                        return self.err(
                            scope,
                            "map-key",
                            k.span,
                            "map keys must be plain strings",
                        );
                    };
                    let v = self.expr(scope, v);
                    ty = Some(match ty {
                        None => v.ty.clone(),
                        Some(t) => join(&t, &v.ty).unwrap_or(Type::Any),
                    });
                    out.push((key, v));
                }
                e(Type::Map(Box::new(ty.unwrap_or(Type::Any))), K::Map(out))
            }
        }
    }

    fn string(&mut self, scope: &mut Scope, parts: &[StrPart]) -> ir::Expr {
        if let [StrPart::Text(t)] = parts {
            return e(Type::String, K::Lit(ir::Value::String(t.clone())));
        }
        let out = parts
            .iter()
            .map(|p| match p {
                StrPart::Text(t) => ir::MessagePart::Text(t.clone()),
                // Any type interpolates; absent prints `<none>`.
                StrPart::Expr(x) => ir::MessagePart::Expr(self.expr(scope, x)),
            })
            .collect();
        e(Type::String, K::Interpolate(out))
    }

    fn var(&mut self, scope: &mut Scope, id: &ast::Ident) -> ir::Expr {
        if let Some(b) = scope.lookup(&id.name) {
            return e(b.ty.clone(), K::Local(b.local));
        }
        if let Some(i) = scope.params.iter().position(|(n, _)| *n == id.name) {
            return e(scope.params[i].1.clone(), K::Param(i as u32));
        }
        if id.name == "object" {
            if let Some(t) = &scope.subject {
                return e(t.clone(), K::Subject);
            }
            return self.err(
                scope,
                "unknown-name",
                id.span,
                "`object` cannot be used here: parameter defaults and function bodies see only their own names",
            );
        }
        if let Some(subject) = &scope.subject {
            if let Some(x) = super::context::name(&id.name, subject, scope.autogen) {
                return x;
            }
            if id.name == super::context::CONTROLLER {
                let d = Diagnostic::error(
                    "unknown-name",
                    scope.file,
                    id.span,
                    "`controller` is defined only in a rule that applies to pod templates",
                )
                .with_label("this rule has no pod-controller autogen")
                .with_note(
                    "`controller` is the pod controller (Deployment, CronJob, …) whose pod \
                     template a rule that matches `Pod` checks; a rule that matches the \
                     controller's kind reads it as `object`",
                );
                self.report(scope, d);
                return poison();
            }
        }
        let mut names: Vec<String> = scope.bindings.iter().map(|b| b.name.clone()).collect();
        names.extend(scope.params.iter().map(|(n, _)| n.clone()));
        if scope.subject.is_some() {
            names.push("object".into());
            names.extend(super::context::NAMES.map(String::from));
            if scope.autogen {
                names.push(super::context::CONTROLLER.into());
            }
        }
        let mut d = Diagnostic::error(
            "unknown-name",
            scope.file,
            id.span,
            format!("unknown name `{}`", id.name),
        )
        .with_label("not defined here");
        if let Some(s) = did_you_mean(&id.name, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if BUILTINS.contains(&id.name.as_str())
            || self
                .functions
                .contains_key(&(scope.module.clone(), id.name.clone()))
        {
            d = d.with_help(format!(
                "`{}` is a function: call it with `{}(…)`",
                id.name, id.name
            ));
        }
        self.report(scope, d);
        poison()
    }

    fn field(&mut self, scope: &mut Scope, base: &ast::Expr, name: &ast::Ident) -> ir::Expr {
        let b = self.expr(scope, base);
        if is_poison(&b) {
            return b;
        }
        let optional = b.ty.is_optional();
        let wrap = |t: Type| if optional { t.optional() } else { t };
        match b.ty.strip_optional().clone() {
            Type::Any => e(
                Type::Any.optional(),
                K::Field(Box::new(b), name.name.clone()),
            ),
            Type::Object(type_name) => {
                let Some(obj) = (self.schema.object(&type_name))
                    .or_else(|| super::context::object_type(&type_name))
                else {
                    return self.err(
                        scope,
                        "unknown-field",
                        name.span,
                        format!("type `{type_name}` is not in the schema"),
                    );
                };
                match obj.fields.get(&name.name) {
                    Some(f) => {
                        let ty = from_schema(&f.ty).optional();
                        let field = e(ty, K::Field(Box::new(b), name.name.clone()));
                        if scope.autogen && is_subject_namespace(&field) {
                            return pod_namespace(field);
                        }
                        field
                    }
                    None => {
                        let mut d = Diagnostic::error(
                            "unknown-field",
                            scope.file,
                            name.span,
                            format!(
                                "`{}` has no field `{}`",
                                show(&Type::Object(type_name.clone())),
                                name.name
                            ),
                        )
                        .with_label("unknown field");
                        if let Some(s) =
                            did_you_mean(&name.name, obj.fields.keys().map(String::as_str))
                        {
                            d = match b.kind {
                                K::Request => d.with_help(format!("did you mean `request.{s}`?")),
                                _ => d.with_help(format!("did you mean `{s}`?")),
                            };
                        } else {
                            let names: Vec<&str> =
                                obj.fields.keys().map(String::as_str).take(12).collect();
                            d = d.with_note(format!("its fields are: {}", names.join(", ")));
                        }
                        self.report(scope, d);
                        poison()
                    }
                }
            }
            Type::Image => {
                let f = match name.name.as_str() {
                    "registry" => ImageField::Registry,
                    "repository" => ImageField::Repository,
                    "tag" => ImageField::Tag,
                    "digest" => ImageField::Digest,
                    other => {
                        let mut d = Diagnostic::error(
                            "unknown-field",
                            scope.file,
                            name.span,
                            format!("an image reference has no field `{other}`"),
                        )
                        .with_note("its fields are: registry, repository, tag, digest");
                        if let Some(s) =
                            did_you_mean(other, ["registry", "repository", "tag", "digest"])
                        {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        self.report(scope, d);
                        return poison();
                    }
                };
                e(wrap(Type::String), K::ImageField(Box::new(b), f))
            }
            Type::Map(_) => {
                let d = Diagnostic::error(
                    "field-on-map",
                    scope.file,
                    name.span,
                    format!(
                        "`{}` is a map: its entries are read with `[\"{}\"]`",
                        show(&b.ty),
                        name.name
                    ),
                )
                .with_help(format!("write `[\"{}\"]`", name.name));
                self.report(scope, d);
                poison()
            }
            other => self.err(
                scope,
                "unknown-field",
                name.span,
                format!("`{}` has no fields", show(&other)),
            ),
        }
    }

    fn index(
        &mut self,
        scope: &mut Scope,
        base: &ast::Expr,
        index: &ast::Expr,
        span: Span,
    ) -> ir::Expr {
        let b = self.expr(scope, base);
        let i = self.present(scope, index, "an index");
        if is_poison(&b) {
            return b;
        }
        let item = match (b.ty.strip_optional(), &i.ty) {
            (Type::List(t), Type::Int | Type::Any) => (**t).clone(),
            (Type::Map(t), Type::String | Type::Any) => (**t).clone(),
            (Type::Any, _) => Type::Any,
            (Type::List(_), t) => {
                return self.err(
                    scope,
                    "type-mismatch",
                    index.span,
                    format!("a list index must be `int`, found `{}`", show(t)),
                )
            }
            (Type::Map(_), t) => {
                return self.err(
                    scope,
                    "type-mismatch",
                    index.span,
                    format!("a map key must be `string`, found `{}`", show(t)),
                )
            }
            (t, _) => {
                return self.err(
                    scope,
                    "type-mismatch",
                    span,
                    format!("`{}` cannot be indexed", show(t)),
                )
            }
        };
        e(item.optional(), K::Index(Box::new(b), Box::new(i)))
    }

    /// Binds the variables of `for`/`any`/`all` over a collection; returns (key, item, pushed).
    pub(super) fn bind_iteration(
        &mut self,
        scope: &mut Scope,
        coll: &ir::Expr,
        span: Span,
        first: &ast::Ident,
        second: Option<&ast::Ident>,
    ) -> Option<(Option<Local>, Local, usize)> {
        let (key_ty, item_ty) = match coll.ty.strip_optional() {
            Type::List(t) => (Type::Int, (**t).clone()),
            Type::Map(t) => (Type::String, (**t).clone()),
            Type::Any => (Type::Any, Type::Any),
            t => {
                let msg = format!("only lists and maps can be iterated, found `{}`", show(t));
                self.err(scope, "type-mismatch", span, msg);
                return None;
            }
        };
        Some(match second {
            None => {
                let item = scope.bind(&first.name, item_ty);
                (None, item, 1)
            }
            Some(second) => {
                let key = scope.bind(&first.name, key_ty);
                let item = scope.bind(&second.name, item_ty);
                (Some(key), item, 2)
            }
        })
    }

    fn binary(
        &mut self,
        scope: &mut Scope,
        op: BinaryOp,
        a: &ast::Expr,
        b: &ast::Expr,
        span: Span,
    ) -> ir::Expr {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let what = if op == BinaryOp::And { "`and`" } else { "`or`" };
                let (x, y) = (
                    self.expect(scope, a, &Type::Bool, what),
                    self.expect(scope, b, &Type::Bool, what),
                );
                let bop = if op == BinaryOp::And {
                    BinOp::And
                } else {
                    BinOp::Or
                };
                e(Type::Bool, K::Binary(bop, Box::new(x), Box::new(y)))
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                let negate = |x: ir::Expr| {
                    if op == BinaryOp::Ne {
                        e(Type::Bool, K::Unary(UnOp::Not, Box::new(x)))
                    } else {
                        x
                    }
                };
                // `x == null` tests absence; it is the one comparison an optional value allows.
                if matches!(b.kind, ExprKind::Null) || matches!(a.kind, ExprKind::Null) {
                    let other = if matches!(b.kind, ExprKind::Null) {
                        a
                    } else {
                        b
                    };
                    let v = self.expr(scope, other);
                    if !v.ty.is_optional() && v.ty != Type::Any && v.ty != Type::Null {
                        let d = Diagnostic::warning("never-absent", scope.file, other.span, format!("a `{}` is never absent", show(&v.ty)))
                            .with_note("only field accesses, indexes and `?? absent-able` values can be absent");
                        self.report(scope, d);
                    }
                    return negate(e(Type::Bool, K::IsAbsent(Box::new(v))));
                }
                let what = format!("`{}`", op.symbol());
                let (x, y) = (self.expr(scope, a), self.expr(scope, b));
                if is_poison(&x) || is_poison(&y) {
                    return poison();
                }
                // Optional scalars compare as values: absent equals only absent (spec §4.2).
                if x.ty.is_optional() || y.ty.is_optional() {
                    for (v, side) in [(&x, a), (&y, b)] {
                        if v.ty.is_optional() && sentinel(v.ty.strip_optional()).is_none() {
                            self.optional_misuse(scope, side.span, &v.ty, &what);
                            return poison();
                        }
                    }
                }
                if !comparable(x.ty.strip_optional(), y.ty.strip_optional()) {
                    let msg = format!("cannot compare `{}` with `{}`", show(&x.ty), show(&y.ty));
                    return self.err(scope, "type-mismatch", span, msg);
                }
                if !x.ty.is_optional() && !y.ty.is_optional() {
                    let bop = if op == BinaryOp::Eq {
                        BinOp::Eq
                    } else {
                        BinOp::Ne
                    };
                    return e(Type::Bool, K::Binary(bop, Box::new(x), Box::new(y)));
                }
                negate(optional_eq(x, y))
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let what = format!("`{}`", op.symbol());
                let (x, y) = (self.present(scope, a, &what), self.present(scope, b, &what));
                let ordered = |t: &Type| {
                    matches!(
                        t,
                        Type::Int | Type::Number | Type::String | Type::Quantity | Type::Any
                    )
                };
                if !ordered(&x.ty) || !ordered(&y.ty) || !comparable(&x.ty, &y.ty) {
                    let mut d = Diagnostic::error(
                        "type-mismatch",
                        scope.file,
                        span,
                        format!("cannot order `{}` and `{}`", show(&x.ty), show(&y.ty)),
                    );
                    if matches!(
                        (&x.ty, &y.ty),
                        (Type::Quantity, Type::String) | (Type::String, Type::Quantity)
                    ) {
                        d = d.with_help("write the literal as `quantity(\"…\")`");
                    }
                    self.report(scope, d);
                    return poison();
                }
                let bop = match op {
                    BinaryOp::Lt => BinOp::Lt,
                    BinaryOp::Le => BinOp::Le,
                    BinaryOp::Gt => BinOp::Gt,
                    _ => BinOp::Ge,
                };
                e(Type::Bool, K::Binary(bop, Box::new(x), Box::new(y)))
            }
            BinaryOp::In | BinaryOp::NotIn => {
                let x = self.present(scope, a, "the left side of `in`");
                let c = self.expr(scope, b);
                let ok = match c.ty.strip_optional() {
                    Type::List(t) => comparable(&x.ty, t),
                    Type::Map(_) => fits(&x.ty, &Type::String),
                    Type::Any => true,
                    _ => false,
                };
                if !ok {
                    let msg = format!("cannot look for `{}` in `{}`", show(&x.ty), show(&c.ty));
                    return self.err(scope, "type-mismatch", span, msg);
                }
                let out = e(Type::Bool, K::In(Box::new(x), Box::new(c)));
                if op == BinaryOp::NotIn {
                    e(Type::Bool, K::Unary(UnOp::Not, Box::new(out)))
                } else {
                    out
                }
            }
            BinaryOp::Add | BinaryOp::Sub => {
                let what = format!("`{}`", op.symbol());
                let (x, y) = (self.present(scope, a, &what), self.present(scope, b, &what));
                let ty = match (&x.ty, &y.ty, op) {
                    (Type::Int, Type::Int, _) => Type::Int,
                    (Type::Int | Type::Number, Type::Int | Type::Number, _) => Type::Number,
                    (Type::String, Type::String, BinaryOp::Add) => Type::String,
                    (Type::List(_), Type::List(_), BinaryOp::Add) => match join(&x.ty, &y.ty) {
                        Some(t) => t,
                        None => {
                            return self.err(
                                scope,
                                "type-mismatch",
                                span,
                                format!("cannot join `{}` and `{}`", show(&x.ty), show(&y.ty)),
                            )
                        }
                    },
                    (Type::Any, t, _) | (t, Type::Any, _) => t.clone(),
                    _ => {
                        let msg = format!(
                            "`{}` does not apply to `{}` and `{}`",
                            op.symbol(),
                            show(&x.ty),
                            show(&y.ty)
                        );
                        return self.err(scope, "type-mismatch", span, msg);
                    }
                };
                let bop = if op == BinaryOp::Add {
                    BinOp::Add
                } else {
                    BinOp::Sub
                };
                e(ty, K::Binary(bop, Box::new(x), Box::new(y)))
            }
            BinaryOp::Default => {
                let x = self.expr(scope, a);
                let y = self.expr(scope, b);
                if !x.ty.is_optional() && x.ty != Type::Any && x.ty != Type::Null {
                    let d = Diagnostic::warning(
                        "never-absent",
                        scope.file,
                        a.span,
                        format!(
                            "the left side of `??` has type `{}` and is never absent",
                            show(&x.ty)
                        ),
                    )
                    .with_help("remove `?? …`");
                    self.report(scope, d);
                }
                let inner = x.ty.strip_optional().clone();
                let ty = if fits(&y.ty, &inner) || inner == Type::Any || inner == Type::Null {
                    if inner == Type::Any || inner == Type::Null {
                        y.ty.clone()
                    } else if y.ty.is_optional() || y.ty == Type::Null {
                        inner.optional()
                    } else {
                        inner
                    }
                } else {
                    let msg = format!(
                        "the default must be a `{}`, found `{}`",
                        show(&inner),
                        show(&y.ty)
                    );
                    return self.err(scope, "type-mismatch", b.span, msg);
                };
                e(ty, K::Default(Box::new(x), Box::new(y)))
            }
        }
    }

    fn call(
        &mut self,
        scope: &mut Scope,
        callee: &ast::Expr,
        args: &[ast::Expr],
        span: Span,
    ) -> ir::Expr {
        let key: FnKey = match &callee.kind {
            ExprKind::Var(id)
                if BUILTINS.contains(&id.name.as_str())
                    && !self
                        .functions
                        .contains_key(&(scope.module.clone(), id.name.clone())) =>
            {
                return self.builtin(scope, &id.name, args, span);
            }
            ExprKind::Var(id) => (scope.module.clone(), id.name.clone()),
            ExprKind::Field(base, name) => match &base.kind {
                ExprKind::Var(alias)
                    if self.alias_module(scope, &alias.name).is_some()
                        && scope.lookup(&alias.name).is_none() =>
                {
                    (
                        self.alias_module(scope, &alias.name).unwrap_or_default(),
                        name.name.clone(),
                    )
                }
                _ => {
                    return self.err(
                        scope,
                        "not-callable",
                        callee.span,
                        "only functions can be called",
                    )
                }
            },
            _ => {
                return self.err(
                    scope,
                    "not-callable",
                    callee.span,
                    "only functions can be called",
                )
            }
        };
        let Some(f) = self.functions.get(&key).cloned() else {
            let same_module: Vec<String> = self
                .functions
                .keys()
                .filter(|k| k.0 == key.0)
                .map(|k| k.1.clone())
                .collect();
            let mut d = Diagnostic::error(
                "unknown-function",
                scope.file,
                callee.span,
                format!("unknown function `{}`", key.1),
            )
            .with_label("not defined");
            let candidates = same_module
                .iter()
                .map(String::as_str)
                .chain(BUILTINS.iter().copied());
            if let Some(s) = did_you_mean(&key.1, candidates) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.report(scope, d);
            return poison();
        };
        if scope.inlining.contains(&key) {
            let chain: Vec<String> = scope.inlining.iter().map(|k| k.1.clone()).collect();
            let d = Diagnostic::error(
                "recursion",
                scope.file,
                callee.span,
                format!("function `{}` calls itself", key.1),
            )
            .with_note(format!("call chain: {} -> {}", chain.join(" -> "), key.1))
            .with_note("functions may not be recursive (spec/language.md §3)");
            // Reported even inside a quietly inlined body: the cycle only shows up there.
            self.diags.push(d);
            return poison();
        }
        if args.len() != f.params.len() {
            let msg = format!(
                "`{}` takes {} argument(s), {} given",
                key.1,
                f.params.len(),
                args.len()
            );
            return self.err(scope, "arity", span, msg);
        }
        // Inline: bind each argument to a fresh local, then check the body in a scope that
        // sees only those locals (and not the caller's), quietly: its errors were reported once.
        let mut values = Vec::new();
        for (arg, (pname, pty)) in args.iter().zip(&f.params) {
            let what = format!("argument `{pname}` of `{}`", key.1);
            values.push(self.expect(scope, arg, pty, &what));
        }
        let saved = std::mem::take(&mut scope.bindings);
        let saved_file = scope.file;
        let saved_module = std::mem::replace(&mut scope.module, key.0.clone());
        let saved_subject = scope.subject.take();
        let saved_params = std::mem::take(&mut scope.params);
        scope.file = f.file;
        scope.inlining.push(key.clone());
        scope.quiet += 1;
        let locals: Vec<Local> = f
            .params
            .iter()
            .map(|(n, t)| scope.bind(n, t.clone()))
            .collect();
        let body = self.expr(scope, &f.body);
        scope.quiet -= 1;
        scope.inlining.pop();
        scope.file = saved_file;
        scope.module = saved_module;
        scope.subject = saved_subject;
        scope.params = saved_params;
        scope.bindings = saved;
        let mut out = e(f.ret.clone(), body.kind);
        for (local, value) in locals.into_iter().zip(values).rev() {
            out = e(f.ret.clone(), K::Let(local, Box::new(value), Box::new(out)));
        }
        out
    }

    fn alias_module(&self, scope: &Scope, alias: &str) -> Option<String> {
        self.imports.get(&(scope.file, alias.to_string())).cloned()
    }

    fn builtin(
        &mut self,
        scope: &mut Scope,
        name: &str,
        args: &[ast::Expr],
        span: Span,
    ) -> ir::Expr {
        let arity = match name {
            "starts_with" | "ends_with" | "contains" | "glob" | "matches" => 2,
            "trim_prefix" | "trim_suffix" | "split" | "join" => 2,
            "who_can" => 2,
            "filter" | "map" | "count" => 3,
            _ => 1,
        };
        if args.len() != arity {
            let msg = format!("`{name}` takes {arity} argument(s), {} given", args.len());
            return self.err(scope, "arity", span, msg);
        }
        match name {
            "len" => {
                let v = self.expr(scope, &args[0]);
                match v.ty.strip_optional() {
                    Type::List(_) | Type::Map(_) | Type::Any => {}
                    Type::String if !v.ty.is_optional() => {}
                    Type::String => {
                        self.optional_misuse(scope, args[0].span, &v.ty, "`len` of a string");
                        return poison();
                    }
                    t => {
                        let msg = format!("`len` needs a string, list or map, found `{}`", show(t));
                        return self.err(scope, "type-mismatch", args[0].span, msg);
                    }
                }
                e(Type::Int, K::Call(Builtin::Len, vec![v]))
            }
            "starts_with" | "ends_with" | "contains" | "glob" | "matches" => {
                let s = self.expect(
                    scope,
                    &args[0],
                    &Type::String,
                    &format!("the first argument of `{name}`"),
                );
                let p = self.expect(
                    scope,
                    &args[1],
                    &Type::String,
                    &format!("the second argument of `{name}`"),
                );
                if name == "matches" {
                    match literal_text(&args[1]) {
                        Some(re) => {
                            if let Err(msg) = crate::check::validate_regex(&re) {
                                self.err(
                                    scope,
                                    "bad-regex",
                                    args[1].span,
                                    format!("invalid regular expression: {msg}"),
                                );
                            }
                        }
                        // A pattern whose `{…}` did not parse was already reported.
                        None if super::has_broken_part(&args[1]) => {}
                        None => {
                            self.err(
                                scope,
                                "bad-regex",
                                args[1].span,
                                "the pattern of `matches` must be a literal string",
                            );
                        }
                    }
                }
                let b = match name {
                    "starts_with" => Builtin::StartsWith,
                    "ends_with" => Builtin::EndsWith,
                    "contains" => Builtin::Contains,
                    "glob" => Builtin::Glob,
                    _ => Builtin::Matches,
                };
                e(Type::Bool, K::Call(b, vec![s, p]))
            }
            "trim_prefix" | "trim_suffix" => {
                let what = |n: &str| format!("the {n} argument of `{name}`");
                let s = self.expect(scope, &args[0], &Type::String, &what("first"));
                let p = self.expect(scope, &args[1], &Type::String, &what("second"));
                let b = if name == "trim_prefix" {
                    Builtin::TrimPrefix
                } else {
                    Builtin::TrimSuffix
                };
                e(Type::String, K::Call(b, vec![s, p]))
            }
            "split" => {
                let what = |n: &str| format!("the {n} argument of `split`");
                let s = self.expect(scope, &args[0], &Type::String, &what("first"));
                let sep = self.expect(scope, &args[1], &Type::String, &what("second"));
                e(
                    Type::List(Box::new(Type::String)),
                    K::Call(Builtin::Split, vec![s, sep]),
                )
            }
            "join" => {
                let xs = self.expr(scope, &args[0]);
                let strings = match xs.ty.strip_optional() {
                    Type::List(t) => matches!(**t, Type::String | Type::Any),
                    t => *t == Type::Any,
                };
                if !strings {
                    let msg = format!("`join` needs a list of strings, found `{}`", show(&xs.ty));
                    return self.err(scope, "type-mismatch", args[0].span, msg);
                }
                let sep = self.expect(
                    scope,
                    &args[1],
                    &Type::String,
                    "the second argument of `join`",
                );
                e(Type::String, K::Call(Builtin::Join, vec![xs, sep]))
            }
            "lower" | "upper" => {
                let s = self.expect(
                    scope,
                    &args[0],
                    &Type::String,
                    &format!("the argument of `{name}`"),
                );
                let b = if name == "lower" {
                    Builtin::Lower
                } else {
                    Builtin::Upper
                };
                e(Type::String, K::Call(b, vec![s]))
            }
            "quantity" => {
                let v = self.present(scope, &args[0], "the argument of `quantity`");
                if !matches!(v.ty, Type::String | Type::Quantity | Type::Int | Type::Any) {
                    let msg = format!("`quantity` needs a string, found `{}`", show(&v.ty));
                    return self.err(scope, "type-mismatch", args[0].span, msg);
                }
                if let Some(text) = literal_text(&args[0]) {
                    if !crate::check::is_quantity(&text) {
                        let d = Diagnostic::error(
                            "bad-quantity",
                            scope.file,
                            args[0].span,
                            format!("`{text}` is not a Kubernetes quantity"),
                        )
                        .with_note("examples: `500m`, `2`, `1.5`, `128Mi`, `1Gi`, `1e3`");
                        self.report(scope, d);
                    }
                }
                e(Type::Quantity, K::Call(Builtin::Quantity, vec![v]))
            }
            "image" => {
                let s = self.expect(scope, &args[0], &Type::String, "the argument of `image`");
                e(Type::Image, K::Call(Builtin::Image, vec![s]))
            }
            "keys" => {
                let v = self.expr(scope, &args[0]);
                if !matches!(v.ty.strip_optional(), Type::Map(_) | Type::Any) {
                    let msg = format!("`keys` needs a map, found `{}`", show(&v.ty));
                    return self.err(scope, "type-mismatch", args[0].span, msg);
                }
                e(
                    Type::List(Box::new(Type::String)),
                    K::Call(Builtin::Keys, vec![v]),
                )
            }
            "all_containers" => {
                let v = self.expr(scope, &args[0]);
                let ok = match v.ty.strip_optional() {
                    Type::Object(n) => {
                        let pod_like = self
                            .schema
                            .object(n)
                            .and_then(|o| o.fields.get("spec"))
                            .map(|f| from_schema(&f.ty));
                        matches!(pod_like, Some(Type::Object(ref s)) if s.ends_with(".PodSpec"))
                    }
                    Type::Any => true,
                    _ => false,
                };
                if !ok {
                    let msg = format!(
                        "`all_containers` needs a Pod or pod template, found `{}`",
                        show(&v.ty)
                    );
                    return self.err(scope, "type-mismatch", args[0].span, msg);
                }
                let container = self
                    .schema
                    .resolve_type_name("io.k8s.api.core.v1.Container")
                    .map(Type::Object)
                    .unwrap_or(Type::Any);
                e(
                    Type::List(Box::new(container)),
                    K::Call(Builtin::AllContainers, vec![v]),
                )
            }
            "objects" => {
                let text = match &args[0].kind {
                    ExprKind::Var(id) => Some(id.name.clone()),
                    _ => literal_text(&args[0]),
                };
                let Some(text) = text else {
                    return self.err(
                        scope,
                        "unknown-kind",
                        args[0].span,
                        "`objects` takes a kind, such as `objects(NetworkPolicy)`",
                    );
                };
                let kinds = self.resolve_kind(scope.file, &text, args[0].span);
                let Some(k) = kinds.into_iter().next() else {
                    return poison();
                };
                let gvk = ir::Gvk {
                    group: k.group.clone(),
                    version: k.version.clone(),
                    kind: k.kind.clone(),
                };
                if !scope.reads_kinds.contains(&gvk) {
                    scope.reads_kinds.push(gvk.clone());
                }
                e(Type::List(Box::new(super::kind_type(&k))), K::Objects(gvk))
            }
            "who_can" => self.who_can(scope, args),
            "values" => {
                let v = self.expr(scope, &args[0]);
                let Type::Map(t) = v.ty.strip_optional().clone() else {
                    let msg = format!("`values` needs a map, found `{}`", show(&v.ty));
                    return self.err(scope, "type-mismatch", args[0].span, msg);
                };
                let item = scope.bind("value", (*t).clone());
                scope.pop(1);
                e(
                    Type::List(t),
                    K::Collect {
                        item,
                        key: None,
                        collection: Box::new(v),
                        filter: None,
                        map: None,
                    },
                )
            }
            "filter" | "map" | "count" => self.collect(scope, name, args),
            _ => unreachable!("every builtin name is handled"),
        }
    }
}

impl Checker<'_> {
    /// `filter(xs, x, cond)`, `map(xs, x, value)` and `count(xs, x, cond)`: the second
    /// argument names each element (each value, for a map) in the third.
    fn collect(&mut self, scope: &mut Scope, name: &str, args: &[ast::Expr]) -> ir::Expr {
        let ExprKind::Var(binder) = &args[1].kind else {
            let msg = format!(
                "the second argument of `{name}` names each element, as in `{name}(xs, x, …)`"
            );
            return self.err(scope, "bad-binder", args[1].span, msg);
        };
        let coll = self.expr(scope, &args[0]);
        let Some((key, item, pushed)) =
            self.bind_iteration(scope, &coll, args[0].span, binder, None)
        else {
            return poison();
        };
        let elem = match coll.ty.strip_optional() {
            Type::List(t) | Type::Map(t) => (**t).clone(),
            _ => Type::Any,
        };
        let body = if name == "map" {
            self.present(scope, &args[2], "the value of `map`")
        } else {
            let what = format!("the condition of `{name}`");
            self.expect(scope, &args[2], &Type::Bool, &what)
        };
        scope.pop(pushed);
        let ty = if name == "map" { body.ty.clone() } else { elem };
        let (filter, map) = if name == "map" {
            (None, Some(Box::new(body)))
        } else {
            (Some(Box::new(body)), None)
        };
        let list = e(
            Type::List(Box::new(ty)),
            K::Collect {
                item,
                key,
                collection: Box::new(coll),
                filter,
                map,
            },
        );
        if name == "count" {
            return e(Type::Int, K::Call(Builtin::Len, vec![list]));
        }
        list
    }
}

/// A present value of a scalar type, used to unwrap an optional that is known to be present.
fn sentinel(t: &Type) -> Option<ir::Expr> {
    let v = match t {
        Type::String => ir::Value::String(String::new()),
        Type::Int => ir::Value::Int(0),
        Type::Number => ir::Value::Number(0.0),
        Type::Bool => ir::Value::Bool(false),
        _ => return None,
    };
    Some(ir::Expr::lit(v, t.clone()))
}

/// `x == y` where either side may be absent, lowered to present comparisons: absent equals
/// absent, and an absent value equals no present one. Only scalars (see [`sentinel`]) get here
/// optional.
/// Whether `x` is `object.metadata.namespace`.
fn is_subject_namespace(x: &ir::Expr) -> bool {
    match &x.kind {
        K::Field(meta, f) if f == "namespace" => {
            matches!(&meta.kind, K::Field(s, m) if m == "metadata" && matches!(s.kind, K::Subject))
        }
        _ => false,
    }
}

/// `object.metadata.namespace` in a rule with pod-controller autogen: the namespace the pods
/// are created in (spec/language.md "Pod-controller autogen"). Kubernetes creates a
/// controller's pods in the controller's namespace, which is the request's, whatever the
/// template says: `controller == null ? object.metadata.namespace : request.namespace`.
fn pod_namespace(field: ir::Expr) -> ir::Expr {
    let controller = e(
        Type::Object(super::context::CONTROLLER_TYPE.into()).optional(),
        K::Controller,
    );
    let request = e(
        Type::Object(super::context::REQUEST_TYPE.into()),
        K::Request,
    );
    let ns = e(
        Type::String.optional(),
        K::Field(Box::new(request), "namespace".into()),
    );
    let bare = e(Type::Bool, K::IsAbsent(Box::new(controller)));
    e(
        Type::String.optional(),
        K::If(Box::new(bare), Box::new(field), Box::new(ns)),
    )
}

fn optional_eq(x: ir::Expr, y: ir::Expr) -> ir::Expr {
    let absent = |v: &ir::Expr| e(Type::Bool, K::IsAbsent(Box::new(v.clone())));
    let unwrap = |v: ir::Expr| match sentinel(v.ty.strip_optional()) {
        Some(s) if v.ty.is_optional() => e(s.ty.clone(), K::Default(Box::new(v), Box::new(s))),
        _ => v,
    };
    let (xo, yo) = (x.ty.is_optional(), y.ty.is_optional());
    let (ax, ay) = (absent(&x), absent(&y));
    let eq = e(
        Type::Bool,
        K::Binary(BinOp::Eq, Box::new(unwrap(x)), Box::new(unwrap(y))),
    );
    let no = || e(Type::Bool, K::Lit(ir::Value::Bool(false)));
    let pick = |c: ir::Expr, a: ir::Expr, b: ir::Expr| {
        e(Type::Bool, K::If(Box::new(c), Box::new(a), Box::new(b)))
    };
    match (xo, yo) {
        (false, false) => eq,
        (true, false) => pick(ax, no(), eq),
        (false, true) => pick(ay, no(), eq),
        (true, true) => pick(ax, ay.clone(), pick(ay, no(), eq)),
    }
}

/// The text of a string literal without interpolation.
pub fn literal_text(x: &ast::Expr) -> Option<String> {
    match &x.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [StrPart::Text(t)] => Some(t.clone()),
            _ => None,
        },
        _ => None,
    }
}
