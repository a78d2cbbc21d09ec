//! The Kyverno ClusterPolicy generate rules of `generate` outcomes, verified without
//! Kyverno (spec/fix.md §7.4): every object of a run is in the "cluster"; for each object,
//! the objects the Wasm evaluator's findings generate (with the run as the set rules read)
//! must equal the objects a model of Kyverno's generate engine creates for it as trigger.
//!
//! The model (beside the shared one of `common/kyverno.rs`): per rule whose `match` selects
//! the trigger and `exclude` does not, each `context` `apiCall` is answered from the run's
//! objects (`/api/v1/<resource>` or `/apis/<group>/<version>/<resource>`, all namespaces,
//! as a list `{"items": …}` its `jmesPath` is run on); the `preconditions` are checked over
//! `request.object` and those variables; then variables are substituted in every string
//! and key of `generate`, and the object is `data` with `apiVersion`, `kind`,
//! `metadata.name` and `metadata.namespace` set from the rule. Objects are seen as the API
//! server hands them over (no null fields).

use jmespath::Runtime;
use rampart_compiler::backend::cel::kyverno::generate;
use rampart_compiler::ir::Program;
use rampart_runtime::eval::ObjectSet;
use rampart_runtime::manifest::Node;
use serde::Deserialize;
use serde_json::{json, Value as Json};

mod common;
#[path = "common/kyverno.rs"]
mod kyverno;
use common::{compile_source, corpus, crd_schema, load_objects, stdlib, strip_nulls, validate};
use kyverno::{any_selects, preconditions, runtime, search, substitute};

const POLICIES: &str = include_str!("generate_rules/policies.rp");
const OBJECTS: &str = include_str!("generate_rules/objects.yaml");

/// The API server's resource names of the kinds the policies list.
const RESOURCES: &[(&str, &str)] = &[
    ("Namespace", "namespaces"),
    ("NetworkPolicy", "networkpolicies"),
    ("Deployment", "deployments"),
    ("StatefulSet", "statefulsets"),
    ("ReplicaSet", "replicasets"),
    ("ReplicationController", "replicationcontrollers"),
    ("PodDisruptionBudget", "poddisruptionbudgets"),
    ("ConfigMap", "configmaps"),
];

/// The answer of an `apiCall` listing a resource: every object of the cluster it names.
fn api_call(url: &str, cluster: &[Json]) -> Json {
    let (api_version, res) = match url.split('/').collect::<Vec<_>>()[..] {
        ["", "api", v, r] => (v.to_string(), r),
        ["", "apis", g, v, r] => (format!("{g}/{v}"), r),
        _ => panic!("an apiCall the model does not answer: {url}"),
    };
    let (kind, _) = RESOURCES
        .iter()
        .find(|(_, r)| *r == res)
        .unwrap_or_else(|| panic!("a resource the model does not know: {res}"));
    let items: Vec<Json> = cluster
        .iter()
        .filter(|o| o["apiVersion"] == api_version.as_str() && o["kind"] == *kind)
        .cloned()
        .collect();
    json!({ "items": items })
}

/// Variables substituted in every string and key.
fn substitute_all(rt: &Runtime, v: &Json, context: &Json) -> Result<Json, String> {
    Ok(match v {
        Json::String(s) => substitute(rt, s, context)?,
        Json::Array(a) => Json::Array(
            a.iter()
                .map(|x| substitute_all(rt, x, context))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                let key = match substitute(rt, k, context)? {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, substitute_all(rt, x, context)?);
            }
            Json::Object(out)
        }
        other => other.clone(),
    })
}

/// The objects one generate rule creates for `trigger`.
fn run_rule(
    rt: &Runtime,
    rule: &Json,
    trigger: &Json,
    cluster: &[Json],
) -> Result<Option<Json>, String> {
    if !any_selects(&rule["match"], trigger) || any_selects(&rule["exclude"], trigger) {
        return Ok(None);
    }
    let mut context = json!({"request": {"object": trigger}});
    for entry in rule["context"].as_array().into_iter().flatten() {
        let call = &entry["apiCall"];
        let listed = api_call(call["urlPath"].as_str().expect("a urlPath"), cluster);
        let value = search(rt, call["jmesPath"].as_str().expect("a jmesPath"), &listed)?;
        context[entry["name"].as_str().expect("a name")] = value;
    }
    if !preconditions(rt, &rule["preconditions"], &context)? {
        return Ok(None);
    }
    let g = substitute_all(rt, &rule["generate"], &context)?;
    let mut object = match &g["data"] {
        Json::Object(m) => m.clone(),
        Json::Null => serde_json::Map::new(),
        other => return Err(format!("data is not a mapping: {other}")),
    };
    let mut metadata = match object.remove("metadata") {
        Some(Json::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    metadata.insert("name".into(), g["name"].clone());
    if !g["namespace"].is_null() {
        metadata.insert("namespace".into(), g["namespace"].clone());
    }
    object.insert("apiVersion".into(), g["apiVersion"].clone());
    object.insert("kind".into(), g["kind"].clone());
    object.insert("metadata".into(), Json::Object(metadata));
    Ok(Some(Json::Object(object)))
}

/// The generate ClusterPolicies of `program`.
fn policies(program: &Program) -> Vec<Json> {
    let (files, _) = generate::export_all(program);
    files
        .iter()
        .flat_map(|f| serde_yaml_ng::Deserializer::from_str(&f.contents))
        .map(|d| Json::deserialize(d).expect("YAML"))
        .collect()
}

/// Sorted, without repeats.
fn distinct(mut v: Vec<Json>) -> Vec<Json> {
    v.sort_by_key(|x| x.to_string());
    v.dedup();
    v
}

/// Per object as trigger: the Wasm evaluator's generated objects (of the exported rules)
/// against the model's; the number of objects generated and every difference.
fn differential(
    program: &Program,
    policies: &[Json],
    objects: &[(String, Node)],
) -> (usize, Vec<String>) {
    let rt = runtime();
    let reference = common::Reference::new(program);
    let exported: Vec<&str> = policies
        .iter()
        .filter_map(|p| p["metadata"]["annotations"]["rampart.dev/rule"].as_str())
        .collect();
    let set = ObjectSet {
        objects: objects.iter().map(|(_, n)| n).collect(),
    };
    let cluster: Vec<Json> = objects
        .iter()
        .map(|(_, n)| strip_nulls(&n.to_json()))
        .collect();
    let mut generated = 0;
    let mut differences = Vec::new();
    for ((name, node), trigger) in objects.iter().zip(&cluster) {
        let want = match reference.findings_with(node, &set) {
            Ok(findings) => distinct(
                findings
                    .into_iter()
                    .filter(|f| exported.contains(&f.rule_id.as_str()))
                    .filter_map(|f| f.generated)
                    .collect(),
            ),
            Err(e) => {
                differences.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut got = Vec::new();
        for p in policies {
            for rule in p["spec"]["rules"].as_array().into_iter().flatten() {
                match run_rule(&rt, rule, trigger, &cluster) {
                    Ok(Some(o)) => got.push(o),
                    Ok(None) => {}
                    Err(e) => differences.push(format!(
                        "{name}: {} {}: {e}",
                        p["metadata"]["name"], rule["name"]
                    )),
                }
            }
        }
        let got = distinct(got);
        generated += want.len();
        if got != want {
            differences.push(format!(
                "{name}: the generate rules create\n{}\nthe evaluator generates\n{}",
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&want).unwrap()
            ));
        }
    }
    (generated, differences)
}

fn check(what: &str, program: &Program, objects: &[(String, Node)], minimum: usize) {
    let ps = policies(program);
    assert!(!ps.is_empty(), "{what}: no generate policy");
    common::assert_agree(what, differential(program, &ps, objects), minimum);
}

fn fixtures() -> Vec<(String, Node)> {
    load_objects("objects.yaml", OBJECTS.as_bytes())
}

#[test]
fn generate_rules_agree_with_the_evaluator_on_fixtures() {
    let objects = fixtures();
    check("fixtures", &compile_source(POLICIES), &objects, 3);
    check("stdlib on fixtures", &stdlib(), &objects, 3);
}

#[test]
fn generate_rules_agree_with_the_evaluator_on_real_corpus() {
    let objects = corpus("real");
    assert!(objects.len() > 100, "the real corpus is there");
    check("stdlib on the real corpus", &stdlib(), &objects, 1);
    check(
        "fixtures on the real corpus",
        &compile_source(POLICIES),
        &objects,
        0,
    );
}

/// Every policy passes the ClusterPolicy CRD schema.
#[test]
fn generate_policies_validate_against_the_crd() {
    let schema = crd_schema("kyverno", "kyverno.io_clusterpolicies.yaml", "v1");
    let mut errors = Vec::new();
    let mut count = 0;
    for program in [compile_source(POLICIES), stdlib()] {
        for doc in policies(&program) {
            validate(
                &schema,
                &doc,
                &doc["metadata"]["name"].to_string(),
                &mut errors,
            );
            count += 1;
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(count, 3);
    // The check can fail: a misspelt field is reported.
    let mut bad = policies(&stdlib()).remove(0);
    bad["spec"]["rules"][0]["generate"]["synchronise"] = false.into();
    validate(&schema, &bad, "bad", &mut errors);
    assert!(!errors.is_empty());
}

/// The comparison can fail: with a constant in place of the nested variable, the condition
/// compares the NetworkPolicies' namespaces with a wrong name, and without the
/// preconditions every Namespace generates.
#[test]
fn the_comparison_finds_a_wrong_rule() {
    let objects = fixtures();
    let program = compile_source(POLICIES);
    let ps = policies(&program);
    let (_, differences) = differential(&program, &ps, &objects);
    assert!(differences.is_empty(), "{differences:?}");
    let text = serde_json::to_string(&ps).unwrap();
    let nested = "'{{ not_null(request.object.metadata.name, `\\\"\\\"`) }}'";
    assert!(text.contains(nested), "{text}");
    let wrong: Vec<Json> = serde_json::from_str(&text.replace(nested, "'dev'")).unwrap();
    let (_, differences) = differential(&program, &wrong, &objects);
    assert!(!differences.is_empty(), "a wrong namespace went unnoticed");
    let mut bare = ps.clone();
    for p in &mut bare {
        for rule in p["spec"]["rules"].as_array_mut().unwrap() {
            rule.as_object_mut().unwrap().remove("preconditions");
        }
    }
    let (_, differences) = differential(&program, &bare, &objects);
    assert!(
        !differences.is_empty(),
        "dropping the preconditions went unnoticed"
    );
}

/// Conditions generate rules cannot express are a warning at their rule, which is left out.
#[test]
fn inexpressible_conditions_are_reported_per_rule() {
    let program = compile_source(
        r#"module t
rule outer {
  title "An outer list inside a quantifier"
  match Namespace
  deny when any np in objects(NetworkPolicy): (np.metadata.name ?? "") in object.metadata.finalizers
    message "m"
    generate {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "{object.metadata.name}"}}
}
"#,
    );
    let (files, gaps) = generate::export_all(&program);
    assert!(files.is_empty(), "{files:?}");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let g = gaps[0].to_string();
    assert!(
        g.contains("rule `t.outer` cannot be exported to Kyverno generate rules"),
        "{g}"
    );
    assert!(g.contains("reads a value outside the element"), "{g}");
}

/// The generate rule of the standard library, reviewed as a snapshot.
#[test]
fn generate_rule_snapshot() {
    let (files, _) = generate::export_all(&stdlib());
    let f = files
        .iter()
        .find(|f| f.path.contains("default-deny"))
        .expect("net.default_deny is exported");
    insta::assert_snapshot!(format!("kyverno-generate-{}", f.path), f.contents);
}
