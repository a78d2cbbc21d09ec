//! `who_can` in the policy language (spec/rbac.md §11): the standard library's rules on
//! effective permissions give, on the real corpus, exactly the answers of `rampart rbac
//! who-can`, and no export target takes them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const CORPUS: &str = "../shared/corpus/real";

fn rampart(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let (_, out, err) = rampart(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
}

/// (binding kind, binding name, subject kind, subject name) of one grant.
type Key = (String, String, String, String);

/// Whether `rampart rbac`'s subject text names a ServiceAccount outside kube-system, its
/// user name, or a group such accounts belong to; as (kind, name).
fn outside_kube_system(subject: &str) -> Option<(String, String)> {
    if let Some(rest) = subject.strip_prefix("sa:") {
        let (ns, name) = rest.split_once('/').unwrap();
        return (ns != "kube-system").then(|| ("ServiceAccount".into(), name.into()));
    }
    if let Some(user) = subject.strip_prefix("user:") {
        let account = user.strip_prefix("system:serviceaccount:")?;
        return (!account.starts_with("kube-system:")).then(|| ("User".into(), user.into()));
    }
    let group = subject.strip_prefix("group:")?;
    let all = ["system:serviceaccounts", "system:authenticated"].contains(&group);
    let one = group.starts_with("system:serviceaccounts:")
        && group != "system:serviceaccounts:kube-system";
    (all || one).then(|| ("Group".into(), group.into()))
}

/// The grants of `rampart rbac who-can` (with the defaults) of the corpus to accounts
/// outside kube-system; `cluster_wide`: only those of ClusterRoleBindings.
fn who_can(verb: &str, resource: &str, namespace: Option<&str>) -> BTreeSet<Key> {
    let mut args = vec!["rbac", "who-can", verb, resource, CORPUS, "--with-defaults"];
    if let Some(ns) = namespace {
        args.extend(["-n", ns]);
    }
    args.extend(["-o", "json"]);
    let answer = json(&args);
    let mut out = BTreeSet::new();
    for g in answer["grants"].as_array().unwrap() {
        let binding = &g["chain"]["binding"];
        if namespace.is_none() && !g["namespace"].is_null() {
            continue;
        }
        let file = binding["at"]["file"].as_str().unwrap();
        if file.starts_with("defaults:") {
            continue;
        }
        if let Some((kind, name)) = outside_kube_system(g["subject"].as_str().unwrap()) {
            out.insert((
                binding["kind"].as_str().unwrap().into(),
                binding["name"].as_str().unwrap().into(),
                kind,
                name,
            ));
        }
    }
    out
}

/// The findings of one rule on the corpus, as keys read from their messages
/// ("KIND `NAME` lets SUBJECT-KIND `SUBJECT` …").
fn findings(rule: &str) -> BTreeSet<Key> {
    let report = json(&["test", CORPUS, "--rule", rule, "-o", "json"]);
    let mut out = BTreeSet::new();
    for result in report["results"].as_array().unwrap() {
        for v in result["violations"].as_array().unwrap() {
            assert_eq!(v["rule"], rule);
            let message = v["message"].as_str().unwrap();
            let ticks: Vec<&str> = message.split('`').collect();
            let subject_kind = ticks[2].trim().strip_prefix("lets ").unwrap().trim();
            assert!(v["path"].as_str().unwrap().starts_with("subjects["), "{v}");
            out.insert((
                result["kind"].as_str().unwrap().into(),
                ticks[1].into(),
                subject_kind.into(),
                ticks[3].into(),
            ));
        }
    }
    out
}

#[test]
fn effective_secret_read_gives_the_answers_of_who_can_on_the_corpus() {
    assert!(root().join(CORPUS).is_dir(), "{CORPUS} is missing");
    let mut expected = BTreeSet::new();
    for verb in ["get", "list", "watch"] {
        expected.extend(who_can(verb, "secrets", None));
    }
    expected.retain(|k| k.0 == "ClusterRoleBinding");
    let got = findings("rbac.effective_secret_read");
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}

#[test]
fn effective_pod_create_kube_system_gives_the_answers_of_who_can_on_the_corpus() {
    let mut expected = BTreeSet::new();
    for resource in [
        "pods",
        "deployments",
        "daemonsets",
        "statefulsets",
        "replicasets",
        "replicationcontrollers",
        "jobs",
        "cronjobs",
    ] {
        expected.extend(who_can("create", resource, Some("kube-system")));
    }
    let got = findings("rbac.effective_pod_create_kube_system");
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}

#[test]
fn no_export_target_takes_a_rule_that_reads_who_can() {
    for target in [
        "gatekeeper",
        "gatekeeper-cel",
        "kyverno",
        "kyverno-vpol",
        "vap",
    ] {
        let (code, out, err) = rampart(&["check", "stdlib/policies", "--target", target]);
        let all = format!("{out}{err}");
        assert_eq!(code, Some(0), "{target}: {all}");
        for rule in ["effective_secret_read", "effective_pod_create_kube_system"] {
            let at = all
                .find(&format!("rule {rule} {{"))
                .unwrap_or_else(|| panic!("{target}: no diagnostic at {rule}: {all}"));
            let before = &all[..at];
            let diagnostic = &before[before.rfind("warning[export-gap]").unwrap()..];
            assert!(
                diagnostic.contains("reads `who_can`"),
                "{target}: {diagnostic}"
            );
        }
    }
}
