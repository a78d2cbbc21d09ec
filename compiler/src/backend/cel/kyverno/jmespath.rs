//! An outcome's `when` as a JMESPath expression for Kyverno's `preconditions` (spec/fix.md
//! §7.3): the mutate rules apply a fix only where the Wasm evaluator reports a finding.
//!
//! Every translated condition yields a boolean, never null, so that Kyverno's variable
//! substitution always resolves it. Absent fields read as `null` in JMESPath, as in the
//! language; `??` is `not_null(a, d)`, `x in l` is `contains(not_null(l, `[]`), x)`, and a
//! quantifier filters the collection (`[?body]`, the element as `@`). JMESPath has no `$`:
//! inside a quantifier's body only its own element and constants are readable.
//!
//! For generate rules (spec/fix.md §7.4) the translation also reads `objects(Kind)` from a
//! context variable ([`objects_variable`]), and writes an outer string or number scalar
//! read inside a quantifier's body as a Kyverno variable nested in the condition's own
//! (`'{{ … }}'`, `` `{{ … }}` ``), which Kyverno substitutes before the condition is run.

use crate::ir::{
    BinOp, Binder, Builtin, Expr, ExprKind, Gvk, Local, Quantifier, Rule, Type, UnOp, Value,
};

/// A local while translating.
#[derive(Clone)]
enum Bound<'a> {
    /// A JMESPath text, valid at the quantifier depth given.
    Text(String, usize),
    /// An expression, inlined where it is read (rule and function `let`s), defined at a depth.
    Expr(&'a Expr, usize),
}

/// The translation of one condition.
pub struct Jmes<'a> {
    rule: &'a Rule,
    /// The rule's subject: `request.object`, or the pod template below it.
    subject: String,
    env: Vec<(Local, Bound<'a>)>,
    /// How many quantifier filters enclose the expression being translated.
    depth: usize,
    /// The kinds read with `objects(Kind)`, when context variables and nested variables
    /// may be written (generate rules); `None` otherwise.
    objects: Option<Vec<Gvk>>,
}

/// The context variable holding every object of a kind (an `apiCall` of generate rules).
pub fn objects_variable(gvk: &Gvk) -> String {
    crate::backend::cel::resource_name(&gvk.kind)
}

/// A JMESPath identifier: bare when it is one, else quoted.
pub fn ident(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare {
        name.to_string()
    } else {
        serde_json::to_string(name).expect("a string serializes")
    }
}

/// A JMESPath literal (`` `json` ``); `}}` is spaced so that Kyverno does not take it for
/// the end of a variable.
pub fn literal(v: &Value) -> String {
    let mut json = serde_json::to_string(&v.to_json()).expect("a value serializes");
    while json.contains("}}") {
        json = json.replace("}}", "} }");
    }
    format!("`{}`", json.replace('`', "\\`"))
}

impl<'a> Jmes<'a> {
    /// A translation for `rule` whose subject is read as `subject`, with each `for` binder
    /// read as the Kyverno variable given (`element`, `element0`).
    pub fn new(rule: &'a Rule, subject: &str, elements: &[(Local, &str)]) -> Jmes<'a> {
        let mut env: Vec<(Local, Bound<'a>)> = rule
            .lets
            .iter()
            .map(|(l, e)| (*l, Bound::Expr(e, 0)))
            .collect();
        for (l, name) in elements {
            env.push((*l, Bound::Text(name.to_string(), 0)));
        }
        Jmes {
            rule,
            subject: subject.to_string(),
            env,
            depth: 0,
            objects: None,
        }
    }

    /// A translation for generate rules: `objects(Kind)` reads [`objects_variable`], and
    /// outer scalars inside quantifiers are nested variables.
    pub fn with_context(rule: &'a Rule, subject: &str) -> Jmes<'a> {
        Jmes {
            objects: Some(Vec::new()),
            ..Jmes::new(rule, subject, &[])
        }
    }

    /// The kinds read with `objects(Kind)` so far, in order of first read.
    pub fn objects_read(&self) -> &[Gvk] {
        self.objects.as_deref().unwrap_or_default()
    }

    /// Whether some element of the binders' collections, each iterated inside the one
    /// before, satisfies `when` (always, without one).
    pub fn fires(
        &mut self,
        binders: &'a [Binder],
        when: Option<&'a Expr>,
    ) -> Result<String, String> {
        let Some((b, rest)) = binders.split_first() else {
            return match when {
                Some(w) => self.expr(w),
                None => Ok("`true`".into()),
            };
        };
        if b.key.is_some() {
            return Err("a `for` with a key or index".into());
        }
        let c = self.collection(&b.collection)?;
        self.depth += 1;
        self.env.push((b.item, Bound::Text("@".into(), self.depth)));
        let inner = self.fires(rest, when);
        self.env.pop();
        self.depth -= 1;
        Ok(format!("(length({c}[?{}]) > `0`)", inner?))
    }

    /// A collection to filter: a list, or a map's values; absent reads as empty.
    fn collection(&mut self, collection: &'a Expr) -> Result<String, String> {
        let c = self.expr(collection)?;
        Ok(match collection.ty.strip_optional() {
            Type::Map(_) => format!("values(not_null({c}, `{{}}`))"),
            _ => format!("not_null({c}, `[]`)"),
        })
    }

    /// An outer string or number scalar read inside a quantifier's body, as a nested
    /// variable; `None` when `e` is not one (or nesting is off).
    fn nested(&mut self, e: &'a Expr) -> Result<Option<String>, String> {
        let scalar = matches!(e.ty, Type::String | Type::Int | Type::Number);
        if self.objects.is_none()
            || self.depth == 0
            || !scalar
            || constant(e)
            || !self.outer_only(e, &mut Vec::new())
        {
            return Ok(None);
        }
        let depth = std::mem::replace(&mut self.depth, 0);
        let inner = self.expr(e);
        self.depth = depth;
        let inner = inner?;
        if inner.contains(['{', '}']) {
            return Err(
                "an outer value whose JMESPath holds braces, which cannot be nested".into(),
            );
        }
        Ok(Some(if e.ty == Type::String {
            format!("'{{{{ {inner} }}}}'")
        } else {
            format!("`{{{{ {inner} }}}}`")
        }))
    }

    /// Whether `e` reads only values outside every quantifier (locals bound in `inside`
    /// are `e`'s own).
    fn outer_only(&self, e: &Expr, inside: &mut Vec<Local>) -> bool {
        match &e.kind {
            ExprKind::Local(l) => {
                inside.contains(l)
                    || match self.lookup(*l) {
                        Some(Bound::Text(_, 0)) => true,
                        Some(Bound::Expr(x, 0)) => self.outer_only(x, &mut Vec::new()),
                        _ => false,
                    }
            }
            ExprKind::Let(l, value, body) => {
                if !self.outer_only(value, inside) {
                    return false;
                }
                inside.push(*l);
                let ok = self.outer_only(body, inside);
                inside.pop();
                ok
            }
            ExprKind::Quantified {
                item,
                key,
                collection,
                body,
                ..
            } => {
                if !self.outer_only(collection, inside) {
                    return false;
                }
                inside.push(*item);
                inside.extend(*key);
                let ok = self.outer_only(body, inside);
                inside.truncate(inside.len() - 1 - usize::from(key.is_some()));
                ok
            }
            _ => e.children().into_iter().all(|c| self.outer_only(c, inside)),
        }
    }

    /// The condition `e`, a boolean expression.
    pub fn condition(&mut self, e: &'a Expr) -> Result<String, String> {
        self.expr(e)
    }

    fn lookup(&self, l: Local) -> Option<Bound<'a>> {
        self.env
            .iter()
            .rev()
            .find(|(x, _)| *x == l)
            .map(|(_, b)| b.clone())
    }

    fn outer(&self) -> String {
        "it reads a value outside the element inside a quantifier (JMESPath filters see only \
         their element)"
            .into()
    }

    fn expr(&mut self, e: &'a Expr) -> Result<String, String> {
        if let Some(text) = self.nested(e)? {
            return Ok(text);
        }
        Ok(match &e.kind {
            ExprKind::Lit(v) => literal(v),
            ExprKind::Param(i) => literal(self.rule.param_default(*i)?),
            ExprKind::Subject if self.depth == 0 => self.subject.clone(),
            ExprKind::Subject => return Err(self.outer()),
            ExprKind::Objects(gvk) if self.depth == 0 && self.objects.is_some() => {
                if gvk.version.is_empty() || gvk.kind == crate::ir::EVERY_KIND {
                    return Err("`objects(…)` of a kind without a version".into());
                }
                let read = self.objects.get_or_insert_with(Vec::new);
                if !read.contains(gvk) {
                    read.push(gvk.clone());
                }
                ident(&objects_variable(gvk))
            }
            ExprKind::Local(l) => match self.lookup(*l).ok_or("an unbound local")? {
                Bound::Text(t, d) if d == self.depth => t,
                Bound::Text(..) => return Err(self.outer()),
                Bound::Expr(x, d) if d == self.depth || constant(x) => self.expr(x)?,
                Bound::Expr(..) => return Err(self.outer()),
            },
            ExprKind::Field(inner, f) => format!("{}.{}", self.operand(inner)?, ident(f)),
            ExprKind::Index(inner, key) => match &key.kind {
                ExprKind::Lit(Value::String(k)) => {
                    format!("{}.{}", self.operand(inner)?, ident(k))
                }
                ExprKind::Lit(Value::Int(i)) if *i >= 0 => {
                    format!("{}[{i}]", self.operand(inner)?)
                }
                _ => return Err("an index that is not a constant".into()),
            },
            ExprKind::Default(a, d) => format!("not_null({}, {})", self.expr(a)?, self.expr(d)?),
            ExprKind::IsAbsent(a) => format!("({} == `null`)", self.expr(a)?),
            ExprKind::Unary(UnOp::Not, a) => format!("!{}", grouped(self.expr(a)?)),
            ExprKind::Binary(op, a, b) => {
                let sym = match op {
                    BinOp::And => "&&",
                    BinOp::Or => "||",
                    BinOp::Eq => "==",
                    BinOp::Ne => "!=",
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
                        if number(&a.ty) && number(&b.ty) =>
                    {
                        match op {
                            BinOp::Lt => "<",
                            BinOp::Le => "<=",
                            BinOp::Gt => ">",
                            _ => ">=",
                        }
                    }
                    _ => return Err(format!("the operator `{op:?}`")),
                };
                format!("({} {sym} {})", self.expr(a)?, self.expr(b)?)
            }
            ExprKind::In(x, coll) => {
                let x = self.expr(x)?;
                let c = self.expr(coll)?;
                match coll.ty.strip_optional() {
                    Type::Map(_) => format!("contains(keys(not_null({c}, `{{}}`)), {x})"),
                    _ => format!("contains(not_null({c}, `[]`), {x})"),
                }
            }
            ExprKind::Call(f, args) => {
                let mut a = Vec::new();
                for x in args {
                    a.push(self.expr(x)?);
                }
                match (f, a.as_slice()) {
                    (Builtin::Len, [x]) => format!("length(not_null({x}, ''))"),
                    (Builtin::StartsWith, [s, p]) => format!("starts_with({s}, {p})"),
                    (Builtin::EndsWith, [s, p]) => format!("ends_with({s}, {p})"),
                    (Builtin::Contains, [s, p]) if args[0].ty.strip_optional() == &Type::String => {
                        format!("contains({s}, {p})")
                    }
                    (Builtin::Upper, [s]) => format!("to_upper({s})"),
                    (Builtin::Lower, [s]) => format!("to_lower({s})"),
                    _ => return Err(format!("the function `{f:?}`")),
                }
            }
            ExprKind::Quantified {
                q,
                item,
                key: None,
                collection,
                body,
            } => {
                let c = self.collection(collection)?;
                self.depth += 1;
                self.env.push((*item, Bound::Text("@".into(), self.depth)));
                let b = self.expr(body);
                self.env.pop();
                self.depth -= 1;
                let b = b?;
                match q {
                    Quantifier::Any => format!("(length({c}[?{b}]) > `0`)"),
                    Quantifier::All => format!("(length({c}[?!{}]) == `0`)", grouped(b)),
                }
            }
            ExprKind::If(c, a, b) if e.ty == Type::Bool => {
                let (c, a, b) = (self.expr(c)?, self.expr(a)?, self.expr(b)?);
                format!("(({c} && {a}) || (!{} && {b}))", grouped(c.clone()))
            }
            ExprKind::Let(l, value, body) => {
                self.env.push((*l, Bound::Expr(value, self.depth)));
                let out = self.expr(body);
                self.env.pop();
                out?
            }
            ExprKind::List(items) if items.iter().all(|i| matches!(i.kind, ExprKind::Lit(_))) => {
                let values = items.iter().filter_map(|i| match &i.kind {
                    ExprKind::Lit(v) => Some(v.clone()),
                    _ => None,
                });
                literal(&Value::List(values.collect()))
            }
            ExprKind::List(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.push(self.expr(i)?);
                }
                format!("[{}]", out.join(", "))
            }
            _ => return Err(format!("the expression {}", kind_name(&e.kind))),
        })
    }

    /// An expression a field is read from: parenthesized unless it is a path.
    fn operand(&mut self, e: &'a Expr) -> Result<String, String> {
        let text = self.expr(e)?;
        let path = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@\"[]-/".contains(c));
        Ok(if path { text } else { format!("({text})") })
    }
}

/// `text` as one operand: parenthesized unless it already is one group. Literals
/// (`` `…` ``, `'…'`) and quoted identifiers (`"…"`) are skipped, as they may hold
/// parentheses.
fn grouped(text: String) -> String {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut whole = text.starts_with('(');
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '`' | '\'' | '"' => quote = Some(c),
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && i + 1 < text.len() {
            whole = false;
        }
    }
    if whole {
        text
    } else {
        format!("({text})")
    }
}

fn number(t: &Type) -> bool {
    matches!(t, Type::Int | Type::Number)
}

/// Whether an expression reads nothing of the object (literals, parameters).
fn constant(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Lit(_) | ExprKind::Param(_) => true,
        ExprKind::List(items) => items.iter().all(constant),
        _ => false,
    }
}

fn kind_name(k: &ExprKind) -> &'static str {
    match k {
        ExprKind::Request => "`request`",
        ExprKind::OldSubject => "`oldObject`",
        ExprKind::Controller => "`controller`",
        ExprKind::Collect { .. } => "`filter`/`map`",
        ExprKind::ImageField(..) => "`image(…)`",
        ExprKind::Objects(_) => "`objects(…)`",
        ExprKind::Interpolate(_) => "of string interpolation",
        ExprKind::Map(_) => "of a map literal",
        ExprKind::Quantified { .. } => "of a quantifier with a key",
        ExprKind::If(..) => "`if` of a non-boolean value",
        _ => "of this form",
    }
}
