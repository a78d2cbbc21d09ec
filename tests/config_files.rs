//! End-to-end tests of the run configuration (spec/config.md): `--exceptions` files,
//! exemption annotations, `--params` files and `--param` flags are checked strictly before
//! anything is evaluated, and a mistake in them never waives a finding.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run as rampart, stderr};
use serde_json::Value;

const POLICIES: &str = "tests/manifests/policies";
const PARAM_POLICIES: &str = "tests/manifests/config/policies";
const POD: &str = "tests/manifests/controllers/pod.yaml";

/// Writes `text` to a scratch file named `name` and returns its path.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config-files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// An exceptions file whose `exceptions:` list is `items` (its first item is on line 4).
fn exceptions(name: &str, items: &str) -> PathBuf {
    file(
        name,
        &format!("apiVersion: rampart.dev/v1alpha1\nkind: Exceptions\nexceptions:\n{items}"),
    )
}

/// `rampart test -p POLICIES [-o json] POD --exceptions FILE EXTRA…`.
fn test_pod(json_output: bool, exceptions: &Path, extra: &[&str]) -> Output {
    let name = exceptions.display().to_string();
    let mut args = vec!["test", "-p", POLICIES, POD, "--exceptions", &name];
    if json_output {
        args.extend(["-o", "json"]);
    }
    args.extend_from_slice(extra);
    rampart(&args)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stderr(out)))
}

/// The rule ids of the active violations of the report, in order.
fn active(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["violations"].as_array().unwrap().iter())
        .map(|v| v["rule"].as_str().unwrap().to_string())
        .collect()
}

/// A run stopped by its configuration: exit 2, nothing on stdout, these errors on stderr.
fn assert_config_errors(out: &Output, path: &Path, expected: &[&str]) {
    let name = path.display().to_string();
    let mut lines: Vec<String> = expected.iter().map(|l| l.replace("FILE", &name)).collect();
    lines.push(format!(
        "error: nothing was evaluated: {} configuration error(s)",
        expected.len()
    ));
    assert_eq!(stderr(out), lines.join("\n") + "\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing is evaluated or reported");
}

/// The regression: a misspelled `match` key used to leave the exception without criteria,
/// and it then waived the rule on every object.
#[test]
fn a_misspelled_match_key_waives_nothing() {
    let item = |key: &str| {
        format!("  - rules: [\"t.privileged\"]\n    match: {{{key}: web}}\n    reason: \"r\"\n")
    };
    let typo = exceptions("typo.yaml", &item("namespce"));
    assert_config_errors(
        &test_pod(false, &typo, &[]),
        &typo,
        &["error: FILE:5:13: unknown key `namespce` in `match` (did you mean `namespace`?)"],
    );
    // Spelled right, it waives the one finding in namespace `web`.
    let out = test_pod(true, &exceptions("right.yaml", &item("namespace")), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["summary"]["exempted"], 1);
}

#[test]
fn every_error_of_an_exceptions_file_is_reported_in_file_order() {
    let text = r#"apiVersion: rampart.dev/v1
kind: Exceptions
ticket: JIRA-1
exceptions:
  - rules: ["t.privilegd", "t.nope.*"]
    match: {kind: Pod, labels: {app: web}}
    reason: "x"
    owner: 7
    expires: "2026-02-30"
    file: a.yaml
  - rule: t.tag
    match: {}
  - rules: []
    match: {all: false}
    reason: "y"
  - rules: [t.tag]
    match: {all: true, name: web}
    reason: "z"
---
apiVersion: rampart.dev/v1alpha1
kind: Params
params: {}
"#;
    let path = file("many-errors.yaml", text);
    let expected = [
        "error: FILE:1:13: unsupported `apiVersion: rampart.dev/v1`: expected `rampart.dev/v1alpha1`",
        "error: FILE:3:1: unknown key `ticket` in a `kind: Exceptions` document",
        "error: FILE:5:13: unknown rule `t.privilegd` (did you mean `t.privileged`?)",
        "error: FILE:5:28: rule glob `t.nope.*` matches no rule of the policies",
        "error: FILE:6:24: unknown key `labels` in `match`",
        "error: FILE:8:12: `owner` must be a string",
        "error: FILE:9:14: `expires` must be a date written YYYY-MM-DD",
        "error: FILE:10:5: unknown key `file` in an exception",
        "error: FILE:11:5: an exception needs a `reason`",
        "error: FILE:12:12: `match` has no criteria: name `kind`, `namespace` or `name`, or write `all: true` to cover every object",
        "error: FILE:13:12: `rules` must be a non-empty list of rule ids or globs",
        "error: FILE:14:18: `all` can only be `true` (leave it out and name `kind`, `namespace` or `name`)",
        "error: FILE:17:18: `all: true` cannot be combined with `kind`, `namespace` or `name`",
        "error: FILE:21:7: expected `kind: Exceptions` in this file, found `Params`",
    ];
    let out = test_pod(false, &path, &[]);
    assert_config_errors(&out, &path, &expected);
    // The same order on every run.
    assert_eq!(stderr(&test_pod(false, &path, &[])), stderr(&out));
}

#[test]
fn a_match_on_every_object_is_written_all_true() {
    let all = exceptions(
        "all.yaml",
        "  - rules: [t.privileged]\n    match: {all: true}\n    reason: \"every object\"\n",
    );
    let controllers = |extra: &[&str]| {
        let mut args = vec![
            "test",
            "-p",
            POLICIES,
            "-o",
            "json",
            "tests/manifests/controllers",
        ];
        args.extend_from_slice(extra);
        rampart(&args)
    };
    let privileged = active(&json(&controllers(&[])))
        .iter()
        .filter(|r| *r == "t.privileged")
        .count();
    assert!(privileged > 1, "{privileged}");
    let out = controllers(&["--exceptions", &all.display().to_string()]);
    let report = json(&out);
    assert_eq!(report["summary"]["exempted"], privileged);
    assert!(!active(&report).contains(&"t.privileged".to_string()));

    let missing = exceptions(
        "no-match.yaml",
        "  - rules: [t.privileged]\n    reason: \"no match at all\"\n",
    );
    assert_config_errors(
        &test_pod(false, &missing, &[]),
        &missing,
        &["error: FILE:4:5: an exception needs a `match` (write `match: {all: true}` to cover every object)"],
    );
}

#[test]
fn require_owner_and_expiry_refuses_anonymous_or_permanent_waivers() {
    let path = exceptions(
        "anonymous.yaml",
        "  - rules: [t.privileged]\n    match: {namespace: web}\n    reason: \"forever\"\n",
    );
    let out = test_pod(true, &path, &[]);
    assert_eq!(
        json(&out)["summary"]["exempted"],
        1,
        "allowed without the flag"
    );
    assert_config_errors(
        &test_pod(false, &path, &["--require-owner-and-expiry"]),
        &path,
        &[
            "error: FILE:4:5: an exception needs an `owner` (--require-owner-and-expiry)",
            "error: FILE:4:5: an exception needs `expires` (--require-owner-and-expiry)",
        ],
    );

    // The annotated pod `valid` has a reason and a date but no owner: its exemption is an
    // error and exempts nothing.
    let out = rampart(&[
        "test",
        "-p",
        POLICIES,
        "-o",
        "json",
        "tests/manifests/exceptions/annotated.yaml",
        "--require-owner-and-expiry",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    let valid = &report["results"][0];
    assert_eq!(valid["name"], "valid");
    assert_eq!(valid["violations"][0]["rule"], "t.privileged");
    assert_eq!(valid["exempted"], serde_json::json!([]));
    assert!(report["errors"].as_array().unwrap().iter().any(|e| e["message"]
        == "exemption without an owner: add the `rampart.dev/exempt-owner` annotation (--require-owner-and-expiry)"));
}

/// Annotations are read with their object; a malformed one is an error and exempts nothing.
#[test]
fn a_malformed_exemption_annotation_exempts_nothing() {
    let pod = |name: &str, annotation: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n    \
             rampart.dev/exempt: \"t.privileged\"\n    rampart.dev/exempt-reason: \"r\"\n    \
             {annotation}\nspec:\n  containers:\n    - name: a\n      image: a:1.0\n      \
             securityContext: {{privileged: true, runAsNonRoot: true}}\n"
        )
    };
    let text = [
        pod("bad-date", "rampart.dev/exempt-until: \"2026-13-01\""),
        pod("typo", "rampart.dev/exempt-untill: \"2999-01-01\""),
        pod("good", "rampart.dev/exempt-until: \"2999-01-01\""),
    ]
    .join("---\n");
    let path = file("annotated.yaml", &text);
    let out = rampart(&[
        "test",
        "-p",
        POLICIES,
        "-o",
        "json",
        &path.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    let errors: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}: {}",
                e["line"],
                e["column"],
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            "8:31: `rampart.dev/exempt-until` must be a date written YYYY-MM-DD",
            "22:32: unknown annotation `rampart.dev/exempt-untill` (did you mean `rampart.dev/exempt-until`?)",
        ]
    );
    let exempted: Vec<usize> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["exempted"].as_array().unwrap().len())
        .collect();
    assert_eq!(
        exempted,
        [0, 0, 1],
        "only the well-formed exemption applies"
    );
    assert_eq!(active(&report), ["t.privileged", "t.privileged"]);
}

#[test]
fn a_param_flag_overrides_the_params_file_whatever_the_order() {
    let params = file(
        "banned.yaml",
        "apiVersion: rampart.dev/v1alpha1\nkind: Params\nparams:\n  p.images:\n    banned: [\"1.0\"]\n",
    );
    let params = params.display().to_string();
    let flag = r#"p.images.banned=["2.0"]"#;
    let banned_container = |args: &[&str]| {
        let mut all = vec!["test", "-p", PARAM_POLICIES, "-o", "json", POD];
        all.extend_from_slice(args);
        let out = rampart(&all);
        let report = json(&out);
        let messages: Vec<String> = report["results"][0]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["message"].as_str().unwrap().to_string())
            .collect();
        messages.join("; ")
    };
    assert_eq!(banned_container(&[]), "");
    assert_eq!(
        banned_container(&["--params", &params]),
        "container `app` uses the banned tag of `registry.example/app:1.0`"
    );
    let sidecar = "container `sidecar` uses the banned tag of `registry.example/sidecar:2.0`";
    assert_eq!(
        banned_container(&["--params", &params, "--param", flag]),
        sidecar
    );
    assert_eq!(
        banned_container(&["--param", flag, "--params", &params]),
        sidecar
    );
    // Of two flags, the later wins.
    assert_eq!(
        banned_container(&["--param", r#"p.images.banned=["1.0"]"#, "--param", flag]),
        sidecar
    );
}

#[test]
fn every_error_of_a_params_file_and_the_flags_is_reported_in_order() {
    let text = r#"apiVersion: rampart.dev/v1alpha1
kind: Params
parms: {}
params:
  p.imagez:
    banned: []
  p.images:
    baned: ["x"]
    banned: 1.0
    max_containers: "3"
"#;
    let path = file("bad-params.yaml", text);
    let out = rampart(&[
        "test",
        "-p",
        PARAM_POLICIES,
        POD,
        "--param",
        "p.images.max_containers=x",
        "--params",
        &path.display().to_string(),
        "--param",
        "p.images",
    ]);
    assert_config_errors(
        &out,
        &path,
        &[
            "error: FILE:3:1: unknown key `parms` in a `kind: Params` document (did you mean `params`?)",
            "error: FILE:5:3: unknown rule `p.imagez` (did you mean `p.images`?)",
            "error: FILE:8:5: rule `p.images` has no parameter `baned` (did you mean `banned`?)",
            "error: FILE:9:13: parameter `p.images.banned` expects `list<string>`, got `1`",
            "error: FILE:10:21: parameter `p.images.max_containers` expects `int`, got `\"3\"`",
            "error: --param p.images.max_containers=x: parameter `p.images.max_containers` expects `int`, got `\"x\"`",
            "error: --param p.images: must be written RULE.NAME=VALUE",
        ],
    );
}

#[test]
fn parameter_types_print_in_rp_syntax() {
    let out = rampart(&["explain", "p.images", "-p", PARAM_POLICIES]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "  banned (list<string>) = [\"latest\"]    override: --param p.images.banned=VALUE"
        ),
        "{text}"
    );
    assert!(text.contains("  max_containers (int) = 10"), "{text}");
    let out = rampart(&["rules", "-p", PARAM_POLICIES, "-o", "json"]);
    let rules: Value = serde_json::from_slice(&out.stdout).unwrap();
    let types: Vec<&str> = rules[0]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["list<string>", "int"]);
}
