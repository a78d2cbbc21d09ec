//! End-to-end tests of `rampart verify`: the real binary runs the test files of
//! `runtime/tests/verify/` (their policies are in `runtime/tests/verify/policies/` and
//! `runtime/tests/verify/backends/`), and each test checks the exit code, stdout and stderr.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const TESTS: &str = "runtime/tests/verify";

/// Runs `rampart verify ARGS` from the crate root.
fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .arg("verify")
        .args(args)
        .env("NO_COLOR", "1")
        .env(
            "RAMPART_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("rampart-cache"),
        )
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A test file or folder below `runtime/tests/verify`.
fn at(rel: &str) -> String {
    format!("{TESTS}/{rel}")
}

/// Runs one erroneous test file: exit 2, nothing on stdout, and one error on stderr, which
/// is returned without `error: FILE:`.
fn only_error(rel: &str) -> String {
    let file = at(rel);
    let out = verify(&[&file]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no table when nothing ran");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    lines[0]
        .strip_prefix(&format!("error: {file}:"))
        .unwrap_or_else(|| panic!("`{}` does not name the file", lines[0]))
        .to_string()
}

#[test]
fn unknown_rule() {
    assert_eq!(
        only_error("errors/unknown-rule.test.yaml"),
        "6: case `typo in the rule id`: unknown rule `demo.team_lable`; did you mean `demo.team_label`?"
    );
}

#[test]
fn missing_file() {
    assert_eq!(
        only_error("errors/missing-file.test.yaml"),
        "4: case `the file is gone`: file `fixtures/nowhere.yaml` does not exist"
    );
}

#[test]
fn deny_from_a_rule_that_cannot_match_the_kind() {
    let error = only_error("errors/cannot-match.test.yaml");
    assert!(
        error.starts_with(
            "7: case `a namespace is not a pod`: rule `demo.privileged` cannot match a `Namespace` (`v1`), so it can only skip"
        ),
        "{error}"
    );
}

#[test]
fn bad_regex() {
    let error = only_error("errors/bad-regex.test.yaml");
    assert!(
        error.starts_with("8: case `unbalanced group`: invalid `message` regex `no (team label`: "),
        "{error}"
    );
}

#[test]
fn every_error_is_reported_before_anything_runs() {
    let out = verify(&[&at("errors")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 5, "{err}");
    assert!(err.lines().all(|l| l.starts_with("error: ")), "{err}");
}

#[test]
fn a_failing_expectation_exits_1_with_its_row() {
    let out = verify(&[&at("fail")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let table = stdout(&out);
    let row = table
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL row in\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "FAIL",
            "demo.privileged",
            "privileged",
            "pod",
            "pass",
            "deny"
        ]
    );
    assert!(
        table.contains(&format!(
            "\n  {}:12: case `privileged pod`, rule `demo.privileged`: expected pass, got deny: `container `app` is privileged` at `spec.containers[0].securityContext.privileged`\n",
            at("fail/demo.test.yaml")
        )),
        "{table}"
    );
    assert!(table.ends_with("\n\n1 passed, 1 failed\n"), "{table}");
    assert_eq!(table.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn a_passing_suite_exits_0() {
    let out = verify(&[&at("pass")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().last(), Some("10 passed, 0 failed"));
    assert_eq!(stderr(&out), "");
}

#[test]
fn json_report() {
    let out = verify(&["-o", "json", &at("fail")]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["passed"], 1);
    assert_eq!(json["failed"], 1);
    assert_eq!(json["not_applicable"], 0);
    assert_eq!(json["errors"], serde_json::json!([]));
    assert_eq!(json["backends"], serde_json::json!(["wasm"]));
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let first = &results[0];
    for key in [
        "file",
        "line",
        "case",
        "rule",
        "expected",
        "got",
        "backends",
        "passed",
        "not_applicable",
        "failed_on",
        "reasons",
        "notes",
    ] {
        assert!(first.get(key).is_some(), "no `{key}` in {first}");
    }
    assert_eq!(first["file"], at("fail/demo.test.yaml"));
    assert_eq!(first["line"], 12);
    assert_eq!(first["got"], "deny");
    assert_eq!(first["backends"], serde_json::json!({"wasm": "deny"}));
    assert_eq!(first["failed_on"], serde_json::json!(["wasm"]));
    assert_eq!(first["passed"], false);
    assert!(json.get("coverage").is_none());

    // Errors: a JSON document too, with exit 2 and no result.
    let out = verify(&["-o", "json", &at("errors/no-expect.test.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["errors"].as_array().unwrap().len(), 1);
    assert_eq!(json["results"], serde_json::json!([]));
}

#[test]
fn junit_report() {
    let out = verify(&["-o", "junit", &at("fail")]);
    assert_eq!(out.status.code(), Some(1));
    let xml = stdout(&out);
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rampart verify\" tests=\"2\" failures=\"1\" errors=\"0\">\n"
    ), "{xml}");
    assert!(
        xml.contains(&format!(
            "<testsuite name=\"{}\" tests=\"2\" failures=\"1\" errors=\"0\">",
            at("fail/demo.test.yaml")
        )),
        "{xml}"
    );
    assert!(
        xml.contains("name=\"privileged pod / demo.privileged\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"expected pass, got deny\">expected pass, got deny: "),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 2);
    assert!(xml.ends_with("</testsuites>\n"), "{xml}");

    let out = verify(&["-o", "junit", &at("errors/bad-regex.test.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    let xml = stdout(&out);
    assert!(xml.contains("errors=\"1\""), "{xml}");
    assert!(xml.contains("<error message=\""), "{xml}");
}

#[test]
fn coverage() {
    let out = verify(&["--coverage", &at("fail")]);
    assert_eq!(out.status.code(), Some(1));
    let table = stdout(&out);
    assert!(
        table.contains("\ncoverage: 3 rule(s)\n  no failing case (3):\n    demo.latest_tag\n    demo.privileged\n    demo.team_label\n  no passing case (1):\n    demo.team_label\n"),
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("1 passed, 1 failed"));

    let out = verify(&["--coverage", "-o", "json", &at("pass")]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["coverage"]["rules"], 3);
    assert_eq!(json["coverage"]["no_failing_case"], serde_json::json!([]));
    assert_eq!(
        json["coverage"]["no_passing_case"],
        serde_json::json!(["demo.team_label"])
    );
}

#[test]
fn unknown_backend_is_a_usage_error() {
    let out = verify(&["--backend", "opa", &at("pass")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("opa"), "{}", stderr(&out));
}

#[cfg(not(feature = "engines"))]
#[test]
fn engines_are_not_in_this_build() {
    let out = verify(&["--backend", "rego", &at("pass")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: backend `rego` is not available in this build\n"
    );
}

/// The same cases on the Wasm module, the exported Rego and the exported CEL: they agree.
#[cfg(feature = "engines")]
#[test]
fn all_backends_agree() {
    let out = verify(&["--backend", "all", &at("pass")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let table = stdout(&out);
    assert!(!table.contains("wasm="), "one word per row: {table}");
    assert_eq!(table.lines().last(), Some("10 passed, 0 failed"));

    let out = verify(&["--backend", "all", "-o", "json", &at("pass")]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["backends"], serde_json::json!(["wasm", "rego", "cel"]));
    for r in json["results"].as_array().unwrap() {
        let got = &r["backends"];
        assert_eq!(got["wasm"], got["rego"], "{r}");
        assert_eq!(got["wasm"], got["cel"], "{r}");
    }
}

/// A set rule on CEL: `n/a` with the exporter's reason, neither passed nor failed.
#[cfg(feature = "engines")]
#[test]
fn a_rule_cel_cannot_express_is_not_applicable() {
    let out = verify(&["--backend", "all", &at("backends")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let table = stdout(&out);
    assert!(
        table.contains("multi.backed    service without a deployment                      deny      wasm=deny rego=deny cel=n/a\n"),
        "{table}"
    );
    assert!(table.contains("\nnotes:\n  cel: n/a: rule `multi.backed` cannot be exported to vap: set rule: `objects(Deployment)` reads other objects, which CEL admission policies cannot see\n"), "{table}");
    assert_eq!(table.lines().last(), Some("7 passed, 0 failed"));

    // On CEL alone, those rows are not applicable, and the run does not fail.
    let out = verify(&["--backend", "cel", "-o", "junit", &at("backends")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let xml = stdout(&out);
    assert_eq!(
        xml.matches("<skipped message=\"not applicable\"/>").count(),
        2,
        "{xml}"
    );
    let out = verify(&["--backend", "cel", &at("backends")]);
    assert_eq!(
        stdout(&out).lines().last(),
        Some("5 passed, 0 failed, 2 not applicable")
    );
}

/// A real disagreement (CEL prints a map as `[…]`) in the table, JSON and JUnit.
#[cfg(feature = "engines")]
#[test]
fn a_disagreement_is_visible_in_every_format() {
    let out = verify(&["--backend", "all", &at("disagree")]);
    assert_eq!(out.status.code(), Some(1));
    let table = stdout(&out);
    assert!(
        table.contains("FAIL  multi.owner  namespace with a team but no owner  deny      wasm=deny rego=deny cel=deny\n"),
        "{table}"
    );
    assert!(
        table.contains(": case `namespace with a team but no owner`, rule `multi.owner`: cel: no deny finding with message matching"),
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("0 passed, 1 failed"));

    let out = verify(&["--backend", "all", "-o", "json", &at("disagree")]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let r = &json["results"][0];
    assert_eq!(r["failed_on"], serde_json::json!(["cel"]));
    assert_eq!(r["got"], "wasm=deny rego=deny cel=deny");
    assert!(
        r["reasons"][0].as_str().unwrap().starts_with("cel: "),
        "{r}"
    );

    let out = verify(&["--backend", "all", "-o", "junit", &at("disagree")]);
    let xml = stdout(&out);
    assert!(
        xml.contains("<failure message=\"expected deny, got wasm=deny rego=deny cel=deny\">cel: no deny finding with message matching"),
        "{xml}"
    );
}

/// `select` must pick exactly one object of a file holding several.
#[test]
fn select_must_pick_one_object() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify-select");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(TESTS);
    let file = dir.join("select.test.yaml");
    std::fs::write(
        &file,
        format!(
            "policies: [{}]\ncases:\n  - file: {}\n    select: {{name: debug}}\n    expect: {{demo.privileged: deny}}\n",
            root.join("policies").display(),
            root.join("pass/fixtures/several.yaml").display()
        ),
    )
    .unwrap();
    let out = verify(&[&file.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("`select` picks 2 objects"),
        "{}",
        stderr(&out)
    );
}

/// `-p` names the policies of the test files that name none; a file's own `policies` wins.
#[test]
fn policy_flag_names_the_policies_of_files_without_them() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify-policy-flag");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("demo.test.yaml");
    std::fs::write(
        &file,
        "cases:\n  - object: {apiVersion: v1, kind: Namespace, metadata: {name: shop}}\n    expect: {demo.team_label: deny}\n",
    )
    .unwrap();
    let file = file.display().to_string();
    // Without `-p` the file tests the standard library, which has no `demo.*` rules.
    let out = verify(&[&file]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("unknown rule `demo.team_label`"),
        "{}",
        stderr(&out)
    );
    let passes = |args: &[&str]| {
        let out = verify(args);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {all}");
        stdout(&out)
    };
    for flag in ["-p", "--policy"] {
        let table = passes(&[flag, &at("policies"), &file]);
        assert!(table.ends_with("1 passed, 0 failed\n"), "{table}");
    }
    // A file naming its own policies keeps them: the demo suite passes whatever `-p` says.
    passes(&["-p", &at("backends"), &at("pass")]);
    let out = verify(&["-p", "nowhere", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: policy path `nowhere` does not exist\n"
    );
}

/// `fixed:` applies the rule's fixes and checks the outcome after them on every backend, and
/// `fixed_object:` the object they give; each is a row of its own.
#[cfg(feature = "engines")]
#[test]
fn fixed_expectations_check_the_fixes_on_every_backend() {
    let out = verify(&["--backend", "all", &at("fixes/pass.test.yaml")]);
    let table = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{table}{}", stderr(&out));
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.contains("(fixed)"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            [
                "ok",
                "fixdemo.privileged",
                "privileged",
                "pod",
                "(fixed)",
                "pass",
                "pass"
            ],
            [
                "ok",
                "fixdemo.privileged",
                "privileged",
                "Deployment",
                "(fixed)",
                "pass",
                "pass"
            ],
        ],
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("4 passed, 0 failed"));
}

/// A fix that does not make its outcome stop firing fails its `fixed:` row, at the line of
/// `fixed:`, with the finding that is left.
#[test]
fn a_fix_that_does_not_work_fails_its_fixed_row() {
    let out = verify(&[&at("fixes/fail.test.yaml")]);
    let table = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{table}{}", stderr(&out));
    assert!(
        table.contains(&format!(
            "\n  {}:11: case `escalating pod (fixed)`, rule `fixdemo.escalation`: after the fixes, expected pass, got deny: `container `app` may escalate its privileges` at `spec.containers[0].securityContext.allowPrivilegeEscalation`\n",
            at("fixes/fail.test.yaml")
        )),
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn a_wrong_fixed_value_is_located() {
    assert_eq!(
        only_error("fix-errors/bad-fixed.test.yaml"),
        "8: case `a fixed outcome that is not one`: unknown `fixed` outcome `fine` for `fixdemo.privileged` (expected pass, deny or warn)"
    );
}

/// `generated:` compares the objects the findings generate and checks, on every backend,
/// that the set rule stops firing once they are among the objects checked together.
#[test]
fn generated_expectations_check_the_objects_and_that_the_rule_stops_firing() {
    let out = verify(&["--backend", "all", &at("generated/pass.test.yaml")]);
    let table = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{table}{}", stderr(&out));
    assert!(
        table.contains("ok  gendemo.settings  shop (generated)  generated"),
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("2 passed, 0 failed"));

    let file = at("generated/fail.test.yaml");
    let out = verify(&[&file]);
    let table = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{table}{}", stderr(&out));
    assert!(
        table.contains(&format!(
            "\n  {file}:8: case `shop (generated)`, rule `gendemo.settings`: line 8: generated object 1: at `metadata.namespace`: expected \"web\", got \"shop\"\n"
        )),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "\n  {file}:12: case `shop (generated)`, rule `gendemo.misspelt`: after generating, expected pass, got deny: `namespace `shop` has no limits ConfigMap`"
        )),
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("2 passed, 2 failed"));
}

#[test]
fn generated_on_a_passing_expectation_is_an_error() {
    assert_eq!(
        only_error("fix-errors/generated-on-pass.test.yaml"),
        "8: case `generated objects of a passing case`: `generated` describes the objects findings generate, so it needs outcome `deny` or `warn`"
    );
}
