//! Throughput of the standard library: `cargo bench -p rampart-runtime --bench throughput`.
//!
//! Prints one table. Every figure is measured in the same run, so the ratios compare like
//! with like: the YAML parse alone is the floor that evaluation is measured against.
//! Inputs: 10,000 generated Pods and Deployments of realistic size, and the real-world
//! manifests of ../shared/corpus/real (skipped with a note when that folder is absent).

use rampart_runtime::eval::{Engine, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, Node};
use std::path::Path;
use std::time::{Duration, Instant};

/// Generates `n` objects alternating Pod and Deployment, with 1–3 containers each, a mix of
/// compliant and non-compliant settings, labels, probes and resources, as real manifests have.
fn generate(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let containers = 1 + i % 3;
        let (head, indent) = if i % 2 == 0 {
            (
                format!(
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app-{i}\n  namespace: team-{}\n  labels:\n    app: app-{i}\n    tier: backend\n  annotations:\n    example.com/owner: team-{}\nspec:\n",
                    i % 17,
                    i % 17
                ),
                "  ",
            )
        } else {
            (
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: team-{}\n  labels:\n    app: app-{i}\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n",
                    i % 17
                ),
                "      ",
            )
        };
        out.push_str("---\n");
        out.push_str(&head);
        out.push_str(&format!("{indent}serviceAccountName: sa-{i}\n{indent}securityContext:\n{indent}  runAsNonRoot: true\n{indent}  seccompProfile:\n{indent}    type: RuntimeDefault\n{indent}containers:\n"));
        for c in 0..containers {
            let image = match (i + c) % 4 {
                0 => format!("ghcr.io/example/app-{c}:1.{i}"),
                1 => "nginx".to_string(),
                2 => format!("registry.example.com/team/app@sha256:{:064x}", i * 31 + c),
                _ => format!("docker.io/library/redis:7.{c}"),
            };
            out.push_str(&format!(
                "{indent}- name: c{c}\n{indent}  image: {image}\n{indent}  ports:\n{indent}  - containerPort: {}\n{indent}    protocol: TCP\n{indent}  resources:\n{indent}    limits:\n{indent}      cpu: 500m\n{indent}      memory: 256Mi\n{indent}    requests:\n{indent}      cpu: 100m\n{indent}      memory: 128Mi\n{indent}  readinessProbe:\n{indent}    httpGet:\n{indent}      path: /healthz\n{indent}      port: 8080\n{indent}  securityContext:\n{indent}    allowPrivilegeEscalation: {}\n{indent}    privileged: {}\n{indent}    readOnlyRootFilesystem: true\n{indent}    capabilities:\n{indent}      drop: [\"ALL\"]\n",
                8080 + c,
                i % 5 == 0,
                i % 11 == 0
            ));
        }
    }
    out
}

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
        "{name:<28} {objects:>7} {:>8.1} {:>12.0} {:>12.0} {:>12.0} {:>9.2} {findings:>9}",
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
    let wasm = rampart_compiler::wasm::compile(&program).expect("the Wasm backend compiles it");
    let engine = Engine::new().expect("engine");
    let policies = Policies::load(&engine, &wasm, None).expect("module loads");
    let params = Params::default();
    let limits = Limits::default();
    println!(
        "standard library: {} rules, module {} bytes; {} threads",
        program.rules.len(),
        wasm.len(),
        rayon::current_num_threads()
    );
    println!(
        "{:<28} {:>7} {:>8} {:>12} {:>12} {:>12} {:>9} {:>9}",
        "input",
        "objects",
        "MB",
        "parse obj/s",
        "eval obj/s",
        "total obj/s",
        "parse/tot",
        "findings"
    );
    let mut inputs = vec![("generated pods+deployments", vec![generate(10_000)])];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/real");
    let mut real = Vec::new();
    read_corpus(&corpus, &mut real);
    if real.is_empty() {
        println!("(../shared/corpus/real not found: real-world row skipped)");
    } else {
        inputs.push(("shared/corpus/real", real));
    }
    for (name, texts) in &inputs {
        let bytes: usize = texts.iter().map(String::len).sum();
        let (parse, nodes) = best(3, || parse_all(texts));
        let refs: Vec<&Node> = nodes.iter().collect();
        let set = ObjectSet {
            objects: refs.clone(),
        };
        let (eval, findings) = best(3, || {
            policies
                .evaluate_all(&refs, &set, &params, &limits)
                .iter()
                .map(|r| r.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
        });
        row(name, nodes.len(), bytes, parse, eval, findings);
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let (eval1, _) = best(2, || {
            single.install(|| policies.evaluate_all(&refs, &set, &params, &limits).len())
        });
        row(
            &format!("{name} (1 thread)"),
            nodes.len(),
            bytes,
            parse,
            eval1,
            findings,
        );
    }
}
