//! End-to-end tests of schema validation in `rampart test` (spec/validation.md): the
//! `schema.*` findings on built-in kinds and CRDs, `--crd`, `--strict-kinds`, rule selection,
//! exceptions, `rules` and `explain`, and every schema finding on ../shared/corpus/real.

mod common;

use std::collections::BTreeMap;

use common::{report, root, run};
use serde_json::Value;

const DIR: &str = "tests/manifests/schema";

/// Runs `rampart test -o json ARGS`: the exit code and the report.
fn test_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["test", "-o", "json"];
    all.extend_from_slice(args);
    report(&run(&all))
}

fn schema_findings(json: &Value) -> Vec<(String, String, String, u64, u64)> {
    let mut out = Vec::new();
    for r in json["results"].as_array().unwrap() {
        for v in r["violations"].as_array().unwrap() {
            let rule = v["rule"].as_str().unwrap();
            if rule.starts_with("schema.") {
                out.push((
                    r["name"].as_str().unwrap_or("").to_string(),
                    rule.to_string(),
                    v["path"].as_str().unwrap().to_string(),
                    v["line"].as_u64().unwrap(),
                    v["column"].as_u64().unwrap(),
                ));
            }
        }
    }
    out
}

fn finding(
    name: &str,
    rule: &str,
    path: &str,
    line: u64,
    col: u64,
) -> (String, String, String, u64, u64) {
    (name.into(), rule.into(), path.into(), line, col)
}

#[test]
fn built_in_kinds_are_validated_by_default_and_exceptions_apply() {
    let file = format!("{DIR}/builtin.yaml");
    let (code, json) = test_json(&[&file]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        schema_findings(&json),
        [
            finding("flags", "schema.wrong_type", "data.enabled", 6, 3),
            finding(
                "web",
                "schema.unknown_field",
                "spec.template.spec.containers[0].imagePullPolcy",
                22,
                11
            ),
        ]
    );
    let config_map = json["results"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "schema.wrong_type")
        .unwrap();
    assert_eq!(
        config_map["message"],
        "`data.enabled` must be a string, found the boolean `true`: quote it to keep it a string"
    );
    assert_eq!(config_map["severity"], "high");
    // The Deployment's missing selector is exempted by its annotation.
    let exempted = &json["results"][1]["exempted"];
    assert_eq!(exempted[0]["rule"], "schema.required");
    assert_eq!(exempted[0]["path"], "spec.selector");
    assert_eq!(json["summary"]["unvalidated"], 0);

    // Rule selection applies to the schema rules like to any other.
    let (_, json) = test_json(&["--exclude-rule", "schema.*", &file]);
    assert_eq!(schema_findings(&json), []);
    let (_, json) = test_json(&["--rule", "schema.unknown_field", &file]);
    let rules: Vec<String> = schema_findings(&json).into_iter().map(|f| f.1).collect();
    assert_eq!(rules, ["schema.unknown_field"]);

    // Every format carries them; the human one with the line of the key.
    let out = run(&["test", &file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("schema.unknown_field"), "{text}");
    assert!(text.contains("imagePullPolcy: Always"), "{text}");
    let out = run(&["test", "-o", "sarif", &file]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .filter(|id| id.starts_with("schema."))
        .collect();
    assert_eq!(
        ids,
        [
            "schema.enum",
            "schema.required",
            "schema.unknown_field",
            "schema.wrong_type"
        ]
    );
}

#[test]
fn crd_kinds_are_validated_and_kinds_without_a_schema_are_listed() {
    let file = format!("{DIR}/widgets.yaml");
    let crd = format!("{DIR}/crds/widget.yaml");
    let (code, json) = test_json(&["--crd", &crd, &file]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        schema_findings(&json),
        [
            finding("bad", "schema.enum", "spec.mode", 14, 3),
            finding("bad", "schema.required", "spec.size", 13, 1),
            finding("bad", "schema.unknown_field", "spec.colour", 15, 3),
        ]
    );
    assert_eq!(json["summary"]["unvalidated"], 2);
    assert_eq!(
        json["unvalidated_kinds"],
        serde_json::json!([{"apiVersion": "example.com/v1", "kind": "Gadget", "objects": 2}])
    );
    let out = run(&["test", "--crd", &format!("{DIR}/crds"), &file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "not validated against a schema: 2 objects of 1 kind: `example.com/v1` `Gadget` (2)"
        ),
        "{text}"
    );

    // Without the CRD, no Widget is checked.
    let (_, json) = test_json(&[&file]);
    assert_eq!(schema_findings(&json), []);
    assert_eq!(json["summary"]["unvalidated"], 4);

    // --strict-kinds: each object without a schema is an error at its line.
    let (code, json) = test_json(&["--strict-kinds", "--crd", &crd, &file]);
    assert_eq!(code, 2);
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["line"], 17);
    assert_eq!(
        errors[0]["message"],
        "no schema for kind `Gadget` of `example.com/v1`: give its CustomResourceDefinition with --crd, or leave out --strict-kinds"
    );

    // A --crd file that holds no CRD is a usage error naming it.
    let out = run(&["test", "--crd", &file, &file]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--crd `tests/manifests/schema/widgets.yaml`: no CustomResourceDefinition"),
        "{stderr}"
    );
}

#[test]
fn kinds_of_the_crds_the_policies_import_are_validated() {
    // The standard library imports Istio's security CRDs (stdlib/crds/istio-security.yaml).
    let (code, json) = test_json(&["--rule", "schema.*", &format!("{DIR}/istio.yaml")]);
    assert_eq!(code, 1);
    assert_eq!(
        schema_findings(&json),
        [finding("default", "schema.enum", "spec.mtls.mode", 8, 5)]
    );
    assert_eq!(
        json["results"][0]["violations"][0]["message"],
        "`spec.mtls.mode` must be one of `UNSET`, `DISABLE`, `PERMISSIVE` or `STRICT`, found `\"strict\"`"
    );
    assert_eq!(json["summary"]["unvalidated"], 0);
}

#[test]
fn rules_and_explain_describe_the_schema_rules() {
    let out = run(&["rules", "-o", "json"]);
    let rules: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: Vec<&Value> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"].as_str().unwrap().starts_with("schema."))
        .collect();
    assert_eq!(schema.len(), 4);
    for r in &schema {
        assert_eq!(r["severity"], "high");
        assert_eq!(r["actions"], serde_json::json!(["deny"]));
        for key in ["title", "description", "remediation"] {
            assert!(!r[key].as_str().unwrap().is_empty(), "{key} of {}", r["id"]);
        }
    }
    let out = run(&["explain", "schema.wrong_type"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "schema.wrong_type: Field values must have the type their schema declares"
        ),
        "{text}"
    );
    assert!(
        text.contains("applies to: every object whose kind has a schema"),
        "{text}"
    );
    assert!(text.contains("Remediation\n  Quote values"), "{text}");
}

/// The corpus of real-world manifests (../shared beside the checkout, as CI lays it out).
const CORPUS: &str = "../shared/corpus/real";

#[test]
fn every_schema_finding_on_the_real_world_corpus_is_a_true_positive() {
    assert!(
        root().join(CORPUS).is_dir(),
        "{CORPUS} is missing: ../shared must be beside the checkout"
    );
    let (code, json) = test_json(&["--rule", "schema.*", CORPUS]);
    assert!(code == 0 || code == 1, "exit code {code}");
    assert_eq!(json["errors"], serde_json::json!([]));
    // Grouped by cause: (rule, path with list indexes dropped) → count.
    let mut groups: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (_, rule, path, line, _) in schema_findings(&json) {
        assert!(line >= 1);
        let mut general = String::new();
        let mut in_index = false;
        for c in path.chars() {
            match c {
                '[' if !path.contains("[\"") => in_index = true,
                ']' if in_index => in_index = false,
                _ if in_index => {}
                _ => general.push(c),
            }
        }
        *groups.entry((rule, general)).or_default() += 1;
    }
    // Each group examined. 641 of the 697 objects have a schema (the other 56 are custom
    // resources whose CRDs are not given, and `policy/v1beta1` PodDisruptionBudget and
    // PodSecurityPolicy, which Kubernetes 1.37 no longer serves, and a PodSecurityPolicy
    // written `policy/v1`, which never existed), and all but one are valid.
    assert_eq!(json["summary"]["resources"], 697);
    assert_eq!(json["summary"]["unvalidated"], 56);
    let expected: BTreeMap<(String, String), usize> = [
        // kubernetes-sigs/metrics-server `manifests/base/deployment.yaml`: a kustomize base
        // whose selector the overlay adds; applied as it is, the API server refuses it with
        // `spec.selector: Required value`.
        ("schema.required", "spec.selector", 1),
    ]
    .into_iter()
    .map(|(rule, path, n): (&str, &str, usize)| ((rule.to_string(), path.to_string()), n))
    .collect();
    assert_eq!(groups, expected);
}
