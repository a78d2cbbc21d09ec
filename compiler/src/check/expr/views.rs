//! `who_can(verb, resource)`: the RBAC view of a run (spec/language.md §3 "Set rules").

use super::{e, literal_text, poison, Scope};
use crate::check::Checker;
use crate::ir::{self, ExprKind as K, Type};
use crate::syntax::ast;
use crate::views;

impl Checker<'_> {
    /// Checks `who_can(verb, resource)`: both literal strings; the rule becomes a set rule
    /// that reads the view of that question.
    pub(super) fn who_can(&mut self, scope: &mut Scope, args: &[ast::Expr]) -> ir::Expr {
        let (Some(verb), Some(resource)) = (literal_text(&args[0]), literal_text(&args[1])) else {
            let span = if literal_text(&args[0]).is_none() {
                args[0].span
            } else {
                args[1].span
            };
            return self.err(
                scope,
                "who-can",
                span,
                "`who_can` takes a literal verb and resource, such as `who_can(\"get\", \"secrets\")`",
            );
        };
        if let Err(msg) = views::check_question(&verb, &resource) {
            let span = if views::check_question(&verb, "x").is_err() {
                args[0].span
            } else {
                args[1].span
            };
            return self.err(scope, "who-can", span, msg);
        }
        let gvk = views::who_can_gvk(&verb, &resource);
        if !scope.reads_kinds.contains(&gvk) {
            scope.reads_kinds.push(gvk.clone());
        }
        if self.schema.object(views::GRANT_TYPE).is_none() {
            return poison();
        }
        e(
            Type::List(Box::new(Type::Object(views::GRANT_TYPE.into()))),
            K::Objects(gvk),
        )
    }
}
