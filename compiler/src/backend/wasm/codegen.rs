//! Lowers the IR of one rule to one wasm function `(subject, params, set, request, old)`.
//!
//! Every expression leaves one `i32` on the stack: the address of a node, or 0 when the value
//! is absent. Booleans are the constant nodes [`TRUE_NODE`] and [`FALSE_NODE`]; consumers
//! check tags, so a value of the wrong JSON type fails where it is used (spec §4.2 rule 4).

use wasm_encoder::{BlockType, ValType};

use super::abi::*;
use super::gen::{m, sorted_entries, Cached, Gen, Helper, F, G_HEAP};
use super::regex::dfa_table;
use crate::ir::{
    Action, BinOp, Builtin, Expr, ExprKind, Gvk, ImageField, MessagePart, Outcome, PathRoot,
    Quantifier, Rule, Type, UnOp,
};

const EMPTY: BlockType = BlockType::Empty;
const RI32: BlockType = BlockType::Result(ValType::I32);

/// Wasm parameters of a rule function: the subject node, the parameter list, the object set,
/// the admission request and the old subject (0 when absent).
const P_SUBJECT: u32 = 0;
const P_PARAMS: u32 = 1;
const P_SET: u32 = 2;
const P_REQUEST: u32 = 3;
const P_OLD: u32 = 4;
const P_CONTROLLER: u32 = 5;
/// The number of wasm parameters of a rule function.
pub const RULE_PARAMS: u32 = 6;
const FIRST_LOCAL: u32 = RULE_PARAMS;

/// The tags a value of static type `ty` may carry (absent is always allowed).
pub fn mask(ty: &Type) -> i32 {
    let bit = |t: i32| 1 << t;
    match ty.strip_optional() {
        Type::Bool => bit(TAG_BOOL),
        Type::Int => bit(TAG_INT),
        Type::Number => bit(TAG_INT) | bit(TAG_FLOAT),
        Type::String => bit(TAG_STRING),
        Type::Quantity => bit(TAG_STRING) | bit(TAG_INT) | bit(TAG_FLOAT) | bit(TAG_QUANTITY),
        Type::IntOrString => bit(TAG_INT) | bit(TAG_STRING),
        Type::Image | Type::Map(_) | Type::Object(_) => bit(TAG_MAP),
        Type::List(_) => bit(TAG_LIST),
        Type::Any | Type::Null | Type::Optional(_) => 0xff,
    }
}

/// The element type of a collection type.
fn element(ty: &Type) -> Type {
    match ty.strip_optional() {
        Type::List(t) | Type::Map(t) => (**t).clone(),
        _ => Type::Any,
    }
}

fn is_quantity(a: &Expr, b: &Expr) -> bool {
    let q = |e: &Expr| *e.ty.strip_optional() == Type::Quantity;
    let null = |e: &Expr| e.ty == Type::Null;
    (q(a) || q(b)) && !null(a) && !null(b)
}

/// Code generation state for one rule.
pub struct RuleGen<'a> {
    g: &'a mut Gen,
    f: F,
    rule_index: u32,
    set_kinds: &'a [Gvk],
    /// Errors found while lowering (unsupported constructs).
    pub errors: Vec<String>,
}

impl<'a> RuleGen<'a> {
    /// Lowers `rule` (number `rule_index` in the program) to a function body.
    pub fn build(
        g: &'a mut Gen,
        rule: &'a Rule,
        rule_index: u32,
        set_kinds: &'a [Gvk],
    ) -> (F, Vec<String>) {
        let mut f = F::new(RULE_PARAMS);
        for _ in 0..rule.locals {
            f.l32();
        }
        let mut rg = RuleGen {
            g,
            f,
            rule_index,
            set_kinds,
            errors: Vec::new(),
        };
        for (local, e) in &rule.lets {
            rg.expr(e);
            rg.f.i().local_set(FIRST_LOCAL + local);
        }
        for (k, outcome) in rule.outcomes.iter().enumerate() {
            rg.outcome(k as u32, outcome, 0);
        }
        (rg.f, rg.errors)
    }

    fn call(&mut self, h: Helper) {
        let i = self.g.h(h);
        self.f.i().call(i);
    }

    fn local(&self, l: u32) -> u32 {
        FIRST_LOCAL + l
    }

    /// Emits the loops of binders `k..` and, innermost, the `when` test and the finding.
    fn outcome(&mut self, index: u32, o: &Outcome, k: usize) {
        if k < o.binders.len() {
            let b = &o.binders[k];
            let item = self.local(b.item);
            let key = b.key.map(|l| self.local(l));
            let elem = element(&b.collection.ty);
            self.each(&b.collection, item, key, &elem, |rg| {
                rg.outcome(index, o, k + 1);
                false
            });
            return;
        }
        if let Some(when) = &o.when {
            self.expr(when);
            self.call(Helper::AsBool);
            self.f.i().if_(EMPTY);
        }
        let emit = self.g.h(Helper::Emit);
        self.f
            .i()
            .i32_const(self.rule_index as i32)
            .i32_const(index as i32);
        match o.at.root {
            PathRoot::Subject => self.f.i().local_get(P_SUBJECT),
            PathRoot::Binder(l) => self.f.i().local_get(FIRST_LOCAL + l),
        };
        self.message(&o.message);
        self.f.i().call(emit);
        if o.when.is_some() {
            self.f.i().end();
        }
        let _ = Action::Deny;
    }

    /// Loops over a list or map (absent: no iteration), binding `item` and `key`. `body`
    /// emits the loop body; when it returns true it has left an `i32` flag on the stack and
    /// a true flag stops the loop.
    fn each(
        &mut self,
        coll: &Expr,
        item: u32,
        key: Option<u32>,
        elem: &Type,
        body: impl FnOnce(&mut Self) -> bool,
    ) {
        let (c, n, i) = (self.f.l32(), self.f.l32(), self.f.l32());
        self.expr(coll);
        self.f.i().local_tee(c);
        self.call(Helper::CollLen);
        self.f
            .i()
            .local_set(n)
            .i32_const(0)
            .local_set(i)
            .block(EMPTY)
            .loop_(EMPTY)
            .local_get(i)
            .local_get(n)
            .i32_ge_u()
            .br_if(1)
            .local_get(c)
            .local_get(i)
            .i32_const(mask(elem));
        self.call(Helper::Item);
        self.f.i().local_set(item);
        if let Some(key) = key {
            self.f.i().local_get(c).local_get(i);
            self.call(Helper::CollKey);
            self.f.i().local_set(key);
        }
        if body(self) {
            self.f.i().br_if(1);
        }
        self.f
            .i()
            .local_get(i)
            .i32_const(1)
            .i32_add()
            .local_set(i)
            .br(0)
            .end()
            .end();
    }

    /// `filter`/`map`: a list as long as the collection, filled with the kept elements,
    /// whose length is then set to how many were kept.
    fn collect(
        &mut self,
        item: u32,
        key: Option<u32>,
        collection: &Expr,
        filter: Option<&Expr>,
        map: Option<&Expr>,
    ) {
        let (out, kept) = (self.f.l32(), self.f.l32());
        self.expr(collection);
        self.call(Helper::CollLen);
        self.call(Helper::NewList);
        self.f.i().local_set(out).i32_const(0).local_set(kept);
        let item = self.local(item);
        let key = key.map(|k| self.local(k));
        let elem = element(&collection.ty);
        self.each(collection, item, key, &elem, |rg| {
            if let Some(filter) = filter {
                rg.expr(filter);
                rg.call(Helper::AsBool);
                rg.f.i().if_(EMPTY);
            }
            // out.items[kept] = value
            rg.f.i()
                .local_get(out)
                .i32_load(m(8, 2))
                .local_get(kept)
                .i32_const(4)
                .i32_mul()
                .i32_add();
            match map {
                Some(map) => rg.expr(map),
                None => {
                    rg.f.i().local_get(item);
                }
            }
            rg.f.i()
                .i32_store(m(0, 2))
                .local_get(kept)
                .i32_const(1)
                .i32_add()
                .local_set(kept);
            if filter.is_some() {
                rg.f.i().end();
            }
            false
        });
        self.f
            .i()
            .local_get(out)
            .local_get(kept)
            .i32_store(m(4, 2))
            .local_get(out);
    }

    /// `trim_prefix`/`trim_suffix`: a string node over the kept bytes of `s` (no copy).
    fn trim(&mut self, args: &[Expr], prefix: bool) {
        let (s, p) = (self.f.l32(), self.f.l32());
        self.expr(&args[0]);
        self.f.i().local_tee(s);
        self.expr(&args[1]);
        self.f.i().local_tee(p);
        self.call(if prefix {
            Helper::StartsWith
        } else {
            Helper::EndsWith
        });
        self.f.i().if_(RI32).local_get(s).i32_load(m(8, 2));
        if prefix {
            self.f.i().local_get(p).i32_load(m(4, 2)).i32_add();
        }
        self.f
            .i()
            .local_get(s)
            .i32_load(m(4, 2))
            .local_get(p)
            .i32_load(m(4, 2))
            .i32_sub();
        self.call(Helper::NewStr);
        self.f.i().else_().local_get(s).end();
    }

    /// Leaves a string node holding the message.
    fn message(&mut self, parts: &[MessagePart]) {
        if let [MessagePart::Text(s)] = parts {
            let node = self.g.string(s) as i32;
            self.f.i().i32_const(node);
            return;
        }
        if parts.is_empty() {
            let node = self.g.string("") as i32;
            self.f.i().i32_const(node);
            return;
        }
        // Evaluate every part first: evaluation allocates, and the text must be contiguous.
        let mut locals = Vec::new();
        for part in parts {
            if let MessagePart::Expr(e) = part {
                let t = self.f.l32();
                self.expr(e);
                self.call(Helper::Text);
                self.f.i().local_set(t);
                locals.push(t);
            }
        }
        let start = self.f.l32();
        let wbs = self.g.h(Helper::WBytes);
        self.f.i().global_get(G_HEAP).local_set(start);
        let mut next = locals.into_iter();
        for part in parts {
            match part {
                MessagePart::Text(s) => {
                    let (p, l) = self.g.str_bytes(s);
                    self.f.i().i32_const(p).i32_const(l).call(wbs);
                }
                MessagePart::Expr(_) => {
                    let t = next.next().expect("one local per expression part");
                    self.f
                        .i()
                        .local_get(t)
                        .i32_load(m(8, 2))
                        .local_get(t)
                        .i32_load(m(4, 2))
                        .call(wbs);
                }
            }
        }
        let ns = self.g.h(Helper::NewStr);
        self.f
            .i()
            .local_get(start)
            .global_get(G_HEAP)
            .local_get(start)
            .i32_sub()
            .call(ns);
    }

    fn bool_result(&mut self) {
        self.call(Helper::BoolNode);
    }

    /// Emits `e`, leaving its node on the stack.
    pub fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Lit(v) => {
                let node = self.g.value(v) as i32;
                self.f.i().i32_const(node);
            }
            ExprKind::Subject => {
                self.f.i().local_get(P_SUBJECT);
            }
            ExprKind::Request => {
                self.f.i().local_get(P_REQUEST);
            }
            ExprKind::OldSubject => {
                self.f.i().local_get(P_OLD);
            }
            ExprKind::Controller => {
                self.f.i().local_get(P_CONTROLLER);
            }
            ExprKind::Local(l) => {
                let l = self.local(*l);
                self.f.i().local_get(l);
            }
            ExprKind::Param(i) => {
                self.f
                    .i()
                    .local_get(P_PARAMS)
                    .i32_load(m(8, 2))
                    .i32_load(m(4 * *i as u64, 2));
                self.call(Helper::Norm);
            }
            ExprKind::Field(base, name) => {
                self.expr(base);
                let (p, l) = self.g.str_bytes(name);
                self.f.i().i32_const(p).i32_const(l).i32_const(mask(&e.ty));
                self.call(Helper::Field);
            }
            ExprKind::Index(base, index) => {
                self.expr(base);
                self.expr(index);
                self.call(Helper::Index);
                self.f.i().i32_const(mask(&e.ty));
                self.call(Helper::Check);
            }
            ExprKind::Default(a, d) => {
                let t = self.f.l32();
                self.expr(a);
                self.call(Helper::Norm);
                self.f.i().local_tee(t).if_(RI32).local_get(t).else_();
                self.expr(d);
                self.f.i().end();
            }
            ExprKind::IsAbsent(a) => {
                self.expr(a);
                self.call(Helper::Norm);
                self.f.i().i32_eqz();
                self.bool_result();
            }
            ExprKind::Unary(UnOp::Not, a) => {
                self.expr(a);
                self.call(Helper::AsBool);
                self.f.i().i32_eqz();
                self.bool_result();
            }
            ExprKind::Unary(UnOp::Neg, a) => {
                self.expr(a);
                if *e.ty.strip_optional() == Type::Int {
                    self.call(Helper::AsInt);
                    self.call(Helper::NegInt);
                    self.call(Helper::NewInt);
                } else {
                    self.call(Helper::AsNum);
                    self.f.i().f64_neg();
                    self.call(Helper::NewFloat);
                }
            }
            ExprKind::Binary(op, a, b) => self.binary(e, *op, a, b),
            ExprKind::In(x, coll) => {
                self.expr(x);
                self.expr(coll);
                self.call(Helper::In);
                self.bool_result();
            }
            ExprKind::Call(b, args) => self.builtin(*b, args),
            ExprKind::Quantified {
                q,
                item,
                key,
                collection,
                body,
            } => {
                let res = self.f.l32();
                let init = matches!(q, Quantifier::All) as i32;
                self.f.i().i32_const(init).local_set(res);
                let item = self.local(*item);
                let key = key.map(|k| self.local(k));
                let elem = element(&collection.ty);
                let q = *q;
                self.each(collection, item, key, &elem, |rg| {
                    rg.expr(body);
                    rg.call(Helper::AsBool);
                    if q == Quantifier::All {
                        rg.f.i().i32_eqz();
                    }
                    // Stop at the first witness (any) or counter-example (all).
                    rg.f.i()
                        .if_(EMPTY)
                        .i32_const(1 - init)
                        .local_set(res)
                        .end()
                        .local_get(res)
                        .i32_const(init)
                        .i32_ne();
                    true
                });
                self.f.i().local_get(res);
                self.bool_result();
            }
            ExprKind::If(c, a, b) => {
                self.expr(c);
                self.call(Helper::AsBool);
                self.f.i().if_(RI32);
                self.expr(a);
                self.f.i().else_();
                self.expr(b);
                self.f.i().end();
            }
            ExprKind::Collect {
                item,
                key,
                collection,
                filter,
                map,
            } => self.collect(*item, *key, collection, filter.as_deref(), map.as_deref()),
            ExprKind::Let(l, v, body) => {
                self.expr(v);
                let l = self.local(*l);
                self.f.i().local_set(l);
                self.expr(body);
            }
            ExprKind::List(items) => {
                let t = self.f.l32();
                self.f.i().i32_const(items.len() as i32);
                self.call(Helper::NewList);
                self.f.i().local_set(t);
                for (k, item) in items.iter().enumerate() {
                    self.f.i().local_get(t).i32_load(m(8, 2));
                    self.expr(item);
                    self.f.i().i32_store(m(4 * k as u64, 2));
                }
                self.f.i().local_get(t);
            }
            ExprKind::Map(entries) => {
                let t = self.f.l32();
                let entries = sorted_entries(entries);
                self.f.i().i32_const(entries.len() as i32);
                self.call(Helper::NewMap);
                self.f.i().local_set(t);
                for (k, (key, value)) in entries.into_iter().enumerate() {
                    let key = self.g.string(key) as i32;
                    self.f
                        .i()
                        .local_get(t)
                        .i32_load(m(8, 2))
                        .i32_const(key)
                        .i32_store(m(8 * k as u64, 2))
                        .local_get(t)
                        .i32_load(m(8, 2));
                    self.expr(value);
                    self.f.i().i32_store(m(8 * k as u64 + 4, 2));
                }
                self.f.i().local_get(t);
            }
            ExprKind::ImageField(img, field) => {
                self.expr(img);
                let name = match field {
                    ImageField::Registry => "registry",
                    ImageField::Repository => "repository",
                    ImageField::Tag => "tag",
                    ImageField::Digest => "digest",
                };
                let (p, l) = self.g.str_bytes(name);
                self.f.i().i32_const(p).i32_const(l);
                self.call(Helper::GetField);
            }
            ExprKind::Objects(gvk) => {
                let k = self
                    .set_kinds
                    .iter()
                    .position(|g| g == gvk)
                    .expect("set kinds hold every kind a rule reads");
                self.f
                    .i()
                    .local_get(P_SET)
                    .i32_load(m(8, 2))
                    .i32_load(m(4 * k as u64, 2));
            }
            ExprKind::Interpolate(parts) => self.message(parts),
        }
    }

    fn binary(&mut self, e: &Expr, op: BinOp, a: &Expr, b: &Expr) {
        match op {
            BinOp::And | BinOp::Or => {
                self.expr(a);
                self.call(Helper::AsBool);
                self.f.i().if_(RI32);
                if op == BinOp::And {
                    self.expr(b);
                    self.f.i().else_().i32_const(FALSE_NODE);
                } else {
                    self.f.i().i32_const(TRUE_NODE).else_();
                    self.expr(b);
                }
                self.f.i().end();
                // The right operand must be a boolean too.
                self.call(Helper::AsBool);
                self.bool_result();
            }
            BinOp::Eq | BinOp::Ne => {
                if is_quantity(a, b) {
                    self.quantity_cmp(a, b);
                    self.f.i().i32_eqz();
                } else {
                    self.expr(a);
                    self.expr(b);
                    self.call(Helper::Eq);
                }
                if op == BinOp::Ne {
                    self.f.i().i32_eqz();
                }
                self.bool_result();
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if is_quantity(a, b) {
                    self.quantity_cmp(a, b);
                } else {
                    self.expr(a);
                    self.expr(b);
                    self.call(Helper::Cmp);
                }
                self.f.i().i32_const(0);
                match op {
                    BinOp::Lt => self.f.i().i32_lt_s(),
                    BinOp::Le => self.f.i().i32_le_s(),
                    BinOp::Gt => self.f.i().i32_gt_s(),
                    _ => self.f.i().i32_ge_s(),
                };
                self.bool_result();
            }
            BinOp::Add | BinOp::Sub => match e.ty.strip_optional() {
                Type::Int => {
                    self.expr(a);
                    self.call(Helper::AsInt);
                    self.expr(b);
                    self.call(Helper::AsInt);
                    self.call(if op == BinOp::Add {
                        Helper::AddInt
                    } else {
                        Helper::SubInt
                    });
                    self.call(Helper::NewInt);
                }
                Type::Number => {
                    self.expr(a);
                    self.call(Helper::AsNum);
                    self.expr(b);
                    self.call(Helper::AsNum);
                    if op == BinOp::Add {
                        self.f.i().f64_add();
                    } else {
                        self.f.i().f64_sub();
                    }
                    self.call(Helper::NewFloat);
                }
                Type::String if op == BinOp::Add => {
                    self.expr(a);
                    self.expr(b);
                    self.call(Helper::Concat);
                }
                Type::List(_) if op == BinOp::Add => {
                    self.expr(a);
                    self.expr(b);
                    self.call(Helper::ListConcat);
                }
                other => {
                    self.errors.push(format!(
                        "`{op:?}` is not defined on values of type `{other:?}`"
                    ));
                    self.f.i().i32_const(0);
                }
            },
        }
    }

    fn quantity_cmp(&mut self, a: &Expr, b: &Expr) {
        self.expr(a);
        self.call(Helper::ToQty);
        self.expr(b);
        self.call(Helper::ToQty);
        self.call(Helper::QCmp);
    }

    fn builtin(&mut self, b: Builtin, args: &[Expr]) {
        let one = |rg: &mut Self, h: Helper| {
            rg.expr(&args[0]);
            rg.call(h);
        };
        let two = |rg: &mut Self, h: Helper| {
            rg.expr(&args[0]);
            rg.expr(&args[1]);
            rg.call(h);
            rg.bool_result();
        };
        match b {
            Builtin::Len => one(self, Helper::Len),
            Builtin::Lower => one(self, Helper::Lower),
            Builtin::Upper => one(self, Helper::Upper),
            Builtin::Quantity => one(self, Helper::ToQty),
            Builtin::Image => one(self, Helper::Cached(Cached::Image)),
            Builtin::Keys => one(self, Helper::Keys),
            Builtin::AllContainers => one(self, Helper::Cached(Cached::AllContainers)),
            Builtin::StartsWith => two(self, Helper::StartsWith),
            Builtin::EndsWith => two(self, Helper::EndsWith),
            Builtin::Contains => two(self, Helper::Contains),
            Builtin::Glob => two(self, Helper::Glob),
            Builtin::TrimPrefix | Builtin::TrimSuffix => self.trim(args, b == Builtin::TrimPrefix),
            Builtin::Split | Builtin::Join => {
                self.expr(&args[0]);
                self.expr(&args[1]);
                self.call(if b == Builtin::Split {
                    Helper::Split
                } else {
                    Helper::Join
                });
            }
            Builtin::Matches => {
                let table = match &args[1].kind {
                    ExprKind::Lit(crate::ir::Value::String(p)) => dfa_table(p),
                    _ => Err("`matches` needs a literal pattern".to_string()),
                };
                match table {
                    Ok(table) => {
                        let at = self.g.bytes(&table, 4) as i32;
                        self.expr(&args[0]);
                        self.f.i().i32_const(at);
                        self.call(Helper::DfaMatch);
                        self.bool_result();
                    }
                    Err(msg) => {
                        self.errors.push(msg);
                        self.f.i().i32_const(0);
                    }
                }
            }
        }
    }
}
