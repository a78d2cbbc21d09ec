//! End-to-end: an evaluation error is an error of one (object, rule) pair. The other rules'
//! findings on the same object are all reported, the error names its rule, the field and
//! its position, and the exit code is 2 only while an error remains. Manifests are read as
//! the API server reads them (`privileged: yes` is `true`).

mod common;

use std::path::Path;

use common::{rampart, report, scratch};
use serde_json::Value;

/// Runs `rampart test -o json ARGS` in `dir`; returns the exit code and the report.
fn test_json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = rampart(&["test", "-o", "json"])
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs");
    report(&out)
}

fn violations(json: &Value) -> Vec<(String, String)> {
    json["results"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("rule"), s("path"))
        })
        .collect()
}

/// `(rule, path, line, column, message)` of every error entry.
fn errors(json: &Value) -> Vec<(String, String, u64, u64, String)> {
    json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rule"].as_str().unwrap_or("").to_string(),
                e["path"].as_str().unwrap_or("").to_string(),
                e["line"].as_u64().unwrap_or(0),
                e["column"].as_u64().unwrap_or(0),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const POLICY: &str = r#"module t

rule a_privileged {
  title "privileged"
  match Pod
  deny for c in all_containers(object)
    when c.securityContext.privileged ?? false
    at c.securityContext.privileged
    message "container `{c.name}` is privileged"
}

rule b_cpu {
  title "cpu"
  match Pod
  deny for c in all_containers(object)
    when (c.resources.limits["cpu"] ?? quantity("0")) > quantity("2")
    at c.resources.limits["cpu"]
    message "container `{c.name}` asks for too much CPU"
}

rule c_latest {
  title "latest"
  match Pod
  deny for c in all_containers(object)
    when image(c.image ?? "").tag == "latest"
    at c.image
    message "container `{c.name}` uses latest"
}

rule d_host_network {
  title "host network"
  match Pod
  deny when object.spec.hostNetwork ?? false
    at object.spec.hostNetwork
    message "pod uses the host network"
}

rule e_host_pid {
  title "host pid"
  match Pod
  deny when object.spec.hostPID ?? false
    at object.spec.hostPID
    message "pod uses the host PID namespace"
}
"#;

/// One manifest per error kind the module reports on a value; each also breaks the other
/// rules, whose findings must all be there.
#[test]
fn a_rule_error_keeps_the_other_rules_findings() {
    let dir = scratch("rule-errors-values");
    std::fs::create_dir_all(dir.join("p")).unwrap();
    std::fs::write(dir.join("p/t.rp"), POLICY).unwrap();
    let pod = |container: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: true\n  hostPID: true\n  containers:\n    - name: app\n{container}"
        )
    };
    let cases = [
        (
            "wrong-type.yaml",
            pod("      image: nginx:latest\n      securityContext:\n        privileged: \"true\"\n      resources: {limits: {cpu: \"4\"}}\n"),
            "t.a_privileged",
            "spec.containers[0].securityContext.privileged",
            (12, 21),
            "expected a boolean, found the string \"true\"",
            vec!["t.b_cpu", "t.c_latest", "t.d_host_network", "t.e_host_pid"],
        ),
        (
            "bad-quantity.yaml",
            pod("      image: nginx:latest\n      securityContext: {privileged: true}\n      resources:\n        limits: {cpu: lots}\n"),
            "t.b_cpu",
            "spec.containers[0].resources.limits.cpu",
            (13, 23),
            "invalid quantity: the string \"lots\"",
            vec!["t.a_privileged", "t.c_latest", "t.d_host_network", "t.e_host_pid"],
        ),
        (
            "bad-image.yaml",
            pod("      image: \"registry.example.com/\"\n      securityContext: {privileged: true}\n      resources: {limits: {cpu: \"4\"}}\n"),
            "t.c_latest",
            "spec.containers[0].image",
            (10, 14),
            "invalid image reference: the string \"registry.example.com/\"",
            vec!["t.a_privileged", "t.b_cpu", "t.d_host_network", "t.e_host_pid"],
        ),
    ];
    for (file, text, rule, path, (line, col), message, others) in cases {
        std::fs::write(dir.join(file), text).unwrap();
        // Schema validation would add its own findings on the wrong type; it is tested in
        // tests/schema_validation.rs.
        let (code, json) = test_json(&dir, &["-p", "p", "--exclude-rule", "schema.*", file]);
        assert_eq!(code, 2, "{file}: {json:#}");
        let found: Vec<String> = violations(&json).into_iter().map(|(r, _)| r).collect();
        assert_eq!(found, others, "{file}");
        let errs = errors(&json);
        assert_eq!(errs.len(), 1, "{file}: {errs:?}");
        let (r, p, l, c, m) = &errs[0];
        assert_eq!(
            (r.as_str(), p.as_str(), (*l, *c)),
            (rule, path, (line, col)),
            "{file}"
        );
        assert_eq!(
            m,
            &format!("Pod p: rule `{rule}`: `{path}`: {message}"),
            "{file}"
        );
        assert_eq!(json["summary"]["errors"], 1, "{file}");
        assert_eq!(
            json["results"][0]["error"],
            format!("rule `{rule}`: `{path}`: {message}"),
            "{file}"
        );
    }
}

/// The "done when" case: a Deployment whose container has no image (a later tool fills it
/// in) and mounts the container runtime socket gets every finding, and exits 1 (findings)
/// unless an error remains, which then exits 2 and still keeps the findings.
#[test]
fn a_container_without_image_keeps_every_finding() {
    let dir = scratch("rule-errors-no-image");
    let deployment = |privileged: &str| {
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: escape, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: escape}}}}
  template:
    metadata: {{labels: {{app: escape}}}}
    spec:
      containers:
        - name: shell
          securityContext: {{privileged: {privileged}}}
          volumeMounts: [{{name: sock, mountPath: /var/run/docker.sock}}]
      volumes:
        - name: sock
          hostPath: {{path: /var/run/docker.sock}}
"
        )
    };
    std::fs::write(dir.join("clean.yaml"), deployment("false")).unwrap();
    std::fs::write(dir.join("erroneous.yaml"), deployment("\"no\"")).unwrap();
    let expected = [
        "hardening.no_container_runtime_socket",
        "pss.restricted.capabilities",
        "pss.restricted.privilege_escalation",
    ];
    for (file, code_wanted, errors_wanted) in [("clean.yaml", 1, 0), ("erroneous.yaml", 2, 1)] {
        let (code, json) = test_json(&dir, &[file]);
        assert_eq!(code, code_wanted, "{file}: {json:#}");
        let found: Vec<String> = violations(&json).into_iter().map(|(r, _)| r).collect();
        for rule in expected {
            assert!(
                found.iter().any(|r| r == rule),
                "{file}: {rule} missing in {found:?}"
            );
        }
        assert!(
            !found.iter().any(|r| r.starts_with("images.")),
            "{file}: {found:?}"
        );
        let errs = errors(&json);
        assert_eq!(errs.len(), errors_wanted, "{file}: {errs:?}");
        if let Some((rule, path, line, _, message)) = errs.first() {
            assert_eq!(rule, "pss.baseline.privileged");
            assert_eq!(
                path,
                "spec.template.spec.containers[0].securityContext.privileged"
            );
            assert_eq!(*line, 11);
            assert!(
                message.ends_with("expected a boolean, found the string \"no\""),
                "{message}"
            );
        }
    }
}

/// `privileged: yes` is `true` on the cluster (YAML 1.1, as sigs.k8s.io/yaml reads it), so it
/// is the critical finding of pss.baseline.privileged, located at the field.
#[test]
fn privileged_yes_is_a_privileged_container() {
    let dir = scratch("rule-errors-yes");
    std::fs::write(
        dir.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n    - name: app\n      image: nginx:1.27\n      securityContext:\n        privileged: yes\n",
    )
    .unwrap();
    let (code, json) = test_json(&dir, &["--rule", "pss.baseline.privileged", "pod.yaml"]);
    assert_eq!(code, 1, "{json:#}");
    let v = &json["results"][0]["violations"][0];
    assert_eq!(v["rule"], "pss.baseline.privileged");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["path"], "spec.containers[0].securityContext.privileged");
    assert_eq!(
        (v["line"].as_u64(), v["column"].as_u64()),
        (Some(9), Some(21))
    );
    assert_eq!(json["errors"], Value::Array(vec![]));
}
