//! Instances are reused across objects (spec/abi.md "Instance reuse"): an object evaluated
//! after others, hostile ones among them, gives exactly what it gives alone in a fresh
//! instance, and a failure (a trap, a deadline, the memory limit) in one object leaves the
//! next ones unaffected.

use std::time::Duration;

use rampart_runtime::eval::{Engine, EvalError, Evaluation, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, Node};

fn stdlib_wasm() -> Vec<u8> {
    let program = rampart_stdlib::compile().program.expect("stdlib compiles");
    rampart_compiler::backend::wasm::compile(&program).expect("stdlib compiles to Wasm")
}

fn parse(text: &str) -> Node {
    let loaded = manifest::load(text, &manifest::Limits::default()).unwrap();
    assert_eq!(loaded.objects.len(), 1, "{text}");
    loaded.objects.into_iter().next().unwrap().node
}

fn pod(name: &str, containers: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  containers:\n{containers}"
    )
}

fn container(name: &str, image: &str, security: &str) -> String {
    format!("    - name: {name}\n      image: {image}\n      securityContext: {security}\n")
}

/// Pods of every kind: compliant, failing many rules, with values of the wrong type (the rules
/// reading them trap), with long strings and many containers (large heap use).
fn objects() -> Vec<(&'static str, Node)> {
    let long = "x".repeat(20_000);
    let many: String = (0..300)
        .map(|i| {
            container(
                &format!("c{i}"),
                &format!("registry.example/{long}:{i}"),
                "{privileged: true, capabilities: {add: [SYS_ADMIN, NET_RAW]}}",
            )
        })
        .collect();
    let texts = vec![
        (
            "compliant",
            pod(
                "good",
                &container(
                    "app",
                    "registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    "{runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}",
                ),
            ),
        ),
        ("huge", pod("huge", &many)),
        (
            "wrong types",
            pod(
                "typed",
                &container("app", "nginx", "{privileged: \"true\", runAsUser: \"zero\"}"),
            ),
        ),
        (
            "privileged",
            pod(
                "bad",
                &container("app", "nginx:latest", "{privileged: true, runAsUser: 0}"),
            ),
        ),
        (
            "host namespaces",
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: host\nspec:\n  hostNetwork: true\n  hostPID: true\n  containers:\n{}",
                container("app", "nginx", "{}")
            ),
        ),
    ];
    texts.into_iter().map(|(n, t)| (n, parse(&t))).collect()
}

fn evaluate(policies: &Policies, object: &Node, limits: &Limits) -> Evaluation {
    policies.evaluate(object, &ObjectSet::default(), &Params::default(), limits)
}

/// What each object gives alone: a module loaded for it only, so a fresh instance.
fn alone(engine: &Engine, wasm: &[u8], objects: &[(&str, Node)]) -> Vec<Evaluation> {
    objects
        .iter()
        .map(|(_, o)| {
            let fresh = Policies::load(engine, wasm, None).unwrap();
            let e = evaluate(&fresh, o, &Limits::default());
            // One instance, and one more after each failed rule.
            assert_eq!(fresh.instances_made(), 1 + e.errors.len());
            e
        })
        .collect()
}

#[test]
fn objects_after_hostile_ones_give_what_they_give_alone() {
    let engine = Engine::new().unwrap();
    let wasm = stdlib_wasm();
    let objects = objects();
    let expected = alone(&engine, &wasm, &objects);
    // The objects that make rules fail, and the ones that do not.
    let failing: Vec<bool> = expected.iter().map(|e| !e.errors.is_empty()).collect();
    assert!(failing.iter().any(|f| *f) && failing.iter().any(|f| !*f));
    assert!(expected.iter().any(|e| e.findings.len() > 300));

    let reused = Policies::load(&engine, &wasm, None).unwrap();
    // Every object after every other one, in both directions, twice.
    let order: Vec<usize> = (0..objects.len())
        .chain((0..objects.len()).rev())
        .chain(0..objects.len())
        .collect();
    for &i in &order {
        let got = evaluate(&reused, &objects[i].1, &Limits::default());
        assert_eq!(got, expected[i], "object `{}`", objects[i].0);
    }
    // One instance for all objects that ran without a failure; a new one after each failure
    // (a failed rule's instance is never reused, and the rules after it run in another).
    let failures: usize = order
        .iter()
        .map(|&i| expected[i].errors.len())
        .sum::<usize>();
    assert!(
        reused.instances_made() <= 1 + 2 * failures,
        "{} instances for {} objects",
        reused.instances_made(),
        order.len()
    );
    assert!(reused.instances_made() < order.len());
}

#[test]
fn a_deadline_or_memory_failure_leaves_the_next_objects_unaffected() {
    let engine = Engine::new().unwrap();
    let wasm = stdlib_wasm();
    let objects = objects();
    let expected = alone(&engine, &wasm, &objects);
    let huge = objects.iter().position(|(n, _)| *n == "huge").unwrap();
    let policies = Policies::load(&engine, &wasm, None).unwrap();
    // Warm: an instance that evaluated objects is idle in the pool.
    for (i, (_, o)) in objects.iter().enumerate() {
        assert_eq!(evaluate(&policies, o, &Limits::default()), expected[i]);
    }
    let before = policies.instances_made();
    // The huge Pod with a deadline far too short for its 300 containers: the reused instance
    // is interrupted in the middle of a rule.
    let short = Limits {
        deadline: Duration::from_nanos(1),
        ..Limits::default()
    };
    let cut = evaluate(&policies, &objects[huge].1, &short);
    assert!(
        cut.errors
            .iter()
            .any(|e| matches!(e.error, EvalError::Deadline(_))),
        "{:?}",
        cut.errors
    );
    for (i, (name, o)) in objects.iter().enumerate() {
        assert_eq!(
            evaluate(&policies, o, &Limits::default()),
            expected[i],
            "{name}"
        );
    }
    assert!(policies.instances_made() > before);

    // The same with a memory limit the huge Pod does not fit in (the slot made with that limit
    // is not the one the other objects use, and is dropped after the failure).
    let small = Limits {
        memory: 1 << 20,
        ..Limits::default()
    };
    let hog = evaluate(&policies, &objects[huge].1, &small);
    assert!(
        hog.errors
            .iter()
            .any(|e| matches!(e.error, EvalError::Memory(_))),
        "{:?}",
        hog.errors
    );
    for (i, (name, o)) in objects.iter().enumerate() {
        assert_eq!(
            evaluate(&policies, o, &Limits::default()),
            expected[i],
            "{name}"
        );
    }
}

#[test]
fn evaluation_in_parallel_reuses_an_instance_per_thread() {
    let engine = Engine::new().unwrap();
    let wasm = stdlib_wasm();
    let objects = objects();
    let expected = alone(&engine, &wasm, &objects);
    let policies = Policies::load(&engine, &wasm, None).unwrap();
    let repeated: Vec<&Node> = (0..40).map(|k| &objects[k % objects.len()].1).collect();
    let got = policies.evaluate_all(
        &repeated,
        &ObjectSet::default(),
        &Params::default(),
        &Limits::default(),
    );
    for (k, e) in got.iter().enumerate() {
        assert_eq!(e, &expected[k % objects.len()], "object {k}");
    }
}

/// The objects of the real-world corpus files under `dir` (../shared beside the checkout).
fn corpus(dir: &str) -> Vec<Node> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/real");
    let mut out = Vec::new();
    let mut files: Vec<_> = walk(&root.join(dir));
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Ok(loaded) = manifest::load(&text, &manifest::Limits::default()) {
            out.extend(loaded.objects.into_iter().map(|o| o.node));
        }
    }
    assert!(!out.is_empty(), "the corpus is there: {}", root.display());
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    out
}

/// An instance keeps the parameters and object set of the preparation it last evaluated
/// (spec/abi.md "Instance reuse"); objects of two preparations with different sets and
/// parameters, evaluated in turn in the same instances, give what each gives under its own
/// preparation in a module loaded for it alone.
#[test]
fn kept_parameters_and_sets_follow_their_preparation() {
    let engine = Engine::new().unwrap();
    let wasm = stdlib_wasm();
    let runs = [
        corpus("GoogleCloudPlatform__microservices-demo"),
        corpus("argoproj__argo-cd"),
    ];
    let mut strict = Params::default();
    strict.set("workloads.min_replicas", "min", serde_json::json!(5));
    let params = [Params::default(), strict];
    let sets: Vec<ObjectSet> = runs
        .iter()
        .map(|objects| ObjectSet {
            objects: objects.iter().collect(),
        })
        .collect();
    let limits = Limits::default();
    let expected: Vec<Vec<Evaluation>> = (0..2)
        .map(|k| {
            let fresh = Policies::load(&engine, &wasm, None).unwrap();
            let prepared = fresh.prepare(&sets[k], &params[k]);
            let objects: Vec<&Node> = runs[k].iter().collect();
            fresh.evaluate_all_prepared(&objects, &prepared, &limits)
        })
        .collect();
    // The set rules find something, so the sets matter.
    assert!(expected.iter().flatten().any(|e| e
        .findings
        .iter()
        .any(|f| f.rule_id.starts_with("net.") || f.rule_id.starts_with("workloads_refs."))));

    let reused = Policies::load(&engine, &wasm, None).unwrap();
    let prepared: Vec<_> = (0..2)
        .map(|k| reused.prepare(&sets[k], &params[k]))
        .collect();
    for round in 0..2 {
        for (i, _) in runs[0].iter().enumerate().take(runs[1].len()) {
            for k in [round % 2, (round + 1) % 2] {
                let Some(object) = runs[k].get(i) else {
                    continue;
                };
                let got = reused.evaluate_all_prepared(&[object], &prepared[k], &limits);
                assert_eq!(got[0], expected[k][i], "object {i} of run {k}");
            }
        }
    }
}
