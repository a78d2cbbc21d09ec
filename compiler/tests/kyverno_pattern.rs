//! The pattern-style Kyverno export (`rampart build --target kyverno --kyverno-style
//! pattern`), checked without a Kyverno engine: every ClusterPolicy validates against the
//! ClusterPolicy CRD schema, and a matcher written after Kyverno's own pattern code
//! (pkg/engine/validate, pkg/engine/anchor/handlers.go, pkg/engine/pattern) gives the same
//! verdicts as the Wasm evaluator on the fixtures and on ../shared/corpus. The matcher knows
//! only what the exporter writes (plain keys, `=()` and `X()` anchors, arrays of one map,
//! booleans, integers, plain words, `!word` and `*`) and panics on anything else, so a new
//! construct in the output cannot pass unchecked.

use std::collections::HashMap;

use rampart_compiler::backend::cel::kyverno::{self, PATTERN_DIR};
use rampart_compiler::backend::cel::OutputFile;
use rampart_compiler::ir::Program;
use rampart_runtime::manifest::Node;
use serde_json::{json, Value as Json};

mod common;
use common::{
    compile_source, corpus, crd_schema, load_objects, stdlib, strip_nulls, validate, Reference,
};

/// Rules written so that the pattern style expresses them, with the fixtures below.
const RULES: &str = r#"
module pat

fn privileged(c: Container) -> bool = c.securityContext.privileged ?? false

rule privileged {
  title "privileged"
  match Pod
  deny for c in all_containers(object) when privileged(c)
    message "container `{c.name}` is privileged"
}

rule escalation {
  title "allowPrivilegeEscalation must be false"
  match Pod
  deny for c in object.spec.containers
    when c.securityContext.allowPrivilegeEscalation ?? true
    message "container `{c.name}` may escalate"
}

rule host {
  title "host namespaces"
  match Pod
  deny when (object.spec.hostNetwork ?? false) or (object.spec.hostPID ?? false)
      or (object.spec.hostIPC ?? false)
    message "host namespace"
}

rule ports {
  title "host ports"
  match Pod
  deny for c in object.spec.containers
    for p in c.ports
    when p.hostPort != null
    message "host port"
}

rule root {
  title "non-root"
  match Pod
  deny when not (object.spec.securityContext.runAsNonRoot ?? false)
      and (object.spec.securityContext.runAsUser ?? 0) != 1000
    message "may run as root"
}

rule proc {
  title "proc mount"
  match Pod
  deny for c in all_containers(object)
    when (c.securityContext.procMount ?? "Default") != "Default"
    message "unmasked /proc"
}

rule pull {
  title "pull policy"
  match Deployment, StatefulSet
  match namespaces ["prod*", "stag?"]
  exclude labels {"tier": "test"}
  deny when (object.spec.template.spec.priorityClassName ?? "") == "critical"
    message "critical priority"
}

rule owner {
  title "owner"
  match ConfigMap
  match labels {"managed": "*", "team": "a"}
  warn when object.metadata.annotations["owner"] == null
    message "no owner"
  deny when (object.metadata.annotations["frozen"] ?? "no") == "yes"
    message "frozen"
}

rule not_expressible {
  title "replicas"
  match Deployment
  deny when (object.spec.replicas ?? 1) > 3
    message "too many"
}
"#;

const OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: prod}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - name: a
    securityContext: {allowPrivilegeEscalation: false, privileged: false}
---
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: prod}
spec:
  hostPID: true
  securityContext: {runAsUser: 0}
  initContainers:
  - name: i
    securityContext: {privileged: true, procMount: Unmasked}
  containers:
  - name: a
    ports: [{containerPort: 80}, {containerPort: 81, hostPort: 81}]
---
apiVersion: v1
kind: Pod
metadata: {name: user-1000}
spec:
  securityContext: {runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  hostNetwork: false
  containers:
  - {name: a, securityContext: {allowPrivilegeEscalation: null}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d1, namespace: prod, labels: {tier: web}}
spec:
  replicas: 5
  template:
    spec:
      hostIPC: true
      priorityClassName: critical
      containers:
      - {name: a, imagePullPolicy: Never, securityContext: {allowPrivilegeEscalation: false}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d2, namespace: prod, labels: {tier: test}}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true}
      priorityClassName: critical
      containers:
      - {name: a, imagePullPolicy: Never, securityContext: {allowPrivilegeEscalation: false}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s1, namespace: stag1}
spec:
  template:
    spec:
      priorityClassName: low
      containers:
      - {name: a, imagePullPolicy: Always, ports: [{containerPort: 1, hostPort: 2}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj, namespace: dev}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          securityContext: {runAsNonRoot: true}
          containers:
          - {name: a, securityContext: {privileged: true, allowPrivilegeEscalation: false}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c1, labels: {managed: "yes", team: a}, annotations: {frozen: "yes"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c2, labels: {managed: "", team: a}, annotations: {owner: me, frozen: "no"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c3, labels: {team: a}}
"#;

fn docs(file: &OutputFile) -> Vec<Json> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(&file.contents)
        .map(|d| Json::deserialize(d).expect("valid YAML"))
        .collect()
}

fn export(program: &Program) -> (Vec<Json>, Vec<String>) {
    let (files, errors) = kyverno::export_pattern_policies_all(program);
    let mut policies = Vec::new();
    for f in &files {
        assert!(f.path.starts_with(&format!("{PATTERN_DIR}/")), "{}", f.path);
        policies.extend(docs(f));
    }
    (policies, errors.iter().map(|e| e.rule.clone()).collect())
}

// ---------------------------------------------------------------------------------------
// Kyverno's pattern semantics.

/// Kyverno's wildcard match (`*` any run, `?` one character).
fn wildcard(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some(('?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(&p, &s)
}

/// A word the exporter writes as a string pattern: letters and digits, a letter first.
fn word(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// `pattern.Validate` for the scalar patterns the exporter writes.
fn scalar(value: &Json, pattern: &Json) -> bool {
    match pattern {
        Json::Bool(b) => value.as_bool() == Some(*b),
        Json::Number(n) => {
            let p = n.as_i64().expect("integer patterns only");
            match value {
                Json::Number(v) => v.as_f64() == Some(p as f64),
                Json::String(s) => s.parse::<i64>().ok() == Some(p),
                _ => false,
            }
        }
        Json::Null => match value {
            Json::Null => true,
            Json::Bool(b) => !b,
            Json::Number(n) => n.as_f64() == Some(0.0),
            Json::String(s) => s.is_empty(),
            _ => false,
        },
        Json::String(p) => {
            if value.as_str() == Some(p) {
                return true;
            }
            let (negated, word_p) = match p.strip_prefix('!') {
                Some(w) => (true, w),
                None => (false, p.as_str()),
            };
            assert!(word(word_p), "string pattern `{p}` is outside the matcher");
            // Neither a quantity nor a duration: compared as a string; null never matches.
            let text = match value {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                _ => return false,
            };
            wildcard(word_p, &text) != negated
        }
        other => panic!("pattern {other} is outside the matcher"),
    }
}

/// `validateResourceElement`: does `resource` satisfy `pattern`?
fn matches(resource: &Json, pattern: &Json) -> bool {
    match pattern {
        Json::Object(p) => {
            let Some(r) = resource.as_object() else {
                return false;
            };
            p.iter().all(|(key, sub)| {
                if let Some(k) = key.strip_prefix("=(").and_then(|k| k.strip_suffix(')')) {
                    r.get(k).is_none_or(|v| matches(v, sub))
                } else if let Some(k) = key.strip_prefix("X(").and_then(|k| k.strip_suffix(')')) {
                    !r.contains_key(k)
                } else {
                    assert!(
                        !key.contains(['(', ')', '*', '?']),
                        "key `{key}` is outside the matcher"
                    );
                    let v = r.get(key).unwrap_or(&Json::Null);
                    if sub == "*" {
                        !v.is_null()
                    } else {
                        matches(v, sub)
                    }
                }
            })
        }
        Json::Array(items) => {
            assert!(
                items.len() == 1 && items[0].is_object(),
                "only arrays of one map are written"
            );
            match resource.as_array() {
                Some(rs) => rs.iter().all(|r| matches(r, &items[0])),
                None => false,
            }
        }
        _ => match resource {
            Json::Array(rs) => rs.iter().all(|r| scalar(r, pattern)),
            _ => scalar(resource, pattern),
        },
    }
}

fn kind_matches(k: &str, obj: &Json) -> bool {
    let kind = obj["kind"].as_str().unwrap_or("");
    let api = obj["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    match k.split('/').collect::<Vec<_>>()[..] {
        [only] => only == kind,
        [g, v, kk] => kk == kind && g == group && (v == "*" || v == version),
        _ => panic!("kind `{k}` is outside the matcher"),
    }
}

fn selector_matches(sel: &Json, obj: &Json) -> bool {
    let labels = &obj["metadata"]["labels"];
    let exact = sel["matchLabels"].as_object().into_iter().flatten();
    let exact_ok = exact
        .into_iter()
        .all(|(k, v)| labels.get(k).is_some_and(|x| x == v));
    let exprs = sel["matchExpressions"].as_array().into_iter().flatten();
    let exprs_ok = exprs.into_iter().all(|e| {
        assert_eq!(e["operator"], "Exists", "operator outside the matcher");
        labels.get(e["key"].as_str().unwrap()).is_some()
    });
    exact_ok && exprs_ok
}

/// A `resources` filter of `match`/`exclude` (kinds, namespaces, selector) on an object.
fn resources_match(r: &Json, obj: &Json) -> bool {
    for key in r.as_object().unwrap().keys() {
        assert!(
            ["kinds", "namespaces", "selector"].contains(&key.as_str()),
            "`{key}` outside the matcher"
        );
    }
    if let Some(kinds) = r["kinds"].as_array() {
        if !kinds.iter().any(|k| kind_matches(k.as_str().unwrap(), obj)) {
            return false;
        }
    }
    if let Some(ns) = r["namespaces"].as_array() {
        // Kyverno reads a Namespace's own name as its namespace.
        let own = if obj["kind"] == "Namespace" {
            obj["metadata"]["name"].as_str()
        } else {
            obj["metadata"]["namespace"].as_str()
        };
        let own = own.unwrap_or("");
        if !ns.iter().any(|g| wildcard(g.as_str().unwrap(), own)) {
            return false;
        }
    }
    if !r["selector"].is_null() && !selector_matches(&r["selector"], obj) {
        return false;
    }
    true
}

/// Kyverno's autogen: the pod template path of a controller kind.
fn template_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => Some(&["spec", "template"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

fn nest(path: &[&str], pattern: &Json) -> Json {
    path.iter()
        .rev()
        .fold(pattern.clone(), |inner, k| json!({ *k: inner }))
}

/// Does Kyverno's rule `rule` of a policy with autogen `controllers` fail on `obj`?
/// `None` when it does not apply.
fn rule_fails(rule: &Json, controllers: &[&str], obj: &Json) -> Option<bool> {
    let kind = obj["kind"].as_str().unwrap_or("");
    let resources = &rule["match"]["any"][0]["resources"];
    let mut wrap: &[&str] = &[];
    if !resources_match(resources, obj) {
        // The controller rules autogen derives: same filters, the controller's kind.
        let mut r = resources.clone();
        r["kinds"] = json!([kind]);
        let pod_rule = resources["kinds"] == json!(["Pod"]);
        if !(pod_rule && controllers.contains(&kind) && resources_match(&r, obj)) {
            return None;
        }
        wrap = template_path(kind).unwrap();
        // The API server requires the template; the spec skips a controller without one.
        let mut node = obj;
        for k in wrap {
            node = node.get(*k).filter(|n| !n.is_null())?;
        }
    }
    if let Some(ex) = rule["exclude"]["any"].as_array() {
        if ex.iter().any(|e| resources_match(&e["resources"], obj)) {
            return None;
        }
    }
    let object = strip_nulls(obj);
    let v = &rule["validate"];
    let pass = match (&v["pattern"], v["anyPattern"].as_array()) {
        (p, None) if !p.is_null() => matches(&object, &nest(wrap, p)),
        (Json::Null, Some(ps)) => ps.iter().any(|p| matches(&object, &nest(wrap, p))),
        _ => panic!("a rule without pattern or anyPattern: {v}"),
    };
    Some(!pass)
}

/// Per rule id, which actions Kyverno would take on `obj` (deny: Enforce, warn: Audit).
fn kyverno_verdicts(
    policies: &[Json],
    program: &Program,
    obj: &Json,
) -> HashMap<String, (bool, bool)> {
    let mut out: HashMap<String, (bool, bool)> = HashMap::new();
    for p in policies {
        let enforce = match p["spec"]["validationFailureAction"].as_str().unwrap() {
            "Enforce" => true,
            "Audit" => false,
            other => panic!("{other}"),
        };
        let autogen = p["metadata"]["annotations"]["pod-policies.kyverno.io/autogen-controllers"]
            .as_str()
            .unwrap();
        let controllers: Vec<&str> = autogen.split(',').filter(|c| *c != "none").collect();
        let ids: Vec<&str> = p["metadata"]["annotations"]["rampart.dev/rules"]
            .as_str()
            .unwrap()
            .split(',')
            .collect();
        for rule in p["spec"]["rules"].as_array().unwrap() {
            let name = rule["name"].as_str().unwrap();
            let base = |id: &&str| {
                let r = program.rules.iter().find(|r| r.id == *id).unwrap();
                rampart_compiler::names::fit(&rampart_compiler::names::label(&r.name))
            };
            let id = ids
                .iter()
                .find(|id| base(id) == name)
                .or_else(|| {
                    ids.iter().find(|id| {
                        name.strip_prefix(&format!("{}-", base(id)))
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
                })
                .unwrap_or_else(|| panic!("rule `{name}` belongs to no listed rule"));
            if rule_fails(rule, &controllers, obj) == Some(true) {
                let e = out.entry(id.to_string()).or_default();
                if enforce {
                    e.0 = true;
                } else {
                    e.1 = true;
                }
            }
        }
    }
    out
}

/// Compares the pattern verdicts with the Wasm evaluator's, for the exported rules.
fn differential(program: &Program, objects: &[(String, Node)]) -> (usize, Vec<String>) {
    let (policies, skipped) = export(program);
    let reference = Reference::new(program);
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for (name, node) in objects {
        let Ok(want) = reference.verdicts(node) else {
            continue;
        };
        let got = kyverno_verdicts(&policies, program, &node.to_json());
        for rule in &program.rules {
            if skipped.contains(&rule.id) {
                continue;
            }
            compared += 1;
            let w = want.get(&rule.id).copied().unwrap_or_default();
            let g = got.get(&rule.id).copied().unwrap_or_default();
            if w != g {
                disagreements.push(format!("{} on {name}: wasm {w:?}, pattern {g:?}", rule.id));
            }
        }
    }
    (compared, disagreements)
}

// ---------------------------------------------------------------------------------------

#[test]
fn the_matcher_follows_kyverno() {
    let obj = json!({"a": {"b": true, "n": 3, "s": "Default"}, "l": [{"x": 1}, {"x": 2}]});
    assert!(matches(&obj, &json!({"=(z)": {"=(b)": false}})));
    assert!(!matches(&obj, &json!({"=(a)": {"=(b)": false}})));
    assert!(
        !matches(&obj, &json!({"z": {"=(b)": false}})),
        "plain keys must exist"
    );
    assert!(matches(&obj, &json!({"a": {"X(c)": null}})));
    assert!(!matches(&obj, &json!({"a": {"X(b)": null}})));
    assert!(matches(&obj, &json!({"a": {"s": "!Unmasked"}})));
    assert!(
        !matches(&obj, &json!({"a": {"c": "!Unmasked"}})),
        "null is no string"
    );
    assert!(matches(&obj, &json!({"a": {"n": 3, "s": "*"}})));
    assert!(!matches(&obj, &json!({"a": {"c": "*"}})));
    assert!(matches(&obj, &json!({"=(l)": [{"=(x)": "!Three"}]})));
    assert!(
        !matches(&obj, &json!({"l": [{"x": 1}]})),
        "every element must match"
    );
    assert!(matches(&json!({"l": []}), &json!({"l": [{"x": 1}]})));
    assert!(
        wildcard("prod*", "prod-1") && wildcard("stag?", "stag1") && !wildcard("stag?", "stag")
    );
}

#[test]
fn policies_validate_against_the_crd() {
    let schema = crd_schema("kyverno", "kyverno.io_clusterpolicies.yaml", "v1");
    for program in [compile_source(RULES), stdlib()] {
        let (policies, _) = export(&program);
        assert!(!policies.is_empty());
        let mut errors = Vec::new();
        for p in &policies {
            assert_eq!(p["kind"], "ClusterPolicy");
            validate(
                &schema,
                p,
                p["metadata"]["name"].as_str().unwrap(),
                &mut errors,
            );
            for r in p["spec"]["rules"].as_array().unwrap() {
                assert!(r["name"].as_str().unwrap().len() <= 63);
                assert!(
                    r["validate"].get("cel").is_none(),
                    "no CEL in pattern policies"
                );
            }
        }
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

#[test]
fn inexpressible_rules_are_reported() {
    let program = compile_source(RULES);
    let (files, errors) = kyverno::export_pattern_policies_all(&program);
    let ids: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(ids, ["pat.not_expressible"]);
    assert_eq!(errors[0].target, kyverno::PATTERN_TARGET);
    assert!(
        errors[0]
            .to_string()
            .contains("field compared with a constant"),
        "{}",
        errors[0]
    );
    // One policy per module, autogen group and failure action.
    let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "pattern/pat-pattern-audit.yaml",
            "pattern/pat-pattern-pods.yaml",
            "pattern/pat-pattern.yaml"
        ]
    );
}

#[test]
fn patterns_agree_with_wasm_on_fixtures() {
    let program = compile_source(RULES);
    let objects = load_objects("objects", OBJECTS.as_bytes());
    let (compared, disagreements) = differential(&program, &objects);
    assert!(compared >= 80, "{compared}");
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn stdlib_patterns_agree_with_wasm_on_corpus() {
    let program = stdlib();
    let (_, skipped) = export(&program);
    assert!(
        skipped.len() < program.rules.len(),
        "some stdlib rule is expressible"
    );
    for sub in ["psa", "real"] {
        let objects = corpus(sub);
        let (compared, disagreements) = differential(&program, &objects);
        eprintln!(
            "stdlib on {sub}: {compared} (rule, object) pairs, {} disagree",
            disagreements.len()
        );
        assert!(compared > 0);
        assert!(
            disagreements.is_empty(),
            "{:#?}",
            &disagreements[..disagreements.len().min(20)]
        );
    }
}

#[test]
fn snapshots() {
    let program = compile_source(common::SNAPSHOT_RULES);
    let (files, errors) = kyverno::export_pattern_policies_all(&program);
    let ids: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(
        ids,
        ["snap.capabilities", "snap.latest_tag", "snap.replicas"]
    );
    for f in files {
        insta::assert_snapshot!(f.path.replace('/', "-"), f.contents);
    }
}
