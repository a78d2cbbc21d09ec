//! Walks over the compiler's syntax tree: every expression, and the names each construct
//! binds with the part of the file where they are visible.

use rampart_compiler::syntax::ast::{
    Expr, ExprKind, Ident, Item, MatchWhat, RuleItem, SourceFile, Span, StrPart,
};

/// Calls `f` on every expression of `file`, outer expressions before inner ones.
pub fn each_expr<'a>(file: &'a SourceFile, f: &mut dyn FnMut(&'a Expr)) {
    for item in &file.items {
        match item {
            Item::Function(func) => walk(&func.body, f),
            Item::Rule(r) => {
                for ri in &r.items {
                    match ri {
                        RuleItem::Meta { value, .. } | RuleItem::Let { value, .. } => {
                            walk(value, f)
                        }
                        RuleItem::Param { default, .. } => walk(default, f),
                        RuleItem::Match { what, .. } => match what {
                            MatchWhat::Namespaces(e) | MatchWhat::Labels(e) => walk(e, f),
                            MatchWhat::Kinds(_) => {}
                        },
                        RuleItem::Outcome(o) => {
                            for b in &o.binders {
                                walk(&b.collection, f);
                            }
                            for l in &o.lets {
                                walk(&l.value, f);
                            }
                            for e in [&o.when, &o.at].into_iter().flatten() {
                                walk(e, f);
                            }
                            walk(&o.message, f);
                            for fix in &o.fixes {
                                walk(&fix.path, f);
                                if let Some(v) = &fix.value {
                                    walk(v, f);
                                }
                            }
                            if let Some(g) = &o.generate {
                                walk(g, f);
                            }
                        }
                        RuleItem::AutogenOff(_) | RuleItem::Error(_) => {}
                    }
                }
            }
            Item::Import { .. } | Item::SchemaImport { .. } | Item::Error(_) => {}
        }
    }
}

fn walk<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Field(x, _) | ExprKind::Unary(_, x) => walk(x, f),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        ExprKind::Call(callee, args) => {
            walk(callee, f);
            for a in args {
                walk(a, f);
            }
        }
        ExprKind::Quantified {
            collection, body, ..
        } => {
            walk(collection, f);
            walk(body, f);
        }
        ExprKind::If(a, b, c) => {
            walk(a, f);
            walk(b, f);
            walk(c, f);
        }
        ExprKind::List(items) => {
            for x in items {
                walk(x, f);
            }
        }
        ExprKind::Map(entries) => {
            for (k, v) in entries {
                walk(k, f);
                walk(v, f);
            }
        }
        ExprKind::Str(parts) => {
            for p in parts {
                if let StrPart::Expr(x) = p {
                    walk(x, f);
                }
            }
        }
        ExprKind::Int(_)
        | ExprKind::Number(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Var(_)
        | ExprKind::Error => {}
    }
}

/// What kind of name a [`Binding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    Param,
    Let,
    Binder,
}

/// A name bound inside a function or rule, and where it is visible.
#[derive(Clone, Debug)]
pub struct Binding {
    pub name: String,
    /// The name where it is bound.
    pub span: Span,
    pub scope: Span,
    pub kind: BindingKind,
}

/// Every local name of `file`.
pub fn bindings(file: &SourceFile) -> Vec<Binding> {
    let mut out = Vec::new();
    let mut add = |id: &Ident, scope: Span, kind| {
        out.push(Binding {
            name: id.name.clone(),
            span: id.span,
            scope,
            kind,
        })
    };
    for item in &file.items {
        match item {
            Item::Function(func) => {
                for (name, _) in &func.params {
                    add(name, func.body.span, BindingKind::Param);
                }
            }
            Item::Rule(r) => {
                for ri in &r.items {
                    match ri {
                        RuleItem::Param { name, span, .. } => {
                            add(name, Span::new(span.end, r.span.end), BindingKind::Param)
                        }
                        RuleItem::Let { name, value } => add(
                            name,
                            Span::new(value.span.end, r.span.end),
                            BindingKind::Let,
                        ),
                        RuleItem::Outcome(o) => {
                            for b in &o.binders {
                                let scope = Span::new(b.collection.span.end, o.span.end);
                                add(&b.first, scope, BindingKind::Binder);
                                if let Some(s) = &b.second {
                                    add(s, scope, BindingKind::Binder);
                                }
                            }
                            for l in &o.lets {
                                let scope = Span::new(l.value.span.end, o.span.end);
                                add(&l.name, scope, BindingKind::Let);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    each_expr(file, &mut |e| match &e.kind {
        ExprKind::Quantified {
            first,
            second,
            body,
            ..
        } => {
            add(first, body.span, BindingKind::Binder);
            if let Some(s) = second {
                add(s, body.span, BindingKind::Binder);
            }
        }
        // `filter(xs, x, cond)`, `map(…)`, `count(…)` bind `x` in their third argument.
        ExprKind::Call(callee, args) if args.len() == 3 && is_binding_builtin(callee) => {
            if let ExprKind::Var(x) = &args[1].kind {
                add(x, args[2].span, BindingKind::Binder);
            }
        }
        _ => {}
    });
    out
}

fn is_binding_builtin(callee: &Expr) -> bool {
    matches!(&callee.kind, ExprKind::Var(f) if matches!(f.name.as_str(), "filter" | "map" | "count"))
}

/// The binding a use of `name` at `offset` refers to: the innermost one visible there.
pub fn resolve_local<'a>(
    bindings: &'a [Binding],
    name: &str,
    offset: usize,
) -> Option<&'a Binding> {
    bindings
        .iter()
        .filter(|b| b.name == name && b.scope.start <= offset && offset <= b.scope.end)
        .max_by_key(|b| b.scope.start)
}

/// The alias an import binds: its `as` name, or the last part of the module name.
pub fn import_alias(path: &rampart_compiler::syntax::ast::Dotted, alias: &Option<Ident>) -> String {
    match alias {
        Some(a) => a.name.clone(),
        None => path
            .parts
            .last()
            .map(|p| p.name.clone())
            .unwrap_or_default(),
    }
}
