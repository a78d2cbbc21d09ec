//! What set rules read of `objects(Kind)` (`rampart_compiler::set_reads`): the projection of
//! a rule follows its field steps, keys, aliases and iterations, and evaluating on objects
//! projected that way gives exactly the findings of the whole objects.

use std::collections::BTreeMap;

use rampart_compiler::ir::{Gvk, Program};
use rampart_compiler::set_reads::{projections, Projection, EVERY};
use rampart_runtime::eval::{project_object, Engine, Finding, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{Node, Value};
use rampart_runtime::rbac::view::is_rbac_object;

mod common;
use common::{compile_source, corpus, stdlib};

fn fields(entries: &[(&str, Projection)]) -> Projection {
    Projection::Fields(
        entries
            .iter()
            .map(|(k, p)| (k.to_string(), p.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn kind(program: &Program, name: &str) -> Gvk {
    program
        .rules
        .iter()
        .flat_map(|r| &r.reads_kinds)
        .find(|k| k.kind == name)
        .cloned()
        .expect("the kind is read")
}

#[test]
fn a_projection_follows_fields_keys_aliases_and_iterations() {
    let program = compile_source(
        r#"
module t

rule service_pods {
  title "Pods behind a Service"
  match Service
  let ns = object.metadata.namespace ?? "default"
  deny when not (any p in objects(Pod): (p.metadata.namespace ?? "default") == ns
      and (p.metadata.labels["app"] ?? "") == "web"
      and (any c in p.spec.containers: c.name == "main"))
    message "no pod"
}

rule named {
  title "Named"
  match Service
  warn when (any d in objects(Deployment): "app" in d.spec.template.metadata.labels)
    message "selected {len(objects(ConfigMap))}"
}
"#,
    );
    let kinds = ["Pod", "Deployment", "ConfigMap"].map(|k| kind(&program, k));
    let got = projections(&program, &kinds);
    let pod = fields(&[
        (
            "metadata",
            fields(&[
                ("namespace", Projection::Whole),
                ("labels", fields(&[("app", Projection::Whole)])),
            ]),
        ),
        (
            "spec",
            fields(&[(
                "containers",
                fields(&[(EVERY, fields(&[("name", Projection::Whole)]))]),
            )]),
        ),
    ]);
    assert_eq!(got[0], pod);
    let deployment = fields(&[(
        "spec",
        fields(&[(
            "template",
            fields(&[("metadata", fields(&[("labels", Projection::Whole)]))]),
        )]),
    )]);
    assert_eq!(got[1], deployment);
    // `len(objects(ConfigMap))` uses the objects themselves.
    assert_eq!(got[2], Projection::Whole);
}

/// `(rule, message, path, line)` of each finding, sorted.
fn shown(findings: Vec<Finding>) -> Vec<String> {
    let mut out: Vec<String> = findings
        .into_iter()
        .map(|f| format!("{} {:?} {:?} {}", f.rule_id, f.path, f.line, f.message))
        .collect();
    out.sort();
    out
}

fn nodes(n: &Node) -> usize {
    1 + match &n.value {
        Value::List(xs) => xs.iter().map(nodes).sum(),
        Value::Map(es) => es.iter().map(|(_, v)| nodes(v)).sum(),
        _ => 0,
    }
}

/// The set as the runner keeps it: the objects of the set kinds, each projected by `read`,
/// and the RBAC objects whole when a view reads them.
fn projected(
    policies: &Policies,
    objects: &[(String, Node)],
    read: &dyn Fn(usize) -> Projection,
) -> Vec<Node> {
    let meta = policies.metadata();
    let views = meta
        .set_kinds
        .iter()
        .any(|k| rampart_compiler::views::who_can_question(&k.group, &k.kind).is_some());
    objects
        .iter()
        .filter_map(|(_, o)| {
            let s = |k: &str| o.get(k).and_then(Node::as_str).unwrap_or("").to_string();
            if views && is_rbac_object(&s("apiVersion"), &s("kind")) {
                return Some(o.clone());
            }
            let mut p: Option<Projection> = None;
            for (i, k) in meta.set_kinds.iter().enumerate() {
                if k.matches(&s("apiVersion"), &s("kind")) {
                    p.get_or_insert_with(Projection::empty).merge(&read(i));
                }
            }
            p.map(|p| project_object(o, &p))
        })
        .collect()
}

/// Per object, the findings with the whole objects as the set and with `set`: the objects
/// whose findings differ.
fn differences(policies: &Policies, objects: &[(String, Node)], set: &[Node]) -> Vec<String> {
    let whole = ObjectSet {
        objects: objects.iter().map(|(_, o)| o).collect(),
    };
    let cut = ObjectSet {
        objects: set.iter().collect(),
    };
    let (params, limits) = (Params::default(), Limits::default());
    let mut out = Vec::new();
    for (name, o) in objects {
        let a = policies.evaluate(o, &whole, &params, &limits).into_result();
        let b = policies.evaluate(o, &cut, &params, &limits).into_result();
        match (a, b) {
            (Ok(a), Ok(b)) if shown(a.clone()) == shown(b.clone()) => {}
            (a, b) => out.push(format!("{name}:\n  whole {a:?}\n  projected {b:?}")),
        }
    }
    out
}

#[test]
fn the_standard_library_finds_the_same_on_projected_objects_of_the_real_corpus() {
    let program = stdlib();
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("wasm compiles");
    let policies = Policies::load(&Engine::new().expect("engine"), &wasm, None).expect("loads");
    let meta = policies.metadata();
    assert_eq!(meta.set_reads.len(), meta.set_kinds.len());

    let objects = corpus("real");
    let set = projected(&policies, &objects, &|i| meta.set_reads[i].clone());
    let differences = differences(&policies, &objects, &set);
    assert!(
        differences.is_empty(),
        "{} objects differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // The set rules do fire on this corpus, so the comparison means something.
    let set_rules: Vec<&str> = program
        .rules
        .iter()
        .filter(|r| !r.reads_kinds.is_empty())
        .map(|r| r.id.as_str())
        .collect();
    let whole = ObjectSet {
        objects: objects.iter().map(|(_, o)| o).collect(),
    };
    let fired = objects
        .iter()
        .flat_map(|(_, o)| {
            policies
                .evaluate(o, &whole, &Params::default(), &Limits::default())
                .into_result()
                .unwrap_or_default()
        })
        .filter(|f| set_rules.contains(&f.rule_id.as_str()))
        .count();
    assert!(fired >= 20, "set rules fired {fired} times");
    // And the projection keeps a small part of the objects (the RBAC objects a view reads
    // are kept whole).
    let count = |set: &[Node]| -> usize {
        set.iter()
            .filter(|o| {
                let s = |k: &str| o.get(k).and_then(Node::as_str).unwrap_or("").to_string();
                !is_rbac_object(&s("apiVersion"), &s("kind"))
            })
            .map(nodes)
            .sum()
    };
    let kept = count(&set);
    let all = count(&projected(&policies, &objects, &|_| Projection::Whole));
    eprintln!("set nodes: {kept} kept of {all}");
    assert!(kept * 4 < all, "{kept} of {all} nodes kept");
    // Without the fields the rules read, the findings change: the comparison can fail.
    let bare = projected(&policies, &objects, &|_| Projection::empty());
    assert!(!self::differences(&policies, &objects, &bare).is_empty());
}

#[test]
fn an_object_set_larger_than_the_memory_limit_leaves_the_objects_their_room() {
    let program = compile_source(
        r#"
module t

rule config_count {
  title "Config maps"
  match Namespace
  warn when len(objects(ConfigMap)) > 0
    message "{len(objects(ConfigMap))} config maps, the last holding {len(objects(ConfigMap)[len(objects(ConfigMap)) - 1].data)} keys"
}
"#,
    );
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("wasm compiles");
    let policies = Policies::load(&Engine::new().expect("engine"), &wasm, None).expect("loads");
    // 64 config maps of 64 KiB each: 4 MiB of set, twice the limit below.
    let maps: Vec<Node> = (0..64)
        .map(|i| {
            let data: serde_json::Map<String, serde_json::Value> = (0..64)
                .map(|k| (format!("k{k}"), "x".repeat(1024).into()))
                .collect();
            Node::from_json(serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("c{i}"), "namespace": "a"},
                "data": data,
            }))
        })
        .collect();
    let namespace = Node::from_json(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}),
    );
    let set = ObjectSet {
        objects: maps.iter().collect(),
    };
    let limits = Limits {
        memory: 2 << 20,
        ..Limits::default()
    };
    let prepared = policies.prepare(&set, &Params::default());
    // Several objects, so that kept instances are reused with the set in them.
    for evaluation in policies.evaluate_all_prepared(&[&namespace; 6], &prepared, &limits) {
        let findings = evaluation
            .into_result()
            .expect("the set does not count against the object's memory");
        assert_eq!(
            findings
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>(),
            ["64 config maps, the last holding 64 keys"]
        );
    }
}
