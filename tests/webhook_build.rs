//! `rampart build --target webhook` (the deployment manifests of `rampart serve`) and
//! `rampart test -o policyreport`: their output passes Rampart's own standard library and
//! validates against its schemas (the Kubernetes schema, the wgpolicyk8s.io CRDs).

mod common;

#[path = "../compiler/tests/common/mod.rs"]
mod crds;

use serde_json::{json, Value};
use std::path::Path;

const IMAGE: &str = "ghcr.io/example/rampart:0.1.0@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

fn docs(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

/// Runs `rampart build --target webhook -o DIR` with `args` after it, in a fresh scratch
/// folder named `name`; returns the folder and the run.
fn build(name: &str, args: &[&str]) -> (std::path::PathBuf, std::process::Output) {
    let dir = common::scratch(name);
    let mut all = vec!["build", "--target", "webhook", "-o", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = common::run(&all);
    (dir, out)
}

fn find<'a>(all: &'a [Value], kind: &str) -> &'a Value {
    all.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn webhook_manifests_pass_the_standard_library_and_the_kubernetes_schema() {
    let (dir, out) = build("webhook-build-stdlib", &["--image", IMAGE]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "00-namespace.yaml",
            "10-serviceaccount.yaml",
            "40-deployment.yaml",
            "50-webhook.yaml"
        ]
    );

    // Rampart's own library, with schema validation against the Kubernetes 1.37 schema
    // (on by default, every kind known: nothing unvalidated).
    let out = common::run(&[
        "test",
        "-o",
        "json",
        "--fail-on-warn",
        dir.to_str().unwrap(),
    ]);
    let (code, report) = common::report(&out);
    assert_eq!(code, 0, "{report:#}");
    let s = &report["summary"];
    assert_eq!(s["violations"], 0, "{report:#}");
    assert_eq!(s["warnings"], 0, "{report:#}");
    assert_eq!(s["errors"], 0, "{report:#}");
    assert_eq!(s["unvalidated"], 0, "{report:#}");
    assert_eq!(s["resources"], 8);
    // The only waivers are the two the manifests explain in their annotations.
    assert_eq!(s["exempted"], 2, "{report:#}");

    let all: Vec<Value> = names.iter().flat_map(|n| docs(&dir.join(n))).collect();
    let vwc = find(&all, "ValidatingWebhookConfiguration");
    let hook = &vwc["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(hook["sideEffects"], "None");
    assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(hook["timeoutSeconds"], 10);
    assert_eq!(hook["clientConfig"]["service"]["path"], "/validate");
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"][0]["values"],
        json!(["rampart-system", "kube-system"])
    );
    let rules = hook["rules"].as_array().unwrap();
    let covers = |group: &str, resource: &str| {
        rules.iter().any(|r| {
            r["apiGroups"] == json!([group])
                && r["resources"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(resource))
        })
    };
    // Pods and, through autogen, their controllers; the other kinds the library matches.
    for (group, resource) in [
        ("", "pods"),
        ("apps", "deployments"),
        ("batch", "cronjobs"),
        ("", "services"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "pods/ephemeralcontainers"),
    ] {
        assert!(covers(group, resource), "{group}/{resource}: {rules:#?}");
    }
    assert!(
        !covers("", "limitranges"),
        "no rule of the library matches LimitRanges"
    );

    let deployment = find(&all, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(pod["affinity"]["podAntiAffinity"].is_object());
    let container = &pod["containers"][0];
    assert_eq!(container["image"], IMAGE);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    assert_eq!(container["args"][0], "serve");
    assert_eq!(find(&all, "PodDisruptionBudget")["spec"]["minAvailable"], 1);
    assert_eq!(find(&all, "Service")["spec"]["ports"][0]["port"], 443);
}

#[test]
fn webhook_manifests_carry_the_policies_and_a_cert_manager_certificate() {
    let (dir, out) = build(
        "webhook-build-policies",
        &[
            "--image",
            IMAGE,
            "--namespace",
            "policy",
            "--cert-manager",
            "examples/policies",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let config = docs(&dir.join("20-policies.yaml")).remove(0);
    let source =
        std::fs::read_to_string(common::root().join("examples/policies/containers.rp")).unwrap();
    assert_eq!(
        config["data"]["examples_policies_containers.rp"],
        json!(source)
    );
    let deployment = docs(&dir.join("40-deployment.yaml")).remove(0);
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    let args: Vec<&str> = args
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.windows(2).any(|w| w
            == [
                "--policy",
                "/etc/rampart/policies/examples_policies_containers.rp"
            ]),
        "{args:?}"
    );
    let certs = docs(&dir.join("30-certificate.yaml"));
    assert_eq!(certs[1]["kind"], "Certificate");
    assert_eq!(
        certs[1]["spec"]["dnsNames"][0],
        "rampart-webhook.policy.svc"
    );
    let vwc = docs(&dir.join("50-webhook.yaml")).remove(0);
    assert_eq!(
        vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "policy/rampart-webhook"
    );
    // The example policies match pods only.
    let resources: Vec<Value> = vwc["webhooks"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resources"].as_array().unwrap().clone())
        .collect();
    assert!(resources.contains(&json!("pods")) && !resources.contains(&json!("services")));

    let out = common::run(&["test", "-o", "json", dir.to_str().unwrap()]);
    let (code, report) = common::report(&out);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["violations"], 0);
    // cert-manager's kinds have no schema here: counted, not checked.
    let kinds: Vec<&str> = report["unvalidated_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Certificate", "Issuer"]);
}

#[test]
fn the_webhook_target_needs_an_image() {
    let (dir, out) = build("webhook-build-no-image", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("`--target webhook` needs `--image IMAGE@sha256:DIGEST`"));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn policy_reports_validate_against_the_crds_and_count_every_result() {
    let dir = common::scratch("policyreport");
    let file = dir.join("report.json");
    let out = common::run(&[
        "test",
        "examples/manifests",
        "-o",
        "policyreport",
        "--output-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let list: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    let namespaced = crds::crd_schema("kyverno", "wgpolicyk8s.io_policyreports.yaml", "v1alpha2");
    let cluster = crds::crd_schema(
        "kyverno",
        "wgpolicyk8s.io_clusterpolicyreports.yaml",
        "v1alpha2",
    );
    let mut errors = Vec::new();
    let mut fails = 0;
    for item in items {
        assert_eq!(item["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        let schema = match item["kind"].as_str().unwrap() {
            "PolicyReport" => &namespaced,
            "ClusterPolicyReport" => &cluster,
            other => panic!("{other}"),
        };
        crds::validate(schema, item, item["kind"].as_str().unwrap(), &mut errors);
        let results = item["results"].as_array().unwrap();
        let count = |r: &str| results.iter().filter(|x| x["result"] == r).count() as u64;
        for r in ["pass", "fail", "warn", "error", "skip"] {
            assert_eq!(item["summary"][r], count(r), "{r}");
        }
        fails += count("fail");
    }
    assert!(errors.is_empty(), "{errors:#?}");

    // The same verdict as the JSON report: one `fail` per deny finding.
    let out = common::run(&["test", "examples/manifests", "-o", "json"]);
    let (_, report) = common::report(&out);
    assert_eq!(fails, report["summary"]["violations"].as_u64().unwrap());
    assert!(fails > 0);
    let all: Vec<&Value> = items
        .iter()
        .flat_map(|i| i["results"].as_array().unwrap())
        .collect();
    assert!(
        all.iter().any(|r| r["result"] == "pass"),
        "rules that apply and pass are listed"
    );
    let privileged = all
        .iter()
        .find(|r| r["result"] == "fail")
        .expect("a failing result");
    assert_eq!(privileged["source"], "rampart");
    assert!(privileged["resources"][0]["kind"].is_string());
    assert!(privileged["properties"]["ruleId"].is_string());

    // Rampart's own schema validation of the report against the CRDs finds nothing either.
    let shared = common::root().join("../shared/schemas/kyverno");
    let out = common::run(&[
        "test",
        "--crd",
        shared
            .join("wgpolicyk8s.io_policyreports.yaml")
            .to_str()
            .unwrap(),
        "--crd",
        shared
            .join("wgpolicyk8s.io_clusterpolicyreports.yaml")
            .to_str()
            .unwrap(),
        "--rule",
        "schema.*",
        "--strict-kinds",
        "-o",
        "json",
        file.to_str().unwrap(),
    ]);
    let (code, report) = common::report(&out);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["resources"], items.len() as u64);
}
