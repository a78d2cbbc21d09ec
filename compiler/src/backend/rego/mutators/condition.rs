//! Which objects a Gatekeeper mutator may change without a condition on other fields: an
//! outcome's `when` decided on the fixed field alone (spec/fix.md §7.2).
//!
//! A mutator sees only its location, and `pathTests` that require a prefix of it to exist
//! (`MustExist`) or not (`MustNotExist`). So a fix translates only when its outcome's `when`
//! reads nothing but the fixed field, its parents, constants and parameters (their
//! defaults), and fires, on every object the fix would change, exactly where some choice of
//! path tests lets the mutator act. The `when` is evaluated on a finite set of
//! representative states of the path: each depth at which it stops existing, then the
//! fixed field holding each constant the condition names, the fix's value, and a value
//! equal to none of them. That is exact because the only operations allowed on the field
//! are `??`, `== null`, equality with constants and membership: any value the condition
//! does not name behaves as the fresh one.

use std::collections::HashMap;

use crate::ir::{BinOp, Expr, ExprKind, FixOp, Local, PathStep, Rule, UnOp, Value};

/// The path tests a mutator needs, as numbers of fix path steps below its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tests {
    /// The first `must_exist` steps must exist (0: no test).
    pub must_exist: usize,
    /// The first `must_not_exist` steps must not exist (`None`: no test).
    pub must_not_exist: Option<usize>,
}

/// A value in the abstract evaluation.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Absent,
    /// A present object or list of the path (a parent of the fixed field, the root).
    Object,
    Bool(bool),
    /// A string, integer or number.
    Scalar(Value),
    /// A value equal to no constant of the condition.
    Fresh,
    List(Vec<V>),
    /// A constant map (a parameter's default, a literal).
    Map(Vec<(String, Value)>),
}

impl V {
    fn of(v: &Value) -> V {
        match v {
            Value::Null => V::Absent,
            Value::Bool(b) => V::Bool(*b),
            Value::List(items) => V::List(items.iter().map(V::of).collect()),
            Value::Map(entries) => V::Map(entries.clone()),
            scalar => V::Scalar(scalar.clone()),
        }
    }
}

/// `==` with the absent rule of spec/language.md §4.2 (absent equals absent only).
fn equal(a: &V, b: &V) -> Result<bool, String> {
    Ok(match (a, b) {
        (V::Object, _) | (_, V::Object) => {
            return Err("compares an object of the fixed path".into())
        }
        (V::List(x), V::List(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for (p, q) in x.iter().zip(y) {
                if !equal(p, q)? {
                    return Ok(false);
                }
            }
            true
        }
        (a, b) => a == b,
    })
}

/// One state of the fixed path: how many of its steps exist, and the field's value when
/// all do.
#[derive(Clone, Debug)]
struct State {
    exists: usize,
    leaf: Option<V>,
}

/// The evaluation of a condition in one state.
struct Eval<'a> {
    rule: &'a Rule,
    /// The `for` variable the fix is rooted at, `None` for the subject.
    binder: Option<Local>,
    steps: &'a [PathStep],
    state: &'a State,
    /// Rule `let`s and inlined function arguments, by local.
    env: HashMap<Local, &'a Expr>,
}

fn step_name(s: &PathStep) -> Option<&str> {
    match s {
        PathStep::Field(f) | PathStep::Key(f) => Some(f),
        PathStep::Index(_) => None,
    }
}

impl<'a> Eval<'a> {
    /// The steps of a path read from the fix's root, `None` for any other expression.
    fn path(&self, e: &'a Expr) -> Result<Option<Vec<String>>, String> {
        Ok(match &e.kind {
            ExprKind::Subject if self.binder.is_none() => Some(Vec::new()),
            ExprKind::Subject => {
                return Err("it reads the object besides the element the fix is at".into())
            }
            ExprKind::Local(l) if Some(*l) == self.binder => Some(Vec::new()),
            ExprKind::Local(l) => match self.env.get(l) {
                Some(bound) => self.path(bound)?,
                None => return Err("it reads another `for` variable".into()),
            },
            ExprKind::Field(inner, f) => self.path(inner)?.map(|mut p| {
                p.push(f.clone());
                p
            }),
            ExprKind::Index(inner, key) => match (&key.kind, self.path(inner)?) {
                (ExprKind::Lit(Value::String(k)), Some(mut p)) => {
                    p.push(k.clone());
                    Some(p)
                }
                (_, Some(_)) => return Err("it reads the fixed path by a computed key".into()),
                _ => None,
            },
            _ => None,
        })
    }

    /// The value of a read of `path` in the state.
    fn read(&self, path: &[String]) -> Result<V, String> {
        let n = self.steps.len();
        let on_fix_path = path.len() <= n
            && path
                .iter()
                .zip(self.steps)
                .all(|(p, s)| step_name(s) == Some(p.as_str()));
        if !on_fix_path {
            return Err(format!(
                "it reads `{}`, which the fix does not set",
                path.join(".")
            ));
        }
        Ok(if path.len() > self.state.exists {
            V::Absent
        } else if path.len() < n {
            V::Object
        } else {
            self.state.leaf.clone().unwrap_or(V::Absent)
        })
    }

    fn boolean(&mut self, e: &'a Expr) -> Result<bool, String> {
        match self.eval(e)? {
            V::Bool(b) => Ok(b),
            other => Err(format!("a condition of value {other:?}")),
        }
    }

    fn eval(&mut self, e: &'a Expr) -> Result<V, String> {
        if let Some(p) = self.path(e)? {
            return self.read(&p);
        }
        Ok(match &e.kind {
            ExprKind::Lit(v) => V::of(v),
            ExprKind::Param(i) => V::of(self.rule.param_default(*i)?),
            ExprKind::Local(l) => {
                let bound = *self.env.get(l).ok_or("an unbound local")?;
                self.eval(bound)?
            }
            ExprKind::Default(a, d) => match self.eval(a)? {
                V::Absent => self.eval(d)?,
                v => v,
            },
            ExprKind::IsAbsent(a) => V::Bool(self.eval(a)? == V::Absent),
            ExprKind::Unary(UnOp::Not, a) => V::Bool(!self.boolean(a)?),
            ExprKind::Binary(BinOp::And, a, b) => V::Bool(self.boolean(a)? && self.boolean(b)?),
            ExprKind::Binary(BinOp::Or, a, b) => V::Bool(self.boolean(a)? || self.boolean(b)?),
            ExprKind::Binary(op @ (BinOp::Eq | BinOp::Ne), a, b) => {
                let eq = equal(&self.eval(a)?, &self.eval(b)?)?;
                V::Bool(eq == (*op == BinOp::Eq))
            }
            ExprKind::In(x, coll) => {
                let x = self.eval(x)?;
                match self.eval(coll)? {
                    V::Absent => V::Bool(false),
                    V::List(items) => {
                        let mut found = false;
                        for i in &items {
                            found |= equal(&x, i)?;
                        }
                        V::Bool(found)
                    }
                    V::Map(entries) => match x {
                        V::Scalar(Value::String(k)) => {
                            V::Bool(entries.iter().any(|(key, _)| *key == k))
                        }
                        V::Fresh => V::Bool(false),
                        _ => return Err("a key membership test".into()),
                    },
                    _ => return Err("a membership test in the fixed path's parent".into()),
                }
            }
            ExprKind::If(c, a, b) => {
                if self.boolean(c)? {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            ExprKind::Let(l, value, body) => {
                self.env.insert(*l, value);
                self.eval(body)?
            }
            ExprKind::List(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.push(self.eval(i)?);
                }
                V::List(out)
            }
            _ => {
                return Err(
                    "it uses an operation other than `??`, `== null`, equality and `in`".into(),
                )
            }
        })
    }
}

/// The scalar constants of an expression (literals, list elements), for representatives.
fn constants(e: &Expr, rule: &Rule, out: &mut Vec<Value>) {
    fn value(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::List(items) => items.iter().for_each(|i| value(i, out)),
            Value::String(_) | Value::Int(_) | Value::Number(_) if !out.contains(v) => {
                out.push(v.clone())
            }
            _ => {}
        }
    }
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Lit(v) => value(v, out),
            ExprKind::Param(i) => {
                if let Some(p) = rule.params.get(*i as usize) {
                    value(&p.default, out)
                }
            }
            ExprKind::Field(a, _)
            | ExprKind::IsAbsent(a)
            | ExprKind::Unary(_, a)
            | ExprKind::ImageField(a, _) => stack.push(a),
            ExprKind::Index(a, b)
            | ExprKind::Default(a, b)
            | ExprKind::Binary(_, a, b)
            | ExprKind::In(a, b)
            | ExprKind::Let(_, a, b) => {
                stack.push(a);
                stack.push(b);
            }
            ExprKind::If(a, b, c) => stack.extend([&**a, &**b, &**c]),
            ExprKind::List(items) | ExprKind::Call(_, items) => stack.extend(items),
            _ => {}
        }
    }
}

/// The path tests that make a mutator of `op` with `value` at `steps` (below the root the
/// `binder` is, or the subject) act exactly where `when` fires, or why none does.
pub fn path_tests(
    rule: &Rule,
    when: Option<&Expr>,
    binder: Option<Local>,
    steps: &[PathStep],
    op: FixOp,
    value: &Value,
) -> Result<Tests, String> {
    let n = steps.len();
    let mut names = Vec::new();
    if let Some(w) = when {
        constants(w, rule, &mut names);
    }
    for (_, e) in &rule.lets {
        constants(e, rule, &mut names);
    }
    let v = V::of(value);
    // The values the field (or a list element) may hold, up to what the condition tells
    // apart.
    let scalars: Vec<V> = if let (FixOp::Set, Value::Bool(_)) = (op, value) {
        vec![V::Bool(true), V::Bool(false)]
    } else {
        let mut out = vec![v.clone()];
        out.extend(names.iter().map(V::of).filter(|c| *c != v));
        out.push(V::Fresh);
        out
    };
    let leaves: Vec<V> = match op {
        FixOp::Set => scalars,
        _ => {
            let mut lists = vec![V::List(Vec::new())];
            for a in &scalars {
                lists.push(V::List(vec![a.clone()]));
                if *a != v {
                    lists.push(V::List(vec![a.clone(), v.clone()]));
                }
            }
            lists
        }
    };
    let mut states: Vec<State> = (0..n).map(|exists| State { exists, leaf: None }).collect();
    states.extend(leaves.into_iter().map(|l| State {
        exists: n,
        leaf: Some(l),
    }));
    let holds_v = |s: &State| match &s.leaf {
        Some(V::List(items)) => items.contains(&v),
        _ => false,
    };
    let changes = |s: &State| match op {
        FixOp::Set => s.leaf.as_ref() != Some(&v),
        FixOp::Add => !holds_v(s),
        _ => holds_v(s),
    };
    let mut fires = Vec::new();
    for s in states.iter().filter(|s| changes(s)) {
        let fired = match when {
            None => true,
            Some(w) => {
                let mut eval = Eval {
                    rule,
                    binder,
                    steps,
                    state: s,
                    env: rule.lets.iter().map(|(l, e)| (*l, e)).collect(),
                };
                eval.boolean(w)
                    .map_err(|e| format!("its `when` is not decided by the fixed field: {e}"))?
            }
        };
        fires.push((s.exists, fired));
    }
    // The fewest tests first; a `prune` must not create the list's parents.
    let mut candidates = Vec::new();
    for must_exist in 0..=n {
        for not in must_exist + 1..=n + 1 {
            candidates.push(Tests {
                must_exist,
                must_not_exist: (not <= n).then_some(not),
            });
        }
    }
    candidates.sort_by_key(|t| (t.must_exist > 0) as u8 + t.must_not_exist.is_some() as u8);
    candidates
        .into_iter()
        .filter(|t| op != FixOp::RemoveValue || t.must_exist == n)
        .find(|t| {
            fires.iter().all(|(exists, fired)| {
                let acts = *exists >= t.must_exist && t.must_not_exist.is_none_or(|m| *exists < m);
                acts == *fired
            })
        })
        .ok_or_else(|| {
            "its `when` is not \"the fixed field is not the fixed value\" (it fires on some \
             values of the field the fix would change and not on others)"
                .into()
        })
}
