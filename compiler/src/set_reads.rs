//! What set rules read of the objects that `objects(Kind)` hands them: a [`Projection`] per
//! kind, so that the host can keep only those parts of the objects of a run (spec/abi.md
//! "Object set").
//!
//! The analysis follows every use of a set element through field steps, constant map keys,
//! `let` aliases and iterations. Where a value is used in any other way (compared, passed to
//! a built-in, printed, iterated without a known element path) the whole subtree at that
//! path is kept, so the projection is always safe: an expression over the projected objects
//! gives what it gives over the whole ones.

use crate::ir::{Expr, ExprKind, Gvk, Local, MessagePart, PathRoot, PathStep, Program, Rule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The key of a [`Projection::Fields`] entry that stands for every element of a list or
/// every entry of a map.
pub const EVERY: &str = "*";

/// The part of an object a rule set reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    /// The whole value.
    Whole,
    /// Of a map, only these entries, each projected in turn ([`EVERY`]: every entry); of a
    /// list, every element projected by the [`EVERY`] entry (the whole list without one);
    /// scalars are kept as they are.
    Fields(BTreeMap<String, Projection>),
}

impl Projection {
    /// Nothing read yet (the kind and apiVersion are always kept by the host).
    pub fn empty() -> Projection {
        Projection::Fields(BTreeMap::new())
    }

    /// The parts read by either.
    pub fn merge(&mut self, other: &Projection) {
        match (&mut *self, other) {
            (Projection::Whole, _) => {}
            (_, Projection::Whole) => *self = Projection::Whole,
            (Projection::Fields(mine), Projection::Fields(theirs)) => {
                for (k, p) in theirs {
                    mine.entry(k.clone())
                        .and_modify(|m| m.merge(p))
                        .or_insert_with(|| p.clone());
                }
            }
        }
    }

    /// Marks the subtree at `path` as read whole.
    fn keep(&mut self, path: &[String]) {
        let Projection::Fields(fields) = self else {
            return;
        };
        match path.split_first() {
            None => *self = Projection::Whole,
            Some((first, rest)) => fields
                .entry(first.clone())
                .or_insert_with(Projection::empty)
                .keep(rest),
        }
    }

    /// Marks that the path is walked (its parents are needed) without reading its value.
    fn touch(&mut self, path: &[String]) {
        let Projection::Fields(fields) = self else {
            return;
        };
        if let Some((first, rest)) = path.split_first() {
            fields
                .entry(first.clone())
                .or_insert_with(Projection::empty)
                .touch(rest);
        }
    }
}

/// The projection of each kind read through `objects(Kind)` in the program, in the order
/// of `kinds` (the module's set kinds).
pub fn projections(program: &Program, kinds: &[Gvk]) -> Vec<Projection> {
    let mut by_kind: HashMap<&Gvk, Projection> =
        kinds.iter().map(|k| (k, Projection::empty())).collect();
    for rule in &program.rules {
        let mut reads = Reads::default();
        reads.rule(rule);
        for (kind, p) in reads.found {
            if let Some(mine) = by_kind.get_mut(&kind) {
                mine.merge(&p);
            }
        }
    }
    kinds
        .iter()
        .map(|k| by_kind.remove(k).unwrap_or(Projection::Whole))
        .collect()
}

/// Where a value of the rule comes from, when it is part of a set element: the kind and
/// the path inside the object.
#[derive(Clone)]
struct Place {
    kind: Gvk,
    path: Vec<String>,
}

/// One rule's reads.
#[derive(Default)]
struct Reads {
    /// Locals that stand for a part of a set element.
    aliases: HashMap<Local, Place>,
    found: HashMap<Gvk, Projection>,
}

impl Reads {
    fn rule(&mut self, rule: &Rule) {
        for (local, value) in &rule.lets {
            self.bind(*local, value);
        }
        for o in &rule.outcomes {
            for b in &o.binders {
                self.iterate(b.item, &b.collection);
            }
            if let Some(w) = &o.when {
                self.value(w);
            }
            if let PathRoot::Binder(l) = o.at.root {
                self.at(l, &o.at.steps);
            }
            for f in &o.fixes {
                if let PathRoot::Binder(l) = f.path.root {
                    self.at(l, &f.path.steps);
                }
            }
            self.message(&o.message);
        }
    }

    fn message(&mut self, parts: &[MessagePart]) {
        for p in parts {
            if let MessagePart::Expr(e) = p {
                self.value(e);
            }
        }
    }

    /// A finding's path rooted at a binder: the element's subtree at the path is kept, so
    /// that the host finds the node (and its line) the path names.
    fn at(&mut self, local: Local, steps: &[PathStep]) {
        if let Some(place) = self.aliases.get(&local).cloned() {
            let mut path = place.path;
            for s in steps {
                match s {
                    PathStep::Field(f) | PathStep::Key(f) => path.push(f.clone()),
                    PathStep::Index(_) => break,
                }
            }
            self.kept(&place.kind, &path);
        }
    }

    fn kept(&mut self, kind: &Gvk, path: &[String]) {
        self.found
            .entry(kind.clone())
            .or_insert_with(Projection::empty)
            .keep(path);
    }

    fn touched(&mut self, kind: &Gvk, path: &[String]) {
        self.found
            .entry(kind.clone())
            .or_insert_with(Projection::empty)
            .touch(path);
    }

    /// `let local = value`: an alias when the value is a part of a set element.
    fn bind(&mut self, local: Local, value: &Expr) {
        let place = self.place(value);
        self.alias(local, place, value);
    }

    /// `item in collection`: the item is every element of the collection's place.
    fn iterate(&mut self, item: Local, collection: &Expr) {
        let place = match &collection.kind {
            ExprKind::Objects(kind) => Some(Place {
                kind: kind.clone(),
                path: Vec::new(),
            }),
            _ => self.place(collection).map(|mut p| {
                p.path.push(EVERY.to_string());
                p
            }),
        };
        self.alias(item, place, collection);
    }

    /// `local` stands for `place` when there is one (its parents are walked); otherwise
    /// `source`, from which it was bound, is used as a value.
    fn alias(&mut self, local: Local, place: Option<Place>, source: &Expr) {
        match place {
            Some(place) => {
                self.touched(&place.kind, &place.path);
                self.aliases.insert(local, place);
            }
            None => {
                self.aliases.remove(&local);
                self.value(source);
            }
        }
    }

    /// The place of a path expression over a set element, if it is one.
    fn place(&self, e: &Expr) -> Option<Place> {
        match &e.kind {
            ExprKind::Local(l) => self.aliases.get(l).cloned(),
            ExprKind::Field(inner, f) => self.place(inner).map(|mut p| {
                p.path.push(f.clone());
                p
            }),
            ExprKind::Index(inner, key) => match &key.kind {
                ExprKind::Lit(crate::ir::Value::String(k)) => self.place(inner).map(|mut p| {
                    p.path.push(k.clone());
                    p
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// An expression whose value is used: the subtree of its place, if any, is kept whole.
    fn value(&mut self, e: &Expr) {
        if let Some(place) = self.place(e) {
            self.kept(&place.kind, &place.path);
            return;
        }
        match &e.kind {
            ExprKind::Objects(kind) => self.kept(kind, &[]),
            ExprKind::Quantified {
                item,
                collection,
                body,
                ..
            } => {
                self.iterate(*item, collection);
                self.value(body);
            }
            ExprKind::Collect {
                item,
                collection,
                filter,
                map,
                ..
            } => {
                self.iterate(*item, collection);
                if let Some(f) = filter {
                    self.value(f);
                }
                match map {
                    Some(m) => self.value(m),
                    // The elements themselves are the result.
                    None => {
                        if let Some(place) = self.aliases.get(item).cloned() {
                            self.kept(&place.kind, &place.path);
                        }
                    }
                }
            }
            ExprKind::Let(local, value, body) => {
                self.bind(*local, value);
                self.value(body);
            }
            _ => {
                for c in e.children() {
                    self.value(c);
                }
            }
        }
    }
}
