//! Throughput of the standard library: `cargo bench -p rampart-runtime --bench throughput`.
//!
//! Prints two tables. Every figure is measured in the same run, so the ratios compare like
//! with like: the YAML parse alone is the floor that evaluation is measured against, and
//! regorus running the exported Gatekeeper Rego of the same rules on the same objects is the
//! engine the Wasm evaluator is compared with.
//! Inputs: 10,000 generated Pods and Deployments of realistic size, and the real-world
//! manifests of ../shared/corpus/real (skipped with a note when that folder is absent).
//! `RAMPART_BENCH_OBJECTS=N` changes the number of generated objects;
//! `RAMPART_BENCH_NO_REGO=1` leaves out the regorus column (it takes minutes).
//!
//! Profiling: `RAMPART_BENCH_PROFILE=parse|wasm|rego RAMPART_BENCH_REPEAT=R` runs only that
//! step, R times over the generated objects, and prints nothing else. Under
//! `valgrind --tool=callgrind`, the difference between R=2 and R=1 is the instruction count
//! of one pass, without the compilation of the policies that both runs share (BENCHMARKS.md).

use rampart_compiler::ir::Program;
use rampart_runtime::eval::{Engine, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, Node};
use rayon::prelude::*;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "common/generate.rs"]
mod generate;
use generate::generate;

fn read_corpus(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            read_corpus(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            if let Ok(text) = std::fs::read_to_string(&p) {
                out.push(text);
            }
        }
    }
}

/// The best of `runs` timings of `f`.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        last = Some(v);
    }
    (best, last.expect("runs > 0"))
}

/// One rule of the Gatekeeper export, ready for regorus: its Rego compiled and prepared once
/// (the first evaluation analyses and schedules the policy; clones keep that work).
#[derive(Clone)]
struct RegoRule {
    id: String,
    query: String,
    /// The Constraint's `match.kinds`: (apiGroups, kinds); empty matches every object.
    kinds: Vec<(Vec<String>, Vec<String>)>,
    params: Option<regorus::Value>,
    engine: regorus::Engine,
}

impl RegoRule {
    /// Whether the Constraint selects `object`, as Gatekeeper decides before running the Rego.
    fn matches(&self, group: &str, kind: &str) -> bool {
        let any = |list: &[String], x: &str| list.iter().any(|v| v == x || v == "*");
        self.kinds.is_empty()
            || self
                .kinds
                .iter()
                .any(|(groups, kinds)| any(groups, group) && any(kinds, kind))
    }
}

/// The exported ConstraintTemplates and Constraints of `program`, each rule's Rego loaded into
/// its own engine with `data.inventory` set to `inventory`.
fn rego_rules(program: &Program, inventory: &regorus::Value) -> Vec<RegoRule> {
    let files = rampart_compiler::backend::rego::gatekeeper::export(program)
        .expect("the Gatekeeper export")
        .files;
    let mut templates = BTreeMap::new();
    let mut constraints = BTreeMap::new();
    for f in &files {
        let loaded = manifest::load(&f.contents, &manifest::Limits::default())
            .expect("the export is valid YAML");
        for o in loaded.objects {
            let d = o.node.to_json();
            let Some(rule) = d["metadata"]["annotations"]["rampart.dev/rule"].as_str() else {
                continue;
            };
            if d["kind"] == "ConstraintTemplate" {
                let rego = d["spec"]["targets"][0]["rego"].as_str().expect("rego");
                templates.insert(rule.to_string(), rego.to_string());
            } else if d["apiVersion"] == "constraints.gatekeeper.sh/v1beta1" {
                constraints.insert(rule.to_string(), d["spec"].clone());
            }
        }
    }
    let strings = |v: &Json| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let data = regorus::Value::from(BTreeMap::from([(
        regorus::Value::from("inventory"),
        inventory.clone(),
    )]));
    templates
        .into_iter()
        .map(|(id, rego)| {
            let package = rego
                .lines()
                .find_map(|l| l.strip_prefix("package "))
                .expect("a package line")
                .to_string();
            let spec = constraints.get(&id).cloned().unwrap_or(Json::Null);
            let kinds = spec["match"]["kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| (strings(&k["apiGroups"]), strings(&k["kinds"])))
                .collect();
            let params = (!spec["parameters"].is_null())
                .then(|| regorus::Value::from(spec["parameters"].clone()));
            let mut engine = regorus::Engine::new();
            engine
                .add_policy(format!("{id}.rego"), rego)
                .unwrap_or_else(|e| panic!("regorus rejects the Rego of `{id}`: {e}"));
            engine.add_data(data.clone()).expect("data");
            let query = format!("data.{package}.violation");
            let mut rule = RegoRule {
                id,
                query,
                kinds,
                params,
                engine,
            };
            // Prepares the engine (analysis, scheduling, loop hoisting) once, outside the timing.
            rule.engine
                .set_input(rego_input(&rule, &regorus::Value::new_object()));
            let _ = rule.engine.eval_rule(rule.query.clone());
            rule
        })
        .collect()
}

/// `input` of one rule on one reviewed object: `{review, parameters}`.
fn rego_input(rule: &RegoRule, review: &regorus::Value) -> regorus::Value {
    let mut input = BTreeMap::new();
    input.insert(regorus::Value::from("review"), review.clone());
    if let Some(p) = &rule.params {
        input.insert(regorus::Value::from("parameters"), p.clone());
    }
    regorus::Value::from(input)
}

/// A Gatekeeper-style review of one object, with its group and kind.
fn review(object: &Json) -> (String, String, regorus::Value) {
    let api = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let kind = object["kind"].as_str().unwrap_or("").to_string();
    let mut r = json!({
        "object": object,
        "kind": {"group": group, "version": version, "kind": kind},
        "name": object["metadata"]["name"],
        "operation": "CREATE",
    });
    if let Some(ns) = object["metadata"]["namespace"].as_str() {
        r["namespace"] = json!(ns);
    }
    (group.to_string(), kind, regorus::Value::from(r))
}

/// data.inventory as Gatekeeper syncs it.
fn inventory(objects: &[Json]) -> regorus::Value {
    let mut inv = json!({"cluster": {}, "namespace": {}});
    for o in objects {
        let (Some(api), Some(kind), Some(name)) = (
            o["apiVersion"].as_str(),
            o["kind"].as_str(),
            o["metadata"]["name"].as_str(),
        ) else {
            continue;
        };
        match o["metadata"]["namespace"].as_str() {
            Some(ns) => inv["namespace"][ns][api][kind][name] = o.clone(),
            None => inv["cluster"][api][kind][name] = o.clone(),
        }
    }
    regorus::Value::from(inv)
}

/// Runs every matching rule on every review in parallel, each thread with its own copies of
/// the prepared engines; returns the number of findings (elements of `violation`).
fn rego_evaluate(rules: &[RegoRule], reviews: &[(String, String, regorus::Value)]) -> usize {
    reviews
        .par_chunks(64)
        .map(|chunk| {
            let mut rules = rules.to_vec();
            let mut findings = 0;
            for (group, kind, review) in chunk {
                for rule in rules.iter_mut() {
                    if !rule.matches(group, kind) {
                        continue;
                    }
                    let input = rego_input(rule, review);
                    rule.engine.set_input(input);
                    match rule.engine.eval_rule(rule.query.clone()) {
                        Ok(v) => findings += v.as_set().map_or(0, |s| s.len()),
                        Err(e) => panic!("regorus fails on `{}`: {e}", rule.id),
                    }
                }
            }
            findings
        })
        .sum()
}

fn parse_all(texts: &[String]) -> Vec<Node> {
    let limits = manifest::Limits::default();
    texts
        .iter()
        .flat_map(|t| {
            manifest::load(t, &limits)
                .map(|l| l.objects)
                .unwrap_or_default()
        })
        .map(|o| o.node)
        .collect()
}

fn row(name: &str, objects: usize, bytes: usize, parse: Duration, eval: Duration, findings: usize) {
    let per_s = |d: Duration| objects as f64 / d.as_secs_f64();
    println!(
        "{name:<40} {objects:>7} {:>8.1} {:>12.0} {:>12.0} {:>12.0} {:>9.2} {findings:>9}",
        bytes as f64 / 1e6,
        per_s(parse),
        per_s(eval),
        per_s(parse + eval),
        parse.as_secs_f64() / (parse + eval).as_secs_f64(),
    );
}

fn main() {
    let compilation = rampart_stdlib::compile();
    let program = compilation.program.expect("the standard library compiles");
    let wasm =
        rampart_compiler::backend::wasm::compile(&program).expect("the Wasm backend compiles it");
    let engine = Engine::new().expect("engine");
    let policies = Policies::load(&engine, &wasm, None).expect("module loads");
    let params = Params::default();
    let limits = Limits::default();
    let generated: usize = std::env::var("RAMPART_BENCH_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    println!(
        "standard library: {} rules, module {} bytes; {} threads",
        program.rules.len(),
        wasm.len(),
        rayon::current_num_threads()
    );
    if let Ok(step) = std::env::var("RAMPART_BENCH_PROFILE") {
        let repeat: usize = std::env::var("RAMPART_BENCH_REPEAT")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let texts = vec![generate(0..generated)];
        let nodes = parse_all(&texts);
        let refs: Vec<&Node> = nodes.iter().collect();
        let set = ObjectSet {
            objects: refs.clone(),
        };
        let prepared = policies.prepare(&set, &params);
        let jsons: Vec<Json> = nodes.iter().map(Node::to_json).collect();
        let rules = (step == "rego").then(|| rego_rules(&program, &inventory(&jsons)));
        let reviews: Vec<_> = jsons.iter().map(review).collect();
        for _ in 0..repeat {
            match (step.as_str(), &rules) {
                ("parse", _) => drop(parse_all(&texts)),
                ("wasm", _) => drop(policies.evaluate_all_prepared(&refs, &prepared, &limits)),
                ("rego", Some(rules)) => drop(rego_evaluate(rules, &reviews)),
                _ => panic!("RAMPART_BENCH_PROFILE is parse, wasm or rego"),
            }
        }
        return;
    }
    let mut inputs = vec![("generated pods+deployments", vec![generate(0..generated)])];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/real");
    let mut real = Vec::new();
    read_corpus(&corpus, &mut real);
    if real.is_empty() {
        println!("(../shared/corpus/real not found: real-world row skipped)");
    } else {
        inputs.push(("shared/corpus/real", real));
    }
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let skip_rego = std::env::var_os("RAMPART_BENCH_NO_REGO").is_some();
    let mut parse_rows = Vec::new();
    let mut engine_rows = Vec::new();
    for (name, texts) in &inputs {
        let bytes: usize = texts.iter().map(String::len).sum();
        let (parse, nodes) = best(3, || parse_all(texts));
        let refs: Vec<&Node> = nodes.iter().collect();
        let set = ObjectSet {
            objects: refs.clone(),
        };
        let prepared = policies.prepare(&set, &params);
        let wasm_run = || {
            policies
                .evaluate_all_prepared(&refs, &prepared, &limits)
                .iter()
                .map(|r| r.findings.len())
                .sum::<usize>()
        };
        let (eval, findings) = best(3, wasm_run);
        let (eval1, _) = best(2, || single.install(wasm_run));
        parse_rows.push((name.to_string(), nodes.len(), bytes, parse, eval, findings));
        parse_rows.push((
            format!("{name} (1 thread)"),
            nodes.len(),
            bytes,
            parse,
            eval1,
            findings,
        ));
        if skip_rego {
            continue;
        }
        let jsons: Vec<Json> = nodes.iter().map(Node::to_json).collect();
        let rules = rego_rules(&program, &inventory(&jsons));
        let reviews: Vec<_> = jsons.iter().map(review).collect();
        let (rego, rego_findings) = best(1, || rego_evaluate(&rules, &reviews));
        let (rego1, _) = best(1, || single.install(|| rego_evaluate(&rules, &reviews)));
        if name.starts_with("generated") {
            assert_eq!(
                findings, rego_findings,
                "the Wasm evaluator and regorus disagree on the number of findings"
            );
        }
        engine_rows.push((
            name.to_string(),
            nodes.len(),
            eval,
            rego,
            findings,
            rego_findings,
        ));
        engine_rows.push((
            format!("{name} (1 thread)"),
            nodes.len(),
            eval1,
            rego1,
            findings,
            rego_findings,
        ));
    }
    println!("\nparse and Wasm evaluation");
    println!(
        "{:<40} {:>7} {:>8} {:>12} {:>12} {:>12} {:>9} {:>9}",
        "input",
        "objects",
        "MB",
        "parse obj/s",
        "eval obj/s",
        "total obj/s",
        "parse/tot",
        "findings"
    );
    for (name, objects, bytes, parse, eval, findings) in parse_rows {
        row(&name, objects, bytes, parse, eval, findings);
    }
    if engine_rows.is_empty() {
        return;
    }
    println!("\nevaluation only: Wasm against regorus (exported Gatekeeper Rego, same objects)");
    println!(
        "{:<40} {:>7} {:>12} {:>12} {:>8} {:>9} {:>9}",
        "input", "objects", "Wasm obj/s", "Rego obj/s", "ratio", "Wasm find", "Rego find"
    );
    for (name, objects, wasm, rego, wf, rf) in engine_rows {
        let per_s = |d: Duration| objects as f64 / d.as_secs_f64();
        println!(
            "{name:<40} {objects:>7} {:>12.0} {:>12.0} {:>7.1}x {wf:>9} {rf:>9}",
            per_s(wasm),
            per_s(rego),
            rego.as_secs_f64() / wasm.as_secs_f64()
        );
    }
}
