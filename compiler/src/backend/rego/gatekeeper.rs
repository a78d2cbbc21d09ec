//! The OPA Gatekeeper exporter: one ConstraintTemplate per rule in `templates/`, its
//! Constraint in `constraints/`, and a SyncSet (in `templates/`) for the kinds that set rules
//! read through `data.inventory`. The two folders are applied in that order: a Constraint's
//! kind only exists once Gatekeeper has turned its template into a CRD.
//!
//! Scoping is written twice on purpose: the Constraint's `match` carries what Gatekeeper can
//! express (kinds, simple namespace globs, exact labels) so that Gatekeeper skips unrelated
//! objects early, and the Rego re-checks the rule's exact matcher (version, `?` globs, label
//! globs, cluster-scoped objects), so the verdict is the Wasm evaluator's.
//!
//! With [`Engines::RegoAndCel`] (`rampart build --target gatekeeper-cel`) each template
//! carries both engines in `code`: `K8sNativeValidation` with the CEL backend's expressions
//! (Gatekeeper ≥ 3.16 runs it when its CEL driver is on) and `Rego` with the same module as
//! above; rules CEL cannot express (set rules) keep the Rego engine alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{json, Map, Value as Json};

use crate::backend::cel::{self, CelRule, Dialect};
use crate::backend::rego;
use crate::ir::{self, Action, Type};
use crate::names;

/// The name of this target in diagnostics.
pub const TARGET: &str = "gatekeeper";

/// The name of the target with both engines, in diagnostics.
pub const TARGET_CEL: &str = "gatekeeper-cel";

/// The folder of the ConstraintTemplates (and the SyncSet): applied first.
pub const TEMPLATES_DIR: &str = "templates";

/// The folder of the Constraints: applied once Gatekeeper has made their CRDs.
pub const CONSTRAINTS_DIR: &str = "constraints";

/// Which engines the ConstraintTemplates carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engines {
    /// `spec.targets[0].rego` only.
    #[default]
    Rego,
    /// `spec.targets[0].code`: `K8sNativeValidation` (CEL) and `Rego`.
    RegoAndCel,
}

/// One file to write below the output folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Relative path, e.g. `pss-baseline-privileged.yaml`.
    pub path: String,
    pub contents: String,
}

/// A rule that cannot be exported to Gatekeeper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportError {
    /// Id of the rule.
    pub rule: String,
    /// The construct that cannot be exported.
    pub construct: String,
    /// The target (`gatekeeper`).
    pub target: &'static str,
    /// Why.
    pub message: String,
    /// The other rule, when two rules clash.
    pub other: Option<String>,
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule `{}`: {} cannot be exported to {}: {}",
            self.rule, self.construct, self.target, self.message
        )
    }
}

impl std::error::Error for ExportError {}

/// What an export produced.
#[derive(Clone, Debug, Default)]
pub struct Exported {
    /// The files, sorted by path: the same bytes on every run.
    pub files: Vec<OutputFile>,
    /// The rules left out, each with why (a rule that reads `who_can`; without
    /// `referential`, a rule that reads other objects): the other rules are exported.
    pub gaps: Vec<ExportError>,
    /// With [`Engines::RegoAndCel`]: the rules whose template has no CEL engine (the
    /// construct CEL cannot express), only the Rego one.
    pub rego_only: Vec<cel::ExportError>,
}

/// Exports every rule of `program` that Gatekeeper can run, the rules that read other
/// objects included (through a SyncSet); the others are [`Exported::gaps`].
pub fn export(program: &ir::Program) -> Result<Exported, Vec<ExportError>> {
    export_engines(program, Engines::Rego, true)
}

/// Exports every rule that Gatekeeper can run with the given engines; with `referential`,
/// also the rules that read other objects (else they are gaps: at admission their verdict
/// would depend on what Gatekeeper has synced). The error is every problem that stops the
/// whole export (a name clash, a rule matching no kind).
pub fn export_engines(
    program: &ir::Program,
    engines: Engines,
    referential: bool,
) -> Result<Exported, Vec<ExportError>> {
    let mut rego_only = Vec::new();
    let mut gaps = Vec::new();
    let mut errors = Vec::new();
    let mut files = Vec::new();
    let mut claims = names::Claims::default();
    let mut sync: BTreeSet<ir::Gvk> = BTreeSet::new();
    for rule in &program.rules {
        let kind = kind_name(&rule.id);
        let name = constraint_name(&rule.id);
        let error = |construct: &str, message: String| ExportError {
            rule: rule.id.clone(),
            construct: construct.to_string(),
            target: TARGET,
            message,
            other: None,
        };
        if rule.reads_view() {
            gaps.push(error("who_can()", crate::views::NOT_EXPORTED.into()));
            continue;
        }
        if rule.reads_other_objects() && !referential {
            let mut message = "at admission its verdict would depend on what Gatekeeper has \
                               synced, not on the manifests `rampart test` checks; export it \
                               with `--referential`"
                .to_string();
            if rule.generates() {
                message = format!("{message}; {}", cel::GENERATE_NOT_EXPORTED);
            }
            gaps.push(error("reading other objects (`objects(...)`)", message));
            continue;
        }
        // The template's name is its kind in lowercase; files are named after the Constraint.
        claims.claim("ConstraintTemplate kind", &kind, &rule.id);
        claims.claim("Constraint name", &name, &rule.id);
        if rule.matcher.targets.is_empty() {
            errors.push(error("match", "the rule matches no kind".into()));
            continue;
        }
        for gvk in &rule.reads_kinds {
            if gvk.version.is_empty() {
                errors.push(error(
                    "objects()",
                    format!("kind `{}` has no version, which a SyncSet needs", gvk.kind),
                ));
            }
            sync.insert(gvk.clone());
        }
        let compiled = match engines {
            Engines::Rego => None,
            Engines::RegoAndCel => match cel::compile_rule(rule, Dialect::Gatekeeper, TARGET_CEL) {
                Ok(c) => Some(c),
                Err(e) => {
                    rego_only.push(e);
                    None
                }
            },
        };
        let template = template(rule, &kind, compiled.as_ref());
        let constraint = constraint(rule, &kind, &name);
        let target = match engines {
            Engines::Rego => TARGET,
            Engines::RegoAndCel => TARGET_CEL,
        };
        let header = |what: &str| {
            format!(
                "# Rampart rule {}: {}\n# {what}\n# Generated by `rampart build --target {target}`; do not edit.\n",
                rule.id,
                rego::comment_text(&rule.meta.title)
            )
        };
        files.push(OutputFile {
            path: format!("{TEMPLATES_DIR}/{name}.yaml"),
            contents: format!(
                "{}{}",
                header("Apply before its Constraint (constraints/), which needs the CRD Gatekeeper makes from it."),
                to_yaml(&template)
            ),
        });
        files.push(OutputFile {
            path: format!("{CONSTRAINTS_DIR}/{name}.yaml"),
            contents: format!(
                "{}{}",
                header("Apply once Gatekeeper has created the CRD of its template (templates/)."),
                to_yaml(&constraint)
            ),
        });
    }
    errors.extend(claims.into_clashes().into_iter().map(|c| ExportError {
        rule: c.second.clone(),
        construct: "rule id".into(),
        target: TARGET,
        message: format!(
            "its {} `{}` is also that of rule `{}`",
            c.what, c.name, c.first
        ),
        other: Some(c.first),
    }));
    if !errors.is_empty() {
        return Err(errors);
    }
    if !sync.is_empty() {
        let gvks: Vec<Json> = sync
            .iter()
            .map(|g| json!({"group": g.group, "version": g.version, "kind": g.kind}))
            .collect();
        let syncset = json!({
            "apiVersion": "syncset.gatekeeper.sh/v1alpha1",
            "kind": "SyncSet",
            "metadata": {"name": "rampart"},
            "spec": {"gvks": gvks},
        });
        files.push(OutputFile {
            path: format!("{TEMPLATES_DIR}/sync.yaml"),
            contents: format!(
                "# The kinds that Rampart set rules read through data.inventory.\n{}",
                to_yaml(&syncset)
            ),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Exported {
        files,
        gaps,
        rego_only,
    })
}

pub(crate) fn to_yaml(v: &Json) -> String {
    serde_yaml_ng::to_string(v).expect("JSON values serialize to YAML")
}

/// The template kind of a rule: `pss.baseline.privileged` → `PssBaselinePrivileged`
/// (shortened with a hash suffix beyond 63 characters).
pub fn kind_name(rule_id: &str) -> String {
    names::kind(rule_id)
}

/// The Constraint (and file) name of a rule: `pss.baseline.privileged` → `pss-baseline-privileged`
/// (shortened with a hash suffix beyond 63 characters).
pub fn constraint_name(rule_id: &str) -> String {
    names::fit(&names::label(rule_id))
}

/// The `K8sNativeValidation` source of a rule: Gatekeeper's CEL driver reads the same
/// `variables`, `matchConditions` and `validations` as a ValidatingAdmissionPolicy.
fn cel_source(compiled: &CelRule) -> Json {
    let validations: Vec<&cel::Validation> = compiled.validations.iter().collect();
    let mut source = serde_json::to_value(cel::yaml_map(compiled.yaml_fields(&validations)))
        .expect("a map of strings is JSON");
    // Fail closed whatever `--default-k8s-native-validation-failure-policy` says: an
    // expression that errors denies, as the Rego engine's errors do.
    source["failurePolicy"] = "Fail".into();
    source
}

fn template(rule: &ir::Rule, kind: &str, compiled: Option<&CelRule>) -> Json {
    let package = kind.to_lowercase();
    let mut annotations = Map::new();
    annotations.insert("rampart.dev/rule".into(), rule.id.clone().into());
    annotations.insert(
        "metadata.gatekeeper.sh/title".into(),
        rule.meta.title.clone().into(),
    );
    if !rule.meta.description.is_empty() {
        annotations.insert("description".into(), rule.meta.description.clone().into());
    }
    annotations.insert(
        "rampart.dev/severity".into(),
        rule.meta.severity.as_str().into(),
    );
    if !rule.meta.category.is_empty() {
        annotations.insert(
            "rampart.dev/category".into(),
            rule.meta.category.clone().into(),
        );
    }
    if !rule.meta.controls.is_empty() {
        annotations.insert(
            "rampart.dev/controls".into(),
            rule.meta.controls.join(", ").into(),
        );
    }
    if !rule.meta.remediation.is_empty() {
        annotations.insert(
            "rampart.dev/remediation".into(),
            rule.meta.remediation.clone().into(),
        );
    }
    if rule.reads_other_objects() {
        // One requirement per kind, each satisfied by syncing exactly that kind.
        let reqs: Vec<Json> = rule
            .reads_kinds
            .iter()
            .map(|g| json!([{"groups": [g.group], "versions": [g.version], "kinds": [g.kind]}]))
            .collect();
        annotations.insert(
            "metadata.gatekeeper.sh/requires-sync-data".into(),
            Json::String(Json::Array(reqs).to_string()),
        );
    }
    let mut properties = Map::new();
    for p in &rule.params {
        properties.insert(p.name.clone(), param_schema(&p.ty));
    }
    let mut schema = json!({"type": "object"});
    if !properties.is_empty() {
        schema["properties"] = Json::Object(properties);
    }
    json!({
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": package, "annotations": annotations},
        "spec": {
            "crd": {"spec": {
                "names": {"kind": kind},
                "validation": {"openAPIV3Schema": schema},
            }},
            "targets": [target(rule, &package, compiled)],
        },
    })
}

/// The template's one target: the Rego module, and the CEL source beside it when given
/// (Rego may then only appear in `code`).
fn target(rule: &ir::Rule, package: &str, compiled: Option<&CelRule>) -> Json {
    let module = rego::rule_module(rule, package);
    match compiled {
        None => json!({"target": "admission.k8s.gatekeeper.sh", "rego": module}),
        Some(c) => json!({
            "target": "admission.k8s.gatekeeper.sh",
            "code": [
                {"engine": "K8sNativeValidation", "source": cel_source(c)},
                {"engine": "Rego", "source": {"rego": module}},
            ],
        }),
    }
}

/// A structural OpenAPI schema (a `type` at every level) for a parameter type.
fn param_schema(ty: &Type) -> Json {
    match ty {
        Type::Bool => json!({"type": "boolean"}),
        Type::Int => json!({"type": "integer"}),
        Type::Number => json!({"type": "number"}),
        Type::String | Type::Image => json!({"type": "string"}),
        // Structural schemas allow int-or-string without a `type`.
        Type::Quantity | Type::IntOrString => json!({"x-kubernetes-int-or-string": true}),
        Type::List(t) => json!({"type": "array", "items": param_schema(t)}),
        Type::Map(t) => json!({"type": "object", "additionalProperties": param_schema(t)}),
        Type::Object(_) => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        Type::Any | Type::Null => json!({"x-kubernetes-preserve-unknown-fields": true}),
        Type::Optional(t) => {
            let mut s = param_schema(t);
            s["nullable"] = Json::Bool(true);
            s
        }
    }
}

/// A namespace glob that Gatekeeper's `namespaces`/`excludedNamespaces` read the same way:
/// a name with an optional leading and/or trailing `*`.
pub(crate) fn gatekeeper_glob(g: &str) -> bool {
    let inner = g.strip_prefix('*').unwrap_or(g);
    let inner = inner.strip_suffix('*').unwrap_or(inner);
    inner
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == ':')
}

fn constraint(rule: &ir::Rule, kind: &str, name: &str) -> Json {
    let m = &rule.matcher;
    // Kinds grouped by API group; the Rego checks versions.
    let mut groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for t in &m.targets {
        groups
            .entry(t.gvk.group.as_str())
            .or_default()
            .insert(t.gvk.kind.as_str());
    }
    let kinds: Vec<Json> = groups
        .iter()
        .map(|(g, ks)| json!({"apiGroups": [g], "kinds": ks.iter().collect::<Vec<_>>()}))
        .collect();
    let mut matcher = Map::new();
    matcher.insert("kinds".into(), Json::Array(kinds));
    // Gatekeeper lets cluster-scoped objects through namespace filters; the Rego does not.
    if !m.namespaces.is_empty() && m.namespaces.iter().all(|g| gatekeeper_glob(g)) {
        matcher.insert("namespaces".into(), json!(m.namespaces));
    }
    let excluded: Vec<&String> = m
        .exclude_namespaces
        .iter()
        .filter(|g| gatekeeper_glob(g))
        .collect();
    if !excluded.is_empty() {
        matcher.insert("excludedNamespaces".into(), json!(excluded));
    }
    let mut match_labels = Map::new();
    let mut exprs = Vec::new();
    for (k, v) in &m.labels {
        if v == "*" {
            exprs.push(json!({"key": k, "operator": "Exists"}));
        } else if !v.contains(['*', '?']) {
            match_labels.insert(k.clone(), v.clone().into());
        }
    }
    if !match_labels.is_empty() || !exprs.is_empty() {
        let mut sel = Map::new();
        if !match_labels.is_empty() {
            sel.insert("matchLabels".into(), Json::Object(match_labels));
        }
        if !exprs.is_empty() {
            sel.insert("matchExpressions".into(), Json::Array(exprs));
        }
        matcher.insert("labelSelector".into(), Json::Object(sel));
    }
    // Gatekeeper decides per Constraint: a rule with any deny outcome denies (its warn
    // findings carry `details.action: warn`).
    let action = if rule.outcomes.iter().any(|o| o.action == Action::Deny) {
        "deny"
    } else {
        "warn"
    };
    let mut spec = Map::new();
    spec.insert("enforcementAction".into(), action.into());
    spec.insert("match".into(), Json::Object(matcher));
    if !rule.params.is_empty() {
        let mut params = Map::new();
        for p in &rule.params {
            params.insert(p.name.clone(), value_json(&p.default));
        }
        spec.insert("parameters".into(), Json::Object(params));
    }
    json!({
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": name, "annotations": {"rampart.dev/rule": rule.id}},
        "spec": spec,
    })
}

fn value_json(v: &ir::Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}
