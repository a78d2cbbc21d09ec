//! `generate` templates of set rules (spec/language.md §4.14): the map literal is typed
//! against the kind its constant `apiVersion` and `kind` name, the way a manifest of that
//! kind is validated, and strings may interpolate only scalar paths of the subject, so that
//! the host can fill the template without new Wasm code.

use super::expr::{is_poison, literal_text, Scope};
use super::fix::lower_path;
use super::types::{from_schema, show};
use super::{is_quantity, Checker};
use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::ir::{PathRoot, Template, TemplatePart, Type};
use crate::syntax::ast::{self, ExprKind, Span, StrPart, UnaryOp};

/// Every item lowered (so that each error is reported), or `None` when one failed.
fn all<T>(items: impl Iterator<Item = Option<T>>) -> Option<Vec<T>> {
    let lowered: Vec<Option<T>> = items.collect();
    lowered.into_iter().collect()
}

/// What a written value is, for messages: "a map", "a string", …
fn written(x: &ast::Expr) -> &'static str {
    match &x.kind {
        ExprKind::Map(_) => "a map",
        ExprKind::List(_) => "a list",
        ExprKind::Str(_) => "a string",
        ExprKind::Int(_) => "an integer",
        ExprKind::Number(_) => "a number",
        ExprKind::Bool(_) => "a boolean",
        ExprKind::Null => "`null`",
        _ => "an expression",
    }
}

impl Checker<'_> {
    /// Checks and lowers an outcome's `generate` map; `None` when an error was reported.
    pub(super) fn generate(&mut self, scope: &mut Scope, map: &ast::Expr) -> Option<Template> {
        let ExprKind::Map(entries) = &map.kind else {
            return None; // the grammar admits only a map literal
        };
        let api = self.generate_header(scope, map, entries, "apiVersion");
        let kind = self.generate_header(scope, map, entries, "kind");
        let ((api, _), (kind, kind_span)) = (api?, kind?);
        let (group, version) = api.split_once('/').unwrap_or(("", &api));
        let Some(info) = self
            .schema
            .find_kinds(Some(group), Some(version), &kind)
            .first()
            .map(|k| (*k).clone())
        else {
            let mut d = Diagnostic::error(
                "generate-kind",
                scope.file,
                kind_span,
                format!("`{api}` has no kind `{kind}` in the schema"),
            );
            let served: Vec<String> = (self.schema.find_kinds(None, None, &kind).iter())
                .map(|k| k.api_version())
                .collect();
            if !served.is_empty() {
                d = d.with_help(format!("`{kind}` is served as `{}`", served.join("`, `")));
            } else if let Some(s) = did_you_mean(&kind, self.schema.kind_names()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.report(scope, d);
            return None;
        };
        let template = self.template(scope, map, &Type::Object(info.type_name), "the object")?;
        let name = template.entry("metadata").and_then(|m| m.entry("name"));
        if name.is_none() {
            let d = Diagnostic::error(
                "generate-no-name",
                scope.file,
                map.span,
                "a generated object needs `metadata.name`",
            )
            .with_help("e.g. `\"metadata\": {\"name\": \"default-deny\"}`");
            self.report(scope, d);
            return None;
        }
        Some(template)
    }

    /// The constant string of the required entry `key` and the span of its value.
    fn generate_header(
        &mut self,
        scope: &Scope,
        map: &ast::Expr,
        entries: &[(ast::Expr, ast::Expr)],
        key: &str,
    ) -> Option<(String, Span)> {
        let Some((_, value)) = entries
            .iter()
            .find(|(k, _)| literal_text(k).as_deref() == Some(key))
        else {
            let d = Diagnostic::error(
                "generate-kind",
                scope.file,
                map.span,
                format!("a generated object needs `{key}`"),
            )
            .with_help(
                "e.g. `\"apiVersion\": \"networking.k8s.io/v1\", \"kind\": \"NetworkPolicy\"`",
            );
            self.report(scope, d);
            return None;
        };
        match literal_text(value) {
            Some(text) => Some((text, value.span)),
            None => {
                let d = Diagnostic::error(
                    "generate-kind",
                    scope.file,
                    value.span,
                    format!("`{key}` of a generated object must be a constant string"),
                )
                .with_note("it names the kind the object is checked against");
                self.report(scope, d);
                None
            }
        }
    }

    /// Lowers `x`, typed against `want` (a schema type, present); `what` names it in errors.
    fn template(
        &mut self,
        scope: &mut Scope,
        x: &ast::Expr,
        want: &Type,
        what: &str,
    ) -> Option<Template> {
        use serde_json::Value as J;
        let want = want.strip_optional();
        let fits = match (&x.kind, want) {
            (ExprKind::Null, _) | (_, Type::Any) => true,
            (ExprKind::Map(_), t) => matches!(t, Type::Object(_) | Type::Map(_)),
            (ExprKind::List(_), t) => matches!(t, Type::List(_)),
            (ExprKind::Str(_), t) => matches!(t, Type::String | Type::IntOrString | Type::Quantity),
            (ExprKind::Int(_), t) => matches!(
                t,
                Type::Int | Type::Number | Type::IntOrString | Type::Quantity
            ),
            (ExprKind::Number(_), t) => matches!(t, Type::Number | Type::Quantity),
            (ExprKind::Bool(_), t) => *t == Type::Bool,
            (ExprKind::Unary(UnaryOp::Neg, inner), t) => {
                matches!(inner.kind, ExprKind::Int(_) | ExprKind::Number(_))
                    && matches!(t, Type::Int | Type::Number | Type::Quantity)
            }
            _ => true, // reported below as not a constant
        };
        if !fits {
            let d = Diagnostic::error(
                "type-mismatch",
                scope.file,
                x.span,
                format!("{what} must be `{}`, found {}", show(want), written(x)),
            )
            .with_label(format!("{} is not `{}`", written(x), show(want)));
            self.report(scope, d);
            return None;
        }
        Some(match &x.kind {
            ExprKind::Null => Template::Const(J::Null),
            ExprKind::Bool(b) => Template::Const(J::Bool(*b)),
            ExprKind::Int(n) => Template::Const(J::from(*n)),
            ExprKind::Number(n) => Template::Const(J::from(*n)),
            ExprKind::Unary(UnaryOp::Neg, inner) => match inner.kind {
                ExprKind::Int(n) => Template::Const(J::from(-n)),
                ExprKind::Number(n) => Template::Const(J::from(-n)),
                _ => return self.not_constant(scope, x),
            },
            ExprKind::Str(parts) => self.template_string(scope, x, parts, want)?,
            ExprKind::List(items) => {
                let item = match want {
                    Type::List(t) => (**t).clone(),
                    _ => Type::Any,
                };
                let lowered = items
                    .iter()
                    .map(|i| self.template(scope, i, &item, "an element"));
                Template::List(all(lowered)?)
            }
            ExprKind::Map(entries) => self.template_map(scope, entries, want)?,
            _ => return self.not_constant(scope, x),
        })
    }

    /// A map typed against an object type (its fields), a `map<T>` or `any`.
    fn template_map(
        &mut self,
        scope: &mut Scope,
        entries: &[(ast::Expr, ast::Expr)],
        want: &Type,
    ) -> Option<Template> {
        let object = match want {
            Type::Object(name) => self.schema.object(name).cloned(),
            _ => None,
        };
        let mut out: Vec<(String, Template)> = Vec::new();
        let mut ok = true;
        for (k, v) in entries {
            let key = literal_text(k);
            let problem = match &key {
                None => Some("a key of a generated object must be a constant string".to_string()),
                Some(key) if out.iter().any(|(seen, _)| seen == key) => {
                    Some(format!("`{key}` is given twice"))
                }
                Some(_) => None,
            };
            let (Some(key), None) = (key, problem.as_ref()) else {
                let message = problem.unwrap_or_default();
                let d = Diagnostic::error("generate-key", scope.file, k.span, message);
                self.report(scope, d);
                ok = false;
                continue;
            };
            let field = match (&object, want) {
                (Some(o), Type::Object(name)) => match o.fields.get(&key) {
                    Some(f) => from_schema(&f.ty),
                    None if o.open => Type::Any,
                    None => {
                        let mut d = Diagnostic::error(
                            "unknown-field",
                            scope.file,
                            k.span,
                            format!(
                                "`{}` has no field `{key}`",
                                show(&Type::Object(name.clone()))
                            ),
                        )
                        .with_label("unknown field");
                        if let Some(s) = did_you_mean(&key, o.fields.keys().map(String::as_str)) {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        } else {
                            let names: Vec<&str> =
                                o.fields.keys().map(String::as_str).take(12).collect();
                            d = d.with_note(format!("its fields are: {}", names.join(", ")));
                        }
                        self.report(scope, d);
                        ok = false;
                        continue;
                    }
                },
                (_, Type::Map(t)) => (**t).clone(),
                _ => Type::Any,
            };
            match self.template(scope, v, &field, &format!("`{key}`")) {
                Some(t) => out.push((key, t)),
                None => ok = false,
            }
        }
        ok.then_some(Template::Map(out))
    }

    /// A string: constant text, or text and interpolated scalar paths of the subject.
    fn template_string(
        &mut self,
        scope: &mut Scope,
        x: &ast::Expr,
        parts: &[StrPart],
        want: &Type,
    ) -> Option<Template> {
        if let Some(text) = literal_text(x) {
            if *want == Type::Quantity && !is_quantity(&text) {
                let d = Diagnostic::error(
                    "type-mismatch",
                    scope.file,
                    x.span,
                    format!("`{text}` is not a quantity"),
                )
                .with_help("e.g. `\"500m\"` or `\"1Gi\"`");
                self.report(scope, d);
                return None;
            }
            return Some(Template::Const(serde_json::Value::String(text)));
        }
        let lowered = parts.iter().map(|p| match p {
            StrPart::Text(t) => Some(TemplatePart::Text(t.clone())),
            StrPart::Expr(e) => self.subject_scalar(scope, e).map(TemplatePart::Subject),
        });
        Some(Template::Str(all(lowered)?))
    }

    /// The steps of an interpolated path of the subject holding a scalar.
    fn subject_scalar(
        &mut self,
        scope: &mut Scope,
        e: &ast::Expr,
    ) -> Option<Vec<crate::ir::PathStep>> {
        let path = lower_path(e, &[]).filter(|p| p.root == PathRoot::Subject);
        let Some(path) = path else {
            let d = Diagnostic::error(
                "generate-interpolation",
                scope.file,
                e.span,
                "a generated object may interpolate only paths of `object`",
            )
            .with_help("e.g. `\"{object.metadata.name}\"`")
            .with_note(
                "the host fills the object from the subject: other values are not known there",
            );
            self.report(scope, d);
            return None;
        };
        // Typed like any path: an unknown field is reported at its step.
        let typed = self.expr(scope, e);
        if is_poison(&typed) {
            return None;
        }
        match typed.ty.strip_optional() {
            Type::String
            | Type::Int
            | Type::Number
            | Type::Bool
            | Type::Quantity
            | Type::IntOrString
            | Type::Any => Some(path.steps),
            other => {
                let d = Diagnostic::error(
                    "generate-interpolation",
                    scope.file,
                    e.span,
                    format!(
                        "this is `{}`: only a string, number or boolean can be interpolated",
                        show(other)
                    ),
                );
                self.report(scope, d);
                None
            }
        }
    }

    fn not_constant(&mut self, scope: &Scope, x: &ast::Expr) -> Option<Template> {
        let d = Diagnostic::error(
            "generate-not-constant",
            scope.file,
            x.span,
            "a generated object holds constants, lists, maps and strings",
        )
        .with_help("interpolate a path of the subject in a string: `\"{object.metadata.name}\"`");
        self.report(scope, d);
        None
    }
}
