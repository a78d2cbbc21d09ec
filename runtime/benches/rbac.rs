//! `rampart rbac` on 10,000 generated RBAC objects: `cargo bench -p rampart-runtime --bench rbac`.
//!
//! 100 namespaces, each with 25 Roles and 25 RoleBindings (half of them to ClusterRoles),
//! plus 2,500 ClusterRoles (one in ten aggregated) and 2,500 ClusterRoleBindings: 10,000
//! objects in 101 files. Each question is timed from the files on disk (load, aggregation,
//! answer) and the answer alone; the best of five runs is shown. Target: `who-can` under 1 s.
//! `RAMPART_BENCH_OBJECTS=N` changes the number of objects (rounded to the shape above).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use rampart_runtime::manifest::{self, Limits};
use rampart_runtime::rbac::policy::Policy;
use rampart_runtime::rbac::query::{can, effective, who_can, Ask, Identity, Scope};
use rampart_runtime::rbac::{diff, load, risks};
use rayon::prelude::*;

const VERBS: [&str; 6] = ["get", "list", "watch", "create", "update", "delete"];
const RESOURCES: [(&str, &str); 8] = [
    ("", "pods"),
    ("", "secrets"),
    ("", "configmaps"),
    ("apps", "deployments"),
    ("batch", "jobs"),
    ("", "pods/exec"),
    ("", "services"),
    ("example.com", "widgets"),
];

fn rule(i: usize, out: &mut String) {
    let (group, resource) = RESOURCES[i % RESOURCES.len()];
    let verbs = &VERBS[..1 + i % VERBS.len()];
    let _ = writeln!(
        out,
        "- apiGroups: [\"{group}\"]\n  resources: [{resource}]\n  verbs: [{}]",
        verbs.join(", ")
    );
}

/// Writes the generated objects into `dir`; returns how many.
fn generate(dir: &Path, total: usize) -> usize {
    let per_namespace = 50;
    let namespaces = total / 2 / per_namespace;
    let cluster = total / 2 / 2;
    let mut count = 0;
    let mut text = String::new();
    for c in 0..cluster {
        text.push_str("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n");
        let _ = writeln!(
            text,
            "metadata:\n  name: cr-{c}\n  labels: {{group: g{}}}",
            c % 50
        );
        if c % 10 == 0 {
            let _ = writeln!(
                text,
                "aggregationRule:\n  clusterRoleSelectors:\n  - matchLabels: {{group: g{}}}",
                (c / 10) % 50
            );
        } else {
            text.push_str("rules:\n");
            for r in 0..3 {
                rule(c + r, &mut text);
            }
        }
        text.push_str("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n");
        let _ = writeln!(
            text,
            "metadata: {{name: crb-{c}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr-{c}}}\nsubjects:\n- {{kind: ServiceAccount, name: sa-{c}, namespace: ns-{}}}\n- {{kind: User, name: user-{c}}}",
            c % namespaces.max(1)
        );
        count += 2;
    }
    std::fs::write(dir.join("cluster.yaml"), &text).unwrap();
    for n in 0..namespaces {
        let mut text = String::new();
        for r in 0..per_namespace / 2 {
            let _ = writeln!(
                text,
                "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: role-{r}, namespace: ns-{n}}}\nrules:"
            );
            for k in 0..2 {
                rule(n + r + k, &mut text);
            }
            let (kind, name) = if r % 2 == 0 {
                ("Role", format!("role-{r}"))
            } else {
                (
                    "ClusterRole",
                    format!("cr-{}", (n * 7 + r) % cluster.max(1)),
                )
            };
            let _ = writeln!(
                text,
                "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: rb-{r}, namespace: ns-{n}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {kind}, name: {name}}}\nsubjects:\n- {{kind: ServiceAccount, name: app-{r}}}\n- {{kind: Group, name: team-{}}}",
                r % 5
            );
            count += 2;
        }
        std::fs::write(dir.join(format!("ns-{n}.yaml")), &text).unwrap();
    }
    count
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        last = Some(value);
    }
    (best, last.unwrap())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let total: usize = std::env::var("RAMPART_BENCH_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let objects = generate(dir.path(), total);
    let paths = vec![dir.path().display().to_string()];
    let limits = Limits::default();
    let (load_time, policy): (Duration, Policy) = best(5, || load::load(&paths, false, &limits));
    assert!(policy.errors.is_empty(), "{:?}", policy.errors.first());
    println!(
        "{objects} RBAC objects ({} roles, {} bindings) in {} files",
        policy.roles.len(),
        policy.bindings.len(),
        std::fs::read_dir(dir.path()).unwrap().count()
    );
    println!(
        "{:<46} {:>12} {:>14} {:>8}",
        "question", "answer only", "with loading", "answers"
    );
    let ask = |verb: &str, resource: &str| Ask {
        verb: verb.into(),
        resource: resource.into(),
        ..Ask::default()
    };
    let row = |name: &str, answer: Duration, count: usize| {
        println!(
            "{name:<46} {:>12} {:>14} {count:>8}",
            ms(answer),
            ms(answer + load_time)
        );
    };
    println!(
        "{:<46} {:>12} {:>14}",
        "load + aggregate + resolve",
        "",
        ms(load_time)
    );

    // The floor: reading and parsing the files alone, one after the other (what any tool
    // reading these manifests pays) and on every core (as `load` does).
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let parse = |f: &std::path::PathBuf| {
        let bytes = std::fs::read(f).unwrap();
        manifest::load_bytes(&bytes, &limits).unwrap().objects.len()
    };
    let (t, n) = best(5, || files.iter().map(parse).sum::<usize>());
    println!(
        "{:<46} {:>12} {:>14} {n:>8}",
        "parse floor: read + YAML, one core",
        "",
        ms(t)
    );
    let (t, n) = best(5, || files.par_iter().map(parse).sum::<usize>());
    println!(
        "{:<46} {:>12} {:>14} {n:>8}",
        "parse floor: read + YAML, every core",
        "",
        ms(t)
    );

    let secrets = ask("get", "secrets");
    let (t, grants) = best(5, || who_can(&policy, &secrets, &Scope::Any).unwrap());
    row("who-can get secrets (every namespace)", t, grants.len());
    let (t, grants) = best(5, || {
        who_can(&policy, &secrets, &Scope::Namespace("ns-7".into())).unwrap()
    });
    row("who-can get secrets -n ns-7", t, grants.len());
    let exec = ask("create", "pods/exec");
    let (t, grants) = best(5, || who_can(&policy, &exec, &Scope::Any).unwrap());
    row("who-can create pods/exec", t, grants.len());
    let sa = Identity::parse("sa:ns-3/sa-3").unwrap();
    let (t, grants) = best(5, || {
        can(&policy, &sa, &secrets, &Scope::Namespace("ns-3".into())).unwrap()
    });
    row("can sa:ns-3/sa-3 get secrets -n ns-3", t, grants.len());
    let (t, rules) = best(5, || effective(&policy, &sa, &Scope::Any));
    row("list sa:ns-3/sa-3", t, rules.len());
    let (t, found) = best(3, || risks::risks(&policy, &[]));
    row("risks (all 13)", t, found.len());
    let (t, changes) = best(1, || diff::diff(&policy, &policy));
    row("diff of the set with itself", t, changes.len());
}
