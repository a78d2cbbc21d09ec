//! `rampart test --operation` and `--old`: the admission request objects are evaluated under
//! (spec/language.md §4.11), with the policy of the `rampart verify` admission tests.

mod common;

use common::{report, run, stderr};

const POLICY: &str = "runtime/tests/verify/admission/admission.rp";
const NEW: &str = "tests/manifests/admission/deployments.yaml";
const OLD: &str = "tests/manifests/admission/old.yaml";

/// `(object name, rule, message)` of every violation.
fn violations(json: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for r in json["results"].as_array().unwrap() {
        for v in r["violations"].as_array().unwrap() {
            out.push((
                r["name"].as_str().unwrap_or_default().to_string(),
                v["rule"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

#[test]
fn objects_are_created_by_default() {
    let (code, json) = report(&run(&["test", "-p", POLICY, "-o", "json", NEW]));
    assert_eq!(code, 0, "{json}");
    assert!(violations(&json).is_empty(), "{json}");
}

#[test]
fn an_update_pairs_each_object_with_its_old_version() {
    let out = run(&[
        "test",
        "-p",
        POLICY,
        "-o",
        "json",
        "--operation",
        "UPDATE",
        "--old",
        OLD,
        NEW,
    ]);
    let (code, json) = report(&out);
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        violations(&json),
        [
            (
                "web".to_string(),
                "adm.image_unchanged_on_update".to_string(),
                "container `app` changes its image to nginx:2".to_string()
            ),
            (
                "web".to_string(),
                "adm.team_label_is_fixed".to_string(),
                "team of `web` changed from a to b".to_string()
            ),
        ]
    );
}

#[test]
fn an_update_without_an_old_version_has_no_old_object() {
    // `--old` names the new objects themselves: nothing changed.
    let (code, json) = report(&run(&[
        "test",
        "-p",
        POLICY,
        "-o",
        "json",
        "--operation",
        "update",
        "--old",
        NEW,
        NEW,
    ]));
    assert_eq!(code, 0, "{json}");
    // No old version at all: `oldObject` is absent, so only a label test against absent.
    let (code, json) = report(&run(&[
        "test",
        "-p",
        POLICY,
        "-o",
        "json",
        "--operation",
        "UPDATE",
        NEW,
    ]));
    assert_eq!(code, 1, "{json}");
    let rules: Vec<String> = violations(&json).into_iter().map(|v| v.1).collect();
    assert_eq!(
        rules,
        ["adm.team_label_is_fixed", "adm.team_label_is_fixed"]
    );
}

#[test]
fn request_flags_are_checked() {
    let out = run(&["test", "-p", POLICY, "--old", OLD, NEW]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: `--old` needs `--operation UPDATE` or `--operation DELETE` (the request is a CREATE)"
    );
    let out = run(&["test", "-p", POLICY, "--operation", "PATCH", NEW]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("unknown operation `PATCH`: expected CREATE, UPDATE, DELETE or CONNECT"),
        "{}",
        stderr(&out)
    );
}
