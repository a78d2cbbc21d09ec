//! Which objects a CEL ClusterPolicy rule selects, as Kyverno decides it: `match`/`exclude`
//! resources (kinds and namespaces, with Kyverno's rule that a Namespace is matched by its own
//! name) and then `celPreconditions`. It must be the set spec §3 selects, which the
//! evaluator's matcher implements. The namespace rule of Kyverno follows its
//! `pkg/utils/match` (`checkNameSpace`: a Namespace's own name, else `metadata.namespace`,
//! compared with wildcards).

mod common;

use cel::{Context, Env, Value as CV};
use rampart_runtime::eval::{select, Engine, Policies};
use rampart_runtime::manifest::Node;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

const RULES: &str = r#"
module m

rule ns_prod {
  title "Production namespaces are labelled"
  match Namespace, ConfigMap
  match namespaces ["prod-*"]
  deny when object.metadata.labels["team"] == null
    message "no team label"
}

rule not_system {
  title "Outside the system namespaces"
  match Namespace, ConfigMap, ClusterRole
  exclude namespaces ["kube-*"]
  deny when object.metadata.labels["team"] == null
    message "no team label"
}

rule everywhere {
  title "Every namespace"
  match ConfigMap, ClusterRole
  match namespaces ["*"]
  deny when object.metadata.labels["team"] == null
    message "no team label"
}

rule namespaced_only {
  title "Namespaced kinds alone use Kyverno's own namespace match"
  match ConfigMap
  match namespaces ["prod-*"]
  exclude namespaces ["prod-sandbox"]
  deny when object.metadata.labels["team"] == null
    message "no team label"
}
"#;

const OBJECTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: prod-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c1, namespace: prod-a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c2, namespace: prod-sandbox}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c3, namespace: kube-public}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c4, namespace: dev}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kube-reader}
"#;

/// Kyverno's `wildcard.Match`: `*` any run, `?` one character.
fn wildcard(pattern: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    go(&p, &s)
}

/// One `resources` block of `match.any` or `exclude.any`.
fn resources_match(resources: &Json, object: &Json) -> bool {
    let kind = object["kind"].as_str().unwrap_or("");
    // A block without kinds (as in `exclude`) holds for every kind.
    if let Some(kinds) = resources["kinds"].as_array() {
        if !kinds
            .iter()
            .any(|k| k.as_str().unwrap().rsplit('/').next() == Some(kind))
        {
            return false;
        }
    }
    if let Some(namespaces) = resources["namespaces"].as_array() {
        let ns = if kind == "Namespace" {
            object["metadata"]["name"].as_str().unwrap_or("")
        } else {
            object["metadata"]["namespace"].as_str().unwrap_or("")
        };
        if !namespaces.iter().any(|p| wildcard(p.as_str().unwrap(), ns)) {
            return false;
        }
    }
    true
}

fn to_cel(v: &Json) -> CV {
    match v {
        Json::Null => CV::Null,
        Json::Bool(b) => CV::Bool(*b),
        Json::Number(n) => CV::Int(n.as_i64().unwrap()),
        Json::String(s) => CV::String(Arc::new(s.clone())),
        Json::Array(a) => CV::List(Arc::new(a.iter().map(to_cel).collect())),
        Json::Object(o) => CV::from(
            o.iter()
                .map(|(k, x)| (k.clone(), to_cel(x)))
                .collect::<HashMap<String, CV>>(),
        ),
    }
}

/// Whether Kyverno applies the ClusterPolicy rule `rule` to `object`.
fn kyverno_selects(rule: &Json, object: &Json) -> bool {
    let any = |block: &Json| {
        block["any"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| resources_match(&r["resources"], object)))
    };
    if !any(&rule["match"]) || (rule.get("exclude").is_some() && any(&rule["exclude"])) {
        return false;
    }
    let env = Arc::new(Env::stdlib());
    let mut ctx = Context::with_env(env.clone());
    ctx.add_variable_from_value("object", to_cel(object));
    // The namespace of the request, as the API server sends it: the object's.
    ctx.add_variable_from_value(
        "request",
        rampart_runtime::verify::engines::cel::request(object, None),
    );
    rule["celPreconditions"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .all(|c| {
            let expr = c["expression"].as_str().unwrap();
            let program = env
                .compile(expr)
                .unwrap_or_else(|e| panic!("{expr}: {e:?}"));
            match program.execute(&ctx) {
                Ok(CV::Bool(b)) => b,
                other => panic!("`{expr}` gave {other:?}"),
            }
        })
}

#[test]
fn cluster_policies_select_what_the_spec_selects() {
    use serde::Deserialize;
    let program = common::compile_source(RULES);
    let (files, errors) =
        rampart_compiler::backend::cel::kyverno::export_cluster_policies_all(&program);
    assert!(errors.is_empty(), "{errors:?}");
    let mut exported: HashMap<String, Json> = HashMap::new();
    for f in &files {
        for d in serde_yaml_ng::Deserializer::from_str(&f.contents) {
            let d = Json::deserialize(d).unwrap();
            for r in d["spec"]["rules"].as_array().into_iter().flatten() {
                exported.insert(r["name"].as_str().unwrap().to_string(), r.clone());
            }
        }
    }
    let wasm = rampart_compiler::backend::wasm::compile(&program).unwrap();
    let policies = Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap();
    let objects: Vec<Node> = common::load_objects("objects", OBJECTS.as_bytes())
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let mut compared = 0;
    let mut selected = 0;
    let mut bad = Vec::new();
    for info in policies.rules() {
        let name = info.name.replace('_', "-");
        let rule = exported
            .get(&name)
            .unwrap_or_else(|| panic!("rule `{name}` is exported: {:?}", exported.keys()));
        for object in &objects {
            let json = object.to_json();
            let want = select::subject(&info.matcher, object).is_some();
            let got = kyverno_selects(rule, &json);
            compared += 1;
            selected += want as usize;
            if want != got {
                bad.push(format!(
                    "{name} on {} {}: spec selects {want}, Kyverno {got}",
                    json["kind"], json["metadata"]["name"]
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(compared, 4 * 8);
    // Not a vacuous comparison: the rules select some objects and skip others.
    assert!(selected > 5 && selected < compared - 5, "{selected}");
    // Rules with a cluster-scoped kind test the namespace in CEL, not in `resources`.
    assert!(exported["ns-prod"]["match"]["any"][0]["resources"]
        .get("namespaces")
        .is_none());
    assert!(exported["namespaced-only"]["match"]["any"][0]["resources"]
        .get("namespaces")
        .is_some());
}
