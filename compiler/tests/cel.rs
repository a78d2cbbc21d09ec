//! The CEL exports (ValidatingAdmissionPolicy, Kyverno ClusterPolicy and ValidatingPolicy,
//! Gatekeeper's K8sNativeValidation engine): snapshots, and a differential test that runs
//! the generated CEL with the `cel` crate and compares each verdict with the Wasm
//! evaluator's.

use cel::{Context, Env, Value as CV};
use rampart_compiler::backend::cel::{self as rcel, Dialect};
use rampart_compiler::ir::{Action, Program, Rule};
use rampart_runtime::eval::{Engine, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::Node;
// The CEL environment, the quantity functions and the binding of `object` are the ones
// `rampart verify --backend cel` uses.
use rampart_runtime::eval::{AdmissionContext, Operation, UserInfo};
use rampart_runtime::verify::engines::cel::{
    add_quantity_functions, admission_request, kubernetes_env, request, to_cel,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

mod common;
use common::{
    compile_source, corpus, load_objects, stdlib, Reference, AUTOGEN, AUTOGEN_OBJECTS, FORMS,
    FORMS_OBJECTS, SNAPSHOT_RULES,
};

/// Policies exercising every IR construct the CEL backend translates.
const CONSTRUCTS: &str = r#"
module t.cel

fn privileged(c: Container) -> bool = c.securityContext.privileged ?? false

rule privileged {
  title "privileged"
  match Pod
  deny for c in all_containers(object)
    when privileged(c)
    at c.securityContext.privileged
    message "container `{c.name}` is privileged ({c.securityContext.privileged})"
}

rule memory {
  title "memory"
  match Pod
  param max: quantity = quantity("1Gi")
  deny for c in object.spec.containers
    when c.resources.limits["memory"] == null
    message "container `{c.name}` has no memory limit"
  warn for c in object.spec.containers
    when (c.resources.limits["memory"] ?? quantity("0")) > max
    message "container `{c.name}` asks for {c.resources.limits["memory"]}"
}

rule images {
  title "images"
  match Pod
  exclude namespaces ["kube-*"]
  param registries: list<string> = ["ghcr.io", "registry.example.com"]
  deny for c in all_containers(object)
    when not (image(c.image ?? "x").registry in registries)
      or image(c.image ?? "x").tag == "latest"
      or (image(c.image ?? "x").digest == "" and image(c.image ?? "x").tag == "")
    message "image `{c.image}` of {image(c.image ?? "x").repository}"
}

rule label_checks {
  title "labels"
  match Deployment, Namespace
  match labels {"team": "*"}
  let lbls = object.metadata.labels
  deny when len(object.metadata.labels) < 2 or not ("app" in lbls)
    message "{object.metadata.name} has labels {keys(object.metadata.labels ?? {})}"
  warn for k, v in object.metadata.annotations
    when starts_with(k, "x-") and (contains(lower(v), "todo") or ends_with(upper(v), "!"))
    message "annotation {k}: {v}"
}

rule ports {
  title "ports"
  match Pod
  match namespaces ["prod*", "stag?"]
  deny for c in object.spec.containers
    for p in c.ports
    when (p.hostPort ?? 0) != 0 and (p.containerPort ?? 0) + 1 > 80 - 1
    message "container {c.name} port {p.containerPort}"
  deny when all c in object.spec.containers: (c.name ?? "") == ""
    message "no named container"
}

rule names {
  title "names"
  match ConfigMap
  let n = object.metadata.name ?? ""
  deny when glob(n, "bad-*") or matches(n, "^evil[0-9]+$") or len(n) > 20
    message "bad name {n}"
  deny when (if object.metadata.namespace == null then "" else object.metadata.namespace ?? "") == "forbidden"
    message "forbidden namespace"
  deny for k, v in object.data
    when any c in [k]: c == "password" and v != ""
    message "secret in {k}"
}

// A helper given the pod itself: under Kyverno's autogen its fields must read the template.
fn restarts_always(p: Pod) -> bool = (p.spec.restartPolicy ?? "Always") == "Always"

rule pod_helper {
  title "pod helper"
  match Pod
  deny when restarts_always(object) and not (object.spec.hostNetwork ?? false)
    message "pod restarts always"
}

rule replicas {
  title "replicas"
  match Deployment
  autogen off
  deny when (object.spec.replicas ?? 1) < 2 and (object.spec.strategy.type ?? "RollingUpdate") != "Recreate"
    message "{object.metadata.name}: {object.spec.replicas} replicas"
}
"#;

/// Objects for the construct policies.
const OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: prod}
spec:
  containers:
  - name: a
    image: ghcr.io/x/y:1.0
    securityContext: {privileged: true}
    resources: {limits: {memory: 2Gi}}
    ports: [{containerPort: 80, hostPort: 8080}]
  - name: b
    image: nginx
    resources: {limits: {memory: 512Mi}}
    securityContext: {privileged: null}
  initContainers:
  - name: i
    image: registry.example.com:5000/a/b@sha256:abc
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: kube-system}
spec:
  containers:
  - name: ""
    image: localhost/foo:latest
    resources: {limits: {memory: "1073741824"}}
---
apiVersion: v1
kind: Pod
metadata: {name: p3, namespace: stag1}
spec:
  containers:
  - name: c
    image: docker.io/library/busybox:1.36
    resources: {limits: {memory: 1.5Gi}}
    ports: [{containerPort: 70, hostPort: 1}]
  ephemeralContainers:
  - name: e
    image: ghcr.io/a@sha256:1
    securityContext: {privileged: true}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d1
  namespace: prod
  labels: {team: a, app: x}
  annotations: {x-note: "TODO later", y: "z", x-loud: "hey!"}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
      - name: a
        image: ghcr.io/a/b:2
        securityContext: {privileged: true}
        resources: {limits: {memory: 3Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d2, labels: {team: b}}
spec:
  strategy: {type: Recreate}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj, namespace: prod}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {name: a, image: "ghcr.io/a:latest", resources: {limits: {memory: 100Mi}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j1, namespace: prod}
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - {name: a, image: "ghcr.io/a/b:1", resources: {limits: {memory: 100Mi}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: n1, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: n2, labels: {team: x, app: y, other: z}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bad-service, namespace: forbidden}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: evil42}
data: {password: hunter2, user: bob}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a-very-long-config-map-name, namespace: ok}
data: {password: ""}
"#;

// ---------------------------------------------------------------------------------------
// A CEL evaluator with the Kubernetes functions the backend uses.

fn context(env: &Arc<Env>) -> Context<'static, 'static> {
    let mut ctx = Context::with_env(env.clone());
    add_quantity_functions(&mut ctx).expect("quantity functions");
    ctx
}

fn env() -> Arc<Env> {
    Arc::new(kubernetes_env())
}

/// What a policy decided for one rule on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Which actions fired (deny, warn); (false, false) also when the rule does not apply.
    Fired(bool, bool),
    Error(String),
}

fn eval_bool(env: &Arc<Env>, ctx: &Context, expr: &str) -> Result<bool, String> {
    let program = env
        .compile(expr)
        .map_err(|e| format!("parse `{expr}`: {e:?}"))?;
    match program.execute(ctx) {
        Ok(CV::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("`{expr}` gave {other:?}")),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// Kyverno's autogen text rewrite for a pod controller (pkg/autogen): pod paths become
/// template paths.
fn autogen_rewrite(expr: &str, template: &[String]) -> String {
    let prefix = std::iter::once("object".to_string())
        .chain(template.iter().cloned())
        .collect::<Vec<_>>()
        .join(".");
    expr.replace("object.spec", "\u{0}SPEC")
        .replace("object.metadata", "\u{0}META")
        .replace("\u{0}SPEC", &format!("{prefix}.spec"))
        .replace("\u{0}META", &format!("{prefix}.metadata"))
}

/// Evaluates one compiled rule as the API server (VAP) or Kyverno (after autogen) would,
/// as a `CREATE` with the request's namespace `namespace` (default: the object's).
fn cel_verdict(
    env: &Arc<Env>,
    rule: &Rule,
    dialect: Dialect,
    object: &serde_json::Value,
    params: &serde_json::Value,
    namespace: Option<&str>,
) -> Verdict {
    cel_run(
        env,
        rule,
        dialect,
        object,
        params,
        namespace,
        &mut Vec::new(),
    )
}

/// [`cel_verdict`], adding the message of each failed validation to `messages`.
fn cel_run(
    env: &Arc<Env>,
    rule: &Rule,
    dialect: Dialect,
    object: &serde_json::Value,
    params: &serde_json::Value,
    namespace: Option<&str>,
    messages: &mut Vec<String>,
) -> Verdict {
    let request = request(object, namespace);
    cel_verdict_in(
        env,
        rule,
        dialect,
        object,
        params,
        &request,
        &CV::Null,
        messages,
    )
}

/// [`cel_verdict`] under the admission request `request`, with `old` bound as `oldObject`,
/// adding the message of each failed validation to `messages`.
#[allow(clippy::too_many_arguments)]
fn cel_verdict_in(
    env: &Arc<Env>,
    rule: &Rule,
    dialect: Dialect,
    object: &serde_json::Value,
    params: &serde_json::Value,
    request: &CV,
    old: &CV,
    messages: &mut Vec<String>,
) -> Verdict {
    let api = object["apiVersion"].as_str().unwrap_or("");
    let kind = object["kind"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let Some(target) = rule.matcher.targets.iter().find(|t| {
        t.gvk.kind == kind
            && t.gvk.group == group
            && (t.gvk.version.is_empty() || t.gvk.version == version)
    }) else {
        return Verdict::Fired(false, false);
    };
    let compiled = rcel::compile_rule(rule, dialect, "test").expect("compiles");
    let mut ctx = context(env);
    ctx.add_variable_from_value("object", to_cel(object, dialect == Dialect::Vap));
    ctx.add_variable_from_value("request", request.clone());
    ctx.add_variable_from_value("oldObject", old.clone());
    let rewrite = |e: &str| -> String {
        if dialect == Dialect::Kyverno && !target.subject_path.is_empty() {
            autogen_rewrite(e, &target.subject_path)
        } else {
            e.to_string()
        }
    };
    // Kyverno: a controller without a template makes the rewritten expressions fail; the
    // spec (and VAP, through its match condition) skips it.
    if dialect == Dialect::Kyverno && !target.subject_path.is_empty() {
        let mut node = object;
        for step in &target.subject_path {
            match node.get(step) {
                Some(n) if !n.is_null() => node = n,
                _ => return Verdict::Fired(false, false),
            }
        }
    }
    let conditions = match dialect {
        Dialect::Vap | Dialect::Gatekeeper => compiled.match_conditions.clone(),
        Dialect::Kyverno => rcel::matcher_conditions(rule, dialect),
    };
    for c in &conditions {
        match eval_bool(env, &ctx, &c.expression) {
            Ok(true) => {}
            Ok(false) => return Verdict::Fired(false, false),
            Err(e) => return Verdict::Error(format!("condition {}: {e}", c.name)),
        }
    }
    let mut vars: HashMap<String, CV> = HashMap::new();
    if dialect == Dialect::Gatekeeper {
        // Gatekeeper binds the Constraint's `spec.parameters` as `variables.params`.
        vars.insert("params".into(), to_cel(params, false));
    }
    for v in &compiled.variables {
        let expr = rewrite(&v.expression);
        let program = match env.compile(&expr) {
            Ok(p) => p,
            Err(e) => return Verdict::Error(format!("parse variable `{expr}`: {e:?}")),
        };
        let mut inner = context(env);
        inner.add_variable_from_value("object", to_cel(object, dialect == Dialect::Vap));
        inner.add_variable_from_value("request", request.clone());
        inner.add_variable_from_value("oldObject", old.clone());
        inner.add_variable_from_value("variables", CV::from(vars.clone()));
        match program.execute(&inner) {
            Ok(val) => {
                vars.insert(v.name.clone(), val);
            }
            Err(e) => return Verdict::Error(format!("variable {}: {e:?}", v.name)),
        }
    }
    ctx.add_variable_from_value("variables", CV::from(vars));
    let (mut deny, mut warn) = (false, false);
    for v in &compiled.validations {
        let expr = rewrite(&v.expression);
        match eval_bool(env, &ctx, &expr) {
            Ok(true) => {}
            Ok(false) => {
                // The message must evaluate too (it is what the user sees).
                let msg = rewrite(&v.message_expression);
                let program = env.compile(&msg).map_err(|e| format!("{e:?}"));
                match program.map(|p| p.execute(&ctx)) {
                    Ok(Ok(CV::String(m))) => messages.push(m.to_string()),
                    other => {
                        return Verdict::Error(format!("message `{msg}`: {other:?}"));
                    }
                }
                match v.action {
                    Action::Deny => deny = true,
                    Action::Warn => warn = true,
                }
            }
            Err(e) => return Verdict::Error(e),
        }
    }
    Verdict::Fired(deny, warn)
}

/// The parameters of a rule's Constraint as the Gatekeeper export writes them (the defaults).
fn constraint_params(rule: &Rule) -> serde_json::Value {
    serde_json::Value::Object(
        rule.params
            .iter()
            .map(|p| (p.name.clone(), serde_json::to_value(&p.default).unwrap()))
            .collect(),
    )
}

#[derive(Default, Debug)]
struct Tally {
    compared: usize,
    agree: usize,
    reference_errors: usize,
    disagreements: Vec<String>,
}

fn differential(program: &Program, objects: &[(String, Node)], dialect: Dialect) -> Tally {
    let env = env();
    let reference = Reference::new(program);
    let mut tally = Tally::default();
    for (name, node) in objects {
        let json = node.to_json();
        let wasm = reference.verdicts(node);
        for rule in &program.rules {
            if rule.reads_other_objects() {
                continue;
            }
            let got = cel_verdict(&env, rule, dialect, &json, &constraint_params(rule), None);
            let want = match &wasm {
                Ok(v) => v.get(&rule.id).copied().unwrap_or_default(),
                Err(_) => {
                    tally.reference_errors += 1;
                    continue;
                }
            };
            tally.compared += 1;
            if got == Verdict::Fired(want.0, want.1) {
                tally.agree += 1;
            } else {
                tally.disagreements.push(format!(
                    "{dialect:?} {} on {name}: wasm {want:?}, cel {got:?}",
                    rule.id
                ));
            }
        }
    }
    tally
}

fn report(what: &str, t: &Tally) {
    eprintln!(
        "{what}: {} (rule, object) pairs compared, {} agree, {} disagree, {} skipped for reference errors",
        t.compared,
        t.agree,
        t.disagreements.len(),
        t.reference_errors
    );
    for d in t.disagreements.iter().take(30) {
        eprintln!("  {d}");
    }
}

#[test]
fn constructs_agree_with_wasm() {
    let program = compile_source(CONSTRUCTS);
    let objects = load_objects("objects", OBJECTS.as_bytes());
    for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
        let t = differential(&program, &objects, dialect);
        report(&format!("constructs {dialect:?}"), &t);
        assert!(t.compared > 50, "too few comparisons: {}", t.compared);
        assert!(t.disagreements.is_empty(), "{:#?}", t.disagreements);
    }
}

#[test]
fn written_forms_agree_with_wasm() {
    let program = compile_source(FORMS);
    let objects = load_objects("forms", FORMS_OBJECTS.as_bytes());
    for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
        let t = differential(&program, &objects, dialect);
        report(&format!("written forms {dialect:?}"), &t);
        assert!(t.compared > 40, "too few comparisons: {}", t.compared);
        assert!(t.disagreements.is_empty(), "{:#?}", t.disagreements);
    }
}

/// Rules that read the admission request (spec/language.md §4.11).
const ADMISSION: &str = r#"
module t.adm

rule team_fixed {
  title "team label is fixed"
  match Deployment
  deny when request.operation == "UPDATE"
            and object.metadata.labels["team"] != oldObject.metadata.labels["team"]
    message "team of {object.metadata.name} changed from {oldObject.metadata.labels["team"]}"
  warn when (object.spec.replicas ?? 1) < (oldObject.spec.replicas ?? 0)
    message "scaled down from {oldObject.spec.replicas}"
}

rule admins_delete {
  title "only admins delete"
  match Namespace
  deny when request.operation == "DELETE" and not ("system:masters" in request.userInfo.groups)
    message "{request.userInfo.username ?? "someone"} may not delete {request.name ?? ""}"
}

rule dry_runs {
  title "dry runs"
  match ConfigMap
  warn when request.dryRun ?? false
    message "dry run by {request.userInfo.username} in {request.namespace}"
  deny when starts_with(request.userInfo.username ?? "", "system:serviceaccount:")
            and request.operation != "CREATE"
    message "service accounts only create"
}

rule images_kept {
  title "images kept on update"
  match Pod
  deny for c in all_containers(object)
    when oldObject != null and not any o in all_containers(oldObject): o.image == c.image
    message "container {c.name} changes its image"
}
"#;

/// The requests of [`ADMISSION`]'s cases: each object with each context.
fn admission_cases() -> Vec<(String, Node, AdmissionContext)> {
    let node = |yaml: &str| load_objects("old", yaml.as_bytes()).remove(0).1;
    let deployment = |team: &str, replicas: u32, image: &str| {
        node(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop, labels: {{team: {team}}}}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{a: b}}}}\n  template:\n    metadata: {{labels: {{a: b}}}}\n    spec: {{containers: [{{name: app, image: \"{image}\"}}]}}\n"
        ))
    };
    let pod = |image: &str| {
        node(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: shop}}\nspec: {{containers: [{{name: app, image: \"{image}\"}}]}}\n"
        ))
    };
    let namespace = node("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n");
    let config_map =
        node("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team-a}\n");
    let user = |name: &str, groups: &[&str]| UserInfo {
        username: name.to_string(),
        uid: String::new(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    };
    let ctx =
        |operation: Operation, old: Option<Node>, user: UserInfo, dry_run: bool| AdmissionContext {
            operation,
            user_info: user,
            dry_run,
            old_object: old,
            ..AdmissionContext::default()
        };
    use Operation::{Connect, Create, Delete, Update};
    let sa = "system:serviceaccount:ci:deployer";
    vec![
        (
            "create deployment",
            deployment("a", 2, "nginx:1"),
            AdmissionContext::create(),
        ),
        (
            "update keeps team",
            deployment("a", 2, "nginx:1"),
            ctx(
                Update,
                Some(deployment("a", 2, "nginx:1")),
                user("ann", &[]),
                false,
            ),
        ),
        (
            "update changes team and image, scales down",
            deployment("b", 1, "nginx:2"),
            ctx(
                Update,
                Some(deployment("a", 3, "nginx:1")),
                user("ann", &["dev"]),
                false,
            ),
        ),
        (
            "update without an old object",
            deployment("b", 1, "nginx:2"),
            ctx(Update, None, UserInfo::default(), false),
        ),
        ("create pod", pod("nginx:1"), AdmissionContext::create()),
        (
            "update pod image",
            pod("nginx:2"),
            ctx(Update, Some(pod("nginx:1")), user("bob", &[]), false),
        ),
        (
            "update pod same image",
            pod("nginx:1"),
            ctx(Update, Some(pod("nginx:1")), user("bob", &[]), true),
        ),
        (
            "developer deletes a namespace",
            namespace.clone(),
            ctx(
                Delete,
                Some(namespace.clone()),
                user("dev1", &["dev", "system:authenticated"]),
                false,
            ),
        ),
        (
            "admin deletes a namespace",
            namespace.clone(),
            ctx(
                Delete,
                Some(namespace.clone()),
                user("root", &["system:masters"]),
                false,
            ),
        ),
        (
            "nameless user deletes a namespace",
            namespace.clone(),
            ctx(Delete, None, UserInfo::default(), false),
        ),
        (
            "create a namespace",
            namespace,
            ctx(Create, None, user("dev1", &["dev"]), false),
        ),
        (
            "dry run",
            config_map.clone(),
            ctx(Create, None, user("ann", &[]), true),
        ),
        (
            "service account updates",
            config_map.clone(),
            ctx(Update, Some(config_map.clone()), user(sa, &[]), false),
        ),
        (
            "service account connects in a dry run",
            config_map.clone(),
            ctx(Connect, None, user(sa, &["system:serviceaccounts"]), true),
        ),
        (
            "service account creates",
            config_map,
            ctx(Create, None, user(sa, &[]), false),
        ),
    ]
    .into_iter()
    .map(|(name, node, ctx)| (name.to_string(), node, ctx))
    .collect()
}

/// `request.operation`, `request.userInfo`, `request.dryRun` and `oldObject` mean the same
/// in every CEL output as on the Wasm evaluator, given the same AdmissionRequest.
#[test]
fn admission_request_agrees_with_wasm() {
    let program = compile_source(ADMISSION);
    let env = env();
    let reference = Reference::new(&program);
    for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
        let (mut compared, mut fired, mut refused) = (0, 0, Vec::new());
        let mut disagreements = Vec::new();
        for (name, node, context) in admission_cases() {
            let json = node.to_json();
            let want = reference
                .verdicts_in(&node, &context)
                .expect("wasm evaluates");
            let request = admission_request(&json, &context);
            let old = to_cel(&context.old_json(), dialect == Dialect::Vap);
            for rule in &program.rules {
                // Kyverno's autogen rewrites `object` but not `oldObject` (spec §4.11).
                if let Err(e) = rcel::compile_rule(rule, dialect, "test") {
                    refused.push(format!("{}: {e}", rule.id));
                    continue;
                }
                let want = want.get(&rule.id).copied().unwrap_or_default();
                let got = cel_verdict_in(
                    &env,
                    rule,
                    dialect,
                    &json,
                    &constraint_params(rule),
                    &request,
                    &old,
                    &mut Vec::new(),
                );
                compared += 1;
                fired += (want.0 || want.1) as usize;
                if got != Verdict::Fired(want.0, want.1) {
                    disagreements.push(format!(
                        "{dialect:?} {} on {name}: wasm {want:?}, cel {got:?}",
                        rule.id
                    ));
                }
            }
        }
        eprintln!("admission {dialect:?}: {compared} compared, {fired} fired");
        assert!(disagreements.is_empty(), "{disagreements:#?}");
        assert!(
            fired >= 7,
            "{dialect:?}: the cases exercise the rules: {fired}"
        );
        refused.sort();
        refused.dedup();
        let expected_refusals = usize::from(dialect == Dialect::Kyverno);
        assert_eq!(refused.len(), expected_refusals, "{dialect:?}: {refused:?}");
        assert!(compared >= 45, "{dialect:?}: {compared}");
    }
}

#[test]
fn autogen_context_agrees_with_wasm() {
    let program = compile_source(AUTOGEN);
    let objects = load_objects("autogen", AUTOGEN_OBJECTS.as_bytes());
    let env = env();
    let reference = Reference::new(&program);
    for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
        let (mut compared, mut disagreements) = (0, Vec::new());
        for (name, node) in &objects {
            let json = node.to_json();
            let (context, ns) = admitted_namespace(&json);
            let wasm = reference.verdicts_in(node, &context).expect("evaluates");
            for rule in &program.rules {
                let params = constraint_params(rule);
                let got = cel_verdict(&env, rule, dialect, &json, &params, Some(&ns));
                let want = wasm.get(&rule.id).copied().unwrap_or_default();
                compared += 1;
                if got != Verdict::Fired(want.0, want.1) {
                    disagreements.push(format!(
                        "{dialect:?} {} on {name}: wasm {want:?}, cel {got:?}",
                        rule.id
                    ));
                }
            }
        }
        assert!(compared > 40, "too few comparisons: {compared}");
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    }
}

/// The request an API server sends for `object`: its namespace, or for an object written
/// without one, the namespace the client sends it to (`default` here), on both sides.
fn admitted_namespace(object: &serde_json::Value) -> (AdmissionContext, String) {
    let ns = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let context = AdmissionContext {
        namespace: Some(ns.clone()),
        ..AdmissionContext::create()
    };
    (context, ns)
}

#[test]
fn autogen_context_messages_agree_with_wasm() {
    let program = compile_source(AUTOGEN);
    let env = env();
    let reference = Reference::new(&program);
    let mut compared = 0;
    for (name, node) in load_objects("autogen", AUTOGEN_OBJECTS.as_bytes()) {
        let json = node.to_json();
        let (context, ns) = admitted_namespace(&json);
        let findings = reference.findings_in(&node, &context).expect("evaluates");
        for rule in &program.rules {
            let mut want: Vec<String> = findings
                .iter()
                .filter(|f| f.rule_id == rule.id)
                .map(|f| f.message.clone())
                .collect();
            want.sort();
            for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
                let mut got = Vec::new();
                let params = constraint_params(rule);
                let v = cel_run(&env, rule, dialect, &json, &params, Some(&ns), &mut got);
                assert!(!matches!(v, Verdict::Error(_)), "{v:?}");
                got.sort();
                assert_eq!(got, want, "{dialect:?} {} on {name}", rule.id);
                compared += want.len();
            }
        }
    }
    assert!(compared > 30, "messages compared: {compared}");
}

#[test]
fn stdlib_agrees_with_wasm_on_psa_corpus() {
    let program = stdlib();
    let objects = corpus("psa");
    assert!(objects.len() > 50, "psa corpus found: {}", objects.len());
    for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
        let t = differential(&program, &objects, dialect);
        report(&format!("stdlib on psa {dialect:?}"), &t);
        assert!(
            t.disagreements.is_empty(),
            "{:#?}",
            &t.disagreements[..t.disagreements.len().min(20)]
        );
    }
}

#[test]
fn stdlib_agrees_with_wasm_on_real_corpus() {
    let program = stdlib();
    let objects = corpus("real");
    for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
        let t = differential(&program, &objects, dialect);
        report(&format!("stdlib on real {dialect:?}"), &t);
        assert!(
            t.disagreements.is_empty(),
            "{:#?}",
            &t.disagreements[..t.disagreements.len().min(20)]
        );
    }
}

#[test]
fn snapshot_rules_agree_with_wasm() {
    let program = compile_source(SNAPSHOT_RULES);
    let objects = load_objects("objects", OBJECTS.as_bytes());
    for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
        let t = differential(&program, &objects, dialect);
        report(&format!("snapshot rules {dialect:?}"), &t);
        assert!(t.compared > 50, "too few comparisons: {}", t.compared);
        assert!(t.disagreements.is_empty(), "{:#?}", t.disagreements);
    }
}

/// The generated YAML of every CEL output kind, reviewed: one snapshot per file.
#[test]
fn snapshots() {
    let program = compile_source(SNAPSHOT_RULES);
    let outputs = [
        (
            "vap",
            rampart_compiler::backend::cel::vap::export_all(&program),
        ),
        (
            "kyverno",
            rampart_compiler::backend::cel::kyverno::export_cluster_policies_all(&program),
        ),
        (
            "kyverno-vpol",
            rampart_compiler::backend::cel::kyverno::export_validating_policies_all(&program),
        ),
    ];
    for (kind, (files, errors)) in outputs {
        assert!(errors.is_empty(), "{errors:#?}");
        for f in files {
            insta::assert_snapshot!(format!("{kind}-{}", f.path), f.contents);
        }
    }
}

/// Gatekeeper's CEL reads the Constraint's parameters: with other values than the defaults
/// it follows them, as the Wasm evaluator does with the same overrides.
#[test]
fn gatekeeper_cel_follows_constraint_parameters() {
    let program = compile_source(SNAPSHOT_RULES);
    let objects = load_objects("objects", OBJECTS.as_bytes());
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("wasm compiles");
    let engine = Engine::new().expect("engine");
    let policies = Policies::load(&engine, &wasm, None).expect("loads");
    let mut overrides = Params::default();
    overrides.set("snap.replicas", "max", serde_json::json!(0));
    let env = env();
    let rule = program
        .rules
        .iter()
        .find(|r| r.id == "snap.replicas")
        .unwrap();
    let params = serde_json::json!({"max": 0});
    let mut fired = 0;
    for (name, node) in &objects {
        let findings = policies
            .evaluate(node, &ObjectSet::default(), &overrides, &Limits::default())
            .into_result()
            .expect("evaluates");
        let want = findings.iter().any(|f| f.rule_id == rule.id);
        let got = cel_verdict(
            &env,
            rule,
            Dialect::Gatekeeper,
            &node.to_json(),
            &params,
            None,
        );
        assert_eq!(got, Verdict::Fired(want, false), "{name}");
        fired += want as usize;
        // With the defaults (max 10) nothing in the fixtures has that many replicas.
        let default = cel_verdict(
            &env,
            rule,
            Dialect::Gatekeeper,
            &node.to_json(),
            &constraint_params(rule),
            None,
        );
        assert_eq!(default, Verdict::Fired(false, false), "{name}");
    }
    assert!(
        fired >= 2,
        "the override makes the Deployments fail: {fired}"
    );
}

/// Every stdlib rule that is not a set rule exports to all three targets; the files are
/// written to `RAMPART_CEL_OUT` when set (for the conformance script's checks).
#[test]
fn stdlib_exports() {
    let program = stdlib();
    let (vap_files, vap_errors) = rampart_compiler::backend::cel::vap::export_all(&program);
    let (cp_files, cp_errors) =
        rampart_compiler::backend::cel::kyverno::export_cluster_policies_all(&program);
    let (vp_files, vp_errors) =
        rampart_compiler::backend::cel::kyverno::export_validating_policies_all(&program);
    let set_rules = program
        .rules
        .iter()
        .filter(|r| r.reads_other_objects())
        .count();
    eprintln!(
        "{} rules ({set_rules} set rules): {} VAP files, {} ClusterPolicy files, {} ValidatingPolicy files",
        program.rules.len(),
        vap_files.len(),
        cp_files.len(),
        vp_files.len()
    );
    for errors in [&vap_errors, &cp_errors, &vp_errors] {
        assert_eq!(errors.len(), set_rules, "{errors:#?}");
    }
    assert_eq!(vap_files.len() + set_rules, program.rules.len());
    if let Ok(dir) = std::env::var("RAMPART_CEL_OUT") {
        for (sub, files) in [
            ("vap", &vap_files),
            ("kyverno", &cp_files),
            ("kyverno-vpol", &vp_files),
        ] {
            let d = Path::new(&dir).join(sub);
            std::fs::create_dir_all(&d).expect("output folder");
            for f in files {
                std::fs::write(d.join(&f.path), &f.contents).expect("written");
            }
        }
    }
}

/// Namespace matching reads the request's namespace, which the API server sets even when
/// the manifest leaves `metadata.namespace` out: CEL given the object without its namespace
/// (and the request with it) agrees with the Wasm evaluator given the object as admitted.
#[test]
fn namespace_matching_follows_the_request() {
    let program = compile_source(CONSTRUCTS);
    let objects = load_objects(
        "namespaced",
        br#"
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: kube-system}
spec:
  containers:
  - {name: a, image: "nginx:latest", ports: [{containerPort: 80, hostPort: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: prod-eu}
spec:
  containers:
  - {name: a, image: "nginx:latest", ports: [{containerPort: 80, hostPort: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: staga}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
      - {name: a, image: "nginx:latest", ports: [{containerPort: 80, hostPort: 80}]}
"#,
    );
    let env = env();
    let reference = Reference::new(&program);
    let mut compared = 0;
    let mut fired = 0;
    for (name, node) in &objects {
        let admitted = node.to_json();
        let namespace = admitted["metadata"]["namespace"]
            .as_str()
            .unwrap()
            .to_string();
        let mut manifest = admitted.clone();
        manifest["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        let want = reference.verdicts(node).expect("wasm evaluates");
        for rule in &program.rules {
            let want = want.get(&rule.id).copied().unwrap_or_default();
            for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
                let got = cel_verdict(
                    &env,
                    rule,
                    dialect,
                    &manifest,
                    &constraint_params(rule),
                    Some(&namespace),
                );
                assert_eq!(
                    got,
                    Verdict::Fired(want.0, want.1),
                    "{dialect:?} {} on {name}",
                    rule.id
                );
                compared += 1;
                fired += (want.0 || want.1) as usize;
            }
        }
    }
    // `images` fires in prod-eu and staga but not in kube-system; `ports` in prod-eu and staga.
    assert!(
        compared > 0 && fired >= 12,
        "{compared} compared, {fired} fired"
    );
}

/// The field selections of every exported expression of the standard library, in every CEL
/// output: no CEL reserved word is ever written as a field (`.namespace`), and once the
/// dialect's way of naming a field is undone (`.?__namespace__` in VAP, `[?'namespace']` on
/// Kyverno's and Gatekeeper's untyped objects), the outputs are the same expressions.
#[test]
fn stdlib_expressions_escape_reserved_words_and_agree_across_targets() {
    let program = stdlib();
    let mut checked = 0;
    let mut compared = 0;
    for rule in program.rules.iter().filter(|r| !r.reads_other_objects()) {
        let mut by_dialect = Vec::new();
        for dialect in [Dialect::Vap, Dialect::Kyverno, Dialect::Gatekeeper] {
            let compiled = rcel::compile_rule(rule, dialect, "test").expect("compiles");
            let mut exprs: Vec<String> = Vec::new();
            exprs.extend(
                compiled
                    .match_conditions
                    .iter()
                    .map(|c| c.expression.clone()),
            );
            exprs.extend(compiled.variables.iter().map(|c| c.expression.clone()));
            for v in &compiled.validations {
                exprs.push(v.expression.clone());
                exprs.push(v.message_expression.clone());
            }
            for e in &exprs {
                let bad = reserved_selections(e);
                assert!(bad.is_empty(), "{dialect:?} {}: {bad:?} in `{e}`", rule.id);
                checked += 1;
            }
            for c in &compiled.match_conditions {
                assert!(
                    !c.expression.contains("metadata.?__namespace__")
                        && !c.expression.contains("metadata[?'namespace']"),
                    "{dialect:?} {}: namespace matching reads the object, not the request: `{}`",
                    rule.id,
                    c.expression
                );
            }
            if !rule.matcher.namespaces.is_empty() || !rule.matcher.exclude_namespaces.is_empty() {
                let conditions = rcel::matcher_conditions(rule, dialect);
                assert!(
                    conditions
                        .iter()
                        .any(|c| c.expression.contains(rcel::REQUEST_NAMESPACE)),
                    "{dialect:?} {}",
                    rule.id
                );
            }
            by_dialect.push((dialect, compiled, exprs));
        }
        // Kyverno's pod rules are left to its autogen and Gatekeeper reads parameters from
        // the Constraint: compare what is written the same way.
        let vap = by_dialect[0]
            .2
            .iter()
            .map(|e| canonical(e))
            .collect::<Vec<_>>();
        if rule
            .matcher
            .targets
            .iter()
            .all(|t| t.subject_path.is_empty())
        {
            let kyverno: Vec<String> = by_dialect[1].2.iter().map(|e| canonical(e)).collect();
            assert_eq!(vap, kyverno, "VAP and Kyverno differ on {}", rule.id);
            compared += 1;
        }
        if rule.params.is_empty() {
            let gk: Vec<String> = by_dialect[2].2.iter().map(|e| canonical(e)).collect();
            assert_eq!(vap, gk, "VAP and Gatekeeper differ on {}", rule.id);
            compared += 1;
        }
    }
    assert!(
        checked > 100 && compared > 20,
        "{checked} checked, {compared} compared"
    );
}

/// The reserved words written as a field selection (`.w` or `.?w`) outside string literals,
/// except the fields of `request`, an AdmissionRequest whose `namespace` field is declared
/// under that name.
fn reserved_selections(expr: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut quoted = false;
    while i < chars.len() {
        let c = chars[i];
        if quoted {
            match c {
                '\\' => i += 1,
                '\'' => quoted = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == '\'' {
            quoted = true;
        } else if c == '.' {
            let mut j = i + 1;
            if chars.get(j) == Some(&'?') {
                j += 1;
            }
            let start = j;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[start..j].iter().collect();
            let before: String = chars[..i].iter().collect();
            let on_request = before.strip_suffix("request").is_some_and(|b| {
                !b.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            });
            if rcel::RESERVED.contains(&word.as_str()) && !on_request {
                found.push(word);
            }
        }
        i += 1;
    }
    found
}

/// An expression with each field named the same way: Kubernetes' escapes undone and key
/// lookups `[?'f']` written as `.?f`.
fn canonical(expr: &str) -> String {
    let mut out = expr.to_string();
    for w in rcel::RESERVED {
        out = out.replace(&format!(".?__{w}__"), &format!(".?{w}"));
    }
    for (from, to) in [
        ("__underscores__", "__"),
        ("__dot__", "."),
        ("__dash__", "-"),
        ("__slash__", "/"),
    ] {
        out = out.replace(from, to);
    }
    // `[?'name']` → `.?name` (names without quotes or backslashes, as in the library).
    while let Some(start) = out.find("[?'") {
        let Some(len) = out[start + 3..].find("']") else {
            break;
        };
        let name = out[start + 3..start + 3 + len].to_string();
        out.replace_range(start..start + 3 + len + 2, &format!(".?{name}"));
    }
    out
}
