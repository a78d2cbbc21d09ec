//! `match *` (spec/language.md §3 "Matching"): `rampart test` applies the rule to objects of
//! every kind and every export scopes it to every kind.

mod common;

use common::{report, run, scratch};

const POLICY: &str = "runtime/tests/verify/every-kind/every.rp";

#[test]
fn every_kind_is_checked() {
    let dir = scratch("every-kind-test");
    let manifests = dir.join("objects.yaml");
    std::fs::write(
        &manifests,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop, labels: {owner: ann}}\n---\n\
         apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    )
    .unwrap();
    let out = run(&[
        "test",
        "-p",
        POLICY,
        "-o",
        "json",
        "--exclude-rule",
        "schema.*",
        &manifests.display().to_string(),
    ]);
    let (code, json) = report(&out);
    assert_eq!(code, 1, "{json}");
    let failing: Vec<(&str, usize)> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap(),
                r["violations"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(failing, [("Namespace", 1), ("ConfigMap", 0), ("Widget", 1)]);
}

#[test]
fn every_export_matches_every_kind() {
    let expected = [
        (
            "gatekeeper",
            "kinds:\n    - apiGroups:\n      - '*'\n      kinds:\n      - '*'",
        ),
        (
            "gatekeeper-cel",
            "kinds:\n    - apiGroups:\n      - '*'\n      kinds:\n      - '*'",
        ),
        ("kyverno", "kinds:\n          - '*'"),
        (
            "kyverno-vpol",
            "resourceRules:\n    - apiGroups:\n      - '*'\n      apiVersions:\n      - '*'",
        ),
        (
            "vap",
            "resourceRules:\n    - apiGroups:\n      - '*'\n      apiVersions:\n      - '*'",
        ),
    ];
    for (target, wanted) in expected {
        let dir = scratch(&format!("every-kind-{target}"));
        let out = run(&[
            "build",
            "--target",
            target,
            "-o",
            &dir.display().to_string(),
            POLICY,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{target}: {}",
            common::stderr(&out)
        );
        let mut text = String::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yaml") {
                    text += &std::fs::read_to_string(&p).unwrap();
                }
            }
        }
        assert!(text.contains(wanted), "{target}: {wanted:?} not in\n{text}");
        if target == "vap" || target == "kyverno-vpol" {
            assert!(
                text.contains("resources:\n      - '*'"),
                "{target}:\n{text}"
            );
        }
    }
}
