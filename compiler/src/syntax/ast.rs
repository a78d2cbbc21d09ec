//! The syntax tree. Every node carries its byte span in its file; `Error` nodes mark
//! parts that failed to parse (the error itself was already reported).

use crate::ir::{Action, Quantifier};

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A name with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A dotted name such as `pss.baseline`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dotted {
    pub parts: Vec<Ident>,
    pub span: Span,
}

impl Dotted {
    /// The name joined with dots.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// One `.rp` file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub module: Option<Dotted>,
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug)]
pub enum Item {
    Import {
        path: Dotted,
        alias: Option<Ident>,
        span: Span,
    },
    /// `import "file.yaml"`: CustomResourceDefinitions to type-check against.
    SchemaImport {
        path: String,
        span: Span,
    },
    Function(Function),
    Rule(RuleDef),
    Error(Span),
}

/// `fn name(params) -> type = body`.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: Ident,
    pub params: Vec<(Ident, TypeExpr)>,
    pub ret: TypeExpr,
    pub body: Expr,
    pub span: Span,
}

/// A written type: `string`, `list<Container>`.
#[derive(Clone, Debug)]
pub struct TypeExpr {
    /// The name, dotted names joined: `Container`, `io.k8s.api.rbac.v1.Subject`.
    pub name: Ident,
    pub arg: Option<Box<TypeExpr>>,
    /// Written with a trailing `?`.
    pub optional: bool,
    pub span: Span,
}

/// `rule name { items }`.
#[derive(Clone, Debug)]
pub struct RuleDef {
    pub name: Ident,
    pub items: Vec<RuleItem>,
    pub span: Span,
}

/// One line of a rule body.
#[derive(Clone, Debug)]
pub enum RuleItem {
    Meta {
        key: Ident,
        value: Expr,
    },
    Match {
        exclude: bool,
        what: MatchWhat,
        span: Span,
    },
    Param {
        name: Ident,
        ty: TypeExpr,
        default: Expr,
        span: Span,
    },
    Let {
        name: Ident,
        value: Expr,
    },
    Outcome(OutcomeDef),
    AutogenOff(Span),
    Error(Span),
}

/// What a `match`/`exclude` line selects on.
#[derive(Clone, Debug)]
pub enum MatchWhat {
    Kinds(Vec<KindRef>),
    Namespaces(Expr),
    Labels(Expr),
}

/// `Kind`, `group/Kind`, `group/version/Kind` or the same as a string literal.
#[derive(Clone, Debug)]
pub struct KindRef {
    pub text: String,
    pub span: Span,
}

/// A `deny`/`warn` clause.
#[derive(Clone, Debug)]
pub struct OutcomeDef {
    pub action: Action,
    pub binders: Vec<BinderDef>,
    /// `let`s between the binders, each after that many binders.
    pub lets: Vec<OutcomeLet>,
    pub when: Option<Expr>,
    pub at: Option<Expr>,
    pub message: Expr,
    /// `fix` clauses after the message, in source order.
    pub fixes: Vec<FixDef>,
    /// `generate {…}` after the message and fixes: the map literal of the object a set
    /// rule's finding generates (spec/language.md §4.14).
    pub generate: Option<Expr>,
    pub span: Span,
}

/// The operation of a `fix` clause as written (`remove p, v` is `Remove` with a value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixOpKind {
    Set,
    Add,
    Remove,
}

impl FixOpKind {
    /// The keyword as written in source.
    pub fn keyword(self) -> &'static str {
        match self {
            FixOpKind::Set => "set",
            FixOpKind::Add => "add",
            FixOpKind::Remove => "remove",
        }
    }
}

/// `fix [review] set path = value`, `add path, value`, `remove path [, value]`.
#[derive(Clone, Debug)]
pub struct FixDef {
    pub review: bool,
    pub op: FixOpKind,
    pub path: Expr,
    pub value: Option<Expr>,
    pub span: Span,
}

/// `let name = value` inside an outcome, seeing the binders before it.
#[derive(Clone, Debug)]
pub struct OutcomeLet {
    /// How many binders precede it.
    pub after: usize,
    pub name: Ident,
    pub value: Expr,
}

/// `for a[, b] in collection`.
#[derive(Clone, Debug)]
pub struct BinderDef {
    pub first: Ident,
    pub second: Option<Ident>,
    pub collection: Expr,
}

/// An expression with its span.
#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Nesting depth (bounded while parsing, so later passes may recurse safely).
    pub depth: u32,
    /// Written inside parentheses (kept by the formatter; no meaning of its own).
    pub parens: bool,
}

/// Unary operators as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

/// Binary operators as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Add,
    Sub,
    Default,
}

impl BinaryOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::NotIn => "not in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Default => "??",
        }
    }
}

/// A piece of a string literal.
#[derive(Clone, Debug)]
pub enum StrPart {
    Text(String),
    Expr(Expr),
}

/// Expression forms.
#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i64),
    Number(f64),
    Str(Vec<StrPart>),
    Bool(bool),
    Null,
    Var(Ident),
    Field(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Quantified {
        q: Quantifier,
        first: Ident,
        second: Option<Ident>,
        collection: Box<Expr>,
        body: Box<Expr>,
    },
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Error,
}

/// The deepest expressions may nest (spec §2).
pub const MAX_DEPTH: u32 = 64;

impl Expr {
    /// A node; its depth is one more than its deepest child.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let child = match &kind {
            ExprKind::Field(e, _) | ExprKind::Unary(_, e) => e.depth,
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => a.depth.max(b.depth),
            ExprKind::Call(f, args) => args.iter().map(|a| a.depth).max().unwrap_or(0).max(f.depth),
            ExprKind::Quantified {
                collection, body, ..
            } => collection.depth.max(body.depth),
            ExprKind::If(a, b, c) => a.depth.max(b.depth).max(c.depth),
            ExprKind::List(items) => items.iter().map(|a| a.depth).max().unwrap_or(0),
            ExprKind::Map(items) => items
                .iter()
                .map(|(k, v)| k.depth.max(v.depth))
                .max()
                .unwrap_or(0),
            ExprKind::Str(parts) => parts
                .iter()
                .map(|p| match p {
                    StrPart::Expr(e) => e.depth,
                    StrPart::Text(_) => 0,
                })
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        Expr {
            kind,
            span,
            depth: child + 1,
            parens: false,
        }
    }

    /// The error placeholder.
    pub fn error(span: Span) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span,
            depth: 1,
            parens: false,
        }
    }
}
