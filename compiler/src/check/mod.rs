//! Name resolution and type checking against the Kubernetes schema; lowers the syntax tree
//! to the typed IR. Every error is collected: one run reports every mistake.

mod context;
mod expr;
mod fix;
mod generate;
mod removed;
pub mod types;

use std::collections::{BTreeMap, HashMap};

use crate::diagnostics::{did_you_mean, Diagnostic, FileId};
use crate::ir::{self, Gvk, Severity, Type};
use crate::schema::{KindInfo, Schema};
use crate::syntax::ast::{self, ExprKind, Item, MatchWhat, RuleItem, Span};
pub use context::{object_type as context_type, CONTROLLER_TYPE, REQUEST_TYPE};
use expr::{literal_text, Scope};

/// A function by (module, name).
pub type FnKey = (String, String);

/// A helper function's checked signature and its body, inlined at each call.
#[derive(Clone)]
struct FnInfo {
    file: FileId,
    params: Vec<(String, Type)>,
    ret: Type,
    body: ast::Expr,
}

/// The pod controllers of autogen (spec §3) and where their pod template is.
pub const POD_CONTROLLERS: &[(&str, &str, &str, &[&str])] = &[
    ("apps", "v1", "Deployment", &["spec", "template"]),
    ("apps", "v1", "StatefulSet", &["spec", "template"]),
    ("apps", "v1", "DaemonSet", &["spec", "template"]),
    ("apps", "v1", "ReplicaSet", &["spec", "template"]),
    ("", "v1", "ReplicationController", &["spec", "template"]),
    ("batch", "v1", "Job", &["spec", "template"]),
    (
        "batch",
        "v1",
        "CronJob",
        &["spec", "jobTemplate", "spec", "template"],
    ),
];

/// The most rules a policy set may hold (spec §2).
pub const MAX_RULES: usize = 1000;

/// The type checker's state for one program.
pub struct Checker<'s> {
    schema: &'s Schema,
    diags: Vec<Diagnostic>,
    functions: HashMap<FnKey, FnInfo>,
    /// (file, alias) → module, from `import a.b [as c]`.
    imports: HashMap<(FileId, String), String>,
    /// The type of every checked expression, when asked for (editor support).
    types: Option<Vec<TypeAt>>,
}

/// An expression's span in a file and its type.
pub type TypeAt = (FileId, Span, Type);

/// Checks parsed files against the schema and lowers them to IR. The program is `None`
/// when there are errors.
pub fn check_program(
    schema: &Schema,
    files: &[(FileId, &ast::SourceFile)],
    source_digest: String,
) -> (Option<ir::Program>, Vec<Diagnostic>) {
    let (program, diags, _) = check_program_typed(schema, files, source_digest, false);
    (program, diags)
}

/// [`check_program`], also returning the type of every expression when `record` is set.
pub fn check_program_typed(
    schema: &Schema,
    files: &[(FileId, &ast::SourceFile)],
    source_digest: String,
    record: bool,
) -> (Option<ir::Program>, Vec<Diagnostic>, Vec<TypeAt>) {
    let mut c = Checker {
        schema,
        diags: Vec::new(),
        functions: HashMap::new(),
        imports: HashMap::new(),
        types: record.then(Vec::new),
    };
    let modules: Vec<(FileId, String)> = files
        .iter()
        .filter_map(|(id, f)| f.module.as_ref().map(|m| (*id, m.text())))
        .collect();
    for (id, f) in files {
        if f.module.is_none() && !f.items.is_empty() {
            c.diags.push(
                Diagnostic::error(
                    "no-module",
                    *id,
                    Span::new(0, 0),
                    "this file does not declare its module",
                )
                .with_help("start the file with `module name`, e.g. `module team.security`"),
            );
        }
    }
    c.collect_imports_and_functions(files, &modules);
    let mut rules: Vec<ir::Rule> = Vec::new();
    let mut first_def: BTreeMap<String, (FileId, Span)> = BTreeMap::new();
    for (id, f) in files {
        let Some(module) = &f.module else { continue };
        let module = module.text();
        for item in &f.items {
            let Item::Rule(r) = item else { continue };
            let rule_id = format!("{module}.{}", r.name.name);
            if let Some((first_file, first_span)) = first_def.get(&rule_id) {
                let mut d = Diagnostic::error(
                    "duplicate-rule",
                    *id,
                    r.name.span,
                    format!("rule `{rule_id}` is defined twice"),
                )
                .with_label("second definition");
                if first_file == id {
                    d = d.with_secondary(*first_span, "first defined here");
                } else {
                    d = d.with_note(format!("first defined in {}", "another file of the module"));
                }
                c.diags.push(d);
                continue;
            }
            first_def.insert(rule_id.clone(), (*id, r.name.span));
            if let Some(rule) = c.rule(*id, &module, r) {
                rules.push(rule);
            }
        }
    }
    if rules.len() > MAX_RULES {
        c.diags.push(Diagnostic::file_error(
            "too-many-rules",
            format!(
                "the policy set has {} rules, more than the limit of {MAX_RULES}",
                rules.len()
            ),
        ));
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    dedup(&mut c.diags);
    let program = if c.diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        Some(ir::Program {
            rules,
            source_digest,
        })
    };
    (program, c.diags, c.types.unwrap_or_default())
}

/// Removes repeated diagnostics (a rule checked against several kinds reports once).
fn dedup(diags: &mut Vec<Diagnostic>) {
    let mut seen = Vec::new();
    diags.retain(|d| {
        let key = (d.file, d.span, d.message.clone());
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
}

impl<'s> Checker<'s> {
    fn collect_imports_and_functions(
        &mut self,
        files: &[(FileId, &ast::SourceFile)],
        modules: &[(FileId, String)],
    ) {
        let module_names: Vec<&str> = modules.iter().map(|(_, m)| m.as_str()).collect();
        for (id, f) in files {
            let Some(module) = &f.module else { continue };
            let module = module.text();
            for item in &f.items {
                match item {
                    Item::Import { path, alias, .. } => {
                        let target = path.text();
                        if !module_names.contains(&target.as_str()) {
                            let mut d = Diagnostic::error(
                                "unknown-module",
                                *id,
                                path.span,
                                format!("unknown module `{target}`"),
                            );
                            if let Some(s) = did_you_mean(&target, module_names.iter().copied()) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.diags.push(d);
                            continue;
                        }
                        let alias = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| {
                            path.parts
                                .last()
                                .map(|p| p.name.clone())
                                .unwrap_or_default()
                        });
                        self.imports.insert((*id, alias), target);
                    }
                    Item::Function(f) => {
                        let key = (module.clone(), f.name.name.clone());
                        if self.functions.contains_key(&key) {
                            self.diags.push(Diagnostic::error(
                                "duplicate-function",
                                *id,
                                f.name.span,
                                format!(
                                    "function `{}` is defined twice in module `{module}`",
                                    f.name.name
                                ),
                            ));
                            continue;
                        }
                        let params: Vec<(String, Type)> = f
                            .params
                            .iter()
                            .map(|(n, t)| (n.name.clone(), self.type_expr(*id, t)))
                            .collect();
                        let ret = self.type_expr(*id, &f.ret);
                        self.functions.insert(
                            key,
                            FnInfo {
                                file: *id,
                                params,
                                ret,
                                body: f.body.clone(),
                            },
                        );
                    }
                    _ => {}
                }
            }
        }
        // Check each body once, against its declared types; call sites inline quietly.
        let mut keys: Vec<FnKey> = self.functions.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let f = self.functions[&key].clone();
            let mut scope = new_scope(f.file, &key.0);
            scope.inlining.push(key.clone());
            for (n, t) in &f.params {
                scope.bind(n, t.clone());
            }
            let what = format!("the body of `{}`", key.1);
            self.expect(&mut scope, &f.body, &f.ret, &what);
        }
    }

    /// Resolves a written type; `T?` is optional.
    fn type_expr(&mut self, file: FileId, t: &ast::TypeExpr) -> Type {
        let ty = self.type_expr_present(file, t);
        if t.optional && ty != Type::Any {
            ty.optional()
        } else {
            ty
        }
    }

    fn type_expr_present(&mut self, file: FileId, t: &ast::TypeExpr) -> Type {
        match (t.name.name.as_str(), &t.arg) {
            ("list", Some(arg)) => Type::List(Box::new(self.type_expr(file, arg))),
            ("map", Some(arg)) => Type::Map(Box::new(self.type_expr(file, arg))),
            ("list" | "map", None) => {
                self.diags.push(Diagnostic::error(
                    "unknown-type",
                    file,
                    t.span,
                    format!(
                        "`{}` needs an element type, e.g. `{}<string>`",
                        t.name.name, t.name.name
                    ),
                ));
                Type::Any
            }
            (name, Some(_)) => {
                self.diags.push(Diagnostic::error(
                    "unknown-type",
                    file,
                    t.span,
                    format!("`{name}` takes no type argument"),
                ));
                Type::Any
            }
            (name, None) => match types::named(self.schema, name) {
                Ok(t) => t,
                Err(candidates) if !candidates.is_empty() => {
                    let shortest: Vec<String> = candidates
                        .iter()
                        .map(|c| self.shortest_type_name(c))
                        .collect();
                    self.diags.push(
                        Diagnostic::error(
                            "ambiguous-type",
                            file,
                            t.span,
                            format!("type name `{name}` is ambiguous"),
                        )
                        .with_note(format!("candidates: {}", candidates.join(", ")))
                        .with_help(format!(
                            "write one of `{}` (or the full name)",
                            shortest.join("`, `")
                        )),
                    );
                    Type::Any
                }
                Err(_) => {
                    let mut d = Diagnostic::error(
                        "unknown-type",
                        file,
                        t.span,
                        format!("unknown type `{name}`"),
                    );
                    let shorts: Vec<&str> = self
                        .schema
                        .types
                        .keys()
                        .map(|k| crate::schema::short_name(k))
                        .collect();
                    if let Some(s) =
                        did_you_mean(name, types::BUILTIN_TYPES.iter().copied().chain(shorts))
                    {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                    Type::Any
                }
            },
        }
    }

    /// The fewest trailing dotted segments of a schema type name that name it alone.
    fn shortest_type_name(&self, full: &str) -> String {
        let segments: Vec<&str> = full.split('.').collect();
        (1..=segments.len())
            .map(|k| segments[segments.len() - k..].join("."))
            .find(|s| self.schema.resolve_type_name(s).as_deref() == Ok(full))
            .unwrap_or_else(|| full.to_string())
    }

    /// Resolves `Kind`, `group/Kind` or `group/version/Kind` (core group: `core`).
    fn resolve_kind(&mut self, file: FileId, text: &str, span: Span) -> Vec<KindInfo> {
        if text == ir::EVERY_KIND {
            // `match *`: every object, read as `any` (spec §3 "Matching").
            return vec![KindInfo {
                group: ir::EVERY_KIND.into(),
                version: String::new(),
                kind: ir::EVERY_KIND.into(),
                namespaced: true,
                type_name: String::new(),
            }];
        }
        let parts: Vec<&str> = text.split('/').collect();
        let (group, version, kind) = match parts.as_slice() {
            [k] => (None, None, *k),
            [g, k] => (Some(*g), None, *k),
            [g, v, k] => (Some(*g), Some(*v), *k),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        "unknown-kind",
                        file,
                        span,
                        format!("`{text}` is not a kind"),
                    )
                    .with_help("write `Kind`, `group/Kind` or `group/version/Kind`"),
                );
                return Vec::new();
            }
        };
        let group = group.map(|g| if g == "core" { "" } else { g });
        let mut found: Vec<KindInfo> = self
            .schema
            .find_kinds(group, version, kind)
            .into_iter()
            .cloned()
            .collect();
        if let (true, Some(g), Some(v)) = (found.is_empty(), group, version) {
            found.extend(removed::find(self.schema, g, v, kind));
        }
        if found.is_empty() {
            let mut d =
                Diagnostic::error("unknown-kind", file, span, format!("unknown kind `{text}`"))
                    .with_label("not in the Kubernetes schema or a loaded CRD");
            if let Some(s) = did_you_mean(kind, self.schema.kind_names()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            } else {
                d = d.with_help(
                    "load the CustomResourceDefinition with `import \"path/to/crd.yaml\"`",
                );
            }
            self.diags.push(d);
        }
        found
    }

    fn rule(&mut self, file: FileId, module: &str, r: &ast::RuleDef) -> Option<ir::Rule> {
        let errors_before = self.diags.iter().filter(|d| d.is_error()).count();
        let mut meta = ir::RuleMeta {
            title: String::new(),
            description: String::new(),
            rationale: String::new(),
            category: String::new(),
            remediation: String::new(),
            severity: Severity::Medium,
            controls: Vec::new(),
        };
        let mut has_title = false;
        // A misspelled `title` was reported as unknown metadata: it is not missing too.
        let misspelled_title = r.items.iter().any(|i| {
            matches!(i, RuleItem::Meta { key, .. }
                if key.name != "title" && did_you_mean(&key.name, ["title"]).is_some())
        });
        let mut matcher = ir::Matcher::default();
        let mut kinds: Vec<KindInfo> = Vec::new();
        let mut autogen = true;
        for item in &r.items {
            match item {
                RuleItem::Meta { key, value } => {
                    has_title |= key.name == "title";
                    self.meta(file, &mut meta, key, value);
                }
                RuleItem::Match {
                    exclude,
                    what,
                    span,
                } => match what {
                    MatchWhat::Kinds(refs) => {
                        if *exclude {
                            self.diags.push(
                                Diagnostic::error(
                                    "exclude-kind",
                                    file,
                                    *span,
                                    "kinds cannot be excluded",
                                )
                                .with_help("list the kinds the rule matches instead"),
                            );
                            continue;
                        }
                        for k in refs {
                            for info in self.resolve_kind(file, &k.text, k.span) {
                                if !kinds.contains(&info) {
                                    kinds.push(info);
                                }
                            }
                        }
                    }
                    MatchWhat::Namespaces(list) => {
                        let globs = self.string_list(file, list);
                        if *exclude {
                            matcher.exclude_namespaces.extend(globs)
                        } else {
                            matcher.namespaces.extend(globs)
                        }
                    }
                    MatchWhat::Labels(map) => {
                        let pairs = self.string_map(file, map);
                        if *exclude {
                            matcher.exclude_labels.extend(pairs)
                        } else {
                            matcher.labels.extend(pairs)
                        }
                    }
                },
                RuleItem::AutogenOff(_) => autogen = false,
                _ => {}
            }
        }
        // A rule with a syntax error is incomplete: say nothing more about what it lacks.
        let broken = r.items.iter().any(|i| matches!(i, RuleItem::Error(_)));
        if !has_title && !broken && !misspelled_title {
            self.diags.push(
                Diagnostic::error(
                    "missing-title",
                    file,
                    r.name.span,
                    format!("rule `{}` has no title", r.name.name),
                )
                .with_help("add a line such as `title \"Containers must not be privileged\"`"),
            );
        }
        let has_match = r.items.iter().any(|i| {
            matches!(
                i,
                RuleItem::Match {
                    what: MatchWhat::Kinds(_),
                    exclude: false,
                    ..
                }
            )
        });
        if !has_match && !broken {
            self.diags.push(
                Diagnostic::error(
                    "missing-match",
                    file,
                    r.name.span,
                    format!("rule `{}` matches no kind", r.name.name),
                )
                .with_help("add a line such as `match Pod`"),
            );
        }
        if !broken && !r.items.iter().any(|i| matches!(i, RuleItem::Outcome(_))) {
            self.diags.push(Diagnostic::error(
                "missing-outcome",
                file,
                r.name.span,
                format!("rule `{}` has no `deny` or `warn`", r.name.name),
            ));
        }
        for k in &kinds {
            matcher.targets.push(ir::Target {
                gvk: Gvk {
                    group: k.group.clone(),
                    version: k.version.clone(),
                    kind: k.kind.clone(),
                },
                subject_path: Vec::new(),
                namespaced: k.namespaced,
            });
        }
        if autogen && kinds.iter().any(|k| k.group.is_empty() && k.kind == "Pod") {
            for (group, version, kind, path) in POD_CONTROLLERS {
                let gvk = Gvk {
                    group: group.to_string(),
                    version: version.to_string(),
                    kind: kind.to_string(),
                };
                if !matcher.targets.iter().any(|t| t.gvk == gvk) {
                    matcher.targets.push(ir::Target {
                        gvk,
                        subject_path: path.iter().map(|s| s.to_string()).collect(),
                        namespaced: true,
                    });
                }
            }
        }
        // Check the body against each distinct subject type; the IR comes from the first.
        let mut subject_types: Vec<Type> = Vec::new();
        for k in &kinds {
            let t = kind_type(k);
            if !subject_types.contains(&t) {
                subject_types.push(t);
            }
        }
        if subject_types.is_empty() {
            subject_types.push(Type::Any);
        }
        let several = subject_types.len() > 1;
        let autogen = matcher.targets.iter().any(|t| !t.subject_path.is_empty());
        let mut lowered = None;
        for subject in subject_types {
            let before = self.diags.len();
            let note = format!(
                "while checking the rule against `{}`",
                types::show(&subject)
            );
            let body = self.rule_body(file, module, r, subject, autogen);
            if several {
                for d in &mut self.diags[before..] {
                    d.notes.push(format!("note: {note}"));
                }
            }
            lowered.get_or_insert(body);
        }
        let (params, lets, outcomes, scope) = lowered?;
        let outcome_defs: Vec<&ast::OutcomeDef> = r
            .items
            .iter()
            .filter_map(|i| match i {
                RuleItem::Outcome(o) => Some(o),
                _ => None,
            })
            .collect();
        if !scope.reads_kinds.is_empty() {
            for f in outcome_defs.iter().flat_map(|o| &o.fixes) {
                self.diags.push(
                    Diagnostic::error(
                        "fix-on-set-rule",
                        file,
                        f.span,
                        "a rule that reads `objects(Kind)` cannot have `fix` clauses",
                    )
                    .with_note(
                        "a set rule's finding depends on other objects; fixes repair one object",
                    ),
                );
            }
        }
        if scope.reads_kinds.is_empty() {
            for g in outcome_defs.iter().filter_map(|o| o.generate.as_ref()) {
                self.diags.push(
                    Diagnostic::error(
                        "generate-on-object-rule",
                        file,
                        g.span,
                        "only a set rule can generate objects",
                    )
                    .with_help("repair the object itself with `fix` clauses")
                    .with_note(
                        "a set rule reads `objects(Kind)` or a view; its finding is closed by an object that is missing from the set",
                    ),
                );
            }
        }
        let errors_after = self.diags.iter().filter(|d| d.is_error()).count();
        if errors_after > errors_before {
            return None;
        }
        let rule = ir::Rule {
            id: format!("{module}.{}", r.name.name),
            module: module.to_string(),
            name: r.name.name.clone(),
            meta,
            matcher,
            params,
            lets,
            outcomes,
            locals: scope.local_names.len() as u32,
            reads_kinds: scope.reads_kinds,
            local_names: scope.local_names,
            origin: ir::Origin {
                file,
                span: r.name.span,
            },
        };
        self.check_fixes_stop(file, &rule, &outcome_defs);
        let errors_after = self.diags.iter().filter(|d| d.is_error()).count();
        (errors_after == errors_before).then_some(rule)
    }

    #[allow(clippy::type_complexity)]
    fn rule_body(
        &mut self,
        file: FileId,
        module: &str,
        r: &ast::RuleDef,
        subject: Type,
        autogen: bool,
    ) -> (
        Vec<ir::Param>,
        Vec<(ir::Local, ir::Expr)>,
        Vec<ir::Outcome>,
        Scope,
    ) {
        let mut scope = new_scope(file, module);
        scope.subject = Some(subject);
        scope.autogen = autogen;
        let mut params = Vec::new();
        let mut lets = Vec::new();
        let mut outcomes = Vec::new();
        for item in &r.items {
            match item {
                RuleItem::Param {
                    name, ty, default, ..
                } => {
                    let ty = self.type_expr(file, ty);
                    let subject = scope.subject.take();
                    let value = self.expect(
                        &mut scope,
                        default,
                        &ty,
                        &format!("the default of `{}`", name.name),
                    );
                    scope.subject = subject;
                    let Some(value) = constant(&value) else {
                        self.report(
                            &scope,
                            Diagnostic::error(
                                "not-constant",
                                file,
                                default.span,
                                "a parameter default must be a constant",
                            ),
                        );
                        continue;
                    };
                    if scope.params.iter().any(|(n, _)| *n == name.name) {
                        self.report(
                            &scope,
                            Diagnostic::error(
                                "duplicate-param",
                                file,
                                name.span,
                                format!("parameter `{}` is declared twice", name.name),
                            ),
                        );
                    }
                    scope.params.push((name.name.clone(), ty.clone()));
                    params.push(ir::Param {
                        name: name.name.clone(),
                        ty,
                        default: value,
                    });
                }
                RuleItem::Let { name, value } => {
                    let v = self.expr(&mut scope, value);
                    let local = scope.bind(&name.name, v.ty.clone());
                    lets.push((local, v));
                }
                RuleItem::Outcome(o) => {
                    if let Some(out) = self.outcome(&mut scope, o) {
                        outcomes.push(out);
                    }
                }
                _ => {}
            }
        }
        (params, lets, outcomes, scope)
    }

    fn outcome(&mut self, scope: &mut Scope, o: &ast::OutcomeDef) -> Option<ir::Outcome> {
        let mut binders = Vec::new();
        let mut pushed = 0;
        let mut binder_names: Vec<(String, ir::Local)> = Vec::new();
        // The outcome's `let`s, outermost first: wrapped around every expression after them.
        let mut lets: Vec<(ir::Local, ir::Expr)> = Vec::new();
        for (i, b) in o.binders.iter().enumerate() {
            pushed += self.outcome_lets(scope, o, i, &mut lets);
            let coll = wrap_lets(&lets, self.expr(scope, &b.collection));
            let (key, item, n) =
                self.bind_iteration(scope, &coll, b.collection.span, &b.first, b.second.as_ref())?;
            pushed += n;
            let item_name = b.second.as_ref().unwrap_or(&b.first).name.clone();
            binder_names.push((item_name, item));
            binders.push(ir::Binder {
                item,
                key,
                collection: coll,
            });
        }
        pushed += self.outcome_lets(scope, o, o.binders.len(), &mut lets);
        let when = o.when.as_ref().map(|w| {
            let w = self.expect(scope, w, &Type::Bool, "a `when` condition");
            wrap_lets(&lets, w)
        });
        let at = match &o.at {
            Some(at) => {
                self.expr(scope, at);
                self.at_path(scope, at, &binder_names)
            }
            None => match binder_names.last() {
                Some((_, local)) => ir::PathExpr {
                    root: ir::PathRoot::Binder(*local),
                    steps: Vec::new(),
                },
                None => ir::PathExpr {
                    root: ir::PathRoot::Subject,
                    steps: Vec::new(),
                },
            },
        };
        let text = self.expect(scope, &o.message, &Type::String, "a message");
        let mut message = Vec::new();
        message_parts(text, &mut message);
        for part in &mut message {
            if let ir::MessagePart::Expr(x) = part {
                *x = wrap_lets(
                    &lets,
                    std::mem::replace(x, ir::Expr::lit(ir::Value::Null, Type::Null)),
                );
            }
        }
        let fixes = self.fixes(scope, o, &at, &binder_names, &binders);
        let generate = o.generate.as_ref().and_then(|g| self.generate(scope, g));
        scope.pop(pushed);
        Some(ir::Outcome {
            action: o.action,
            binders,
            when,
            at,
            message,
            fixes,
            generate,
        })
    }

    /// Binds the outcome's `let`s that follow binder number `after`; returns how many.
    fn outcome_lets(
        &mut self,
        scope: &mut Scope,
        o: &ast::OutcomeDef,
        after: usize,
        lets: &mut Vec<(ir::Local, ir::Expr)>,
    ) -> usize {
        let mut n = 0;
        for l in o.lets.iter().filter(|l| l.after == after) {
            // Its value sees the `let`s before it: they are wrapped around it at each use.
            let v = self.expr(scope, &l.value);
            let local = scope.bind(&l.name.name, v.ty.clone());
            lets.push((local, v));
            n += 1;
        }
        n
    }

    /// Lowers the `at` expression to a path: `object` or a binder, then fields and constant indexes.
    fn at_path(
        &mut self,
        scope: &Scope,
        at: &ast::Expr,
        binders: &[(String, ir::Local)],
    ) -> ir::PathExpr {
        if let Some(path) = fix::lower_path(at, binders) {
            return path;
        }
        let d = Diagnostic::error(
            "bad-at",
            scope.file,
            at.span,
            "`at` must be a field path starting at `object` or a `for` variable",
        )
        .with_help("e.g. `at c.securityContext.privileged` or `at object.spec.hostNetwork`")
        .with_note("indexes in the path must be literal");
        self.diags.push(d);
        ir::PathExpr {
            root: ir::PathRoot::Subject,
            steps: Vec::new(),
        }
    }

    fn meta(&mut self, file: FileId, meta: &mut ir::RuleMeta, key: &ast::Ident, value: &ast::Expr) {
        let text = |c: &mut Self, what: &str| -> String {
            match literal_text(value) {
                Some(t) => t,
                // A string whose interpolation failed to parse was already reported.
                None if has_broken_part(value) => String::new(),
                None => {
                    let msg = if matches!(value.kind, ExprKind::Str(_)) {
                        format!("`{what}` cannot interpolate")
                    } else {
                        format!("`{what}` must be a string")
                    };
                    c.diags
                        .push(Diagnostic::error("bad-metadata", file, value.span, msg));
                    String::new()
                }
            }
        };
        match key.name.as_str() {
            "title" => meta.title = text(self, "title"),
            "description" => meta.description = text(self, "description"),
            "rationale" => meta.rationale = text(self, "rationale"),
            "category" => meta.category = text(self, "category"),
            "remediation" => meta.remediation = text(self, "remediation"),
            "severity" => {
                let word = match &value.kind {
                    ExprKind::Var(id) => id.name.as_str(),
                    _ => "",
                };
                meta.severity = match word {
                    "low" => Severity::Low,
                    "medium" => Severity::Medium,
                    "high" => Severity::High,
                    "critical" => Severity::Critical,
                    _ => {
                        let mut d = Diagnostic::error(
                            "bad-severity",
                            file,
                            value.span,
                            "severity must be `low`, `medium`, `high` or `critical`",
                        );
                        if let Some(s) = did_you_mean(word, ["low", "medium", "high", "critical"]) {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        self.diags.push(d);
                        Severity::Medium
                    }
                };
            }
            "controls" => meta.controls = self.string_list(file, value),
            other => {
                let known = [
                    "title",
                    "description",
                    "rationale",
                    "category",
                    "remediation",
                    "severity",
                    "controls",
                ];
                let mut d = Diagnostic::error(
                    "unknown-metadata",
                    file,
                    key.span,
                    format!("unknown rule metadata `{other}`"),
                );
                if let Some(s) = did_you_mean(other, known) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    d = d.with_note(format!("known metadata: {}", known.join(", ")));
                }
                self.diags.push(d);
            }
        }
    }

    fn string_list(&mut self, file: FileId, list: &ast::Expr) -> Vec<String> {
        let ExprKind::List(items) = &list.kind else {
            self.diags.push(Diagnostic::error(
                "bad-metadata",
                file,
                list.span,
                "expected a list of strings",
            ));
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|i| {
                let t = literal_text(i);
                if t.is_none() {
                    self.diags.push(Diagnostic::error(
                        "bad-metadata",
                        file,
                        i.span,
                        "expected a plain string",
                    ));
                }
                t
            })
            .collect()
    }

    fn string_map(&mut self, file: FileId, map: &ast::Expr) -> Vec<(String, String)> {
        let ExprKind::Map(entries) = &map.kind else {
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(k, v)| match (literal_text(k), literal_text(v)) {
                (Some(k), Some(v)) => Some((k, v)),
                _ => {
                    self.diags.push(Diagnostic::error(
                        "bad-metadata",
                        file,
                        v.span,
                        "label selectors take plain strings",
                    ));
                    None
                }
            })
            .collect()
    }
}

/// `let local = value in x` for each outcome `let`, outermost first.
fn wrap_lets(lets: &[(ir::Local, ir::Expr)], x: ir::Expr) -> ir::Expr {
    lets.iter().rev().fold(x, |body, (local, value)| ir::Expr {
        ty: body.ty.clone(),
        kind: ir::ExprKind::Let(*local, Box::new(value.clone()), Box::new(body)),
    })
}

/// The parts of a message: string concatenations are flattened into their pieces.
fn message_parts(x: ir::Expr, out: &mut Vec<ir::MessagePart>) {
    match x.kind {
        ir::ExprKind::Binary(ir::BinOp::Add, a, b) if x.ty == Type::String => {
            message_parts(*a, out);
            message_parts(*b, out);
        }
        ir::ExprKind::Lit(ir::Value::String(s)) => out.push(ir::MessagePart::Text(s)),
        ir::ExprKind::Interpolate(parts) => out.extend(parts),
        kind => out.push(ir::MessagePart::Expr(ir::Expr { ty: x.ty, kind })),
    }
}

/// The type of a kind's objects: `any` for a removed version read without a schema.
pub(crate) fn kind_type(k: &KindInfo) -> Type {
    if k.type_name.is_empty() {
        Type::Any
    } else {
        Type::Object(k.type_name.clone())
    }
}

/// The warning for a file that parsed but holds nothing: empty, or only `module x`.
pub fn no_rules(file: FileId, ast: &ast::SourceFile) -> Option<Diagnostic> {
    if !ast.items.is_empty() {
        return None;
    }
    let (what, span) = match &ast.module {
        Some(m) => (format!("module `{}` has no rules", m.text()), m.span),
        None => ("this file has no rules".to_string(), Span::default()),
    };
    Some(
        Diagnostic::warning("no-rules", file, span, what).with_help(
            "add a rule: `rule name { title \"…\" match Pod deny when … message \"…\" }`",
        ),
    )
}

/// Whether a string literal holds an interpolation that did not parse.
fn has_broken_part(x: &ast::Expr) -> bool {
    match &x.kind {
        ExprKind::Str(parts) => parts
            .iter()
            .any(|p| matches!(p, ast::StrPart::Expr(e) if matches!(e.kind, ExprKind::Error))),
        _ => false,
    }
}

fn new_scope(file: FileId, module: &str) -> Scope {
    Scope {
        file,
        module: module.to_string(),
        bindings: Vec::new(),
        local_names: Vec::new(),
        params: Vec::new(),
        subject: None,
        autogen: false,
        reads_kinds: Vec::new(),
        inlining: Vec::new(),
        quiet: 0,
    }
}

/// The constant value of a literal expression, if it is one.
fn constant(x: &ir::Expr) -> Option<ir::Value> {
    match &x.kind {
        ir::ExprKind::Lit(v) => Some(v.clone()),
        ir::ExprKind::List(items) => items
            .iter()
            .map(constant)
            .collect::<Option<Vec<_>>>()
            .map(ir::Value::List),
        ir::ExprKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| constant(v).map(|v| (k.clone(), v)))
            .collect::<Option<Vec<_>>>()
            .map(ir::Value::Map),
        // A quantity parameter's default is written `quantity("2Gi")`; its value is the text.
        ir::ExprKind::Call(ir::Builtin::Quantity, args) => constant(args.first()?),
        ir::ExprKind::Unary(ir::UnOp::Neg, inner) => match constant(inner)? {
            ir::Value::Int(n) => Some(ir::Value::Int(-n)),
            ir::Value::Number(n) => Some(ir::Value::Number(-n)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `text` is a Kubernetes quantity: a signed decimal number with an optional
/// binary (`Ki`…`Ei`), decimal (`n u m k M G T P E`) or exponent (`e3`) suffix.
pub fn is_quantity(text: &str) -> bool {
    let s = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    let valid_number = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let valid_suffix = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || ((suffix.starts_with('e') || suffix.starts_with('E'))
        && suffix.len() > 1
        && suffix[1..]
            .strip_prefix(['+', '-'])
            .unwrap_or(&suffix[1..])
            .chars()
            .all(|c| c.is_ascii_digit())
        && !suffix[1..]
            .strip_prefix(['+', '-'])
            .unwrap_or(&suffix[1..])
            .is_empty());
    valid_number && valid_suffix
}

/// Checks a regular expression against the subset the backends support (spec §4.4).
pub fn validate_regex(re: &str) -> Result<(), String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(re)
        .map_err(|e| {
            // The parser's message spans several lines; its first line names the problem.
            e.to_string()
                .lines()
                .last()
                .unwrap_or("syntax error")
                .trim_start_matches("error: ")
                .trim()
                .to_string()
        })?;
    if hir
        .properties()
        .look_set()
        .contains(regex_syntax::hir::Look::WordAscii)
        || hir
            .properties()
            .look_set()
            .contains(regex_syntax::hir::Look::WordUnicode)
    {
        return Err("word boundaries (`\\b`) are not supported".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["1", "500m", "1.5", "128Mi", "1Gi", "1e3", "+2", "-1k", ".5"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "1GB", "abc", "1..2", "Mi", "1e", "1Gi2"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn regexes() {
        assert!(validate_regex("^[a-z]+(-[a-z0-9]+)*$").is_ok());
        assert!(validate_regex("(a").is_err());
        assert!(validate_regex(r"\bword").is_err());
    }
}
