//! Expressions to layout documents. Literals are printed as written; parentheses are kept
//! where the author wrote them and added where the grammar needs them, so the printed text
//! parses back to the same tree.

use super::doc::{concat, group, nest, text, Doc};
use super::Printer;
use crate::ir::Quantifier;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, StrPart, TypeExpr, UnaryOp};

/// Binding strength, loosest first (spec/language.md §2.3).
const TOP: u8 = 0;
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const DEFAULT: u8 = 5;
const ADD: u8 = 6;
const NEG: u8 = 7;
const POSTFIX: u8 = 8;

/// Where an expression is printed: the loosest form allowed there without parentheses,
/// and whether a quantifier (whose body runs to the end) may end it.
#[derive(Clone, Copy)]
struct Place {
    min: u8,
    tail: bool,
}

const ANYWHERE: Place = Place {
    min: TOP,
    tail: true,
};

fn strength(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If(..) | ExprKind::Quantified { .. } => TOP,
        ExprKind::Binary(op, ..) => binary_strength(*op),
        ExprKind::Unary(UnaryOp::Not, _) => NOT,
        ExprKind::Unary(UnaryOp::Neg, _) => NEG,
        _ => POSTFIX,
    }
}

fn binary_strength(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => OR,
        BinaryOp::And => AND,
        BinaryOp::Default => DEFAULT,
        BinaryOp::Add | BinaryOp::Sub => ADD,
        _ => CMP,
    }
}

/// Whether `e`, printed without parentheses at `place`, needs them.
fn needs_parens(e: &Expr, place: Place) -> bool {
    if e.parens {
        return true;
    }
    match &e.kind {
        ExprKind::If(..) => place.min > TOP,
        ExprKind::Quantified { .. } => !place.tail,
        _ => strength(e) < place.min || (!place.tail && ends_open(e)),
    }
}

/// A literal: lists of them are filled, several to a line.
fn is_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null => true,
        ExprKind::Str(parts) => parts.iter().all(|p| matches!(p, StrPart::Text(_))),
        ExprKind::Unary(UnaryOp::Neg, x) => is_literal(x),
        _ => false,
    }
}

/// Whether the printed `e` ends with a quantifier or `if` not closed by parentheses.
fn ends_open(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::If(..) | ExprKind::Quantified { .. } => true,
        ExprKind::Unary(UnaryOp::Not, x) | ExprKind::Binary(BinaryOp::And | BinaryOp::Or, _, x) => {
            !x.parens && ends_open(x)
        }
        _ => false,
    }
}

impl Printer<'_> {
    /// An expression at a place where any form may stand.
    pub(super) fn expr(&mut self, e: &Expr) -> Doc {
        self.expr_at(e, ANYWHERE)
    }

    fn expr_at(&mut self, e: &Expr, place: Place) -> Doc {
        if let Some(verbatim) = self.verbatim(e.span) {
            return if e.parens {
                concat(vec![text("("), verbatim, text(")")])
            } else {
                verbatim
            };
        }
        if needs_parens(e, place) {
            let inner = self.bare(e, ANYWHERE);
            return group(concat(vec![text("("), inner, text(")")]));
        }
        self.bare(e, place)
    }

    /// `e` without parentheses around it.
    fn bare(&mut self, e: &Expr, place: Place) -> Doc {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Number(_) | ExprKind::Str(_) | ExprKind::Error => {
                text(self.source(e.span))
            }
            ExprKind::Bool(b) => text(b.to_string()),
            ExprKind::Null => text("null"),
            ExprKind::Var(name) => text(&name.name),
            ExprKind::Field(base, name) => {
                let base = self.operand(base, POSTFIX, false);
                concat(vec![base, text("."), text(&name.name)])
            }
            ExprKind::Index(base, index) => {
                let base = self.operand(base, POSTFIX, false);
                let index = self.expr(index);
                concat(vec![base, text("["), index, text("]")])
            }
            ExprKind::Call(callee, args) => {
                let callee = self.operand(callee, POSTFIX, false);
                let args = args.iter().map(|a| self.expr(a)).collect();
                concat(vec![callee, self.delimited("(", args, ")")])
            }
            ExprKind::Unary(UnaryOp::Not, x) => {
                let x = self.operand(x, NOT, place.tail);
                concat(vec![text("not "), x])
            }
            ExprKind::Unary(UnaryOp::Neg, x) => {
                let x = self.operand(x, NEG, false);
                concat(vec![text("-"), x])
            }
            ExprKind::Binary(op @ (BinaryOp::And | BinaryOp::Or), ..) => {
                self.logical_chain(e, *op, place)
            }
            ExprKind::Binary(op, a, b) => {
                let s = binary_strength(*op);
                // `??` groups to the right, `+`/`-` to the left; comparisons do not chain.
                let (left, right) = match op {
                    BinaryOp::Default => (ADD, DEFAULT),
                    BinaryOp::Add | BinaryOp::Sub => (ADD, NEG),
                    _ => (DEFAULT, DEFAULT),
                };
                debug_assert!(left >= s);
                let a = self.operand(a, left, false);
                let b = self.operand(b, right, false);
                group(concat(vec![
                    a,
                    text(format!(" {}", op.symbol())),
                    nest(2, concat(vec![Doc::Line, b])),
                ]))
            }
            ExprKind::Quantified {
                q,
                first,
                second,
                collection,
                body,
            } => {
                let mut head = match q {
                    Quantifier::Any => "any ".to_string(),
                    Quantifier::All => "all ".to_string(),
                };
                head.push_str(&first.name);
                if let Some(s) = second {
                    head.push_str(", ");
                    head.push_str(&s.name);
                }
                head.push_str(" in ");
                let collection = self.operand(collection, OR, false);
                let body = self.expr(body);
                concat(vec![text(head), collection, text(": "), body])
            }
            ExprKind::If(..) => self.if_chain(e),
            ExprKind::List(items) => {
                let fill = items.iter().all(is_literal);
                let items = items.iter().map(|a| self.expr(a)).collect();
                if fill {
                    self.filled("[", items, "]")
                } else {
                    self.delimited("[", items, "]")
                }
            }
            ExprKind::Map(entries) => {
                let entries = entries
                    .iter()
                    .map(|(k, v)| {
                        let k = self.expr(k);
                        let v = self.expr(v);
                        concat(vec![k, text(": "), v])
                    })
                    .collect();
                self.delimited("{", entries, "}")
            }
        }
    }

    /// `if c then a else if … else z`: on one line, or one `if`/`else if`/`else` per line.
    fn if_chain(&mut self, e: &Expr) -> Doc {
        let mut parts = Vec::new();
        let mut cur = e;
        let mut first = true;
        loop {
            match &cur.kind {
                ExprKind::If(c, a, b) if first || (!cur.parens && self.verbatim_free(cur)) => {
                    let (c, a) = (self.expr(c), self.expr(a));
                    if !first {
                        parts.push(Doc::Line);
                        parts.push(text("else "));
                    }
                    parts.push(text("if "));
                    parts.push(c);
                    parts.push(text(" then "));
                    parts.push(a);
                    first = false;
                    cur = b;
                }
                _ => {
                    let z = self.expr(cur);
                    parts.push(Doc::Line);
                    parts.push(text("else "));
                    parts.push(z);
                    break;
                }
            }
        }
        group(concat(parts))
    }

    /// Whether no comment lies inside `e` (it would be printed as written).
    fn verbatim_free(&self, e: &Expr) -> bool {
        !self.has_comment(e.span)
    }

    fn operand(&mut self, e: &Expr, min: u8, tail: bool) -> Doc {
        self.expr_at(e, Place { min, tail })
    }

    /// `a and b and c` (or `or`): one operand per line when it does not fit, each continuation
    /// line starting with its operator.
    fn logical_chain(&mut self, e: &Expr, op: BinaryOp, place: Place) -> Doc {
        let mut operands = Vec::new();
        let mut cur = e;
        while let ExprKind::Binary(o, a, b) = &cur.kind {
            if *o != op || (cur.parens && !std::ptr::eq(cur, e)) {
                break;
            }
            operands.push(b.as_ref());
            cur = a;
        }
        operands.push(cur);
        operands.reverse();
        let s = binary_strength(op);
        let last = operands.len() - 1;
        let mut parts = Vec::new();
        let mut rest = Vec::new();
        for (i, x) in operands.into_iter().enumerate() {
            if i == 0 {
                parts.push(self.operand(x, s, false));
            } else {
                let tail = i == last && place.tail;
                let d = self.operand(x, s + 1, tail);
                rest.push(Doc::Line);
                rest.push(text(format!("{} ", op.symbol())));
                rest.push(d);
            }
        }
        parts.push(nest(2, concat(rest)));
        group(concat(parts))
    }

    /// `open items close`, on one line or one item per line.
    pub(super) fn delimited(&mut self, open: &str, items: Vec<Doc>, close: &str) -> Doc {
        if items.is_empty() {
            return text(format!("{open}{close}"));
        }
        let mut inner = vec![Doc::SoftLine];
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(item);
        }
        group(concat(vec![
            text(open),
            nest(2, concat(inner)),
            Doc::SoftLine,
            text(close),
        ]))
    }

    /// `open items close` on one line, or as many items per line as fit (for literals).
    fn filled(&mut self, open: &str, items: Vec<Doc>, close: &str) -> Doc {
        if items.is_empty() {
            return text(format!("{open}{close}"));
        }
        let mut inner = vec![Doc::SoftLine];
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(group(Doc::Line));
            }
            inner.push(item);
        }
        group(concat(vec![
            text(open),
            nest(2, concat(inner)),
            Doc::SoftLine,
            text(close),
        ]))
    }

    /// A written type.
    pub(super) fn type_expr(&self, t: &TypeExpr) -> String {
        let mut s = t.name.name.clone();
        if let Some(arg) = &t.arg {
            s.push('<');
            s.push_str(&self.type_expr(arg));
            s.push('>');
        }
        if t.optional {
            s.push('?');
        }
        s
    }
}
