//! The Gatekeeper export, run rather than printed: every generated template is checked
//! against the ConstraintTemplate CRD schema, and every rule's Rego is evaluated with regorus
//! (as Rego v0 and as Rego v1) on the same objects as the Wasm evaluator, which is the
//! reference: verdicts and finding counts must be equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_compiler::backend::rego::gatekeeper::{self, OutputFile};
use rampart_compiler::ir::Program;
use rampart_compiler::schema::Schema;
use rampart_compiler::{compile, Source};
use rampart_runtime::eval::{Engine, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, Node};
// The review and data.inventory are built as `rampart verify --backend rego` builds them.
use rampart_runtime::verify::engines::rego::{inventory, review};
use rayon::prelude::*;
use serde_json::{json, Value as Json};

mod common;
use common::Reference;
use common::{crd_schema, structural, validate, AUTOGEN, AUTOGEN_OBJECTS, FORMS, FORMS_OBJECTS};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

fn schema() -> Schema {
    Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).expect("the embedded schema loads")
}

fn program_of(sources: Vec<(String, String)>) -> Program {
    let sources = sources
        .into_iter()
        .map(|(name, text)| Source {
            name,
            text: Ok(text),
        })
        .collect();
    let c = compile(sources, &schema());
    match c.program {
        Some(p) => p,
        None => panic!(
            "policies do not compile: {:#?}",
            c.diagnostics
                .iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
        ),
    }
}

/// The standard library.
fn stdlib_program() -> Program {
    let c = rampart_stdlib::compile();
    c.program
        .unwrap_or_else(|| panic!("the stdlib compiles: {:?}", c.diagnostics))
}

fn load(text: &str) -> Vec<Node> {
    manifest::load(text, &manifest::Limits::default())
        .expect("fixture loads")
        .objects
        .into_iter()
        .map(|o| o.node)
        .collect()
}

/// Every Kubernetes object below `dir`, with its file.
fn corpus(dir: &Path) -> Vec<(String, Node)> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let Ok(loaded) = manifest::load_bytes(&bytes, &manifest::Limits::default()) else {
            continue;
        };
        for o in loaded.objects {
            out.push((f.display().to_string(), o.node));
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            out.push(p);
        }
    }
}

/// The ConstraintTemplate, Constraint and Rego package of every rule, by rule id.
struct Exported {
    /// Rule id → (package, Rego, Constraint parameters).
    rules: BTreeMap<String, (String, String, Option<Json>)>,
}

fn docs(file: &OutputFile) -> Vec<Json> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(&file.contents)
        .map(|d| Json::deserialize(d).expect("valid YAML"))
        .filter(|d| !d.is_null())
        .collect()
}

/// The export of `program`, whose gaps must be exactly the rules that read `who_can`.
fn export(program: &Program) -> Exported {
    let exported = gatekeeper::export(program).unwrap_or_else(|e| panic!("export fails: {e:?}"));
    assert_gaps_are_views(program, &exported);
    let files = exported.files;
    let mut rules = BTreeMap::new();
    let mut constraints = BTreeMap::new();
    for f in &files {
        for d in docs(f) {
            let rule = d["metadata"]["annotations"]["rampart.dev/rule"]
                .as_str()
                .map(String::from);
            if d["kind"] == "ConstraintTemplate" {
                let rego = d["spec"]["targets"][0]["rego"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let package = rego
                    .lines()
                    .find_map(|l| l.strip_prefix("package "))
                    .unwrap()
                    .to_string();
                rules.insert(rule.unwrap(), (package, rego, None));
            } else if d["apiVersion"] == "constraints.gatekeeper.sh/v1beta1" {
                constraints.insert(rule.unwrap(), d["spec"]["parameters"].clone());
            }
        }
    }
    for (id, params) in constraints {
        if let Some(r) = rules.get_mut(&id) {
            r.2 = (!params.is_null()).then_some(params);
        }
    }
    Exported { rules }
}

/// Results of one differential run.
#[derive(Debug, Default)]
struct Stats {
    /// (object, rule) pairs compared, per Rego version.
    compared: usize,
    /// Pairs where the rule fired.
    fired: usize,
    /// Objects the Wasm evaluator reported as errors (not comparable).
    wasm_errors: usize,
    disagreements: Vec<String>,
}

/// Runs every rule's Rego (v0 and v1) and the Wasm module on `objects`; `set` makes all
/// objects one set (objects() and data.inventory).
fn differential(program: &Program, objects: &[(String, Node)], set: bool) -> Stats {
    let exported = export(program);
    let wasm = rampart_compiler::backend::wasm::compile(program).expect("wasm compiles");
    let engine = Engine::new().unwrap();
    let policies = Policies::load(&engine, &wasm, None).unwrap();
    let jsons: Vec<Json> = objects.iter().map(|(_, n)| n.to_json()).collect();
    let data = json!({"inventory": if set { inventory(&jsons) } else { json!({}) }});
    let mut engines = Vec::new();
    for (id, (package, rego, params)) in &exported.rules {
        for v0 in [true, false] {
            let mut e = regorus::Engine::new();
            e.set_rego_v0(v0);
            e.add_policy(format!("{id}.rego"), rego.clone())
                .unwrap_or_else(|err| {
                    panic!("regorus (v0: {v0}) rejects the Rego of `{id}`: {err}\n{rego}")
                });
            e.add_data(regorus::Value::from(data.clone())).unwrap();
            engines.push((id.clone(), v0, package.clone(), params.clone(), e));
        }
    }
    let all: Vec<&Node> = objects.iter().map(|(_, n)| n).collect();
    let results: Vec<(usize, usize, usize, Vec<String>)> = objects
        .par_iter()
        .zip(jsons.par_iter())
        .map(|((file, node), json)| {
            let set_objects = ObjectSet {
                objects: if set { all.clone() } else { vec![node] },
            };
            let findings = match policies
                .evaluate(node, &set_objects, &Params::default(), &Limits::default())
                .into_result()
            {
                Ok(f) => f,
                Err(_) => return (0, 0, 1, Vec::new()),
            };
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for f in &findings {
                *counts.entry(f.rule_id.as_str()).or_default() += 1;
            }
            let (mut compared, mut fired, mut bad) = (0, 0, Vec::new());
            let review = review(json);
            for (id, v0, package, params, engine) in &engines {
                let mut e = engine.clone();
                let mut input = json!({"review": review});
                if let Some(p) = params {
                    input["parameters"] = p.clone();
                }
                e.set_input(regorus::Value::from(input));
                let got = match e.eval_rule(format!("data.{package}.violation")) {
                    Ok(v) => match v.as_set() {
                        Ok(s) => s.len(),
                        Err(_) => 0,
                    },
                    Err(err) => {
                        bad.push(format!("{id} (v0: {v0}) errors on {file}: {err}"));
                        continue;
                    }
                };
                let want = counts.get(id.as_str()).copied().unwrap_or(0);
                compared += 1;
                if want > 0 {
                    fired += 1;
                }
                if got != want {
                    let name = json["metadata"]["name"].as_str().unwrap_or("?");
                    bad.push(format!(
                        "{id} (v0: {v0}) on {file} {}/{name}: Rego {got} findings, Wasm {want}",
                        json["kind"].as_str().unwrap_or("?")
                    ));
                }
            }
            (compared, fired, 0, bad)
        })
        .collect();
    let mut stats = Stats::default();
    for (c, f, e, bad) in results {
        stats.compared += c;
        stats.fired += f;
        stats.wasm_errors += e;
        stats.disagreements.extend(bad);
    }
    stats
}

fn assert_agree(what: &str, stats: &Stats) {
    eprintln!(
        "{what}: {} (object, rule, Rego version) triples compared, {} fired, {} Wasm errors, {} disagreements",
        stats.compared,
        stats.fired,
        stats.wasm_errors,
        stats.disagreements.len()
    );
    assert!(
        stats.disagreements.is_empty(),
        "{what}: {} disagreements:\n{}",
        stats.disagreements.len(),
        stats.disagreements[..stats.disagreements.len().min(40)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Hand-written policies covering every IR construct.

const CONSTRUCTS: &str = r#"
module t

fn priv(c: Container) -> bool = c.securityContext.privileged ?? false

rule images {
  title "Images come from allowed registries"
  severity high
  controls ["X 1"]
  match Pod
  param registries: list<string> = ["docker.io", "ghcr.io"]
  deny for c in all_containers(object)
    when not (image(c.image ?? "").registry in registries)
    at c.image
    message "container `{c.name}` uses registry {image(c.image ?? "").registry} (repository {image(c.image ?? "").repository})"
  warn for i, c in object.spec.containers
    when image(c.image ?? "x").tag == "" and image(c.image ?? "x").digest == ""
    message "container {i} `{c.name}` has no tag"
}

rule resources {
  title "Memory limits"
  match Pod
  param max_memory: quantity = quantity("1Gi")
  deny for c in object.spec.containers
    when c.resources.limits["memory"] == null
    at c.resources
    message "container `{c.name}` has no memory limit"
  deny for c in object.spec.containers
    when (c.resources.limits["memory"] ?? quantity("0")) > max_memory
    at c.resources.limits["memory"]
    message "container `{c.name}` memory limit {c.resources.limits["memory"]} is above {max_memory}"
  deny for c in object.spec.containers
    when (c.resources.requests["cpu"] ?? quantity("1")) < quantity("100m")
    message "container `{c.name}` requests less than 100m cpu"
}

rule names {
  title "Names, labels and strings"
  match Pod
  deny when not matches(object.metadata.name ?? "", "^[a-z][a-z0-9-]*$")
    at object.metadata.name
    message "name {object.metadata.name} is not a DNS label"
  deny when glob(object.metadata.name ?? "", "tmp-*")
    message "name {object.metadata.name} is temporary"
  warn when len(object.metadata.name ?? "") > 20
    message "name has {len(object.metadata.name ?? "")} bytes"
  deny for k, v in object.metadata.labels
    when starts_with(lower(k), "bad") or ends_with(upper(v), "-X") or contains(v, "??")
    at v
    message "label {k}={v} is not allowed"
  deny when "debug" in object.metadata.labels
    message "debug label"
  deny when len(keys(object.metadata.annotations)) > 3
    message "too many annotations: {keys(object.metadata.annotations)}"
}

rule quantifiers {
  title "any, all, if, arithmetic, functions"
  match Pod
  let n = len(object.spec.containers)
  deny when any c in all_containers(object): priv(c)
    message "some container is privileged ({n} containers)"
  deny when n > 0 and (all c in object.spec.containers: c.securityContext == null)
    message "no container has a securityContext"
  deny when if (object.spec.hostNetwork ?? false) then true else (object.spec.dnsPolicy ?? "") == "None"
    message "host network or dnsPolicy None"
  deny when (object.spec.terminationGracePeriodSeconds ?? 30) + 10 > 100 or (object.spec.priority ?? 0) - 5 < -10
    message "grace {object.spec.terminationGracePeriodSeconds} priority {object.spec.priority}"
  deny for c in all_containers(object)
    for p in c.ports
    when (p.hostPort ?? 0) != 0 and p.protocol != null
    at p.hostPort
    message "container `{c.name}` host port {p.hostPort}/{p.protocol}"
  deny when object.spec.nodeSelector["kubernetes.io/os"] != null and not ("kubernetes.io/arch" in object.spec.nodeSelector)
    message "os without arch"
}

rule scoped {
  title "Namespaces and labels"
  match Pod
  match namespaces ["team-*", "a?c"]
  exclude namespaces ["team-x"]
  match labels {"app": "web-*"}
  exclude labels {"skip": "*"}
  deny message "pod in a team namespace"
}

rule ns_owner {
  title "Namespaces have an owner"
  match Namespace
  deny when object.metadata.labels["owner"] == null
    at object.metadata.labels
    message "namespace `{object.metadata.name}` has no owner"
  warn when (object.metadata.labels["owner"] ?? "") == "nobody"
    message "owner is nobody"
}

rule deployments_only {
  title "Deployments have two replicas"
  match apps/Deployment
  deny when (object.spec.replicas ?? 1) < 2
    at object.spec.replicas
    message "replicas {object.spec.replicas}"
}

rule service_backed {
  title "Services have a deployment in their namespace"
  match Service
  deny when not (any d in objects(Deployment): (d.metadata.namespace ?? "") == (object.metadata.namespace ?? ""))
    message "service `{object.metadata.name}` has no deployment in its namespace"
  deny for d in objects(Deployment)
    when (d.metadata.name ?? "") == (object.metadata.name ?? "") and (d.metadata.namespace ?? "") != (object.metadata.namespace ?? "")
    message "a deployment with this name lives in {d.metadata.namespace}"
}
"#;

const OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: default}
spec:
  containers:
  - name: app
    image: nginx:1.25
    resources: {limits: {memory: 512Mi}, requests: {cpu: 250m}}
    securityContext: {privileged: false}
---
apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name-that-is-rather-long
  namespace: team-a
  labels: {app: web-1, badge: "1", tier: front-x, debug: "y"}
  annotations: {a: "1", b: "2", c: "3", d: "4"}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 100
  nodeSelector: {kubernetes.io/os: linux}
  initContainers:
  - name: init
    image: quay.io/org/init@sha256:abc
    securityContext: {privileged: true}
  containers:
  - name: a
    image: localhost:5000/a
    ports: [{containerPort: 80, hostPort: 8080, protocol: TCP}, {containerPort: 81, hostPort: 0}]
    resources: {limits: {memory: 2Gi, cpu: "2"}, requests: {cpu: 50m}}
  - name: b
    image: ghcr.io/x/b:1
    resources: {limits: {memory: "1073741824"}}
    securityContext: null
  ephemeralContainers:
  - name: dbg
    image: busybox
    ports: [{containerPort: 1, hostPort: 1}]
---
apiVersion: v1
kind: Pod
metadata: {name: tmp-1, namespace: abc, labels: {app: web-2, skip: "yes"}}
spec:
  dnsPolicy: None
  priority: -20
  securityContext: null
  containers:
  - {name: c, image: "docker.io/library/busybox:latest", resources: null}
---
apiVersion: v1
kind: Pod
metadata: {name: nulls, namespace: team-x, labels: null, annotations: null}
spec:
  containers: null
  volumes: null
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team-b, labels: {app: web-3}}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: evil.example.com/web
        securityContext: {privileged: true}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 3
  template: null
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: job, namespace: default}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            image: nginx
            ports: [{containerPort: 1, hostPort: 9}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: default}
spec:
  template:
    spec:
      containers: [{name: j, image: "registry.k8s.io/pause:3.9"}]
---
apiVersion: apps/v1beta1
kind: Deployment
metadata: {name: old, namespace: default}
spec:
  replicas: 1
  template: {spec: {containers: [{name: o, image: "k8s.gcr.io/o:1"}]}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {owner: nobody}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-c}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team-b}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: other}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: default}
"#;

fn constructs() -> Program {
    program_of(vec![("t.rp".into(), CONSTRUCTS.into())])
}

fn fixture_objects() -> Vec<(String, Node)> {
    load(OBJECTS)
        .into_iter()
        .map(|n| ("fixtures".to_string(), n))
        .collect()
}

#[test]
fn constructs_agree_with_wasm() {
    let program = constructs();
    let stats = differential(&program, &fixture_objects(), true);
    assert_agree("hand-written policies", &stats);
    assert!(
        stats.fired > 20,
        "the fixtures exercise the rules: {stats:?}"
    );
}

#[test]
fn constructs_agree_object_by_object() {
    // Without a set, objects() sees only the object itself (and inventory is empty).
    let stats = differential(&constructs(), &fixture_objects(), false);
    assert_agree("hand-written policies, one object at a time", &stats);
}

#[test]
fn written_forms_agree_with_wasm() {
    let program = program_of(vec![("forms.rp".into(), FORMS.into())]);
    let objects: Vec<(String, Node)> = load(FORMS_OBJECTS)
        .into_iter()
        .map(|n| ("forms".to_string(), n))
        .collect();
    let stats = differential(&program, &objects, false);
    assert_agree("written forms", &stats);
    assert!(
        stats.fired > 10,
        "the objects exercise the rules: {stats:?}"
    );
}

#[test]
fn autogen_context_agrees_with_wasm() {
    let program = program_of(vec![("autogen.rp".into(), AUTOGEN.into())]);
    let objects: Vec<(String, Node)> = load(AUTOGEN_OBJECTS)
        .into_iter()
        .map(|n| ("autogen".to_string(), n))
        .collect();
    let stats = differential(&program, &objects, false);
    assert_agree("autogen context", &stats);
    assert!(
        stats.fired > 10,
        "the objects exercise the rules: {stats:?}"
    );
}

/// The Rego's messages under autogen are the Wasm evaluator's: the controller's kind and
/// name, its namespace, and `<none>` for what is absent.
#[test]
fn autogen_context_messages_agree_with_wasm() {
    let program = program_of(vec![("autogen.rp".into(), AUTOGEN.into())]);
    let exported = export(&program);
    let reference = Reference::new(&program);
    let mut compared = 0;
    for node in load(AUTOGEN_OBJECTS) {
        let json = node.to_json();
        for (id, (package, rego, params)) in &exported.rules {
            let want = reference.messages(&node, id);
            let mut e = regorus::Engine::new();
            e.add_policy(format!("{id}.rego"), rego.clone()).unwrap();
            let mut input = json!({"review": review(&json)});
            if let Some(p) = params {
                input["parameters"] = p.clone();
            }
            e.set_input(regorus::Value::from(input));
            let violations = e.eval_rule(format!("data.{package}.violation")).unwrap();
            let mut got: Vec<String> = violations
                .as_set()
                .unwrap()
                .iter()
                .map(|v| v["msg"].as_string().unwrap().to_string())
                .collect();
            got.sort();
            assert_eq!(got, want, "{id} on {}", json["metadata"]["name"]);
            compared += want.len();
        }
    }
    assert!(compared > 10, "messages compared: {compared}");
}

#[test]
fn stdlib_agrees_on_psa_corpus() {
    let objects = corpus(&Path::new(SHARED).join("corpus/psa"));
    assert!(objects.len() > 50, "the psa corpus is there");
    let stats = differential(&stdlib_program(), &objects, false);
    assert_agree("stdlib on corpus/psa", &stats);
}

#[test]
fn stdlib_agrees_on_real_corpus() {
    let objects = corpus(&Path::new(SHARED).join("corpus/real"));
    assert!(objects.len() > 100, "the real corpus is there");
    let stats = differential(&stdlib_program(), &objects, false);
    assert_agree("stdlib on corpus/real", &stats);
}

#[test]
fn stdlib_agrees_on_fixtures() {
    let stats = differential(&stdlib_program(), &fixture_objects(), false);
    assert_agree("stdlib on the fixtures", &stats);
}

// ---------------------------------------------------------------------------------------
// Structure of the output.

/// The Rego of a template: `targets[0].rego`, or the `Rego` engine's source in `code` (the
/// CRD allows one place only).
fn template_rego(d: &Json) -> &str {
    let target = &d["spec"]["targets"][0];
    match target["code"].as_array() {
        None => target["rego"].as_str().unwrap(),
        Some(code) => {
            assert!(target.get("rego").is_none(), "Rego in two places");
            let engines: Vec<&str> = code.iter().map(|c| c["engine"].as_str().unwrap()).collect();
            assert_eq!(engines, ["K8sNativeValidation", "Rego"]);
            let cel = &code[0]["source"];
            assert!(!cel["validations"].as_array().unwrap().is_empty());
            for v in cel["validations"].as_array().unwrap() {
                assert!(v["expression"].is_string() && v["messageExpression"].is_string());
            }
            code[1]["source"]["rego"].as_str().unwrap()
        }
    }
}

fn check_output(files: &[OutputFile]) {
    let ct = crd_schema(
        "gatekeeper",
        "constrainttemplates.templates.gatekeeper.sh.crd.yaml",
        "v1",
    );
    let matcher = crd_schema("gatekeeper", "constraint-match.matchcrd.yaml", "")["properties"]
        ["embeddedMatch"]
        .clone();
    let mut templates = BTreeMap::new();
    let mut errors = Vec::new();
    for f in files {
        // Templates (and the SyncSet) in templates/, applied before constraints/.
        let (dir, file) = f.path.split_once('/').expect("a folder");
        assert!(!file.contains('/') && file.ends_with(".yaml"), "{}", f.path);
        for d in docs(f) {
            let is_constraint = d["apiVersion"] == "constraints.gatekeeper.sh/v1beta1";
            assert_eq!(
                dir,
                if is_constraint {
                    "constraints"
                } else {
                    "templates"
                },
                "{}",
                f.path
            );
            if d["kind"] == "ConstraintTemplate" {
                let name = d["metadata"]["name"].as_str().unwrap().to_string();
                validate(&ct, &d, &name, &mut errors);
                let kind = d["spec"]["crd"]["spec"]["names"]["kind"].as_str().unwrap();
                assert_eq!(name, kind.to_lowercase());
                assert!(d["metadata"]["annotations"]["rampart.dev/rule"].is_string());
                assert_eq!(d["spec"]["targets"].as_array().unwrap().len(), 1);
                let rego = template_rego(&d);
                assert!(
                    !rego.contains("rego.v1"),
                    "Gatekeeper rejects `import rego.v1`"
                );
                let params = d["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"].clone();
                structural(&params, &name, &mut errors);
                templates.insert(kind.to_string(), params);
            }
        }
    }
    for f in files {
        for d in docs(f) {
            if d["apiVersion"] != "constraints.gatekeeper.sh/v1beta1" {
                continue;
            }
            let name = d["metadata"]["name"].as_str().unwrap();
            assert!(name.len() <= 63);
            let kind = d["kind"].as_str().unwrap();
            let params = templates
                .get(kind)
                .expect("every Constraint has its template");
            validate(&matcher, &d["spec"]["match"], name, &mut errors);
            if !d["spec"]["parameters"].is_null() {
                validate(params, &d["spec"]["parameters"], name, &mut errors);
            }
            assert!(["deny", "warn"].contains(&d["spec"]["enforcementAction"].as_str().unwrap()));
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The rules the export leaves out are those that read `who_can`, each with why.
fn assert_gaps_are_views(program: &Program, exported: &gatekeeper::Exported) {
    let views: Vec<&str> = program
        .rules
        .iter()
        .filter(|r| r.reads_view())
        .map(|r| r.id.as_str())
        .collect();
    let gaps: Vec<&str> = exported.gaps.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(gaps, views);
    for gap in &exported.gaps {
        assert!(gap.to_string().contains("reads `who_can`"), "{gap}");
    }
}

#[test]
fn templates_validate_against_the_crd() {
    for program in [constructs(), stdlib_program()] {
        let exported = gatekeeper::export(&program).unwrap();
        assert_gaps_are_views(&program, &exported);
        let exported_rules = program.rules.len() - exported.gaps.len();
        let reads_others = program
            .rules
            .iter()
            .any(|r| r.reads_other_objects() && !r.reads_view());
        assert_eq!(
            exported.files.len(),
            2 * exported_rules + reads_others as usize
        );
        check_output(&exported.files);
    }
}

#[test]
fn output_is_deterministic() {
    let a = gatekeeper::export(&constructs()).unwrap().files;
    let b = gatekeeper::export(&constructs()).unwrap().files;
    assert_eq!(a, b);
    let paths: Vec<&str> = a.iter().map(|f| f.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
}

#[test]
fn set_rules_come_with_a_syncset() {
    let files = gatekeeper::export(&constructs()).unwrap().files;
    let sync = files
        .iter()
        .find(|f| f.path == "templates/sync.yaml")
        .expect("a SyncSet");
    let d = &docs(sync)[0];
    assert_eq!(d["kind"], "SyncSet");
    assert_eq!(
        d["spec"]["gvks"],
        json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
    );
    let svc = files
        .iter()
        .find(|f| f.path == "templates/t-service-backed.yaml")
        .unwrap();
    assert!(svc
        .contents
        .contains("metadata.gatekeeper.sh/requires-sync-data"));
}

#[test]
fn pod_rules_match_pods_and_controllers() {
    let files = gatekeeper::export(&constructs()).unwrap().files;
    let f = files
        .iter()
        .find(|f| f.path == "constraints/t-images.yaml")
        .unwrap();
    let constraint = &docs(f)[0];
    let kinds = &constraint["spec"]["match"]["kinds"];
    let all: Vec<&str> = kinds
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| k["kinds"].as_array().unwrap().iter())
        .map(|k| k.as_str().unwrap())
        .collect();
    for k in [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
    ] {
        assert!(all.contains(&k), "{k} in {all:?}");
    }
}

#[test]
fn snapshots() {
    let files = gatekeeper::export(&constructs()).unwrap().files;
    for name in [
        "templates/t-images.yaml",
        "constraints/t-images.yaml",
        "templates/t-scoped.yaml",
        "constraints/t-scoped.yaml",
        "templates/t-service-backed.yaml",
    ] {
        let f = files.iter().find(|f| f.path == name).unwrap();
        insta::assert_snapshot!(name.replace('/', "-"), f.contents);
    }
}

/// `gatekeeper-cel`: the same files with both engines in each template (the Rego unchanged),
/// valid against the CRD; set rules keep the Rego engine alone and are reported.
#[test]
fn cel_engine_beside_rego() {
    for program in [constructs(), stdlib_program()] {
        let rego_only = gatekeeper::export(&program).unwrap().files;
        let exported =
            gatekeeper::export_engines(&program, gatekeeper::Engines::RegoAndCel, true).unwrap();
        assert_gaps_are_views(&program, &exported);
        let (files, skipped) = (exported.files, exported.rego_only);
        check_output(&files);
        let set_rules: Vec<&str> = program
            .rules
            .iter()
            .filter(|r| r.reads_other_objects() && !r.reads_view())
            .map(|r| r.id.as_str())
            .collect();
        let skipped_ids: Vec<&str> = skipped.iter().map(|e| e.rule.as_str()).collect();
        // Set rules, and the constructs the CEL backend reports, keep Rego alone.
        for id in &set_rules {
            assert!(skipped_ids.contains(id), "{id}");
        }
        assert!(skipped.iter().all(|e| e.target == "gatekeeper-cel"));
        assert_eq!(files.len(), rego_only.len());
        let mut with_cel = 0;
        for (a, b) in rego_only.iter().zip(&files) {
            assert_eq!(a.path, b.path);
            for (x, y) in docs(a).iter().zip(docs(b).iter()) {
                if x["kind"] != "ConstraintTemplate" {
                    assert_eq!(x, y);
                    continue;
                }
                assert_eq!(template_rego(x), template_rego(y));
                let id = y["metadata"]["annotations"]["rampart.dev/rule"]
                    .as_str()
                    .unwrap();
                let has_cel = y["spec"]["targets"][0].get("code").is_some();
                assert_eq!(has_cel, !skipped_ids.contains(&id), "{id}");
                with_cel += has_cel as usize;
            }
        }
        assert_eq!(
            with_cel,
            program.rules.len() - exported.gaps.len() - skipped_ids.len()
        );
        assert!(with_cel > 0);
    }
}

#[test]
fn cel_snapshots() {
    let files = gatekeeper::export_engines(&constructs(), gatekeeper::Engines::RegoAndCel, true)
        .unwrap()
        .files;
    for name in ["t-images.yaml", "t-scoped.yaml"] {
        let path = format!("templates/{name}");
        let f = files.iter().find(|f| f.path == path).unwrap();
        insta::assert_snapshot!(format!("cel-{name}"), f.contents);
    }
}

/// Writes the export of the standard library to `$RAMPART_GATEKEEPER_OUT` (for running the
/// output with other engines by hand).
#[test]
#[ignore]
fn write_stdlib_export() {
    let Ok(dir) = std::env::var("RAMPART_GATEKEEPER_OUT") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    for f in gatekeeper::export(&stdlib_program()).unwrap().files {
        let path = Path::new(&dir).join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, f.contents).unwrap();
    }
}
