//! `rampart test` with a Pod rule under pod-controller autogen: the pod template is read as
//! the pods created from it will be (spec/language.md "Pod-controller autogen").

mod common;
use common::{report, run};

const POLICY: &str = "tests/manifests/autogen/namespace.rp";
const WORKLOADS: &str = "tests/manifests/autogen/workloads.yaml";

#[test]
fn a_deployment_in_foo_is_not_in_the_default_namespace() {
    let out = run(&[
        "test",
        "-p",
        POLICY,
        "--exclude-rule",
        "schema.*",
        "-o",
        "json",
        WORKLOADS,
    ]);
    let (code, json) = report(&out);
    assert_eq!(code, 1, "{json}");
    let mut found: Vec<(String, String)> = Vec::new();
    for r in json["results"].as_array().unwrap() {
        for v in r["violations"].as_array().unwrap() {
            assert_eq!(v["rule"], "team.placement.not_in_default");
            found.push((
                r["name"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            ));
        }
    }
    // Deployment/web and Pod/debug are in `foo`; the message names the controller.
    assert_eq!(
        found,
        [
            (
                "api".to_string(),
                "Deployment `api` runs its pods in the default namespace".to_string()
            ),
            (
                "nightly".to_string(),
                "CronJob `nightly` runs its pods in the default namespace".to_string()
            ),
        ]
    );
}
