//! The typed, backend-neutral IR that the type checker produces and every backend consumes.
//!
//! Names are resolved (locals are numbered per rule), helper functions are inlined, every
//! expression carries its [`Type`], and the missing-field rule of spec/language.md §4.2 is
//! explicit: only [`ExprKind::Field`], [`ExprKind::Index`], [`ExprKind::Default`],
//! [`ExprKind::IsAbsent`], iteration and membership ever see an optional value.

use serde::{Deserialize, Serialize};

mod template;
pub use template::{Template, TemplatePart};

/// A whole compiled policy set.
#[derive(Clone, Debug, Serialize)]
pub struct Program {
    /// Rules sorted by id.
    pub rules: Vec<Rule>,
    /// Hex SHA-256-free digest (FNV-1a 64) of all sources, for caches and metadata.
    pub source_digest: String,
}

/// The static type of an IR expression (read back from a module's metadata by the runtime).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    Bool,
    Int,
    Number,
    String,
    Quantity,
    IntOrString,
    /// A parsed image reference (fields registry, repository, tag, digest: strings).
    Image,
    /// Free-form data (schema fields without structure).
    Any,
    /// The type of the literal `null`.
    Null,
    List(Box<Type>),
    Map(Box<Type>),
    /// A schema object type, by its schema type name.
    Object(String),
    /// A value that may be absent (missing or null).
    Optional(Box<Type>),
}

impl Type {
    /// True for `T?`.
    pub fn is_optional(&self) -> bool {
        matches!(self, Type::Optional(_))
    }
    /// `T` for `T?`, itself otherwise.
    pub fn strip_optional(&self) -> &Type {
        match self {
            Type::Optional(t) => t,
            t => t,
        }
    }
    /// `T?` (idempotent).
    pub fn optional(self) -> Type {
        match self {
            Type::Optional(_) | Type::Null => self,
            t => Type::Optional(Box::new(t)),
        }
    }
}

/// Severity of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The keyword as written in source.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What a finding does to the object's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deny,
    Warn,
}

/// A group/version/kind; `group` is "" for the core group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// The group and kind of the target of `match *`, which every object matches.
pub const EVERY_KIND: &str = "*";

/// One kind a rule applies to, and where its subject (`object`) sits inside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    pub gvk: Gvk,
    /// Field path from the object root to the subject: empty for the object itself,
    /// `["spec", "template"]` for a Deployment under pod-controller autogen.
    pub subject_path: Vec<String>,
    /// Whether the kind is namespaced.
    pub namespaced: bool,
}

/// Which objects a rule applies to (spec §3 "Matching").
#[derive(Clone, Debug, Default, Serialize)]
pub struct Matcher {
    pub targets: Vec<Target>,
    /// Namespace globs; empty means any namespace (and cluster-scoped objects).
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    /// Label key → value glob; all must match.
    pub labels: Vec<(String, String)>,
    /// Label key → value glob; the object is excluded when all match (and the list is non-empty).
    pub exclude_labels: Vec<(String, String)>,
}

/// Descriptive metadata of a rule.
#[derive(Clone, Debug, Serialize)]
pub struct RuleMeta {
    pub title: String,
    pub description: String,
    pub rationale: String,
    pub category: String,
    pub remediation: String,
    pub severity: Severity,
    pub controls: Vec<String>,
}

/// A typed rule parameter with its default value.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    pub name: String,
    pub ty: Type,
    pub default: Value,
}

/// A constant value (literals, parameter defaults and parameter overrides).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The value as JSON (maps as objects).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Number(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A numbered local variable of a rule (a `let`, a binder, an inlined function argument).
pub type Local = u32;

/// A compiled rule.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// `<module>.<name>`.
    pub id: String,
    pub module: String,
    pub name: String,
    pub meta: RuleMeta,
    pub matcher: Matcher,
    pub params: Vec<Param>,
    /// Rule-level `let`s, evaluated in order before the outcomes.
    pub lets: Vec<(Local, Expr)>,
    pub outcomes: Vec<Outcome>,
    /// Number of locals used (locals are `0..locals`).
    pub locals: u32,
    /// Kinds read through `objects(Kind)`; non-empty makes this a set rule.
    pub reads_kinds: Vec<Gvk>,
    /// Names of the locals, for readable generated code.
    pub local_names: Vec<String>,
    /// Where the rule is defined, for diagnostics about its exports.
    #[serde(skip)]
    pub origin: Origin,
}

impl Rule {
    /// The default of parameter `i`, which the exports inline.
    pub fn param_default(&self, i: u32) -> Result<&Value, String> {
        self.params
            .get(i as usize)
            .map(|p| &p.default)
            .ok_or_else(|| format!("unknown parameter {i}"))
    }

    /// Whether the rule reads objects other than the one it judges (`objects(Kind)` or a
    /// view such as `who_can`): its verdict depends on the objects checked together, which
    /// one admission request does not carry. The webhook leaves such rules out, and so does
    /// the Gatekeeper export without `--referential` (spec/admission.md).
    pub fn reads_other_objects(&self) -> bool {
        !self.reads_kinds.is_empty()
    }

    /// Whether an outcome of the rule generates objects (`generate`, spec/language.md §4.14).
    pub fn generates(&self) -> bool {
        self.outcomes.iter().any(|o| o.generate.is_some())
    }

    /// Whether the rule reads a view (`who_can`): the effective permissions of all the
    /// objects of a run, which no export target can see (spec/rbac.md §11).
    pub fn reads_view(&self) -> bool {
        self.reads_kinds.iter().any(crate::views::is_view)
    }
}

/// Where a rule is defined: a file of the compilation and the byte range of the rule's name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The file, as numbered in [`crate::diagnostics::Files`].
    pub file: crate::diagnostics::FileId,
    pub span: crate::syntax::ast::Span,
}

/// A `deny` or `warn` clause.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub action: Action,
    /// Nested iterations, outermost first.
    pub binders: Vec<Binder>,
    /// The condition; `None` means always.
    pub when: Option<Expr>,
    /// The field the finding points at.
    pub at: PathExpr,
    /// The message: literal parts and interpolated expressions.
    pub message: Vec<MessagePart>,
    /// The `fix` clauses, in source order (spec/language.md §4.12).
    pub fixes: Vec<Fix>,
    /// The object each finding generates (`generate`, set rules only; spec/language.md §4.14).
    pub generate: Option<Template>,
}

/// A `fix` clause: how to repair an object an outcome fired on.
///
/// The path is an `at`-style path rooted at the subject or at the binder the outcome's `at`
/// path starts from, so that the host can make it concrete from the finding's root node:
/// the subject's path (with the autogen prefix) or the binder element's path, then the
/// steps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fix {
    /// Marked `review`: may break the application; applied only when asked (`--unsafe`).
    pub review: bool,
    pub op: FixOp,
    pub path: PathExpr,
    /// The value set, added or removed; `None` for [`FixOp::Remove`].
    pub value: Option<FixValue>,
}

/// What a [`Fix`] does at its path (also what the runtime reads back from a module's
/// metadata).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixOp {
    /// `set p = v`: the field (or map entry) becomes `v`; missing parent maps are created.
    Set,
    /// `add p, v`: `v` is appended to the list at `p` (created when missing) unless an
    /// equal element is there.
    Add,
    /// `remove p`: the field, map entry or list element at `p` is removed (nothing when
    /// absent).
    Remove,
    /// `remove p, v`: every element equal to `v` is removed from the list at `p`.
    RemoveValue,
}

impl FixOp {
    /// The keyword as written in source.
    pub fn word(self) -> &'static str {
        match self {
            FixOp::Set => "set",
            FixOp::Add => "add",
            FixOp::Remove | FixOp::RemoveValue => "remove",
        }
    }
}

/// The value of a [`Fix`]: a constant, or a rule parameter (its default unless overridden).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixValue {
    Const(Value),
    /// By index into [`Rule::params`].
    Param(u32),
}

/// `for [key,] item in collection`.
#[derive(Clone, Debug, Serialize)]
pub struct Binder {
    /// The local bound to each element (value, for maps).
    pub item: Local,
    /// The local bound to the index (lists, `int`) or key (maps, `string`), if named.
    pub key: Option<Local>,
    pub collection: Expr,
}

/// Part of a message.
#[derive(Clone, Debug, Serialize)]
pub enum MessagePart {
    Text(String),
    Expr(Expr),
}

/// A path the finding points at: a root and fields/indexes after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathExpr {
    pub root: PathRoot,
    pub steps: Vec<PathStep>,
}

/// Where a [`PathExpr`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PathRoot {
    /// The rule's subject (`object`).
    Subject,
    /// The element a binder (by its item local) is at: its path is known at run time.
    Binder(Local),
}

/// One step of a [`PathExpr`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathStep {
    Field(String),
    /// A constant list index.
    Index(i64),
    /// A constant map key.
    Key(String),
}

/// A typed expression.
#[derive(Clone, Debug, Serialize)]
pub struct Expr {
    pub ty: Type,
    pub kind: ExprKind,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnOp {
    Not,
    Neg,
}

/// Binary operators (all operands present: see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
}

/// Builtin functions (spec §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Builtin {
    Len,
    StartsWith,
    EndsWith,
    Contains,
    Lower,
    Upper,
    Glob,
    Matches,
    Quantity,
    Image,
    Keys,
    AllContainers,
    /// `trim_prefix(s, p)`: `s` without the prefix `p` when it has it.
    TrimPrefix,
    /// `trim_suffix(s, p)`: `s` without the suffix `p` when it has it.
    TrimSuffix,
    /// `split(s, sep)`: the pieces of `s` between the occurrences of `sep` (Go's
    /// `strings.Split`: an empty `sep` splits into UTF-8 sequences).
    Split,
    /// `join(xs, sep)`: the strings of the list `xs` (absent is empty), `sep` between each.
    Join,
}

/// `any` or `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Quantifier {
    Any,
    All,
}

/// Expression nodes.
#[derive(Clone, Debug, Serialize)]
pub enum ExprKind {
    Lit(Value),
    /// The rule's subject: the object, or the pod template under autogen.
    Subject,
    /// `request`: the admission request (spec §4.11), an object of type
    /// [`crate::check::REQUEST_TYPE`]; always present.
    Request,
    /// `oldObject`: the subject of the object before the request (UPDATE, DELETE); absent
    /// otherwise.
    OldSubject,
    /// `controller`: the pod controller whose pod template is the subject under autogen
    /// (spec/language.md "Pod-controller autogen"), an object of type
    /// [`crate::check::CONTROLLER_TYPE`]; absent when the subject is the object itself.
    Controller,
    Local(Local),
    /// A rule parameter by index into [`Rule::params`].
    Param(u32),
    /// `e.f`: absent when `e` is absent or has no such field.
    Field(Box<Expr>, String),
    /// `e[i]` on a list (int index) or map (string key): absent when out of range / missing.
    Index(Box<Expr>, Box<Expr>),
    /// `e ?? d`.
    Default(Box<Expr>, Box<Expr>),
    /// `e == null` (true when absent).
    IsAbsent(Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x in coll`: coll is `list<T>?` or `map<V>?` (key membership); absent is empty.
    In(Box<Expr>, Box<Expr>),
    Call(Builtin, Vec<Expr>),
    /// `any/all [key,] item in coll: body`; absent collections are empty.
    Quantified {
        q: Quantifier,
        item: Local,
        key: Option<Local>,
        collection: Box<Expr>,
        body: Box<Expr>,
    },
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `filter`/`map`/`values`: the elements of a list (the values of a map, in key order)
    /// for which `filter` holds, each replaced by `map` when given; absent is empty.
    Collect {
        item: Local,
        key: Option<Local>,
        collection: Box<Expr>,
        filter: Option<Box<Expr>>,
        map: Option<Box<Expr>>,
    },
    /// `let local = value in body` (from inlined function calls).
    Let(Local, Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    /// A field of an image reference (`registry`, `repository`, `tag`, `digest`).
    ImageField(Box<Expr>, ImageField),
    /// `objects(Kind)`: the objects of this kind in the evaluated set.
    Objects(Gvk),
    /// String interpolation: the parts are concatenated (absent prints `<none>`).
    Interpolate(Vec<MessagePart>),
}

/// The fields of an image reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ImageField {
    Registry,
    Repository,
    Tag,
    Digest,
}

impl Expr {
    /// The expressions directly under this one, in evaluation order (a collection before
    /// the body that iterates it, a `let` value before its body).
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Lit(_)
            | ExprKind::Subject
            | ExprKind::Request
            | ExprKind::OldSubject
            | ExprKind::Controller
            | ExprKind::Local(_)
            | ExprKind::Param(_)
            | ExprKind::Objects(_) => Vec::new(),
            ExprKind::Field(a, _)
            | ExprKind::IsAbsent(a)
            | ExprKind::Unary(_, a)
            | ExprKind::ImageField(a, _) => vec![a],
            ExprKind::Index(a, b)
            | ExprKind::Default(a, b)
            | ExprKind::Binary(_, a, b)
            | ExprKind::In(a, b)
            | ExprKind::Let(_, a, b) => vec![a, b],
            ExprKind::If(a, b, c) => vec![a, b, c],
            ExprKind::Call(_, args) | ExprKind::List(args) => args.iter().collect(),
            ExprKind::Map(entries) => entries.iter().map(|(_, v)| v).collect(),
            ExprKind::Interpolate(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    MessagePart::Expr(e) => Some(e),
                    MessagePart::Text(_) => None,
                })
                .collect(),
            ExprKind::Quantified {
                collection, body, ..
            } => vec![collection, body],
            ExprKind::Collect {
                collection,
                filter,
                map,
                ..
            } => std::iter::once(&**collection)
                .chain(filter.as_deref())
                .chain(map.as_deref())
                .collect(),
        }
    }

    /// A literal of the given value and type.
    pub fn lit(value: Value, ty: Type) -> Expr {
        Expr {
            ty,
            kind: ExprKind::Lit(value),
        }
    }
}
