//! End-to-end tests of `rampart verify` through its library entry point: the report, every
//! error found before running, the output formats, and the standard library's own tests.

use std::path::{Path, PathBuf};

use rampart_runtime::verify::{run, BackendKind, Format, VerifyOptions, VerifyReport};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify")
}

fn verify(rel: &str, coverage: bool) -> VerifyReport {
    let options = VerifyOptions {
        coverage,
        ..VerifyOptions::default()
    };
    run(&[dir().join(rel)], &options)
}

/// The single error of a run that must stop before running, with its file and line.
fn only_error(rel: &str) -> String {
    let report = verify(rel, false);
    assert_eq!(report.exit_code(), 2, "{report:#?}");
    assert!(report.rows.is_empty(), "no case may run: {report:#?}");
    assert_eq!(report.errors.len(), 1, "{:#?}", report.errors);
    let error = report.errors[0].clone();
    let prefix = format!("{}:", dir().join(rel).display());
    error
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("`{error}` does not start with the file"))
        .to_string()
}

#[test]
fn passing_suite() {
    let report = verify("pass", false);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let failed: Vec<_> = report.rows.iter().filter(|r| !r.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(report.rows.len(), 10);
    assert_eq!(report.exit_code(), 0);
    let table = report.render(Format::Table);
    assert!(table.ends_with("\n10 passed, 0 failed\n"), "{table}");
    let header = table.lines().next().unwrap();
    for column in ["RULE", "CASE", "EXPECTED", "GOT"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains("demo.privileged"), "{table}");
}

#[test]
fn failing_expectation_is_reported() {
    let report = verify("fail", false);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.exit_code(), 1);
    assert_eq!((report.passed(), report.failed()), (1, 1));
    let table = report.render(Format::Table);
    let row = table
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL row in\n{table}"));
    for cell in ["demo.privileged", "privileged pod", "pass", "deny"] {
        assert!(row.contains(cell), "`{cell}` missing from `{row}`");
    }
    assert!(
        table.contains("fail/demo.test.yaml:12: case `privileged pod`, rule `demo.privileged`: expected pass, got deny: `container `app` is privileged`"),
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn unknown_rule_suggests_the_closest() {
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
fn expectation_the_kind_makes_impossible() {
    assert_eq!(
        only_error("errors/cannot-match.test.yaml"),
        "7: case `a namespace is not a pod`: rule `demo.privileged` cannot match a `Namespace` (`v1`), so it can only skip; it matches `CronJob`, `DaemonSet`, `Deployment`, `Job`, `Pod`, `ReplicaSet`, `ReplicationController`, `StatefulSet`"
    );
}

#[test]
fn invalid_regex() {
    let error = only_error("errors/bad-regex.test.yaml");
    assert!(
        error.starts_with("8: case `unbalanced group`: invalid `message` regex `no (team label`: "),
        "{error}"
    );
}

#[test]
fn case_without_expect() {
    assert_eq!(
        only_error("errors/no-expect.test.yaml"),
        "3: case `nothing expected` has no `expect`"
    );
}

#[test]
fn errors_are_all_reported_and_nothing_runs() {
    let report = verify("errors", false);
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.errors.len(), 5, "{:#?}", report.errors);
    assert!(report.rows.is_empty());
}

/// A `file` holding several objects: `select` must pick exactly one (spec/testing.md).
#[test]
fn select_picks_exactly_one_object() {
    assert_eq!(
        only_error("select-errors/picks-none.test.yaml"),
        "4: case `no such pod`: `select` picks 0 objects of `../pass/fixtures/several.yaml`, it must pick one"
    );
    assert_eq!(
        only_error("select-errors/picks-several.test.yaml"),
        "4: case `two objects are named debug`: `select` picks 2 objects of `../pass/fixtures/several.yaml`, it must pick one"
    );
    assert_eq!(
        only_error("select-errors/no-select.test.yaml"),
        "4: case `which one?`: `../pass/fixtures/several.yaml` must hold exactly one Kubernetes object, it holds 3 (pick one with `select: {kind: …, name: …}`)"
    );
}

#[test]
fn missing_path() {
    let report = verify("nowhere", false);
    assert_eq!(report.exit_code(), 2);
    assert!(
        report.errors[0].ends_with("nowhere` does not exist"),
        "{:?}",
        report.errors
    );
}

fn on_all_backends(rel: &str) -> VerifyReport {
    let options = VerifyOptions {
        backends: BackendKind::parse_list("all").unwrap(),
        ..VerifyOptions::default()
    };
    run(&[dir().join(rel)], &options)
}

#[cfg(not(feature = "engines"))]
#[test]
fn engines_are_not_in_this_build() {
    let report = on_all_backends("pass");
    assert_eq!(report.exit_code(), 2);
    assert!(report.rows.is_empty());
    assert_eq!(
        report.errors,
        [
            "backend `rego` is not available in this build",
            "backend `cel` is not available in this build"
        ]
    );
}

#[test]
fn coverage_lists_rules_without_passing_or_failing_cases() {
    let report = verify("fail", true);
    let coverage = report.coverage.as_ref().unwrap();
    assert_eq!(coverage.rules.len(), 3);
    assert_eq!(
        coverage.no_failing_case,
        ["demo.latest_tag", "demo.privileged", "demo.team_label"]
    );
    assert_eq!(coverage.no_passing_case, ["demo.team_label"]);
    let table = report.render(Format::Table);
    assert!(
        table.contains("coverage: 3 rule(s)\n  no failing case (3):\n    demo.latest_tag\n    demo.privileged\n    demo.team_label\n  no passing case (1):\n    demo.team_label\n"),
        "{table}"
    );
    assert_eq!(table.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn json_shape() {
    let report = verify("fail", true);
    let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
    assert_eq!(json["passed"], 1);
    assert_eq!(json["failed"], 1);
    assert_eq!(json["errors"], serde_json::json!([]));
    assert_eq!(json["backends"], serde_json::json!(["wasm"]));
    let first = &json["results"][0];
    assert_eq!(first["case"], "privileged pod");
    assert_eq!(first["rule"], "demo.privileged");
    assert_eq!(first["expected"], "pass");
    assert_eq!(first["got"], "deny");
    assert_eq!(first["backends"], serde_json::json!({"wasm": "deny"}));
    assert_eq!(first["passed"], false);
    assert_eq!(first["line"], 12);
    assert!(first["file"]
        .as_str()
        .unwrap()
        .ends_with("fail/demo.test.yaml"));
    assert_eq!(json["coverage"]["rules"], 3);
    assert_eq!(
        json["coverage"]["no_passing_case"],
        serde_json::json!(["demo.team_label"])
    );

    let errors = verify("errors/no-expect.test.yaml", false);
    let json: serde_json::Value = serde_json::from_str(&errors.render(Format::Json)).unwrap();
    assert_eq!(json["errors"].as_array().unwrap().len(), 1);
    assert_eq!(json["results"], serde_json::json!([]));
}

#[test]
fn junit_shape() {
    let xml = verify("fail", false).render(Format::Junit);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rampart verify\" tests=\"2\" failures=\"1\" errors=\"0\">\n"), "{xml}");
    assert!(
        xml.contains("tests=\"2\" failures=\"1\" errors=\"0\">\n    <testcase classname="),
        "{xml}"
    );
    assert!(
        xml.contains("name=\"privileged pod / demo.privileged\""),
        "{xml}"
    );
    assert!(xml.contains("<failure message=\"expected pass, got deny\">expected pass, got deny: `container `app` is privileged` at `spec.containers[0].securityContext.privileged`</failure>"), "{xml}");
    assert!(
        xml.contains("name=\"privileged pod / demo.latest_tag\" file="),
        "{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));

    let xml = verify("errors/no-expect.test.yaml", false).render(Format::Junit);
    assert!(xml.contains("errors=\"1\""), "{xml}");
    assert!(xml.contains("<error message=\""), "{xml}");
}

/// The demo suite gives the same result on the Wasm module, the exported Rego and the
/// exported CEL.
#[cfg(feature = "engines")]
#[test]
fn all_backends_agree_on_the_demo_suite() {
    let report = on_all_backends("pass");
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.backends, ["wasm", "rego", "cel"]);
    let table = report.render(Format::Table);
    assert_eq!((report.passed(), report.failed()), (10, 0), "{table}");
    for row in &report.rows {
        assert_eq!(row.got.len(), 3);
        assert!(row.notes.is_empty(), "{row:?}");
    }
    assert!(table.ends_with("\n10 passed, 0 failed\n"), "{table}");
}

/// Parameters, `with` objects and a set rule on every backend: CEL cannot express the set
/// rule, so it gives `n/a` there, with the exporter's reason.
#[cfg(feature = "engines")]
#[test]
fn a_set_rule_is_not_applicable_on_cel() {
    let report = on_all_backends("backends");
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let table = report.render(Format::Table);
    assert_eq!((report.passed(), report.failed()), (7, 0), "{table}");
    let backed: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.rule == "multi.backed")
        .collect();
    assert_eq!(backed.len(), 2);
    for row in backed {
        assert_eq!(row.got[2], ("cel".to_string(), "n/a".to_string()));
        assert_eq!(row.notes.len(), 1);
        assert!(
            row.notes[0]
                .starts_with("cel: n/a: rule `multi.backed` cannot be exported to vap: set rule"),
            "{:?}",
            row.notes
        );
    }
    assert!(table.contains("wasm=deny rego=deny cel=n/a"), "{table}");
    assert!(
        table.contains("\nnotes:\n  cel: n/a: rule `multi.backed`"),
        "{table}"
    );
}

/// A real disagreement: the message prints a map, which CEL cannot print (`[…]`).
#[cfg(feature = "engines")]
#[test]
fn a_real_disagreement_names_the_backend() {
    let report = on_all_backends("disagree");
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!((report.passed(), report.failed()), (0, 1));
    let row = &report.rows[0];
    assert_eq!(row.failed_on, ["cel"]);
    assert_eq!(row.got_summary(), "wasm=deny rego=deny cel=deny");
    assert_eq!(
        row.reasons,
        ["cel: no deny finding with message matching `labels \\{\"team\":\"a\"\\}`; got `namespace `shop` has no owner; labels <map>`"]
    );
    let table = report.render(Format::Table);
    assert!(table.contains("FAIL  multi.owner  namespace with a team but no owner  deny      wasm=deny rego=deny cel=deny\n"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
    assert_eq!(json["results"][0]["failed_on"], serde_json::json!(["cel"]));
    assert_eq!(
        json["results"][0]["backends"],
        serde_json::json!({"wasm": "deny", "rego": "deny", "cel": "deny"})
    );
    let xml = report.render(Format::Junit);
    assert!(xml.contains("<failure message=\"expected deny, got wasm=deny rego=deny cel=deny\">cel: no deny finding"), "{xml}");
}

/// The standard library's own tests: every case passes, and every rule has a passing and a
/// failing case.
#[test]
fn stdlib_tests_pass_and_cover_every_rule() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib/tests");
    let options = VerifyOptions {
        coverage: true,
        ..VerifyOptions::default()
    };
    let report = run(&[tests], &options);
    assert!(report.errors.is_empty(), "{}", report.errors.join("\n"));
    let table = report.render(Format::Table);
    assert_eq!(report.failed(), 0, "{table}");
    let coverage = report.coverage.as_ref().unwrap();
    let stdlib_rules = rampart_stdlib::compile().program.unwrap().rules.len();
    assert_eq!(coverage.rules.len(), stdlib_rules);
    assert!(coverage.no_failing_case.is_empty(), "{table}");
    assert!(coverage.no_passing_case.is_empty(), "{table}");
    // Every rule with a fix has a `fixed:` case, as a Pod and through autogen for the pod
    // rules (two rows at least).
    let program = rampart_stdlib::compile().program.unwrap();
    for rule in program
        .rules
        .iter()
        .filter(|r| r.outcomes.iter().any(|o| !o.fixes.is_empty()))
    {
        let fixed = report
            .rows
            .iter()
            .filter(|r| r.rule == rule.id && r.case.ends_with(" (fixed)") && r.passed)
            .count();
        let pod = rule
            .matcher
            .targets
            .iter()
            .any(|t| !t.subject_path.is_empty());
        let want = if pod { 2 } else { 1 };
        assert!(fixed >= want, "`{}` has {fixed} `fixed:` case(s)", rule.id);
    }
}

/// The standard library's tests hold on the exported Rego and CEL too; CEL gives `n/a` only
/// for the set rules, Rego only for the rules that read `who_can`.
#[cfg(feature = "engines")]
#[test]
fn stdlib_tests_pass_on_every_backend() {
    let report = on_all_backends("../../../stdlib/tests");
    assert!(report.errors.is_empty(), "{}", report.errors.join("\n"));
    let table = report.render(Format::Table);
    assert_eq!(report.failed(), 0, "{table}");
    assert_eq!(report.not_applicable(), 0, "{table}");
    let program = rampart_stdlib::compile().program.unwrap();
    let mut not_applicable = 0;
    for row in &report.rows {
        for (backend, got) in &row.got {
            if got == "n/a" {
                not_applicable += 1;
                let rule = program.rules.iter().find(|r| r.id == row.rule).unwrap();
                assert!(rule.reads_other_objects(), "{row:?}");
                // Rego carries the set rules (Gatekeeper's inventory), but not those that
                // read the effective permissions of a run (`who_can`).
                assert!(backend == "cel" || rule.reads_view(), "{row:?}");
            }
        }
    }
    assert!(not_applicable > 0, "the set rules are tested");
}

/// One rule's evaluation error fails that rule's expectation only, saying what and where;
/// the other rule of the same object is checked as usual.
#[test]
fn an_evaluation_error_is_the_error_of_its_rule() {
    let report = verify("rule-error", false);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!((report.passed(), report.failed()), (1, 1), "{report:#?}");
    let table = report.render(Format::Table);
    let row = table
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL row in\n{table}"));
    assert!(row.contains("demo.latest_tag"), "{row}");
    assert!(
        table.contains("rule `demo.latest_tag`: `spec.containers[0].image`: invalid image reference: the string \"registry.example.com/\""),
        "{table}"
    );
}

/// The admission request (`request.*`, `oldObject`) means the same on the Wasm evaluator,
/// the Rego (regorus, `input.review`) and the CEL (`request`, `oldObject`): every case sets
/// `operation`, `userInfo`, `dryRun` or an old object, and no backend gives `n/a`.
#[cfg(feature = "engines")]
#[test]
fn admission_request_agrees_on_every_backend() {
    let report = on_all_backends("admission");
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let table = report.render(Format::Table);
    assert_eq!((report.passed(), report.failed()), (14, 0), "{table}");
    for row in &report.rows {
        let backends: Vec<&str> = row.got.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(backends, ["wasm", "rego", "cel"], "{row:?}");
        assert!(row.got.iter().all(|(_, g)| g != "n/a"), "{row:?}");
    }
}

/// The request keys of a case are checked before anything runs.
#[test]
fn admission_keys_are_checked() {
    let error = only_error("admission-errors/old-on-create.test.yaml");
    assert_eq!(
        error,
        "7: case `old object on a create`: an old object needs `operation: UPDATE` or `operation: DELETE` (the request is a CREATE)"
    );
    let error = only_error("admission-errors/bad-operation.test.yaml");
    assert_eq!(
        error,
        "5: case `patch`: unknown operation `PATCH`: expected CREATE, UPDATE, DELETE or CONNECT"
    );
}

/// `match *` selects objects of every kind, and every backend's own scoping lets them in.
#[cfg(feature = "engines")]
#[test]
fn match_every_kind_agrees_on_every_backend() {
    let report = on_all_backends("every-kind");
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let table = report.render(Format::Table);
    assert_eq!((report.passed(), report.failed()), (3, 0), "{table}");
    for row in &report.rows {
        assert!(
            row.got.iter().all(|(_, g)| g != "n/a" && g != "skip"),
            "{row:?}"
        );
    }
}

/// `fixed` describes the fixes of findings: it needs a `deny` or `warn` expectation, and
/// `fixed_object` needs `fixed`; each mistake is located before anything runs.
#[test]
fn fixed_expectations_are_checked_before_running() {
    assert_eq!(
        only_error("fix-errors/fixed-on-pass.test.yaml"),
        "6: case `nothing to fix`: `fixed` and `fixed_object` describe the fixes of findings, so they need outcome `deny` or `warn`"
    );
    assert_eq!(
        only_error("fix-errors/object-without-fixed.test.yaml"),
        "8: case `an object but no outcome`: `fixed_object` needs `fixed`, the outcome expected after the fixes"
    );
    assert_eq!(
        only_error("fix-errors/bad-fixed.test.yaml"),
        "8: case `a fixed outcome that is not one`: unknown `fixed` outcome `fine` for `fixdemo.privileged` (expected pass, deny or warn)"
    );
}

/// A `fixed:` row passes when the fix works, on the Deployment through its template too,
/// and fails at the line of `fixed` when the fix leaves the outcome firing.
#[test]
fn fixed_rows_follow_their_expectations() {
    let report = verify("fixes/pass.test.yaml", false);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let fixed: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.case.ends_with(" (fixed)"))
        .collect();
    assert_eq!(fixed.len(), 2, "{:#?}", report.rows);
    assert!(fixed.iter().all(|r| r.passed), "{fixed:#?}");
    assert_eq!(
        (fixed[0].line, fixed[1].line),
        (13, 32),
        "the line of each `fixed`"
    );
    let report = verify("fixes/fail.test.yaml", false);
    assert_eq!((report.passed(), report.failed()), (1, 1), "{report:#?}");
    assert_eq!(report.exit_code(), 1);
}
