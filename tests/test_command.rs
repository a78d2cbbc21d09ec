//! End-to-end tests of `rampart test`, `rules`, `explain` and `build`: the real binary runs on
//! the manifests under `tests/manifests/` with the test policies in
//! `tests/manifests/policies/` (stable rules, independent of the standard library), and
//! insta compares the output of every format.

mod common;

use std::process::{Command, Output, Stdio};

use common::{rampart, root, run, scratch, stderr};

use serde_json::Value;

const POLICIES: &str = "tests/manifests/policies";

/// Runs `rampart test -p POLICIES ARGS` and returns the exit code and the JSON report.
fn test_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["test", "-p", POLICIES, "-o", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// `(rule, path, line, column)` of every violation of the result for `file`.
fn located(json: &Value, file: &str) -> Vec<(String, String, u64, u64)> {
    let result = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"] == file)
        .unwrap_or_else(|| panic!("no result for {file}"));
    result["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_string(),
                v["path"].as_str().unwrap().to_string(),
                v["line"].as_u64().unwrap(),
                v["column"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_format_is_stable() {
    for format in ["human", "json", "junit", "sarif", "github", "tap"] {
        let out = run(&[
            "test",
            "-p",
            POLICIES,
            "tests/manifests/formats",
            "-o",
            format,
        ]);
        // SARIF's base folder is the repository's, wherever it is checked out.
        let stdout = String::from_utf8_lossy(&out.stdout)
            .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
            .replace(&format!("file://{}/", root().display()), "file://[ROOT]/");
        insta::assert_snapshot!(
            format!("format_{format}"),
            format!("exit code: {:?}\n{stdout}", out.status.code())
        );
    }
}

#[test]
fn json_report_has_the_documented_shape() {
    let (code, json) = test_json(&["tests/manifests/formats"]);
    // malformed.yaml is an error: exit 2, and the other files are still reported.
    assert_eq!(code, 2);
    assert_eq!(json["version"], 1);
    let summary = &json["summary"];
    for key in [
        "files",
        "resources",
        "violations",
        "warnings",
        "exempted",
        "skipped",
        "errors",
    ] {
        assert!(summary[key].is_u64(), "summary.{key}");
    }
    assert_eq!(summary["files"], 4);
    let pod = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "bad")
        .unwrap();
    assert_eq!(pod["file"], "tests/manifests/formats/pod.yaml");
    assert_eq!(pod["document"], 0);
    assert_eq!(pod["line"], 1);
    assert_eq!(pod["apiVersion"], "v1");
    assert_eq!(pod["kind"], "Pod");
    assert_eq!(pod["namespace"], "web");
    assert_eq!(pod["name"], "bad");
    let v = &pod["violations"][1];
    assert_eq!(v["rule"], "t.privileged");
    assert_eq!(v["action"], "deny");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["message"], "container `app` is privileged");
    assert_eq!(v["path"], "spec.containers[0].securityContext.privileged");
    assert_eq!(
        (v["line"].as_u64(), v["column"].as_u64()),
        (Some(11), Some(21))
    );
    let e = &json["errors"][0];
    assert_eq!(e["file"], "tests/manifests/formats/malformed.yaml");
    assert!(e["line"].is_u64() && e["column"].is_u64() && e["message"].is_string());
}

#[test]
fn locations_in_pods_and_every_pod_controller() {
    // The controllers have no selector: their `schema.required` findings are left to
    // tests/schema_validation.rs.
    let (code, json) = test_json(&["--exclude-rule", "schema.*", "tests/manifests/controllers"]);
    assert_eq!(code, 1);
    let pod = located(&json, "tests/manifests/controllers/pod.yaml");
    assert_eq!(
        pod,
        [
            // Missing field: the nearest existing ancestor, the container.
            (
                "t.non_root".into(),
                "spec.containers[1].securityContext.runAsNonRoot".into(),
                13,
                7
            ),
            // Present field: the field's value.
            (
                "t.privileged".into(),
                "spec.containers[0].securityContext.privileged".into(),
                11,
                21
            ),
        ]
    );
    for controller in [
        "deployment",
        "statefulset",
        "daemonset",
        "replicaset",
        "replicationcontroller",
        "job",
    ] {
        let found = located(
            &json,
            &format!("tests/manifests/controllers/{controller}.yaml"),
        );
        let p = "spec.template.spec.containers";
        assert_eq!(
            found,
            [
                (
                    "t.non_root".into(),
                    format!("{p}[1].securityContext.runAsNonRoot"),
                    17,
                    11
                ),
                (
                    "t.privileged".into(),
                    format!("{p}[0].securityContext.privileged"),
                    15,
                    25
                ),
                ("t.tag".into(), format!("{p}[1].image"), 18, 18),
            ],
            "{controller}"
        );
    }
    let p = "spec.jobTemplate.spec.template.spec.containers";
    assert_eq!(
        located(&json, "tests/manifests/controllers/cronjob.yaml"),
        [
            (
                "t.non_root".into(),
                format!("{p}[1].securityContext.runAsNonRoot"),
                20,
                15
            ),
            (
                "t.privileged".into(),
                format!("{p}[0].securityContext.privileged"),
                18,
                29
            ),
            ("t.tag".into(), format!("{p}[1].image"), 21, 22),
        ]
    );
}

#[test]
fn exit_codes() {
    let code = |args: &[&str]| run(args).status.code();
    let p = ["test", "-p", POLICIES];
    // Nothing fails.
    assert_eq!(
        code(&[&p[..], &["tests/manifests/clean"]].concat()),
        Some(0)
    );
    // Deny violations.
    assert_eq!(
        code(&[&p[..], &["tests/manifests/controllers"]].concat()),
        Some(1)
    );
    // Warnings only: 0, or 1 with --fail-on-warn.
    let warn_only = [&p[..], &["--rule", "t.tag", "tests/manifests/controllers"]].concat();
    assert_eq!(code(&warn_only), Some(0));
    assert_eq!(
        code(&[&warn_only[..], &["--fail-on-warn"]].concat()),
        Some(1)
    );
    // Malformed input, even with violations elsewhere.
    assert_eq!(
        code(
            &[
                &p[..],
                &["tests/manifests/bad", "tests/manifests/controllers"]
            ]
            .concat()
        ),
        Some(2)
    );
    // Usage errors.
    assert_eq!(
        code(&["test", "tests/manifests/clean", "-o", "yaml"]),
        Some(2)
    );
    assert_eq!(code(&["test"]), Some(2));
    assert_eq!(
        code(&["test", "-p", "tests/manifests/nothing-here", "x"]),
        Some(2)
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(&["test", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("2  usage errors"), "{help}");
}

#[test]
fn rule_selection() {
    let (code, json) = test_json(&[
        "--rule",
        "t.p*",
        "--rule",
        "t.non_root",
        "--exclude-rule",
        "t.non_root",
        "tests/manifests/controllers/pod.yaml",
    ]);
    assert_eq!(code, 1);
    let rules: Vec<_> = json["results"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rules, ["t.privileged"]);

    let out = run(&[
        "test",
        "-p",
        POLICIES,
        "--rule",
        "t.nope*",
        "tests/manifests/clean",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --rule `t.nope*` matches no rule of the policies\n"
    );
}

#[test]
fn parameters_from_the_command_line_and_a_file() {
    let count = |json: &Value| json["summary"]["warnings"].as_u64().unwrap();
    let (_, default) = test_json(&["tests/manifests/controllers"]);
    let (_, flag) = test_json(&["--param", "t.tag.banned=1.0", "tests/manifests/controllers"]);
    let (_, file) = test_json(&[
        "--params",
        "tests/manifests/config/params.yaml",
        "tests/manifests/controllers",
    ]);
    // `app:1.0` in the seven controllers and the pod becomes a warning too.
    assert_eq!(count(&default), 7);
    assert_eq!(count(&flag), 15);
    assert_eq!(count(&file), 15);

    let out = run(&["test", "-p", POLICIES, "--param", "t.nope.banned=1", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --param t.nope.banned=1: unknown rule `t.nope`\n\
         error: nothing was evaluated: 1 configuration error(s)\n"
    );
}

#[test]
fn stdin() {
    let text = std::fs::read(root().join("tests/manifests/controllers/pod.yaml")).unwrap();
    let out = common::run_with_stdin(&["test", "-p", POLICIES, "-o", "json", "-"], &text);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["results"][0]["file"], "-");
    assert_eq!(json["results"][0]["violations"][1]["line"], 11);
}

#[test]
fn lists_and_json_arrays_are_flattened() {
    let (code, json) = test_json(&["tests/manifests/lists"]);
    assert_eq!(code, 1);
    let objects: Vec<_> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["file"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("tests/manifests/lists/"),
                r["document"],
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        objects,
        [
            "items.json 0 Pod json-pod",
            "items.json 1 Namespace web",
            "list.yaml 0 Pod first",
            "list.yaml 0 ConfigMap settings",
            "list.yaml 1 Role admin",
        ]
    );
    assert_eq!(
        located(&json, "tests/manifests/lists/items.json"),
        [(
            "t.privileged".into(),
            "spec.containers[0].securityContext.privileged".into(),
            4,
            63
        )]
    );
    let role = &json["results"][4]["violations"][0];
    assert_eq!(role["path"], "rules[0].verbs");
    assert_eq!(
        (role["line"].as_u64(), role["column"].as_u64()),
        (Some(31), Some(16))
    );
}

#[test]
fn every_object_is_reported_even_when_nothing_applies() {
    let (code, json) = test_json(&["tests/manifests/clean"]);
    assert_eq!(code, 0);
    assert_eq!(json["summary"]["resources"], 2);
    assert_eq!(json["summary"]["skipped"], 1);
    let config_map = &json["results"][1];
    assert_eq!(config_map["kind"], "ConfigMap");
    assert_eq!(config_map["namespace"], Value::Null);
    assert_eq!(config_map["document"], 1);
    assert_eq!(config_map["violations"], serde_json::json!([]));
}

/// Per result, the rules that applied (and of them, passed) and those that did not apply;
/// the summary adds them up. `skipped` still counts only documents that are not objects.
#[test]
fn json_report_counts_rules_that_passed_and_that_did_not_apply() {
    let counts = |r: &Value| {
        let c = &r["rules"];
        (
            c["applied"].clone(),
            c["passed"].clone(),
            c["not_applied"].clone(),
        )
    };
    let n = |a: u64, p: u64, na: u64| (a.into(), p.into(), na.into());
    // 4 rules of the test policies and the 4 schema rules: the Pod has 3 and the schema
    // rules, the ConfigMap only the schema rules.
    let (code, json) = test_json(&["tests/manifests/clean"]);
    assert_eq!(code, 0);
    assert_eq!(counts(&json["results"][0]), n(7, 7, 1));
    assert_eq!(counts(&json["results"][1]), n(4, 4, 4));
    assert_eq!(json["summary"]["rules_passed"], 11);
    assert_eq!(json["summary"]["rules_not_applied"], 5);
    assert_eq!(
        json["summary"]["skipped"], 1,
        "the document that is not an object"
    );
    let (_, json) = test_json(&["--exclude-rule", "schema.*", "tests/manifests/clean"]);
    assert_eq!(counts(&json["results"][0]), n(3, 3, 1));
    assert_eq!(counts(&json["results"][1]), n(0, 0, 4), "no rule applies");
    assert_eq!(json["summary"]["rules_passed"], 3);
    assert_eq!(json["summary"]["rules_not_applied"], 5);
    // A failing object: the rules with a finding applied and did not pass.
    let (_, json) = test_json(&["--exclude-rule", "schema.*", "tests/manifests/formats"]);
    let bad = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "bad")
        .unwrap();
    let mut failing: Vec<&str> = bad["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    failing.dedup();
    assert!(!failing.is_empty());
    let (applied, passed, not_applied) = counts(bad);
    assert_eq!(applied, 3, "the three pod rules");
    assert_eq!(
        passed.as_u64().unwrap(),
        3 - failing.len() as u64,
        "{failing:?}"
    );
    assert_eq!(not_applied, 1, "the Role rule");
}

#[test]
fn exceptions_from_annotations_and_a_file() {
    let out = run(&[
        "test",
        "-p",
        POLICIES,
        "tests/manifests/exceptions",
        "--exceptions",
        "tests/manifests/config/exceptions.yaml",
    ]);
    insta::assert_snapshot!(format!(
        "exit code: {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    ));
    let (code, json) = test_json(&[
        "tests/manifests/exceptions",
        "--exceptions",
        "tests/manifests/config/exceptions.yaml",
    ]);
    assert_eq!(code, 1);
    assert_eq!(json["summary"]["exempted"], 2);
    // Two of the test policies, and the missing selectors of the DaemonSet and the Deployment.
    assert_eq!(json["summary"]["violations"], 4);
    let valid = &json["results"][0];
    assert_eq!(valid["name"], "valid");
    assert_eq!(valid["violations"], serde_json::json!([]));
    assert_eq!(valid["exempted"][0]["exemption"]["origin"], "annotation");
    let notices: Vec<_> = json["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "exception expired on 2020-06-30; its findings are reported again",
        "exemption expired on 2020-01-31; its findings are reported again",
        "unknown rule `t.no_such_rule` in `rampart.dev/exempt`: it exempts nothing",
        "exception matched no finding in this run",
    ] {
        assert!(
            notices.iter().any(|n| n == expected),
            "{expected}: {notices:?}"
        );
    }
}

#[test]
fn exceptions_without_a_reason_are_errors() {
    let (code, json) = test_json(&["tests/manifests/bad/no-reason.yaml"]);
    assert_eq!(code, 2);
    assert_eq!(
        json["errors"][0]["message"],
        "exemption without a reason: add the `rampart.dev/exempt-reason` annotation"
    );
    // An exceptions file is checked before anything is evaluated (tests/config_files.rs).
    let out = run(&[
        "test",
        "-p",
        POLICIES,
        "--exceptions",
        "tests/manifests/config/exceptions-no-reason.yaml",
        "tests/manifests/clean",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: tests/manifests/config/exceptions-no-reason.yaml:4:5: an exception needs a `reason`\n\
         error: nothing was evaluated: 1 configuration error(s)\n"
    );
}

#[test]
fn bad_inputs_are_errors_and_the_rest_of_the_run_continues() {
    let dir = scratch("bad-inputs");
    std::fs::write(dir.join("binary.yaml"), b"apiVersion: v1\n\0\x01\x02kind").unwrap();
    // 100 MB without writing them: a sparse file.
    let big = std::fs::File::create(dir.join("huge.yaml")).unwrap();
    big.set_len(100 << 20).unwrap();
    std::fs::create_dir(dir.join("loop")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("..", dir.join("loop/up")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/file", dir.join("dangling.yaml")).unwrap();
    }
    let scratch_dir = dir.display().to_string();
    let (code, json) = test_json(&[
        "tests/manifests/bad",
        &scratch_dir,
        "tests/manifests/no-such-file.yaml",
        "tests/manifests/controllers/pod.yaml",
    ]);
    assert_eq!(code, 2);
    let errors: Vec<String> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let line = format!(
                "{}:{}:{}: {}",
                e["file"].as_str().unwrap(),
                e["line"],
                e["column"],
                e["message"].as_str().unwrap()
            );
            line.replace(&scratch_dir, "SCRATCH")
        })
        .collect();
    insta::assert_snapshot!(errors.join("\n"));
    // The good file and the well-formed bad ones are still evaluated.
    let names: Vec<_> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("-").to_string())
        .collect();
    assert_eq!(names, ["no-reason", "wrong-type", "bad"]);
    // An object whose evaluation failed is never reported as passing.
    let wrong = &json["results"][1];
    assert!(wrong["error"].is_string());
}

#[test]
fn ignore_globs_skip_walked_files() {
    let (_, json) = test_json(&[
        "--ignore",
        "*job.yaml",
        "--ignore",
        "replica*",
        "tests/manifests/controllers",
    ]);
    let files: Vec<_> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["file"]
                .as_str()
                .unwrap()
                .trim_start_matches("tests/manifests/controllers/")
                .to_string()
        })
        .collect();
    assert_eq!(
        files,
        [
            "daemonset.yaml",
            "deployment.yaml",
            "pod.yaml",
            "statefulset.yaml"
        ]
    );
}

#[test]
fn output_file_is_written() {
    let dir = scratch("output-file");
    let target = dir.join("report.sarif");
    let out = run(&[
        "test",
        "-p",
        POLICIES,
        "tests/manifests/controllers/pod.yaml",
        "-o",
        "sarif",
        "--output-file",
        &target.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let sarif: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file is left"
    );
}

#[test]
fn build_wasm_bundle_runs_like_the_sources() {
    let dir = scratch("bundle");
    let out_dir = dir.join("out");
    let out = run(&[
        "build",
        "--target",
        "wasm",
        "-o",
        &out_dir.display().to_string(),
        POLICIES,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = out_dir.join("policies.wasm");
    assert!(bundle.is_file());
    let from_source = run(&[
        "test",
        "-p",
        POLICIES,
        "-o",
        "json",
        "tests/manifests/controllers",
    ]);
    let from_bundle = run(&[
        "test",
        "-p",
        &bundle.display().to_string(),
        "-o",
        "json",
        "tests/manifests/controllers",
    ]);
    assert_eq!(from_bundle.status.code(), Some(1));
    assert_eq!(from_source.stdout, from_bundle.stdout);
    let unsupported = run(&["build", "--target", "nope", "-o", "x"]);
    assert_eq!(unsupported.status.code(), Some(2));
}

#[test]
fn rules_lists_the_standard_library() {
    let out = run(&["rules", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let rules: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let privileged = rules
        .iter()
        .find(|r| r["id"] == "pss.baseline.privileged")
        .expect("the standard library has pss.baseline.privileged");
    assert_eq!(privileged["severity"], "critical");
    assert!(privileged["kinds"]
        .as_array()
        .unwrap()
        .contains(&Value::from("apps/Deployment")));
    let out = run(&["rules", "-p", POLICIES]);
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn explain_a_rule() {
    let out = run(&["explain", "-p", POLICIES, "t.privileged"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
    let out = run(&["explain", "-p", POLICIES, "t.privilegd"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: unknown rule `t.privilegd` (did you mean `t.privileged`?)\n"
    );
    let out = run(&["explain", "pss.baseline.privileged"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn loader_limits_are_flags_with_clear_messages() {
    let dir = scratch("limit-flags");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: []\n";
    std::fs::write(dir.join("pod.yaml"), pod).unwrap();
    std::fs::write(dir.join("three.yaml"), format!("{pod}---\n{pod}---\n{pod}")).unwrap();
    let file = |name: &str| dir.join(name).display().to_string();
    let first_error = |args: &[&str]| {
        let (code, json) = test_json(args);
        assert_eq!(code, 2, "{json}");
        assert!(json["results"].as_array().unwrap().is_empty(), "{json}");
        json["errors"][0]["message"].as_str().unwrap().to_string()
    };
    assert_eq!(
        first_error(&["--max-file-size", "40", &file("pod.yaml")]),
        format!(
            "file is {} bytes, more than the limit of 40 bytes",
            pod.len()
        )
    );
    assert_eq!(
        first_error(&["--max-depth", "2", &file("pod.yaml")]),
        "nesting is deeper than the limit of 2 levels"
    );
    assert_eq!(
        first_error(&["--max-documents", "2", &file("three.yaml")]),
        "more than 2 documents"
    );
    // The defaults accept all three files.
    let (code, json) = test_json(&[&file("pod.yaml"), &file("three.yaml")]);
    assert_ne!(code, 2, "{json}");
    assert_eq!(json["results"].as_array().unwrap().len(), 4);
    // The alias bomb is refused under the default limit, and under a lower one sooner.
    for limit in [None, Some("1000")] {
        let mut args = vec!["tests/manifests/bad/alias-bomb.yaml"];
        if let Some(limit) = limit {
            args.splice(0..0, ["--max-alias-nodes", limit]);
        }
        let message = first_error(&args);
        assert!(message.contains("aliases expand"), "{message}");
    }
}

/// Peak resident memory of a child process, read from /proc while it runs (the last reading
/// before it exits; VmHWM only grows).
#[cfg(target_os = "linux")]
fn peak_rss_kib(mut child: std::process::Child) -> (std::process::ExitStatus, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A folder of many files streams: each file's bytes are dropped once it is checked, so
/// peak memory does not follow the total size of the input. Each file holds 4 KiB (a
/// comment and a document without `kind`, which yields no result); 20,000 files are 80 MiB,
/// ten times the 2,000-file run. What does grow is what the report keeps per file (its path
/// in the input list and in the list of files without objects, about 1 KiB a file with the
/// allocator's size classes), so the test allows 2 KiB a file, half of what keeping the
/// contents would cost. 100,000 files would take the same path and only make the test slow.
#[cfg(target_os = "linux")]
#[test]
fn many_files_stream_in_bounded_memory() {
    let dir = scratch("many-files");
    let body = format!("# {}\nnot-an-object: true\n", "x".repeat(4096 - 25));
    let run_over = |count: usize| {
        let folder = dir.join(count.to_string());
        for i in 0..count {
            let sub = folder.join(format!("{:03}", i % 100));
            if i < 100 {
                std::fs::create_dir_all(&sub).unwrap();
            }
            std::fs::write(sub.join(format!("{i}.yaml")), &body).unwrap();
        }
        let child = rampart(&["test", "-p", POLICIES, "-o", "json", "--threads", "2"])
            .arg(&folder)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (status, peak) = peak_rss_kib(child);
        assert_eq!(status.code(), Some(0));
        std::fs::remove_dir_all(&folder).unwrap();
        peak
    };
    let small = run_over(2_000);
    let large = run_over(20_000);
    assert!(small > 0, "no memory reading");
    eprintln!("peak RSS: {small} KiB for 2,000 files, {large} KiB for 20,000");
    let per_file = (large.saturating_sub(small) * 1024) / 18_000;
    assert!(
        per_file < 2048,
        "peak RSS {small} KiB for 2,000 files, {large} KiB for 20,000: {per_file} bytes a file"
    );
}

/// Ctrl-C during a long run: the run stops within a second or two, exits 130 and writes no
/// report, not even a partial one.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_promptly_and_leaves_no_report() {
    use std::time::{Duration, Instant};
    let dir = scratch("ctrl-c");
    let pods: String = (0..2_000)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n    - name: app\n      image: registry.example/app:1.0\n      securityContext:\n        privileged: true\n"
            )
        })
        .collect();
    // 200,000 Pods: several seconds of work even for a release build, far more than the
    // half second the test waits.
    for i in 0..100 {
        std::fs::write(dir.join(format!("pods-{i:02}.yaml")), &pods).unwrap();
    }
    let report = dir.join("report.json");
    let mut child = rampart(&["test", "-p", POLICIES, "-o", "json"])
        .arg("--output-file")
        .arg(&report)
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before Ctrl-C"
    );
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "still running 10 s after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stopped_in = sent.elapsed();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stopped_in < Duration::from_secs(3), "{stopped_in:?}");
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("pods-"))
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

/// An output file that cannot be written (a folder stands at its path) fails the build with
/// its name, while every other file is still written whole and no temporary file is left.
#[test]
fn build_writes_every_file_it_can_and_names_the_one_it_cannot() {
    let dir = scratch("build-blocked");
    let out_dir = dir.join("out");
    std::fs::create_dir_all(
        out_dir
            .join("templates")
            .join("t-privileged.yaml")
            .join("occupied"),
    )
    .unwrap();
    let out = run(&[
        "build",
        "--target",
        "gatekeeper",
        "-o",
        &out_dir.display().to_string(),
        POLICIES,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write `") && stderr.contains("t-privileged.yaml`"),
        "{stderr}"
    );
    assert!(stderr.contains("(7 of 8 file(s) written)"), "{stderr}");
    let mut names: Vec<String> = std::fs::read_dir(out_dir.join("templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "t-non-root.yaml",
            "t-privileged.yaml",
            "t-role-wildcard.yaml",
            "t-tag.yaml"
        ],
        "no temporary file is left"
    );
    let template = std::fs::read_to_string(out_dir.join("templates").join("t-tag.yaml")).unwrap();
    assert!(template.contains("kind: ConstraintTemplate") && template.contains("violation"));
}

/// Set rules see objects of every input file. The first pass, which gathers them, parses only
/// the files that may hold a set kind; one whose kind is spelled with a JSON escape
/// (`Network\u0050olicy`) must still count.
#[test]
fn set_rules_see_a_kind_written_with_an_escape_in_another_file() {
    let dir = scratch("set-escape");
    std::fs::write(
        dir.join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n",
    )
    .unwrap();
    let default_deny = |kind: &str| {
        format!(
            r#"{{"apiVersion": "networking.k8s.io/v1", "kind": "{kind}", "metadata": {{"name": "deny", "namespace": "shop"}}, "spec": {{"podSelector": {{}}, "policyTypes": ["Ingress", "Egress"]}}}}"#
        )
    };
    let denied = |out: &Output| -> bool {
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["results"].as_array().unwrap().iter().any(|r| {
            r["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["rule"] == "net.default_deny")
        })
    };
    let check = || {
        run(&[
            "test",
            "-o",
            "json",
            "--rule",
            "net.default_deny",
            &dir.display().to_string(),
        ])
    };
    let without = check();
    assert!(
        denied(&without),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    std::fs::write(dir.join("np.json"), default_deny("Network\\u0050olicy")).unwrap();
    let escaped = check();
    assert!(
        !denied(&escaped),
        "{}",
        String::from_utf8_lossy(&escaped.stdout)
    );
    std::fs::write(dir.join("np.json"), default_deny("NetworkPolicy")).unwrap();
    assert!(!denied(&check()));
}

#[test]
fn policy_flag_is_accepted_by_check_and_build() {
    let out = run(&["check", "-p", POLICIES]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = run(&["check", "--policy", "tests/diagnostics/unknown_field.rp"]);
    assert_eq!(bad.status.code(), Some(2));
    let dir = scratch("build-policy-flag");
    let out = run(&[
        "build",
        "--target",
        "wasm",
        "-o",
        &dir.display().to_string(),
        "-p",
        POLICIES,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("policies.wasm").is_file());
}

/// `-p PATH` and `--policy PATH` read the same policies in every command that reads
/// policies (one shared flag): the test policies, not the standard library.
#[test]
fn policy_flag_is_the_same_for_every_command() {
    let dir = scratch("policy-flag-everywhere");
    for flag in ["-p", "--policy"] {
        let out = run(&["check", flag, POLICIES]);
        assert_eq!(out.status.code(), Some(0), "check {flag}");
        assert!(
            stderr(&out).contains("4 rule(s)"),
            "check {flag}: {}",
            stderr(&out)
        );
        let out = run(&["rules", flag, POLICIES]);
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            listed.contains("t.privileged") && listed.contains("\n8 rules\n"),
            "{listed}"
        );
        let out = run(&["explain", "t.role_wildcard", flag, POLICIES]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "explain {flag}: {}",
            stderr(&out)
        );
        let out = run(&["test", flag, POLICIES, "tests/manifests/clean"]);
        assert_eq!(out.status.code(), Some(0), "test {flag}: {}", stderr(&out));
        let out_dir = dir.join(flag.trim_start_matches('-'));
        let out = run(&[
            "build",
            "--target",
            "vap",
            "-o",
            &out_dir.display().to_string(),
            flag,
            POLICIES,
        ]);
        assert_eq!(out.status.code(), Some(0), "build {flag}: {}", stderr(&out));
        let written = std::fs::read_dir(&out_dir).unwrap().count();
        assert!(written >= 4, "build {flag}: {written} files");
    }
    // Positional paths still work where they did.
    let out = run(&["check", POLICIES]);
    assert_eq!(out.status.code(), Some(0));
    let help = run(&["verify", "--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("-p, --policy <PATH>"),
        "verify takes -p"
    );
}

#[test]
fn human_output_prints_no_separator_without_a_path() {
    let dir = scratch("no-path");
    let policy = dir.join("whole.rp");
    std::fs::write(
        &policy,
        "module t\nrule whole {\n  title \"t\"\n  match ConfigMap\n  deny message \"about the whole object\"\n}\n",
    )
    .unwrap();
    let manifest = dir.join("cm.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: x}\n",
    )
    .unwrap();
    let out = run(&[
        "test",
        "-p",
        &policy.display().to_string(),
        &manifest.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("= ConfigMap x/cm\n"), "{text}");
    assert!(!text.contains('·'), "{text}");
}

#[test]
fn exported_files_are_checked_without_errors_about_their_annotations() {
    let dir = scratch("exported-files");
    let targets = [
        "gatekeeper",
        "gatekeeper-cel",
        "kyverno",
        "kyverno-vpol",
        "vap",
        "map",
    ];
    for target in targets {
        let out_dir = dir.join(target);
        let out = run(&[
            "build",
            "--target",
            target,
            "--unsafe",
            "--output",
            out_dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{target}: {}", stderr(&out));
    }
    let out = run(&["test", "-o", "json", dir.to_str().unwrap()]);
    let (code, json) = common::report(&out);
    let errors = json["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        json["summary"]["resources"].as_u64().unwrap() > 100,
        "{json}"
    );
    assert!(
        errors.is_empty(),
        "{}",
        serde_json::to_string_pretty(&errors).unwrap()
    );
    assert_eq!(code, 0, "{}", stderr(&out));
}
