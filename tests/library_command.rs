//! The standard library's run options end to end: `--profile`, `--kube-version` and
//! `--summary controls`, with the real binary.

mod common;

use common::{report, run, scratch, stderr};
use serde_json::Value;

/// Every rule id a JSON report has a finding of.
fn rules_found(json: &Value) -> Vec<String> {
    let mut out: Vec<String> = json["results"]
        .as_array()
        .expect("results")
        .iter()
        .flat_map(|r| r["violations"].as_array().cloned().unwrap_or_default())
        .map(|v| v["rule"].as_str().expect("rule").to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn rules_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["rules", "-o", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("rules -o json is JSON")
}

#[test]
fn profiles_select_the_rules_they_name() {
    let baseline = rules_json(&["--profile", "pss-baseline"]);
    assert!(baseline.len() >= 10);
    assert!(baseline
        .iter()
        .all(|r| r["id"].as_str().unwrap().starts_with("pss.baseline.")));
    let restricted = rules_json(&["--profile", "pss-restricted"]);
    assert!(restricted.len() > baseline.len());
    let cis = rules_json(&["--profile", "cis"]);
    assert!(cis.iter().all(|r| r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.as_str().unwrap().starts_with("CIS "))));
    let every = rules_json(&[]);
    assert!(every.len() > cis.len());
    let privileged = every
        .iter()
        .find(|r| r["id"] == "pss.baseline.privileged")
        .unwrap();
    let profiles: Vec<&str> = privileged["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for name in ["pss-baseline", "pss-restricted", "cis", "nsa"] {
        assert!(profiles.contains(&name), "{name} in {profiles:?}");
    }
    assert!(!profiles.contains(&"production"));

    let out = run(&["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("profiles (--profile NAME):"), "{text}");
    assert!(text.contains("production"), "{text}");
}

#[test]
fn a_profile_run_reports_only_its_rules_and_an_unknown_profile_is_an_error() {
    let (_, json) = report(&run(&[
        "test",
        "examples/manifests",
        "--profile",
        "pss-baseline",
        "-o",
        "json",
    ]));
    let found = rules_found(&json);
    assert!(!found.is_empty(), "the examples break baseline rules");
    assert!(
        found.iter().all(|r| r.starts_with("pss.baseline.")),
        "{found:?}"
    );

    let out = run(&["test", "examples/manifests", "--profile", "cys"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown profile `cys`"), "{err}");
    assert!(err.contains("did you mean `cis`"), "{err}");
}

#[test]
fn kube_version_moves_api_versions_from_removed_to_deprecated() {
    let dir = scratch("kube-version");
    let file = dir.join("cronjob.yaml");
    std::fs::write(
        &file,
        "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly, namespace: ops}\n\
         spec:\n  schedule: \"0 0 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: job, image: busybox:1.36}]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let api = ["--rule", "api.*", "-o", "json"];
    let findings = |extra: &[&str]| {
        let mut args = vec!["test", path];
        args.extend_from_slice(&api);
        args.extend_from_slice(extra);
        let (code, json) = report(&run(&args));
        let v: Vec<(String, String, String)> = json["results"][0]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["rule"].as_str().unwrap().to_string(),
                    v["action"].as_str().unwrap_or_default().to_string(),
                    v["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (code, v)
    };
    let (code, default) = findings(&[]);
    assert_eq!(code, 1);
    assert_eq!(default.len(), 1, "{default:?}");
    assert_eq!(default[0].0, "api.removed");
    assert!(default[0]
        .2
        .contains("Kubernetes 1.25 removed: use apiVersion batch/v1"));

    let (code, old) = findings(&["--kube-version", "1.24"]);
    assert_eq!(code, 0, "a deprecation is a warning");
    assert_eq!(old.len(), 1, "{old:?}");
    assert_eq!(old[0].0, "api.deprecated");
    assert!(old[0]
        .2
        .contains("deprecated since Kubernetes 1.21 and removed in 1.25"));

    let (_, older) = findings(&["--kube-version", "v1.20.4"]);
    assert!(older.is_empty(), "{older:?}");

    // An explicit --param wins over --kube-version.
    let (_, param) = findings(&[
        "--kube-version",
        "1.24",
        "--param",
        "api.removed.kube_minor=30",
    ]);
    assert!(param.iter().any(|f| f.0 == "api.removed"), "{param:?}");

    let out = run(&["test", path, "--kube-version", "2.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--kube-version `2.1` is not a Kubernetes version"));
}

#[test]
fn summary_controls_prints_the_controls_table() {
    let out = run(&["test", "examples/manifests", "--summary", "controls"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with("CIS 5.2.1 "))
        .unwrap_or_else(|| panic!("no CIS 5.2.1 row: {text}"));
    assert!(row.contains("ns.pss_labels (fail)"), "{row}");
    assert!(row.contains("fail"), "{row}");
    let last = text
        .lines()
        .rev()
        .find(|l| l.contains(" controls: "))
        .unwrap();
    assert!(last.contains("failing"), "{last}");

    // Machine formats keep stdout parseable: the table goes to stderr.
    let out = run(&[
        "test",
        "examples/manifests",
        "--summary",
        "controls",
        "-o",
        "json",
    ]);
    let (_, json) = report(&out);
    assert!(json["summary"].is_object());
    assert!(stderr(&out).contains("CIS 5.2.1"));
}
