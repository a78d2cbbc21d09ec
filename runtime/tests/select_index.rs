//! The rule index (`select::Index`) finds, for every object, exactly the rules and subjects
//! that testing each rule's matcher (`select::subject`) finds: on the standard library's
//! matchers, the same with namespace and label selectors added, and with `match *` rules
//! among them; over the real-world corpus, the Pod Security fixtures and objects of every
//! workload kind in namespaces and with labels that the selectors pick or leave out.

use std::path::Path;

use rampart_runtime::eval::select::{self, Gvk, Index, Matcher, Target};
use rampart_runtime::manifest::{self, Node};

fn stdlib_matchers() -> Vec<Matcher> {
    let program = rampart_stdlib::compile().program.expect("stdlib compiles");
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("stdlib compiles");
    let meta = rampart_runtime::eval::read_metadata(&wasm).expect("metadata");
    meta.rules.into_iter().map(|r| r.matcher).collect()
}

/// The standard library's matchers, then each again with selectors, with a `match *` rule
/// between every few.
fn matchers() -> Vec<Matcher> {
    let stdlib = stdlib_matchers();
    let any = |namespaced| Matcher {
        targets: vec![Target {
            gvk: Gvk {
                group: String::new(),
                version: String::new(),
                kind: "*".into(),
            },
            subject_path: vec![],
            namespaced,
        }],
        ..Matcher::default()
    };
    let mut out = Vec::new();
    for (i, m) in stdlib.iter().enumerate() {
        out.push(m.clone());
        let mut selected = m.clone();
        match i % 4 {
            0 => selected.namespaces = vec!["team-*".into()],
            1 => selected.exclude_namespaces = vec!["kube-*".into(), "team-x".into()],
            2 => selected.labels = vec![("app".into(), "web-*".into())],
            _ => selected.exclude_labels = vec![("skip".into(), "*".into())],
        }
        out.push(selected);
        if i % 7 == 0 {
            out.push(any(i % 2 == 0));
        }
    }
    // A rule whose first target names a version no object has and whose second names the
    // same kind at any version: the second decides.
    let pods = stdlib
        .iter()
        .find(|m| m.targets.iter().any(|t| t.gvk.kind == "Pod"))
        .expect("a rule on Pods");
    let mut two = pods.clone();
    let mut first = two.targets[0].clone();
    first.gvk.version = "v0".into();
    first.subject_path = vec!["nowhere".into()];
    two.targets.insert(0, first);
    out.push(two);
    // A rule with two targets that both name the object's kind: the first decides.
    let mut both = pods.clone();
    let mut first = both.targets[0].clone();
    first.subject_path = vec!["metadata".into()];
    both.targets.insert(0, first);
    out.push(both);
    out
}

fn load_dir(dir: &Path, out: &mut Vec<Node>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("{} is missing: the test reads ../shared", dir.display());
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            load_dir(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&p).unwrap();
            if let Ok(loaded) = manifest::load(&text, &manifest::Limits::default()) {
                out.extend(loaded.objects.into_iter().map(|o| o.node));
            }
        }
    }
}

/// Workloads of every kind the standard library matches, in and out of the selectors.
fn workloads() -> Vec<Node> {
    let kinds = [
        ("v1", "Pod", ""),
        (
            "apps/v1",
            "Deployment",
            "spec:\n  template:\n    spec:\n      containers: []\n",
        ),
        ("apps/v1", "StatefulSet", "spec:\n  template: null\n"),
        ("apps/v1", "DaemonSet", "spec: {}\n"),
        (
            "batch/v1",
            "CronJob",
            "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec: {}\n",
        ),
        ("batch/v1", "Job", "spec:\n  template:\n    spec: {}\n"),
        ("apps/v2", "Deployment", ""),
        ("v1", "Service", "spec: {}\n"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "rules: []\n"),
    ];
    let metas = [
        "metadata:\n  name: a\n",
        "metadata:\n  name: a\n  namespace: team-a\n  labels:\n    app: web-1\n",
        "metadata:\n  name: a\n  namespace: team-x\n  labels:\n    app: db\n    skip: 'yes'\n",
        "metadata:\n  name: a\n  namespace: kube-system\n  labels:\n    skip: ''\n",
        "metadata: {}\n",
    ];
    let mut out = Vec::new();
    for (api, kind, spec) in kinds {
        for meta in metas {
            let text = format!("apiVersion: {api}\nkind: {kind}\n{meta}{spec}");
            let loaded = manifest::load(&text, &manifest::Limits::default()).unwrap();
            out.extend(loaded.objects.into_iter().map(|o| o.node));
        }
    }
    out
}

#[test]
fn the_index_selects_what_every_matcher_selects() {
    let matchers = matchers();
    let index = Index::new(&matchers);
    let mut objects = workloads();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    load_dir(&shared.join("real"), &mut objects);
    load_dir(&shared.join("psa"), &mut objects);
    assert!(objects.len() > 700, "{} objects", objects.len());
    let mut selected = 0;
    for object in &objects {
        let want: Vec<(usize, &Node)> = matchers
            .iter()
            .enumerate()
            .filter_map(|(r, m)| select::subject(m, object).map(|s| (r, s)))
            .collect();
        let got = index.subjects(|r| &matchers[r], object);
        let addr = |v: &[(usize, &Node)]| -> Vec<(usize, *const Node)> {
            v.iter().map(|&(r, n)| (r, n as *const Node)).collect()
        };
        assert_eq!(addr(&got), addr(&want), "{object:?}");
        selected += want.len();
    }
    // The comparison is not vacuous: most objects have rules, some selected by each kind of
    // selector.
    assert!(selected > 10 * objects.len(), "{selected} selections");
}
