//! The Kyverno GeneratingPolicy export of `generate` (spec/language.md §4.14), verified
//! without Kyverno: a model of its engine (match constraints by group and resource, match
//! conditions, variables, each `generate` expression run by the `cel` crate with
//! `resource.List` answered from the checked objects and `generator.Apply` recording what it
//! is given) runs on every object, with every object of the run in the cluster; the objects
//! it generates must be those the Wasm evaluator's findings carry, object by object.

use std::sync::{Arc, Mutex};

use cel::extractors::This;
use cel::{Context, Env, Value as CV};
use rampart_compiler::backend::cel::kyverno::generating_policy;
use rampart_compiler::backend::cel::resource_name;
use rampart_compiler::ir::Program;
use rampart_runtime::eval::ObjectSet;
use rampart_runtime::manifest::Node;
use rampart_runtime::verify::engines::cel::{kubernetes_env, request, to_cel};
use serde::Deserialize;
use serde_json::Value as Json;

mod common;
#[path = "common/cel.rs"]
mod common_cel;
use common::{compile_source, corpus, crd_schema, load_objects, stdlib, validate, Reference};
use common_cel::cel_json;

const POLICIES: &str = include_str!("fixes/generate.rp");
const OBJECTS: &str = include_str!("fixes/generate.yaml");

/// The exported GeneratingPolicies as JSON documents.
fn policies(program: &Program) -> Vec<Json> {
    let (files, errors) = generating_policy::export_all(program);
    assert!(errors.is_empty(), "{errors:?}");
    files
        .iter()
        .flat_map(|f| {
            serde_yaml_ng::Deserializer::from_str(&f.contents)
                .map(|d| serde_json::to_value(serde_yaml_ng::Value::deserialize(d).unwrap()))
                .collect::<Result<Vec<_>, _>>()
                .expect("the policies are YAML")
        })
        .collect()
}

/// Whether the policy's `resourceRules` select the object (group, resource).
fn matches(policy: &Json, object: &Json) -> bool {
    let api = object["apiVersion"].as_str().unwrap_or("");
    let group = api.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let resource = resource_name(object["kind"].as_str().unwrap_or(""));
    let has = |list: &Json, v: &str| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|x| x == v || x == "*"))
    };
    policy["spec"]["matchConstraints"]["resourceRules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| has(&r["apiGroups"], group) && has(&r["resources"], &resource))
}

/// The engine's answer to `resource.List(apiVersion, resource, namespace)`: the objects of
/// the cluster of that group, version and resource (in every namespace for `''`).
fn list(cluster: &[Json], api_version: &str, resource: &str, namespace: &str) -> Json {
    let items: Vec<Json> = cluster
        .iter()
        .filter(|o| {
            o["apiVersion"] == api_version
                && resource_name(o["kind"].as_str().unwrap_or("")) == resource
                && (namespace.is_empty() || o["metadata"]["namespace"] == namespace)
        })
        .cloned()
        .collect();
    serde_json::json!({ "items": items })
}

/// What the policies generate for `object`, as Kyverno would with `cluster` in the cluster.
fn run(
    env: &Arc<Env>,
    policies: &[Json],
    cluster: &Arc<Vec<Json>>,
    object: &Json,
) -> Result<Vec<Json>, String> {
    let generated: Arc<Mutex<Vec<Json>>> = Arc::default();
    for policy in policies.iter().filter(|p| matches(p, object)) {
        let mut ctx = Context::with_env(env.clone());
        let listed = cluster.clone();
        ctx.add_function(
            "List",
            move |This(_): This<CV>, api: Arc<String>, res: Arc<String>, ns: Arc<String>| {
                to_cel(&list(&listed, &api, &res, &ns), false)
            },
        )
        .expect("List registers");
        let sink = generated.clone();
        ctx.add_function(
            "Apply",
            move |This(_): This<CV>, ns: Arc<String>, objects: Arc<Vec<CV>>| {
                for o in objects.iter() {
                    let mut o = cel_json(o);
                    if !ns.is_empty() {
                        o["metadata"]["namespace"] = Json::String(ns.to_string());
                    }
                    sink.lock().unwrap().push(o);
                }
                true
            },
        )
        .expect("Apply registers");
        ctx.add_variable_from_value("object", to_cel(object, false));
        ctx.add_variable_from_value("request", request(object, None));
        ctx.add_variable_from_value("oldObject", CV::Null);
        ctx.add_variable_from_value("resource", CV::Null);
        ctx.add_variable_from_value("generator", CV::Null);
        let eval = |ctx: &Context, expr: &str| {
            env.compile(expr)
                .map_err(|e| format!("parse `{expr}`: {e:?}"))?
                .execute(ctx)
                .map_err(|e| format!("`{expr}`: {e:?}"))
        };
        let spec = &policy["spec"];
        let mut matched = true;
        for m in spec["matchConditions"].as_array().into_iter().flatten() {
            matched &= eval(&ctx, m["expression"].as_str().unwrap())? == CV::Bool(true);
        }
        if !matched {
            continue;
        }
        let mut variables = std::collections::HashMap::new();
        for v in spec["variables"].as_array().into_iter().flatten() {
            ctx.add_variable_from_value("variables", CV::from(variables.clone()));
            let value = eval(&ctx, v["expression"].as_str().unwrap())?;
            variables.insert(v["name"].as_str().unwrap().to_string(), value);
        }
        ctx.add_variable_from_value("variables", CV::from(variables));
        for g in spec["generate"].as_array().into_iter().flatten() {
            eval(&ctx, g["expression"].as_str().unwrap())?;
        }
    }
    let out = generated.lock().unwrap().clone();
    Ok(out)
}

/// For every object: the objects its findings generate and those the policies generate
/// with every object in the cluster. Returns the number of objects generated and the
/// differences.
fn differential(program: &Program, objects: &[(String, Node)]) -> (usize, Vec<String>) {
    let reference = Reference::new(program);
    let env = Arc::new(kubernetes_env());
    let policies = policies(program);
    let set = ObjectSet {
        objects: objects.iter().map(|(_, n)| n).collect(),
    };
    let cluster: Arc<Vec<Json>> = Arc::new(objects.iter().map(|(_, n)| n.to_json()).collect());
    let mut generated = 0;
    let mut differences = Vec::new();
    for (name, node) in objects {
        let want: Vec<Json> = match reference.findings_with(node, &set) {
            Ok(findings) => findings.into_iter().filter_map(|f| f.generated).collect(),
            Err(e) => {
                differences.push(format!("{name}: {e}"));
                continue;
            }
        };
        generated += want.len();
        match run(&env, &policies, &cluster, &node.to_json()) {
            Ok(got) if got == want => {}
            Ok(got) => differences.push(format!(
                "{name}: Kyverno generates\n{}\nthe findings\n{}",
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&want).unwrap()
            )),
            Err(e) => differences.push(format!("{name}: {e}")),
        }
    }
    (generated, differences)
}

fn assert_agree(what: &str, (generated, differences): (usize, Vec<String>), min: usize) {
    eprintln!(
        "{what}: {generated} objects generated, {} differences",
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{what}:\n{}",
        differences.join("\n")
    );
    assert!(
        generated >= min,
        "{what}: only {generated} objects generated, expected at least {min}"
    );
}

#[test]
fn generating_policies_agree_with_the_findings_on_fixtures() {
    let program = compile_source(POLICIES);
    let objects = load_objects("generate.yaml", OBJECTS.as_bytes());
    assert_agree("fixtures", differential(&program, &objects), 5);
}

#[test]
fn the_standard_library_generates_what_its_findings_do_on_the_real_corpus() {
    let objects = corpus("real");
    assert!(objects.len() > 100, "the real corpus is there");
    assert_agree(
        "stdlib on corpus/real",
        differential(&stdlib(), &objects),
        1,
    );
}

#[test]
fn generating_policies_validate_against_the_crd() {
    let schema = crd_schema(
        "kyverno",
        "policies.kyverno.io_generatingpolicies.yaml",
        "v1",
    );
    let mut all = policies(&compile_source(POLICIES));
    all.extend(policies(&stdlib()));
    assert!(all.len() >= 3, "{} policies", all.len());
    for p in &all {
        let mut errors = Vec::new();
        validate(&schema, p, "", &mut errors);
        assert!(errors.is_empty(), "{}: {errors:?}", p["metadata"]["name"]);
    }
}

#[test]
fn the_default_deny_policy_reads_as_reviewed() {
    let (files, _) = generating_policy::export_all(&stdlib());
    let file = files
        .iter()
        .find(|f| f.path == "generate-net-default-deny.yaml")
        .expect("net.default_deny is exported");
    insta::assert_snapshot!(file.contents);
}

#[test]
fn a_set_rule_reading_a_view_is_reported_not_exported() {
    let program = compile_source(
        r#"
module t

rule open_secrets {
  title "Few service accounts can read secrets"
  match ServiceAccount
  deny when len(who_can("get", "secrets")) > 100
    message "too many readers"
    generate {
      "apiVersion": "v1",
      "kind": "ConfigMap",
      "metadata": {"name": "readers", "namespace": "{object.metadata.namespace}"}
    }
}
"#,
    );
    let (files, errors) = generating_policy::export_all(&program);
    assert!(files.is_empty());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].rule.ends_with("open_secrets"),
        "{}",
        errors[0].rule
    );
    assert!(errors[0].construct.contains("generate"), "{}", errors[0]);
}
