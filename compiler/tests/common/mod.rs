//! Helpers shared by the export tests: CRD schemas from ../shared and a structural
//! OpenAPI validator.
#![allow(dead_code)]

use rampart_compiler::ir::Program;
use rampart_compiler::schema::Schema;
use rampart_compiler::Source;
use rampart_runtime::eval::{
    AdmissionContext, Engine, Finding, Limits, ObjectSet, Params, Policies,
};
use rampart_runtime::manifest::{self, Node};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `../shared` beside the repository: found from the workspace root (the folder holding
/// `Cargo.lock`), as this module is also compiled into the root crate's tests.
fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .expect("the workspace root holds Cargo.lock")
        .join("../shared")
}

/// A minimal OpenAPI v3 structural validator: type, properties, required, items,
/// additionalProperties, enum, int-or-string and preserve-unknown-fields.
pub fn validate(schema: &Json, v: &Json, at: &str, errors: &mut Vec<String>) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true && schema.get("properties").is_none()
    {
        return;
    }
    if v.is_null() && schema["nullable"] == true {
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !(v.is_string() || v.is_i64()) {
            errors.push(format!("{at}: expected int or string"));
        }
        return;
    }
    let ok = match schema["type"].as_str() {
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        _ => true,
    };
    if !ok {
        errors.push(format!("{at}: expected {}, got {v}", schema["type"]));
        return;
    }
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(v) {
            errors.push(format!("{at}: {v} not in {values:?}"));
        }
    }
    if let Some(req) = schema["required"].as_array() {
        for r in req {
            if v.get(r.as_str().unwrap()).is_none() {
                errors.push(format!("{at}: missing required {r}"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), v.as_object()) {
        for (k, x) in obj {
            match props.get(k) {
                Some(s) => validate(s, x, &format!("{at}.{k}"), errors),
                None if schema["x-kubernetes-preserve-unknown-fields"] == true => {}
                None if schema.get("additionalProperties").is_some() => {}
                None => errors.push(format!("{at}: unknown field {k}")),
            }
        }
    }
    if let (Some(ap), Some(obj)) = (schema.get("additionalProperties"), v.as_object()) {
        if ap.is_object() {
            for (k, x) in obj {
                validate(ap, x, &format!("{at}.{k}"), errors);
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(items, x, &format!("{at}[{i}]"), errors);
        }
    }
}

/// Checks that a schema is structural: a `type` at every level (or an int-or-string or
/// preserve-unknown-fields node).
pub fn structural(schema: &Json, at: &str, errors: &mut Vec<String>) {
    if schema.get("type").is_none()
        && schema["x-kubernetes-int-or-string"] != true
        && schema["x-kubernetes-preserve-unknown-fields"] != true
    {
        errors.push(format!("{at}: no type"));
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, s) in props {
            structural(s, &format!("{at}.{k}"), errors);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(s) = schema.get(key).filter(|s| s.is_object()) {
            structural(s, &format!("{at}.{key}"), errors);
        }
    }
}

/// The `openAPIV3Schema` of `version` (any version when empty) of the CRD in
/// `../shared/schemas/<dir>/<file>`.
pub fn crd_schema(dir: &str, file: &str, version: &str) -> Json {
    use serde::Deserialize;
    let text = std::fs::read_to_string(shared().join("schemas").join(dir).join(file))
        .expect("the CRD schemas are in ../shared/schemas");
    for d in serde_yaml_ng::Deserializer::from_str(&text) {
        let d = Json::deserialize(d).unwrap();
        if d["kind"] != "CustomResourceDefinition" {
            continue;
        }
        for v in d["spec"]["versions"].as_array().unwrap() {
            if v["name"] == version || version.is_empty() {
                return v["schema"]["openAPIV3Schema"].clone();
            }
        }
    }
    panic!("no version {version} in {file}");
}

/// Representative rules for the snapshots of every output kind: a simple pod rule, one with
/// parameters, a message listing items, namespace and label matching, a warn rule, and two
/// that the pattern style expresses (either-or, a string constant).
pub const SNAPSHOT_RULES: &str = r#"
module snap

rule privileged {
  title "Privileged containers"
  severity high
  category "Pod Security"
  match Pod
  deny for c in all_containers(object)
    when c.securityContext.privileged ?? false
    at c.securityContext.privileged
    message "container `{c.name}` is privileged"
}

rule replicas {
  title "Replica limit"
  match Deployment
  param max: int = 10
  deny when (object.spec.replicas ?? 1) > max
    message "{object.metadata.name} asks for {object.spec.replicas} replicas, more than {max}"
}

rule capabilities {
  title "Added capabilities"
  match Pod
  param allowed: list<string> = ["NET_BIND_SERVICE"]
  deny for c in all_containers(object)
    when any cap in c.securityContext.capabilities.add: not (cap in allowed)
    message "container `{c.name}` adds {c.securityContext.capabilities.add}; allowed: {allowed}"
}

rule owner_label {
  title "Owner label in production"
  match Deployment
  match namespaces ["prod*"]
  exclude namespaces ["prod-sandbox"]
  match labels {"app": "x"}
  deny when object.metadata.labels["owner"] == null
    message "{object.metadata.name} has no owner label"
}

rule latest_tag {
  title "Mutable image tags"
  severity low
  match Pod
  warn for c in object.spec.containers
    when image(c.image ?? "").tag == "latest"
    message "container `{c.name}` uses the latest tag"
}

rule service_account {
  title "Default service account with a token"
  match Pod
  deny when (object.spec.automountServiceAccountToken ?? true)
      and (object.spec.serviceAccountName ?? "default") == "default"
    message "the pod mounts the token of the default service account"
}

rule seccomp {
  title "Seccomp profile"
  match Pod
  deny when (object.spec.securityContext.seccompProfile.type ?? "Unconfined") == "Unconfined"
    message "the pod runs without a seccomp profile"
}
"#;

pub fn schema() -> Schema {
    Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).expect("schema")
}

pub fn compile_source(text: &str) -> Program {
    let c = rampart_compiler::compile(
        vec![Source {
            name: "t.rp".into(),
            text: Ok(text.into()),
        }],
        &schema(),
    );
    for d in &c.diagnostics {
        eprintln!("{d:?}");
    }
    c.program.expect("the test policies compile")
}

pub fn stdlib() -> Program {
    rampart_stdlib::compile()
        .program
        .expect("the standard library compiles")
}

pub struct Reference {
    policies: Policies,
}

impl Reference {
    pub fn new(program: &Program) -> Reference {
        let wasm = rampart_compiler::backend::wasm::compile(program).expect("wasm compiles");
        let engine = Engine::new().expect("engine");
        Reference {
            policies: Policies::load(&engine, &wasm, None).expect("loads"),
        }
    }

    /// The findings of the Wasm evaluator on `node` alone, or the object's error.
    pub fn findings(&self, node: &Node) -> Result<Vec<Finding>, String> {
        self.findings_with(node, &ObjectSet::default())
    }

    /// The findings on `node` when the run's objects are `set` (set rules), or the error.
    pub fn findings_with(&self, node: &Node, set: &ObjectSet) -> Result<Vec<Finding>, String> {
        self.policies
            .evaluate(node, set, &Params::default(), &Limits::default())
            .into_result()
            .map_err(|e| format!("{e:?}"))
    }

    /// [`Reference::findings`] of the object under an admission request.
    pub fn findings_in(
        &self,
        node: &Node,
        context: &AdmissionContext,
    ) -> Result<Vec<Finding>, String> {
        self.policies
            .evaluate_admission(
                node,
                context,
                &ObjectSet::default(),
                &Params::default(),
                &Limits::default(),
            )
            .into_result()
            .map_err(|e| format!("{e:?}"))
    }

    /// The messages of the findings of rule `id` on `node`, sorted.
    pub fn messages(&self, node: &Node, id: &str) -> Vec<String> {
        let findings = self.findings(node).expect("evaluates");
        let mut out: Vec<String> = findings
            .into_iter()
            .filter(|f| f.rule_id == id)
            .map(|f| f.message)
            .collect();
        out.sort();
        out
    }

    /// Per rule id: the verdict of the Wasm evaluator, or the object's error.
    pub fn verdicts(&self, node: &Node) -> Result<HashMap<String, (bool, bool)>, String> {
        Ok(by_rule(self.findings(node)?))
    }

    /// [`Reference::verdicts`] of the object under an admission request.
    pub fn verdicts_in(
        &self,
        node: &Node,
        context: &AdmissionContext,
    ) -> Result<HashMap<String, (bool, bool)>, String> {
        Ok(by_rule(self.findings_in(node, context)?))
    }
}

/// Per rule id: whether its findings deny and warn.
fn by_rule(findings: Vec<Finding>) -> HashMap<String, (bool, bool)> {
    let mut out: HashMap<String, (bool, bool)> = HashMap::new();
    for f in findings {
        let e = out.entry(f.rule_id.clone()).or_default();
        match f.action {
            rampart_runtime::eval::Action::Deny => e.0 = true,
            rampart_runtime::eval::Action::Warn => e.1 = true,
        }
    }
    out
}

/// The object with every fix the Wasm evaluator reports applied by `runtime::fix::apply`
/// (review ones when `review`), for the findings of the rules `keep` selects.
pub fn intended(
    reference: &Reference,
    node: &Node,
    review: bool,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Json, String> {
    let findings = reference.findings(node)?;
    let fixes: Vec<rampart_runtime::fix::Fix> = findings
        .into_iter()
        .filter(|f| keep(&f.rule_id))
        .flat_map(|f| f.fixes)
        .filter(|f| review || !f.review)
        .collect();
    let mut object = node.to_json();
    let applied = rampart_runtime::fix::apply(&mut object, &fixes);
    if !applied.conflicts.is_empty() || !applied.unreachable.is_empty() {
        return Err(format!("fixes not applied: {applied:?}"));
    }
    Ok(object)
}

/// Fails with every difference of an export's comparison with the evaluator (the intended
/// objects of fixes, or generated objects), or when fewer than `min_changed` objects were
/// changed or generated.
pub fn assert_agree(what: &str, (changed, differences): (usize, Vec<String>), min_changed: usize) {
    eprintln!(
        "{what}: {changed} object(s) fixed, {} difference(s)",
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{what}: {} difference(s):\n{}",
        differences.len(),
        differences.join("\n\n")
    );
    assert!(
        changed >= min_changed,
        "{what}: only {changed} object(s) changed or generated; the objects no longer exercise the rules"
    );
}

/// The object as the API server hands it over: typed decoding drops null fields.
pub fn strip_nulls(v: &Json) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), strip_nulls(x)))
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

pub fn load_objects(name: &str, text: &[u8]) -> Vec<(String, Node)> {
    let loaded = manifest::load_bytes(text, &manifest::Limits::default()).expect("loads");
    loaded
        .objects
        .into_iter()
        .map(|o| {
            (
                format!("{name} {}/{}", o.kind, o.name.clone().unwrap_or_default()),
                o.node,
            )
        })
        .collect()
}

pub fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

pub fn corpus(sub: &str) -> Vec<(String, Node)> {
    let mut files = Vec::new();
    yaml_files(&shared().join("corpus").join(sub), &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("readable");
        if let Ok(loaded) = manifest::load_bytes(&bytes, &manifest::Limits::default()) {
            let name = f.strip_prefix(shared()).unwrap_or(&f).display().to_string();
            out.extend(loaded.objects.into_iter().map(|o| {
                (
                    format!("{name} {}/{}", o.kind, o.name.clone().unwrap_or_default()),
                    o.node,
                )
            }));
        }
    }
    out
}

/// The forms authors write first (outcome `let`, quantifiers after `not`, keyword names,
/// optional comparisons, optional and qualified types, raw strings, message `+`), and the
/// objects that exercise them: every backend must agree with the Wasm evaluator on them.
pub const FORMS: &str = include_str!("../forms/written.rp");
pub const FORMS_OBJECTS: &str = include_str!("../forms/objects.yaml");
/// Pod rules reading `object.metadata.namespace` and `controller` under autogen, and the
/// bare Pods and controllers (in a namespace and without one) they are checked on.
pub const AUTOGEN: &str = include_str!("../forms/autogen.rp");
pub const AUTOGEN_OBJECTS: &str = include_str!("../forms/autogen.yaml");

/// Runs a mutation export (`run`, a model of its engine) on every object and compares it
/// with the intended object (the Wasm evaluator's fixes of the rules `keep` selects,
/// applied by `runtime::fix::apply`); a second run must change nothing. With `decoded`,
/// objects are seen as the API server hands them over (no null fields). The number of
/// objects the fixes change, and every difference.
pub fn differential(
    program: &Program,
    objects: &[(String, Node)],
    review: bool,
    decoded: bool,
    keep: &dyn Fn(&str) -> bool,
    run: &dyn Fn(&Json) -> Result<Json, String>,
) -> (usize, Vec<String>) {
    let reference = Reference::new(program);
    let seen = |v: Json| if decoded { strip_nulls(&v) } else { v };
    let mut changed = 0;
    let mut differences = Vec::new();
    for (name, node) in objects {
        let want = match intended(&reference, node, review, keep) {
            Ok(w) => seen(w),
            Err(e) => {
                differences.push(format!("{name}: {e}"));
                continue;
            }
        };
        let object = seen(node.to_json());
        if want != object {
            changed += 1;
        }
        match run(&object) {
            Ok(got) if got != want => differences.push(format!(
                "{name}: the export gives\n{}\nintended\n{}",
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&want).unwrap()
            )),
            Ok(got) => match run(&got) {
                Ok(again) if again == got => {}
                Ok(_) => differences.push(format!("{name}: a second run changes the object")),
                Err(e) => differences.push(format!("{name}: second run: {e}")),
            },
            Err(e) => differences.push(format!("{name}: {e}")),
        }
    }
    (changed, differences)
}

/// [`differential`] of an admission engine's mutations (objects as the API server decodes
/// them) against the fixes of the rules the export wrote (`exported`).
pub fn exported_differential<'a>(
    program: &Program,
    objects: &[(String, Node)],
    review: bool,
    exported: impl IntoIterator<Item = &'a str>,
    run: &dyn Fn(&Json) -> Result<Json, String>,
) -> (usize, Vec<String>) {
    let exported: std::collections::BTreeSet<&str> = exported.into_iter().collect();
    differential(
        program,
        objects,
        review,
        true,
        &|id| exported.contains(id),
        run,
    )
}

/// The policies whose fixes the mutation exports are checked on: the fixtures of
/// `compiler/tests/fixes/` and the standard library.
pub fn fix_programs() -> Vec<(&'static str, Program)> {
    vec![
        (
            "fixes.rp",
            compile_source(include_str!("../fixes/fixes.rp")),
        ),
        (
            "gatekeeper.rp",
            compile_source(include_str!("../fixes/gatekeeper.rp")),
        ),
        ("stdlib", stdlib()),
    ]
}

/// Runs `differential` (of one export, for a program and `--unsafe` or not) over every
/// program of [`fix_programs`], with and without the review fixes; `minimum` names the
/// objects each must change at least, by program name and review flag.
pub fn check_fix_export(
    what: &str,
    objects: &[(String, Node)],
    minimum: &[(&str, bool, usize)],
    differential: &dyn Fn(&Program, bool) -> (usize, Vec<String>),
) {
    for (name, program) in fix_programs() {
        for review in [false, true] {
            let min = minimum
                .iter()
                .find(|(n, r, _)| *n == name && *r == review)
                .map_or(0, |m| m.2);
            let label = format!(
                "{what} ({} objects), {name}{}",
                objects.len(),
                if review { " --unsafe" } else { "" }
            );
            assert_agree(&label, differential(&program, review), min);
        }
    }
}
