//! The CEL backend: typed IR → CEL expressions, shared by the ValidatingAdmissionPolicy
//! ([`crate::backend::cel::vap`]) and Kyverno ([`crate::backend::cel::kyverno`]) exporters.
//!
//! Absent values (spec §4.2) use CEL's optional syntax throughout: every field access is
//! `e.?f`, every index `e[?i]`, `??` is `.orValue(d)` (or `.or(d)` when `d` is optional),
//! `== null` is `!e.hasValue()` and iteration over an absent collection iterates
//! `.orValue([])`. A deny or warn outcome becomes one validation whose expression is the
//! negation of "some binding of the `for` binders makes `when` true"; its message is built
//! from the first such binding. Rule `let`s become `variables`; parameters are inlined as
//! their default values; inlined helper `let`s are substituted where they are used.

pub mod kyverno;
pub mod mutating;
pub mod patch;
pub mod vap;

use crate::ir::{
    Action, BinOp, Binder, Builtin, Expr, ExprKind, Gvk, ImageField, Local, MessagePart, Outcome,
    Quantifier, Rule, Type, UnOp, Value,
};
use crate::names;

/// One generated file: a path relative to the output folder, and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    pub path: String,
    pub contents: String,
}

/// A rule that a target cannot express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportError {
    /// The rule id.
    pub rule: String,
    /// The construct that cannot be expressed.
    pub construct: String,
    /// The target (`vap`, `kyverno`, `kyverno-vpol`).
    pub target: String,
    /// The other rule, when two rules would get the same name.
    pub other: Option<String>,
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rule `{}` cannot be exported to {}: {}",
            self.rule, self.target, self.construct
        )
    }
}

impl std::error::Error for ExportError {}

/// How the generated CEL sees the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Kubernetes ValidatingAdmissionPolicy: pod rules pick the pod template of each pod
    /// controller themselves (no autogen) and field names are escaped as the API server
    /// requires ([`escape`]: `__namespace__`, `__dash__`, …).
    Vap,
    /// Kyverno: pod rules are written against the Pod and left to Kyverno's autogen, which
    /// rewrites the text `object.spec` and `object.metadata`; so those two first steps are
    /// written as plain selections. Objects are untyped maps: fields whose name is a CEL
    /// reserved word or not an identifier are read by key (`[?'namespace']`).
    Kyverno,
    /// Gatekeeper's `K8sNativeValidation` engine: no autogen (pod rules pick the pod template
    /// of each shape, as for VAP), untyped objects (read by key as for Kyverno), and
    /// parameters read from
    /// the Constraint through `variables.params`, defaulting to the rule's defaults as the
    /// Rego does.
    Gatekeeper,
}

/// A named CEL expression (`variables`, `matchConditions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub expression: String,
}

/// One validation: passing when `expression` is true.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    pub action: Action,
    pub expression: String,
    /// The message built from the first offending binding.
    pub message_expression: String,
    /// A static fallback message (the literal parts of the message).
    pub message: String,
}

/// A rule compiled to CEL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CelRule {
    /// Conditions that must all hold for the rule to apply (namespaces, labels, a pod
    /// template being present).
    pub match_conditions: Vec<Named>,
    /// Variables in dependency order, referenced as `variables.<name>`.
    pub variables: Vec<Named>,
    pub validations: Vec<Validation>,
    /// Kinds and subject paths of the rule's targets that the output must match.
    pub uses_autogen: bool,
}

impl CelRule {
    /// The validations of each action the rule has, deny first, with the name of the object
    /// that holds them: `base`, or `base-warn` for the warn ones of a rule that also denies
    /// (each shortened by [`names::fit`]).
    pub fn by_action(&self, base: &str) -> Vec<(Action, String, Vec<&Validation>)> {
        let denies = self.validations.iter().any(|v| v.action == Action::Deny);
        [Action::Deny, Action::Warn]
            .into_iter()
            .filter_map(|action| {
                let validations: Vec<&Validation> = self
                    .validations
                    .iter()
                    .filter(|v| v.action == action)
                    .collect();
                if validations.is_empty() {
                    return None;
                }
                let name = if action == Action::Warn && denies {
                    names::fit(&format!("{base}-warn"))
                } else {
                    names::fit(base)
                };
                Some((action, name, validations))
            })
            .collect()
    }

    /// `matchConditions` and `variables` (each when there are any), then `validations`: the
    /// CEL part of a ValidatingAdmissionPolicy, a Kyverno ValidatingPolicy and Gatekeeper's
    /// `K8sNativeValidation` source alike.
    pub fn yaml_fields(
        &self,
        validations: &[&Validation],
    ) -> Vec<(&'static str, serde_yaml_ng::Value)> {
        let mut fields = Vec::new();
        if !self.match_conditions.is_empty() {
            fields.push(("matchConditions", yaml_named(&self.match_conditions)));
        }
        if !self.variables.is_empty() {
            fields.push(("variables", yaml_named(&self.variables)));
        }
        fields.push(("validations", yaml_validations(validations)));
        fields
    }
}

/// The pod controllers and their pod-template paths, as Kyverno names them.
pub const POD_CONTROLLERS: [&str; 7] = [
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "CronJob",
];

/// Whether the rule applies to pod templates through autogen (some target has a subject path).
pub fn has_autogen(rule: &Rule) -> bool {
    rule.matcher
        .targets
        .iter()
        .any(|t| !t.subject_path.is_empty())
}

/// Said of a rule with `generate` by the exports that cannot make objects: admission
/// policies judge or mutate the object admitted, and cannot create another one.
pub const GENERATE_NOT_EXPORTED: &str =
    "its `generate` is not exported either: an admission policy cannot create other objects (`rampart fix` writes them)";

/// The construct of a set rule, or `None` when the rule reads only its own object.
pub fn unsupported(rule: &Rule) -> Option<String> {
    if rule.reads_view() {
        return Some(format!("set rule: {}", crate::views::NOT_EXPORTED));
    }
    rule.reads_kinds.first().map(|gvk| {
        format!(
            "set rule: `objects({})` reads other objects, which CEL admission policies cannot see",
            gvk.kind
        )
    })
}

/// Compiles one rule to CEL for `dialect`.
pub fn compile_rule(rule: &Rule, dialect: Dialect, target: &str) -> Result<CelRule, ExportError> {
    let fail = |construct: String| ExportError {
        rule: rule.id.clone(),
        construct,
        target: target.to_string(),
        other: None,
    };
    if let Some(c) = unsupported(rule) {
        // Kyverno has generate rules of its own: only the Kubernetes policies say this.
        return Err(fail(if rule.generates() && dialect == Dialect::Vap {
            format!("{c}; {GENERATE_NOT_EXPORTED}")
        } else {
            c
        }));
    }
    let (mut cx, match_conditions, variables) = setup(rule, dialect).map_err(&fail)?;
    let mut validations = Vec::new();
    for outcome in &rule.outcomes {
        validations.push(cx.outcome(outcome).map_err(&fail)?);
    }
    Ok(CelRule {
        match_conditions,
        variables,
        validations,
        uses_autogen: has_autogen(rule),
    })
}

/// The translation context of a rule with its subject and `let`s bound, its match
/// conditions and its variables: what validations and fix patches both start from.
fn setup(rule: &Rule, dialect: Dialect) -> Result<(Cx<'_>, Vec<Named>, Vec<Named>), String> {
    setup_listing(rule, dialect, Vec::new())
}

/// [`setup`] for an export whose engine lists other objects itself: `objects(Kind)` reads
/// the expression `listed` gives for the kind (Kyverno's GeneratingPolicy).
fn setup_listing(
    rule: &Rule,
    dialect: Dialect,
    listed: Vec<(Gvk, String)>,
) -> Result<(Cx<'_>, Vec<Named>, Vec<Named>), String> {
    let mut cx = Cx::new(rule, dialect);
    cx.listed = listed;
    let mut variables = Vec::new();
    let mut match_conditions = Vec::new();
    let autogen = has_autogen(rule);
    if autogen && dialect != Dialect::Kyverno {
        // No autogen in the API server: pick the subject of each shape, and skip a
        // controller that has no template (spec §3).
        let (subject, present) = subject_switch(rule);
        match_conditions.push(Named {
            name: "has-pod-template".into(),
            expression: present,
        });
        let name = cx.unique_name("subject");
        variables.push(Named {
            name: name.clone(),
            expression: subject,
        });
        cx.subject = format!("variables.{name}");
        cx.old_subject = Ok(old_subject_switch(rule));
    } else if autogen {
        cx.old_subject = Err(
            "`oldObject` in a rule with pod-controller autogen: Kyverno's autogen rewrites `object`, \
             not `oldObject`"
                .into(),
        );
    }
    match_conditions.extend(matcher_conditions(rule, dialect));
    for (local, value) in &rule.lets {
        let code = cx.expr(value)?;
        let name = cx.unique_name(&rule.local_names[*local as usize]);
        variables.push(Named {
            name: name.clone(),
            expression: code.code,
        });
        cx.bind(
            *local,
            C {
                code: format!("variables.{name}"),
                opt: code.opt,
                atom: true,
            },
        );
    }
    Ok((cx, match_conditions, variables))
}

/// The subject under VAP for a rule with autogen targets: a CEL expression choosing the
/// object or its pod template by kind, and one testing that the template is present.
fn subject_switch(rule: &Rule) -> (String, String) {
    let mut subject = String::from("object");
    let mut present = String::from("true");
    // Build from the last target to the first so the first listed is tested first.
    let mut seen = Vec::new();
    for t in rule.matcher.targets.iter().rev() {
        if seen.contains(&t.gvk.kind) {
            continue;
        }
        seen.push(t.gvk.kind.clone());
        // Template paths are plain identifiers (`spec`, `template`, `jobTemplate`).
        let plain = std::iter::once("object".to_string())
            .chain(t.subject_path.iter().cloned())
            .collect::<Vec<_>>()
            .join(".");
        let optional = std::iter::once("object".to_string())
            .chain(t.subject_path.iter().map(|s| format!("?{s}")))
            .collect::<Vec<_>>()
            .join(".");
        let test = if t.subject_path.is_empty() {
            "true".to_string()
        } else {
            format!("{optional}.hasValue()")
        };
        let kind = quote(&t.gvk.kind);
        subject = format!("object.kind == {kind} ? {plain} : {subject}");
        present = format!("object.kind == {kind} ? {test} : {present}");
    }
    (subject, present)
}

/// Whether `e` is `request` or a field of it.
fn reads_request(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Request => true,
        ExprKind::Field(inner, _) => reads_request(inner),
        _ => false,
    }
}

/// `controller` as an optional value: the reviewed object, unless it is one of the rule's
/// kinds checked as itself (a bare Pod). The same text in every dialect: under Kyverno's
/// autogen `object` is the controller (only `object.spec` and `object.metadata` are
/// rewritten into its pod template), so `object.kind` and `optional.of(object)` read the
/// controller itself.
fn controller(rule: &Rule) -> String {
    let mut own: Vec<String> = Vec::new();
    for t in &rule.matcher.targets {
        let kind = quote(&t.gvk.kind);
        if t.subject_path.is_empty() && !own.contains(&kind) {
            own.push(kind);
        }
    }
    format!(
        "(object.kind in [{}] ? optional.none() : optional.of(object))",
        own.join(", ")
    )
}

/// `oldObject` as an optional value: absent on CREATE (the API server binds null).
const OLD_OBJECT: &str = "(oldObject == null ? optional.none() : optional.of(oldObject))";

/// `oldObject` under VAP for a rule with autogen targets: the old object's pod template by
/// kind, as an optional value (absent on CREATE or when the old object has none).
fn old_subject_switch(rule: &Rule) -> String {
    let mut out = String::from("optional.of(oldObject)");
    let mut seen = Vec::new();
    for t in rule.matcher.targets.iter().rev() {
        if seen.contains(&t.gvk.kind) {
            continue;
        }
        seen.push(t.gvk.kind.clone());
        let path = std::iter::once("oldObject".to_string())
            .chain(t.subject_path.iter().map(|s| format!("?{s}")))
            .collect::<Vec<_>>()
            .join(".");
        let this = if t.subject_path.is_empty() {
            "optional.of(oldObject)".to_string()
        } else {
            path
        };
        out = format!("object.kind == {} ? {this} : {out}", quote(&t.gvk.kind));
    }
    format!("(oldObject == null ? optional.none() : ({out}))")
}

/// The namespace a rule's namespace matching reads: the request's, which the API server
/// sets for every namespaced object (also when the manifest leaves `metadata.namespace`
/// out, and for a pod controller, whose pods get the same namespace) and which
/// ValidatingAdmissionPolicy, Kyverno (ClusterPolicy `celPreconditions`, ValidatingPolicy
/// `matchConditions`) and Gatekeeper's CEL engine all provide as `request.namespace`.
pub const REQUEST_NAMESPACE: &str = "request.namespace";

/// Namespace matching (on the request's namespace) and label matching (on the object's own
/// labels) as CEL conditions, the same in every dialect.
pub fn matcher_conditions(rule: &Rule, _dialect: Dialect) -> Vec<Named> {
    let m = &rule.matcher;
    let ns = REQUEST_NAMESPACE;
    let mut out = Vec::new();
    // Cluster-scoped objects have no namespace: `match namespaces` never selects them and
    // `exclude namespaces` never excludes them.
    let namespaced = m.targets.iter().any(|t| t.namespaced);
    let cluster = m.targets.iter().any(|t| !t.namespaced);
    let scoped = |test: String| {
        if namespaced && cluster {
            let kinds: Vec<String> = m
                .targets
                .iter()
                .filter(|t| t.namespaced)
                .map(|t| quote(&t.gvk.kind))
                .collect();
            format!("object.kind in [{}] && {test}", kinds.join(", "))
        } else if namespaced {
            test
        } else {
            "false".into()
        }
    };
    if !m.namespaces.is_empty() {
        let test = format!("{ns}.matches({})", quote(&globs_regex(&m.namespaces)));
        out.push(Named {
            name: "match-namespaces".into(),
            expression: scoped(test),
        });
    }
    if !m.exclude_namespaces.is_empty() {
        let test = format!(
            "{ns}.matches({})",
            quote(&globs_regex(&m.exclude_namespaces))
        );
        out.push(Named {
            name: "exclude-namespaces".into(),
            expression: negate(&scoped(test)),
        });
    }
    if !m.labels.is_empty() {
        out.push(Named {
            name: "match-labels".into(),
            expression: labels_test(&m.labels),
        });
    }
    if !m.exclude_labels.is_empty() {
        out.push(Named {
            name: "exclude-labels".into(),
            expression: negate(&labels_test(&m.exclude_labels)),
        });
    }
    out
}

/// All labels present with a value matching their glob.
pub fn labels_test(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| {
            let l = format!("object.?metadata.?labels[?{}]", quote(k));
            format!(
                "{l}.hasValue() && {l}.value().matches({})",
                quote(&globs_regex(std::slice::from_ref(v)))
            )
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// A regular expression matching exactly the texts that match one of the globs.
pub fn globs_regex(globs: &[String]) -> String {
    let alts: Vec<String> = globs.iter().map(|g| glob_body(g)).collect();
    format!("^(?s:{})$", alts.join("|"))
}

fn glob_body(glob: &str) -> String {
    let mut out = String::new();
    for ch in glob.chars() {
        match ch {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/' => out.push(c),
            c if c.is_ascii() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A CEL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::from("'");
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Exports each rule with `export_rule`, keeping the files of the rules that can be
/// expressed and an error for each that cannot, or whose names clash with another's.
pub fn export_each(
    program: &crate::ir::Program,
    target: &str,
    export_rule: impl Fn(&crate::ir::Rule, &mut names::Claims) -> Result<OutputFile, ExportError>,
) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut claims = names::Claims::default();
    for rule in &program.rules {
        match export_rule(rule, &mut claims) {
            Ok(f) => {
                claims.claim("file name", &f.path, &rule.id);
                files.push(f)
            }
            Err(e) => errors.push(e),
        }
    }
    errors.extend(clash_errors(claims, target));
    (files, errors)
}

/// One error per name clash, on the second rule, naming the first.
pub fn clash_errors(claims: names::Claims, target: &str) -> Vec<ExportError> {
    claims
        .into_clashes()
        .into_iter()
        .map(|c| ExportError {
            rule: c.second.clone(),
            construct: format!(
                "its {} `{}` is also the {} of rule `{}`",
                c.what, c.name, c.what, c.first
            ),
            target: target.to_string(),
            other: Some(c.first),
        })
        .collect()
}

/// All the files when every rule could be exported, otherwise the errors.
pub fn all_or_errors(
    (files, errors): (Vec<OutputFile>, Vec<ExportError>),
) -> Result<Vec<OutputFile>, Vec<ExportError>> {
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

/// CEL keywords and reserved words: the API server exposes such fields as `__word__`.
pub const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A property name as the Kubernetes CEL environment exposes it (k8s.io/apiserver/pkg/cel,
/// `Escape`): a reserved word `w` becomes `__w__`; otherwise `__`, `.`, `-` and `/` become
/// `__underscores__`, `__dot__`, `__dash__` and `__slash__`. `None` for the names CEL cannot
/// reach: empty, starting with a digit, or with any other character.
pub fn escape(name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut out = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push_str("__underscores__");
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// The optional selection of field `name` in `dialect`: `.?name` with the name escaped as
/// the API server requires (VAP, typed by the OpenAPI schema); on the untyped objects of
/// Kyverno and Gatekeeper, `.?name` for identifiers that are not reserved words and a key
/// lookup `[?'name']` otherwise, so no reserved word is ever written as a field.
fn select(name: &str, dialect: Dialect) -> Result<String, String> {
    match dialect {
        Dialect::Vap => escape(name).map(|e| format!(".?{e}")).ok_or_else(|| {
            format!(
                "field `{name}`: Kubernetes CEL reaches only property names of the form \
                 `[a-zA-Z_.-/][a-zA-Z0-9_.-/]*`"
            )
        }),
        _ if is_ident(name) && !RESERVED.contains(&name) => Ok(format!(".?{name}")),
        _ => Ok(format!("[?{}]", quote(name))),
    }
}

/// Calls `visit` with each character of generated CEL `code` outside string literals and the
/// bracket depth before it; false as soon as `visit` is.
fn scan_code(code: &str, mut visit: impl FnMut(i32, char) -> bool) -> bool {
    let mut depth = 0i32;
    let (mut quoted, mut escaped) = (false, false);
    for ch in code.chars() {
        if quoted {
            match ch {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => quoted = false,
                _ => {}
            }
            continue;
        }
        if ch == '\'' {
            quoted = true;
            continue;
        }
        if !visit(depth, ch) {
            return false;
        }
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    true
}

/// Whether `code` can take a `.method()` or a `!` without parentheses: nothing at its top
/// level but one operand (the generated code puts spaces around every binary operator and
/// `? :`, and nowhere else outside brackets and strings).
fn is_atomic(code: &str) -> bool {
    !code.is_empty()
        && !code.starts_with(['!', '-'])
        && scan_code(code, |depth, ch| !(depth == 0 && ch == ' '))
}

/// `!code` without double negations (`!(!x)` is `x`) and with parentheses only when the
/// operand needs them.
pub fn negate(code: &str) -> String {
    if let Some(rest) = code.strip_prefix('!') {
        if is_atomic(rest) {
            return unwrap_parens(rest).to_string();
        }
    }
    match code {
        "true" => "false".into(),
        "false" => "true".into(),
        c if is_atomic(c) => format!("!{c}"),
        c => format!("!({c})"),
    }
}

/// `x` for `(x)` when the parentheses enclose all of it (not for `(a) || (b)`).
fn unwrap_parens(code: &str) -> &str {
    match code.strip_prefix('(').and_then(|c| c.strip_suffix(')')) {
        Some(inner) if scan_code(inner, |depth, ch| !(depth == 0 && ch == ')')) => inner,
        _ => code,
    }
}

/// Compiled CEL code.
#[derive(Clone, Debug)]
struct C {
    code: String,
    /// The code is a CEL `optional` value.
    opt: bool,
    /// The code can be used as a receiver without parentheses.
    atom: bool,
}

impl C {
    fn plain(code: String) -> C {
        C {
            code,
            opt: false,
            atom: false,
        }
    }
    fn atom(code: String) -> C {
        C {
            code,
            opt: false,
            atom: true,
        }
    }
    /// The code as a receiver or operand.
    fn paren(&self) -> String {
        if self.atom || is_atomic(&self.code) {
            self.code.clone()
        } else {
            format!("({})", self.code)
        }
    }
    /// The present value (the IR guarantees presence wherever this is used).
    fn value(&self) -> String {
        if self.opt {
            format!("{}.value()", self.paren())
        } else {
            self.code.clone()
        }
    }
    fn value_c(&self) -> C {
        if self.opt {
            C::atom(self.value())
        } else {
            self.clone()
        }
    }
    /// The code as an optional value.
    fn optional(&self) -> String {
        if self.opt {
            self.code.clone()
        } else {
            format!("optional.of({})", self.code)
        }
    }
}

struct Cx<'a> {
    rule: &'a Rule,
    dialect: Dialect,
    subject: String,
    /// `oldObject` as an optional value, or why the dialect cannot read it.
    old_subject: Result<String, String>,
    locals: Vec<Option<C>>,
    names: Vec<String>,
    /// How `objects(Kind)` reads in an export whose engine lists other objects itself
    /// (Kyverno's `resource.List`): the expression of each kind's objects. Empty where
    /// admission policies see only the reviewed object.
    listed: Vec<(Gvk, String)>,
}

type R = Result<C, String>;

impl<'a> Cx<'a> {
    fn new(rule: &'a Rule, dialect: Dialect) -> Cx<'a> {
        Cx {
            rule,
            dialect,
            subject: "object".into(),
            old_subject: Ok(OLD_OBJECT.into()),
            locals: vec![None; rule.locals as usize],
            names: Vec::new(),
            listed: Vec::new(),
        }
    }

    fn bind(&mut self, local: Local, code: C) {
        let i = local as usize;
        if i >= self.locals.len() {
            self.locals.resize(i + 1, None);
        }
        self.locals[i] = Some(code);
    }

    /// A name not used before in this rule that is a valid CEL identifier.
    fn unique_name(&mut self, base: &str) -> String {
        let mut base: String = base
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if !is_ident(&base) {
            base = format!("v_{base}");
        }
        let builtin = [
            "object",
            "oldObject",
            "request",
            "params",
            "variables",
            "namespaceObject",
            "authorizer",
            "optional",
            "cel",
            "has",
            "size",
            "anyObject",
        ];
        let taken = |n: &str, names: &[String]| {
            RESERVED.contains(&n) || builtin.contains(&n) || names.iter().any(|x| x == n)
        };
        let mut name = base.clone();
        let mut n = 1;
        while taken(&name, &self.names) {
            n += 1;
            name = format!("{base}{n}");
        }
        self.names.push(name.clone());
        name
    }

    fn local_name(&mut self, local: Local) -> String {
        let base = self
            .rule
            .local_names
            .get(local as usize)
            .cloned()
            .unwrap_or_else(|| format!("x{local}"));
        self.unique_name(&base)
    }

    /// One outcome as a validation.
    fn outcome(&mut self, o: &Outcome) -> Result<Validation, String> {
        // Iteration variables are scoped to one validation: reuse their names in the next.
        let names = self.names.clone();
        let v = self.outcome_inner(o);
        self.names = names;
        v
    }

    /// "The outcome fires": some binding of its binders makes `when` true.
    fn fires(&mut self, o: &Outcome) -> Result<String, String> {
        let names = self.names.clone();
        let fires = self.nest(&o.binders, o.when.as_ref());
        self.names = names;
        fires
    }

    fn outcome_inner(&mut self, o: &Outcome) -> Result<Validation, String> {
        let exists = self.nest(&o.binders, o.when.as_ref())?;
        let expression = negate(&exists);
        let message_expression = self.message(&o.binders, o.when.as_ref(), &o.message)?;
        let message = static_message(self.rule, &o.message);
        Ok(Validation {
            action: o.action,
            expression,
            message_expression,
            message,
        })
    }

    /// Binds a binder's locals: returns the collection (iterated directly) and the
    /// iteration variable.
    fn binder(&mut self, b: &Binder) -> Result<(String, String), String> {
        let coll = self.expr(&b.collection)?;
        match b.collection.ty.strip_optional() {
            Type::Map(_) | Type::Object(_) | Type::Any => {
                let coll = iterable(&coll, "{}");
                let var = match b.key {
                    Some(k) => self.local_name(k),
                    None => self.unique_name("key"),
                };
                if let Some(k) = b.key {
                    self.bind(k, C::atom(var.clone()));
                }
                self.bind(b.item, C::atom(format!("{coll}[{var}]")));
                Ok((coll, var))
            }
            _ => {
                if b.key.is_some() {
                    return Err("an index binder over a list".into());
                }
                let coll = iterable(&coll, "[]");
                let var = self.local_name(b.item);
                self.bind(b.item, C::atom(var.clone()));
                Ok((coll, var))
            }
        }
    }

    /// "Some binding of `binders` makes `when` true".
    fn nest(&mut self, binders: &[Binder], when: Option<&Expr>) -> Result<String, String> {
        match binders.split_first() {
            None => match when {
                None => Ok("true".into()),
                Some(w) => Ok(self.expr(w)?.value()),
            },
            Some((b, rest)) => {
                let (coll, var) = self.binder(b)?;
                let inner = self.nest(rest, when)?;
                Ok(format!("{coll}.exists({var}, {inner})"))
            }
        }
    }

    /// The message of the first binding for which `when` holds.
    fn message(
        &mut self,
        binders: &[Binder],
        when: Option<&Expr>,
        parts: &[MessagePart],
    ) -> Result<String, String> {
        match binders.split_first() {
            None => self.interpolate(parts),
            Some((b, rest)) => {
                let (coll, var) = self.binder(b)?;
                let cond = self.nest(rest, when)?;
                let inner = self.message(rest, when, parts)?;
                Ok(format!(
                    "{coll}.filter({var}, {cond}).map({var}, {inner})[0]"
                ))
            }
        }
    }

    fn interpolate(&mut self, parts: &[MessagePart]) -> Result<String, String> {
        let mut pieces = Vec::new();
        for p in parts {
            match p {
                MessagePart::Text(t) if t.is_empty() => {}
                MessagePart::Text(t) => pieces.push(quote(t)),
                MessagePart::Expr(e) => {
                    let c = self.expr(e)?;
                    pieces.push(show(&c, e.ty.strip_optional()));
                }
            }
        }
        if pieces.is_empty() {
            return Ok("''".into());
        }
        Ok(pieces.join(" + "))
    }

    /// The expression is the subject itself, or a local bound to it (a helper function's
    /// parameter given `object`): Kyverno's autogen must see its fields as `object.spec`.
    fn is_subject(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Subject => true,
            ExprKind::Local(l) => matches!(
                self.locals.get(*l as usize),
                Some(Some(c)) if !c.opt && c.code == self.subject
            ),
            _ => false,
        }
    }

    fn expr(&mut self, e: &Expr) -> R {
        match &e.kind {
            ExprKind::Lit(v) => Ok(C::atom(literal(v))),
            ExprKind::Subject => Ok(C::atom(self.subject.clone())),
            ExprKind::Request => Ok(C::atom("request".into())),
            ExprKind::OldSubject => Ok(C {
                code: self.old_subject.clone()?,
                opt: true,
                atom: false,
            }),
            ExprKind::Controller => Ok(C {
                code: controller(self.rule),
                opt: true,
                atom: true,
            }),
            ExprKind::Local(l) => self
                .locals
                .get(*l as usize)
                .cloned()
                .flatten()
                .ok_or_else(|| format!("local {l} used before it is bound")),
            ExprKind::Param(i) => {
                let p = self
                    .rule
                    .params
                    .get(*i as usize)
                    .ok_or_else(|| format!("unknown parameter {i}"))?;
                if self.dialect == Dialect::Gatekeeper {
                    // The Constraint's value when it sets one, else the default (as the Rego).
                    return Ok(C::atom(format!(
                        "variables.params.?{}.orValue({})",
                        p.name,
                        literal(&p.default)
                    )));
                }
                Ok(C::atom(literal(&p.default)))
            }
            ExprKind::Field(inner, f) => {
                if self.dialect == Dialect::Kyverno
                    && self.is_subject(inner)
                    && (f == "spec" || f == "metadata")
                    && has_autogen(self.rule)
                {
                    // Written with the plain text `object.spec`/`object.metadata` so that
                    // Kyverno's autogen rewrites it; `has()` keeps a template without
                    // metadata from failing.
                    return Ok(C {
                        code: plain_optional(&self.subject, f),
                        opt: true,
                        atom: true,
                    });
                }
                let c = self.expr(inner)?;
                // The request is not an object of the schema: its fields are not escaped.
                let step = if reads_request(inner) {
                    format!(".?{f}")
                } else {
                    select(f, self.dialect)?
                };
                Ok(C {
                    code: format!("{}{step}", c.paren()),
                    opt: true,
                    atom: true,
                })
            }
            ExprKind::Index(inner, idx) => {
                let c = self.expr(inner)?;
                let i = self.expr(idx)?.value();
                Ok(C {
                    code: format!("{}[?{i}]", c.paren()),
                    opt: true,
                    atom: true,
                })
            }
            ExprKind::Default(a, d) => {
                let a = self.expr(a)?;
                if !a.opt {
                    return Ok(a);
                }
                let dc = self.expr(d)?;
                if d.ty.is_optional() || d.ty == Type::Null {
                    let dcode = if d.ty == Type::Null {
                        "optional.none()".to_string()
                    } else {
                        dc.optional()
                    };
                    Ok(C {
                        code: format!("{}.or({dcode})", a.paren()),
                        opt: true,
                        atom: true,
                    })
                } else {
                    Ok(C::atom(format!("{}.orValue({})", a.paren(), dc.code)))
                }
            }
            ExprKind::IsAbsent(inner) => {
                if inner.ty == Type::Null {
                    return Ok(C::atom("true".into()));
                }
                let c = self.expr(inner)?;
                if c.opt {
                    Ok(C::plain(negate(&format!("{}.hasValue()", c.paren()))))
                } else {
                    Ok(C::atom("false".into()))
                }
            }
            ExprKind::Unary(op, inner) => {
                let c = self.expr(inner)?.value_c();
                Ok(C::plain(match op {
                    UnOp::Not => negate(&c.code),
                    UnOp::Neg => format!("-{}", c.paren()),
                }))
            }
            ExprKind::Binary(op, a, b) => self.binary(e, *op, a, b),
            ExprKind::In(x, coll) => {
                let xc = self.expr(x)?.value_c();
                let cc = self.expr(coll)?;
                let empty = match coll.ty.strip_optional() {
                    Type::Map(_) | Type::Object(_) => "{}",
                    _ => "[]",
                };
                Ok(C::plain(format!(
                    "{} in {}",
                    xc.paren(),
                    iterable(&cc, empty)
                )))
            }
            ExprKind::Call(f, args) => self.call(*f, args),
            ExprKind::Quantified {
                q,
                item,
                key,
                collection,
                body,
            } => {
                let b = Binder {
                    item: *item,
                    key: *key,
                    collection: (**collection).clone(),
                };
                let (coll, var) = self.binder(&b)?;
                let body = self.expr(body)?.value();
                let m = match q {
                    Quantifier::Any => "exists",
                    Quantifier::All => "all",
                };
                Ok(C::atom(format!("{coll}.{m}({var}, {body})")))
            }
            ExprKind::If(c, a, b) => {
                let cc = self.expr(c)?.value_c();
                let ac = self.expr(a)?;
                let bc = self.expr(b)?;
                if e.ty.is_optional() {
                    let side = |x: &Expr, c: &C| {
                        if x.ty == Type::Null {
                            "optional.none()".to_string()
                        } else {
                            c.optional()
                        }
                    };
                    Ok(C {
                        code: format!("{} ? {} : {}", cc.paren(), side(a, &ac), side(b, &bc)),
                        opt: true,
                        atom: false,
                    })
                } else {
                    Ok(C::plain(format!(
                        "{} ? {} : {}",
                        cc.paren(),
                        ac.value_c().paren(),
                        bc.value_c().paren()
                    )))
                }
            }
            ExprKind::Collect {
                item,
                key,
                collection,
                filter,
                map,
            } => {
                let b = Binder {
                    item: *item,
                    key: *key,
                    collection: (**collection).clone(),
                };
                let is_list = matches!(collection.ty.strip_optional(), Type::List(_));
                let (coll, var) = self.binder(&b)?;
                let mut code = coll;
                if let Some(filter) = filter {
                    let p = self.expr(filter)?.value();
                    code = format!("{code}.filter({var}, {p})");
                }
                // Over a map, CEL iterates keys: `map` turns them into the values.
                if map.is_some() || !is_list {
                    let value = match map {
                        Some(m) => self.expr(m)?.value(),
                        None => self
                            .expr(&Expr {
                                ty: Type::Any,
                                kind: ExprKind::Local(*item),
                            })?
                            .value(),
                    };
                    code = format!("{code}.map({var}, {value})");
                }
                Ok(C::atom(code))
            }
            ExprKind::Let(local, value, body) => {
                let v = self.expr(value)?;
                let v = C {
                    code: v.paren(),
                    atom: true,
                    opt: v.opt,
                };
                self.bind(*local, v);
                self.expr(body)
            }
            ExprKind::List(items) => {
                let mut codes = Vec::new();
                for i in items {
                    codes.push(self.expr(i)?.value());
                }
                Ok(C::atom(format!("[{}]", codes.join(", "))))
            }
            ExprKind::Map(entries) => {
                let mut codes = Vec::new();
                for (k, v) in entries {
                    codes.push(format!("{}: {}", quote(k), self.expr(v)?.value()));
                }
                Ok(C::atom(format!("{{{}}}", codes.join(", "))))
            }
            ExprKind::ImageField(inner, f) => {
                let c = self.expr(inner)?.value_c();
                let name = match f {
                    ImageField::Registry => "registry",
                    ImageField::Repository => "repository",
                    ImageField::Tag => "tag",
                    ImageField::Digest => "digest",
                };
                Ok(C::atom(format!("{}.{name}", c.paren())))
            }
            ExprKind::Objects(gvk) if crate::views::is_view(gvk) => {
                Err(crate::views::NOT_EXPORTED.to_string())
            }
            ExprKind::Objects(gvk) => match self.listed.iter().find(|(g, _)| g == gvk) {
                Some((_, code)) => Ok(C::atom(code.clone())),
                None => Err(format!(
                    "`objects({})` reads other objects, which CEL admission policies cannot see",
                    gvk.kind
                )),
            },
            ExprKind::Interpolate(parts) => Ok(C::plain(self.interpolate(parts)?)),
        }
    }

    fn binary(&mut self, e: &Expr, op: BinOp, a: &Expr, b: &Expr) -> R {
        let ac = self.expr(a)?.value_c();
        let bc = self.expr(b)?.value_c();
        let sym = match op {
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
        };
        let (at, bt) = (a.ty.strip_optional(), b.ty.strip_optional());
        if matches!(op, BinOp::And | BinOp::Or) {
            return Ok(C::plain(format!("{} {sym} {}", ac.paren(), bc.paren())));
        }
        if *at == Type::Quantity || *bt == Type::Quantity {
            // Kubernetes' quantity library compares by value ("1Gi" == "1024Mi").
            let q = |c: &C| format!("quantity(string({}))", c.code);
            return Ok(C::plain(format!(
                "{}.compareTo({}) {sym} 0",
                q(&ac),
                q(&bc)
            )));
        }
        // CEL has no mixed int/double arithmetic: widen the int side.
        let widen = |t: &Type, other: &Type, c: &C| {
            if *t == Type::Int && *other == Type::Number {
                format!("double({})", c.code)
            } else {
                c.paren()
            }
        };
        let _ = e;
        Ok(C::plain(format!(
            "{} {sym} {}",
            widen(at, bt, &ac),
            widen(bt, at, &bc)
        )))
    }

    fn call(&mut self, f: Builtin, args: &[Expr]) -> R {
        let mut cs = Vec::new();
        for a in args {
            cs.push(self.expr(a)?);
        }
        let arg = |i: usize| cs[i].value_c().paren();
        Ok(match f {
            Builtin::Len => {
                let c = &cs[0];
                match args[0].ty.strip_optional() {
                    // Spec: the length of a string is its length in bytes.
                    Type::String => C::atom(format!("size(bytes({}))", c.value())),
                    Type::Map(_) | Type::Object(_) => {
                        C::atom(format!("size({})", iterable(c, "{}")))
                    }
                    _ => C::atom(format!("size({})", iterable(c, "[]"))),
                }
            }
            Builtin::StartsWith => C::atom(format!("{}.startsWith({})", arg(0), cs[1].value())),
            Builtin::EndsWith => C::atom(format!("{}.endsWith({})", arg(0), cs[1].value())),
            Builtin::Contains => C::atom(format!("{}.contains({})", arg(0), cs[1].value())),
            Builtin::Lower => C::atom(format!("{}.lowerAscii()", arg(0))),
            Builtin::TrimPrefix => C::plain(format!(
                "{0}.startsWith({1}) ? {0}.substring(size({1})) : {0}",
                arg(0),
                arg(1)
            )),
            Builtin::TrimSuffix => C::plain(format!(
                "{0}.endsWith({1}) ? {0}.substring(0, size({0}) - size({1})) : {0}",
                arg(0),
                arg(1)
            )),
            Builtin::Upper => C::atom(format!("{}.upperAscii()", arg(0))),
            Builtin::Split => C::atom(format!("{}.split({})", arg(0), cs[1].value())),
            Builtin::Join => C::atom(format!(
                "{}.join({})",
                iterable(&cs[0], "[]"),
                cs[1].value()
            )),
            Builtin::Glob => {
                let ExprKind::Lit(Value::String(p)) = &args[1].kind else {
                    return Err("`glob` with a pattern that is not a literal string".into());
                };
                C::atom(format!(
                    "{}.matches({})",
                    arg(0),
                    quote(&globs_regex(std::slice::from_ref(p)))
                ))
            }
            Builtin::Matches => C::atom(format!("{}.matches({})", arg(0), cs[1].value())),
            // Quantities stay strings (or numbers) until compared.
            Builtin::Quantity => cs[0].value_c(),
            Builtin::Image => C::atom(image(&arg(0))),
            Builtin::Keys => C::atom(format!("{}.map(k, k)", iterable(&cs[0], "{}"))),
            Builtin::AllContainers => {
                let p = arg(0);
                // Under Kyverno autogen `object.spec` must stay plain text to be rewritten.
                let spec = if self.dialect == Dialect::Kyverno
                    && self.is_subject(&args[0])
                    && has_autogen(self.rule)
                {
                    plain_optional(&p, "spec")
                } else {
                    format!("{p}.?spec")
                };
                let list = |f: &str| format!("{spec}.?{f}.orValue([])");
                C::plain(format!(
                    "{} + {} + {}",
                    list("initContainers"),
                    list("containers"),
                    list("ephemeralContainers")
                ))
            }
        })
    }
}

/// `subject.field` as an optional value, keeping the plain text `subject.field`.
fn plain_optional(subject: &str, field: &str) -> String {
    format!("(has({subject}.{field}) ? optional.of({subject}.{field}) : optional.none())")
}

/// A collection to iterate: absent iterates nothing.
fn iterable(c: &C, empty: &str) -> String {
    if c.opt {
        format!("{}.orValue({empty})", c.paren())
    } else {
        c.paren()
    }
}

/// A value printed into a message (spec §4.9): absent prints `<none>`.
fn show(c: &C, ty: &Type) -> String {
    let plain = |code: String| {
        match ty {
        Type::String => code,
        Type::Int | Type::Number | Type::Bool | Type::Quantity | Type::IntOrString => {
            format!("string({code})")
        }
        Type::List(t) if **t == Type::String => {
            format!("(size({code}) == 0 ? '[]' : '[\"' + {code}.join('\",\"') + '\"]')")
        }
        Type::List(t) if matches!(**t, Type::Int | Type::Bool) => {
            format!("'[' + {code}.map(x, string(x)).join(',') + ']'")
        }
        Type::Image => format!(
            "{code}.registry + '/' + {code}.repository + ({code}.tag == '' ? '' : ':' + {code}.tag) + ({code}.digest == '' ? '' : '@' + {code}.digest)"
        ),
        // CEL cannot print other lists and maps as JSON: name what the value is instead.
        Type::List(_) => "'<list>'".to_string(),
        Type::Map(_) => "'<map>'".to_string(),
        Type::Object(_) => "'<object>'".to_string(),
        _ => format!("string({code})"),
    }
    };
    if c.opt {
        format!(
            "({}.hasValue() ? {} : '<none>')",
            c.paren(),
            plain(format!("{}.value()", c.paren()))
        )
    } else {
        plain(c.paren())
    }
}

/// The static `message` beside a `messageExpression`, shown when the expression cannot be
/// evaluated: the message itself when it has no interpolated values, else the rule's title
/// and id (the literal parts alone would read as a broken sentence).
fn static_message(rule: &Rule, parts: &[MessagePart]) -> String {
    let mut text = String::new();
    for p in parts {
        match p {
            MessagePart::Text(t) => text.push_str(t),
            MessagePart::Expr(_) => return format!("{} (rule {})", rule.meta.title, rule.id),
        }
    }
    text
}

/// A constant as a CEL literal.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Number(n) => {
            let s = format!("{n:?}");
            if s.contains('.') || s.contains('e') {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::String(s) => quote(s),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `image(s)` as a CEL map with the fields of spec §4.4: the digest follows the first `@`,
/// the tag the last `:` after the last `/`, the registry is the first component when it
/// looks like a host (has `.` or `:`, or is `localhost`), else `docker.io`, and Docker Hub
/// repositories without a `/` get `library/`.
fn image(s: &str) -> String {
    let rest = format!("({s}.contains('@') ? {s}.substring(0, {s}.indexOf('@')) : {s})");
    let digest = format!("({s}.contains('@') ? {s}.substring({s}.indexOf('@') + 1) : '')");
    let tagged = format!("({rest}.lastIndexOf(':') > {rest}.lastIndexOf('/'))");
    let tag = format!("({tagged} ? {rest}.substring({rest}.lastIndexOf(':') + 1) : '')");
    let name = format!("({tagged} ? {rest}.substring(0, {rest}.lastIndexOf(':')) : {rest})");
    let first = format!("{name}.split('/')[0]");
    let is_reg = format!(
        "({name}.contains('/') && ({first}.contains('.') || {first}.contains(':') || {first} == 'localhost'))"
    );
    let registry = format!("({is_reg} ? {first} : 'docker.io')");
    let repo = format!("({is_reg} ? {name}.substring({name}.indexOf('/') + 1) : {name})");
    let hub = format!("(!{is_reg} || {first} == 'docker.io')");
    let repository = format!("({hub} && !{repo}.contains('/') ? 'library/' + {repo} : {repo})");
    format!(
        "{{'registry': {registry}, 'repository': {repository}, 'tag': {tag}, 'digest': {digest}}}"
    )
}

/// The API resource (lowercase plural) of a kind, as `resourceRules` name it.
pub fn resource_name(kind: &str) -> String {
    if kind == crate::ir::EVERY_KIND {
        return kind.to_string();
    }
    let lower = kind.to_ascii_lowercase();
    if lower == "endpoints" || lower.ends_with("metrics") {
        return lower;
    }
    if let Some(stem) = lower.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if lower.ends_with('s')
        || lower.ends_with('x')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
    {
        return format!("{lower}es");
    }
    format!("{lower}s")
}

/// Builds a YAML mapping that keeps the order of its entries.
pub fn yaml_map(entries: Vec<(&str, serde_yaml_ng::Value)>) -> serde_yaml_ng::Value {
    let mut m = serde_yaml_ng::Mapping::new();
    for (k, v) in entries {
        m.insert(serde_yaml_ng::Value::String(k.to_string()), v);
    }
    serde_yaml_ng::Value::Mapping(m)
}

/// A YAML string.
pub fn ys(s: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::Value::String(s.to_string())
}

/// A YAML list of strings.
pub fn ylist<S: AsRef<str>>(items: &[S]) -> serde_yaml_ng::Value {
    serde_yaml_ng::Value::Sequence(items.iter().map(|s| ys(s.as_ref())).collect())
}

/// YAML documents separated by `---`.
pub fn yaml_docs(docs: &[serde_yaml_ng::Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml_ng::to_string(d).expect("YAML values always serialize"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The `variables` list of a policy.
pub fn yaml_named(items: &[Named]) -> serde_yaml_ng::Value {
    serde_yaml_ng::Value::Sequence(
        items
            .iter()
            .map(|n| {
                yaml_map(vec![
                    ("name", ys(&n.name)),
                    ("expression", ys(&n.expression)),
                ])
            })
            .collect(),
    )
}

/// The `validations` (VAP, ValidatingPolicy) or `expressions` (Kyverno cel) of one action.
pub fn yaml_validations(items: &[&Validation]) -> serde_yaml_ng::Value {
    serde_yaml_ng::Value::Sequence(
        items
            .iter()
            .map(|v| {
                yaml_map(vec![
                    ("expression", ys(&v.expression)),
                    ("message", ys(&v.message)),
                    ("messageExpression", ys(&v.message_expression)),
                ])
            })
            .collect(),
    )
}

/// `resourceRules` for the kinds of a rule (CREATE and UPDATE).
pub fn resource_rules(targets: &[&crate::ir::Target]) -> serde_yaml_ng::Value {
    // One entry per (group, version), resources sorted and deduplicated.
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for t in targets {
        let version = if t.gvk.version.is_empty() {
            "*".to_string()
        } else {
            t.gvk.version.clone()
        };
        let res = resource_name(&t.gvk.kind);
        match groups
            .iter_mut()
            .find(|(g, v, _)| *g == t.gvk.group && *v == version)
        {
            Some((_, _, r)) => {
                if !r.contains(&res) {
                    r.push(res)
                }
            }
            None => groups.push((t.gvk.group.clone(), version, vec![res])),
        }
    }
    serde_yaml_ng::Value::Sequence(
        groups
            .into_iter()
            .map(|(g, v, mut r)| {
                r.sort();
                yaml_map(vec![
                    ("apiGroups", ylist(&[g])),
                    ("apiVersions", ylist(&[v])),
                    ("operations", ylist(&["CREATE", "UPDATE"])),
                    ("resources", ylist(&r)),
                ])
            })
            .collect(),
    )
}
