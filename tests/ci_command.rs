//! End-to-end tests of the CI flags of `rampart test` on the real binary: severity
//! thresholds, baselines, `--fail-on-warn` in every format, the standard library with one's
//! own policies, SARIF locations, empty inputs, `--ignore`, GitHub's job summary, stdin's
//! name, and where a finding on an absent field points.

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use common::{rampart, root, run, scratch};

const POLICIES: &str = "tests/manifests/policies";
const FORMATS: &str = "tests/manifests/formats/pod.yaml";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `rampart test -p POLICIES ARGS -o json`: the exit code and the report.
fn test_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["test", "-p", POLICIES];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let out = run(&all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// Runs `rampart test -p POLICIES ARGS -o FORMAT`.
fn test_format(format: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec!["test", "-p", POLICIES, "-o", format];
    all.extend_from_slice(args);
    let out = run(&all);
    (out.status.code().unwrap_or(-1), stdout(&out))
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).expect("scratch files can be written");
    path.display().to_string()
}

/// The findings of a JSON report as `(rule, fails, baselineState)`.
fn findings(json: &Value) -> Vec<(String, bool, Option<String>)> {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["violations"].as_array().unwrap())
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_string(),
                v["fails"].as_bool().unwrap(),
                v["baselineState"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// A pod with a warning (untagged image) and two findings of different severities.
const WARN_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: warned
  namespace: web
spec:
  containers:
    - name: app
      image: registry.example/app
      securityContext:
        runAsNonRoot: true
";

#[test]
fn fail_on_severity_fails_only_at_or_above_the_threshold() {
    // pod.yaml: t.privileged (critical) and t.non_root (high).
    let (code, json) = test_json(&[FORMATS]);
    assert_eq!((code, json["summary"]["failing"].as_u64()), (1, Some(2)));

    let (code, json) = test_json(&[FORMATS, "--fail-on-severity", "critical"]);
    assert_eq!(code, 1);
    let mut got = findings(&json);
    got.sort();
    assert_eq!(
        got,
        [
            ("t.non_root".to_string(), false, None),
            ("t.privileged".to_string(), true, None)
        ]
    );
    assert_eq!(json["summary"]["failing"], 1);
    assert_eq!(json["gate"]["fail_on_severity"], "critical");

    // The list holds a medium finding only: below `high`, it passes, and every format says so.
    let list = "tests/manifests/formats/list.yaml";
    let (code, json) = test_json(&[list, "--fail-on-severity", "high"]);
    assert_eq!((code, json["summary"]["failing"].as_u64()), (0, Some(0)));
    assert_eq!(json["summary"]["violations"], 1, "still reported");
    let (_, human) = test_format("human", &[list, "--fail-on-severity", "high"]);
    assert!(human.contains("warning[t.role_wildcard]"), "{human}");
    assert!(
        human.contains("medium (below --fail-on-severity)"),
        "{human}"
    );
    assert!(
        human.lines().last().unwrap().starts_with("pass: "),
        "{human}"
    );
    let (_, tap) = test_format("tap", &[list, "--fail-on-severity", "high"]);
    assert!(!tap.contains("not ok"), "{tap}");
    let (_, junit) = test_format("junit", &[list, "--fail-on-severity", "high"]);
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let (_, github) = test_format("github", &[list, "--fail-on-severity", "high"]);
    assert!(github.starts_with("::warning "), "{github}");
    let (_, sarif) = test_format("sarif", &[list, "--fail-on-severity", "high"]);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["level"], "warning");

    let out = run(&["test", "-p", POLICIES, list, "--fail-on-severity", "severe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("severe"), "{}", stderr(&out));
}

#[test]
fn a_baseline_lets_known_findings_pass_and_lists_stale_entries() {
    let dir = scratch("ci-baseline");
    let manifests = dir.join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let pod = std::fs::read_to_string(root().join(FORMATS)).unwrap();
    let file = write(&manifests.join("pod.yaml"), &pod);
    let (code, _) = test_json(&[&file]);
    assert_eq!(code, 1);
    let baseline = dir.join("baseline.json");
    let out = run(&[
        "test",
        "-p",
        POLICIES,
        &file,
        "-o",
        "json",
        "--output-file",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let baseline = baseline.display().to_string();

    // Unchanged manifests, lines moved by a comment: everything is known, the run passes.
    write(
        &manifests.join("pod.yaml"),
        &format!("# moved\n# down\n{pod}"),
    );
    let (code, json) = test_json(&[&file, "--baseline", &baseline]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["summary"]["baselined"], 2);
    assert_eq!(json["summary"]["failing"], 0);
    assert!(findings(&json)
        .iter()
        .all(|(_, fails, state)| !fails && state.as_deref() == Some("unchanged")));

    // The privileged container is fixed and a new container is not non-root: one new
    // finding fails, one stale entry is listed.
    let changed = pod
        .replace("privileged: true", "privileged: false")
        .replace(
            "    - name: sidecar\n",
            "    - name: extra\n      image: registry.example/extra:1.0\n    - name: sidecar\n",
        );
    write(&manifests.join("pod.yaml"), &changed);
    let (code, json) = test_json(&[&file, "--baseline", &baseline]);
    assert_eq!(code, 1);
    let mut got = findings(&json);
    got.sort();
    assert_eq!(
        got,
        [
            (
                "t.non_root".to_string(),
                false,
                Some("unchanged".to_string())
            ),
            ("t.non_root".to_string(), true, Some("new".to_string())),
        ]
    );
    let stale = json["gate"]["stale"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0]["rule"], "t.privileged");
    assert_eq!(
        stale[0]["path"],
        "spec.containers[0].securityContext.privileged"
    );
    assert!(json["notices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["message"]
            .as_str()
            .unwrap()
            .contains("baseline entry not found any more")));

    // Every format shows the same thing.
    let (_, human) = test_format("human", &[&file, "--baseline", &baseline]);
    assert!(human.contains("high (in the baseline)"), "{human}");
    assert!(human.contains("1 in the baseline, 1 stale"), "{human}");
    let (_, sarif) = test_format("sarif", &[&file, "--baseline", &baseline]);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let mut states: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["baselineState"].as_str().unwrap())
        .collect();
    states.sort();
    assert_eq!(states, ["new", "unchanged"]);
    let (_, tap) = test_format("tap", &[&file, "--baseline", &baseline]);
    assert!(
        tap.contains("baselineState: unchanged") && tap.contains("not ok"),
        "{tap}"
    );
    let (_, junit) = test_format("junit", &[&file, "--baseline", &baseline]);
    assert!(
        junit.contains("baseline ") && junit.contains("failures=\"1\""),
        "{junit}"
    );
    let (_, github) = test_format("github", &[&file, "--baseline", &baseline]);
    assert!(
        github.contains("::notice ") && github.contains("(in the baseline)"),
        "{github}"
    );

    // A file that is not a report is refused before anything runs.
    let bad = write(&dir.join("bad.json"), "{\"version\": 1, \"results\": 7}");
    let out = run(&["test", "-p", POLICIES, &file, "--baseline", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a `rampart test -o json` report"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn fail_on_warn_is_the_verdict_of_every_format() {
    let dir = scratch("ci-warn");
    let file = write(&dir.join("warned.yaml"), WARN_POD);
    let (code, human) = test_format("human", &[&file]);
    assert_eq!(code, 0);
    assert!(
        human.lines().last().unwrap().starts_with("pass: "),
        "{human}"
    );

    let (code, human) = test_format("human", &[&file, "--fail-on-warn"]);
    assert_eq!(code, 1);
    assert!(
        human.lines().last().unwrap().starts_with("fail: "),
        "{human}"
    );
    assert!(human.contains("error[t.tag]"), "{human}");
    let (_, junit) = test_format("junit", &[&file, "--fail-on-warn"]);
    assert!(
        junit.contains("failures=\"1\"") && junit.contains("type=\"warn\""),
        "{junit}"
    );
    let (_, tap) = test_format("tap", &[&file, "--fail-on-warn"]);
    assert!(tap.contains("not ok 1 - "), "{tap}");
    let (_, github) = test_format("github", &[&file, "--fail-on-warn"]);
    assert!(github.starts_with("::error "), "{github}");
    let (_, json) = test_json(&[&file, "--fail-on-warn"]);
    assert_eq!(json["summary"]["failing"], 1);
    assert_eq!(json["gate"]["fail_on_warn"], true);
}

#[test]
fn exception_warnings_reach_sarif_and_junit_and_suppressions_have_a_location() {
    let dir = scratch("ci-exceptions");
    let exceptions = write(
        &dir.join("exceptions.yaml"),
        "apiVersion: rampart.dev/v1alpha1
kind: Exceptions
exceptions:
  - rules: [\"t.privileged\"]
    match: {kind: Pod, name: bad}
    reason: \"the node agent needs the host devices\"
    owner: platform-team
    expires: \"2999-12-31\"
  - rules: [\"t.non_root\"]
    match: {kind: Pod, name: bad}
    reason: \"until the image is rebuilt\"
    owner: web-team
    expires: \"2020-06-30\"
",
    );
    let args = [FORMATS, "--exceptions", exceptions.as_str()];
    let (_, sarif) = test_format("sarif", &args);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let run = &sarif["runs"][0];
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    let expired = notes
        .iter()
        .find(|n| n["message"]["text"].as_str().unwrap().contains("expired"))
        .unwrap_or_else(|| panic!("no expiry warning: {notes:?}"));
    assert_eq!(expired["level"], "warning");
    assert_eq!(
        expired["locations"][0]["physicalLocation"]["region"]["startLine"],
        9
    );
    let suppressed = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["suppressions"].is_array())
        .unwrap();
    let location = &suppressed["suppressions"][0]["location"]["physicalLocation"];
    assert_eq!(location["region"]["startLine"], 4);
    let uri = location["artifactLocation"]["uri"].as_str().unwrap();
    assert!(uri.ends_with("/ci-exceptions/exceptions.yaml"), "{uri}");
    assert!(!uri.contains(':') || uri.starts_with("file://"), "{uri}");

    let (_, junit) = test_format("junit", &args);
    assert!(junit.contains("<system-err>warning: "), "{junit}");
    assert!(junit.contains("expired on 2020-06-30"), "{junit}");
}

#[test]
fn sarif_names_files_relative_to_the_repository_root() {
    let absolute = root().join(FORMATS).display().to_string();
    for file in [FORMATS.to_string(), format!("./{FORMATS}"), absolute] {
        let (_, sarif) = test_format("sarif", &[&file]);
        let sarif: Value = serde_json::from_str(&sarif).unwrap();
        let run = &sarif["runs"][0];
        let artifact = &run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact["uriBaseId"], "%SRCROOT%", "{file}");
        assert_eq!(artifact["uri"], FORMATS, "{file}");
        let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            base.starts_with("file:///") && base.ends_with('/'),
            "{base}"
        );
    }
    // Outside the repository: an absolute URI.
    let dir = scratch("ci-sarif-outside");
    let outside = std::env::temp_dir().join(format!("rampart-ci-{}.yaml", std::process::id()));
    let pod = std::fs::read_to_string(root().join(FORMATS)).unwrap();
    let file = write(&outside, &pod);
    let (_, sarif) = test_format("sarif", &[&file]);
    let _ = std::fs::remove_file(&outside);
    drop(dir);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let artifact =
        &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    if !outside.starts_with(root()) {
        assert!(artifact["uriBaseId"].is_null());
        assert!(
            artifact["uri"].as_str().unwrap().starts_with("file:///"),
            "{artifact}"
        );
    }
}

#[test]
fn the_standard_library_runs_with_your_own_policies() {
    let privileged = "tests/manifests/controllers/pod.yaml";
    let rules = |json: &Value| -> Vec<String> {
        let mut ids: Vec<String> = findings(json).into_iter().map(|f| f.0).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let (_, own) = test_json(&[privileged]);
    assert!(rules(&own).iter().all(|r| r.starts_with("t.")), "{own:#}");
    let out = run(&["test", privileged, "-o", "json"]);
    let stdlib: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!rules(&stdlib).is_empty());

    let (_, both) = test_json(&[privileged, "--stdlib"]);
    let mut expected = rules(&own);
    expected.extend(rules(&stdlib));
    expected.sort();
    assert_eq!(rules(&both), expected);

    // A prebuilt bundle runs next to sources and the library: one module each.
    let dir = scratch("ci-stdlib-bundle");
    let out = run(&[
        "build",
        "--target",
        "wasm",
        "-o",
        dir.to_str().unwrap(),
        POLICIES,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bundle = dir.join("policies.wasm").display().to_string();
    let own = write(
        &dir.join("own.rp"),
        "module own

rule web {
  title    \"Pods stay out of the web namespace\"
  severity low
  match Pod
  deny when (object.metadata.namespace ?? \"\") == \"web\"
    at object.metadata.namespace
    message \"pod in web\"
}
",
    );
    let out = run(&["test", "-p", &bundle, "-p", &own, FORMATS, "-o", "json"]);
    let mixed: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(rules(&mixed), ["own.web", "t.non_root", "t.privileged"]);
    let out = run(&["test", "-p", &bundle, "--stdlib", privileged, "-o", "json"]);
    let with_stdlib: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules(&with_stdlib), expected);
    // `--rule` selects across the modules.
    let out = run(&[
        "test", "-p", &bundle, "-p", &own, FORMATS, "-o", "json", "--rule", "own.*",
    ]);
    let selected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules(&selected), ["own.web"]);
    // The same rule twice is an error, not a silent choice.
    let out = run(&["test", "-p", &bundle, "-p", POLICIES, FORMATS]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rule `t.non_root` is defined by two of the policy modules"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn nothing_passes_by_emptiness() {
    let dir = scratch("ci-empty");
    write(&dir.join("values.yaml"), "replicas: 3\nimage: app\n");
    write(&dir.join("empty.yaml"), "");
    let empty = dir.display().to_string();

    let (code, json) = test_json(&[&empty]);
    assert_eq!(
        code, 0,
        "without the flag an empty run passes, but says why"
    );
    let skipped: Vec<&str> = json["skipped_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.iter().any(|f| f.ends_with("values.yaml")));
    assert!(skipped.iter().any(|f| f.ends_with("empty.yaml")));
    let (_, human) = test_format("human", &[&empty]);
    assert!(
        human.contains("values.yaml (1 document)")
            || human.contains("values.yaml (no Kubernetes object)"),
        "{human}"
    );
    assert!(human.contains("empty.yaml (empty)"), "{human}");

    let out = run(&["test", "-p", POLICIES, &empty, "--fail-on-empty"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("no Kubernetes object found"),
        "{}",
        stdout(&out)
    );

    // No rule left by the selection.
    let out = run(&[
        "test",
        "-p",
        POLICIES,
        FORMATS,
        "--exclude-rule",
        "t.*",
        "--exclude-rule",
        "schema.*",
        "--fail-on-empty",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no rule selected"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let out = run(&["test", "-p", POLICIES, FORMATS, "--exclude-rule", "t.*"]);
    assert_eq!(out.status.code(), Some(0));

    // With objects and rules, the flag changes nothing.
    let out = run(&["test", "-p", POLICIES, FORMATS, "--fail-on-empty"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ignore_patterns_relative_to_the_walked_folder_and_unused_ones_warned() {
    let dir = scratch("ci-ignore");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let pod = std::fs::read_to_string(root().join(FORMATS)).unwrap();
    write(&dir.join("sub/skip.yaml"), &pod);
    write(&dir.join("keep.yaml"), &pod);
    let walked = dir.display().to_string();
    let files = |json: &Value| -> Vec<String> {
        json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let given = format!("{walked}/sub/skip.yaml");
    for pattern in [
        "sub/skip.yaml",
        "./sub/skip.yaml",
        "sub/",
        "sub",
        given.as_str(),
    ] {
        let (_, json) = test_json(&[&walked, "--ignore", pattern]);
        assert_eq!(files(&json), ["keep.yaml"], "--ignore {pattern}");
        assert_eq!(json["notices"], serde_json::json!([]), "--ignore {pattern}");
    }
    let (_, json) = test_json(&[&walked, "--ignore", "nothing/*.yaml"]);
    assert_eq!(files(&json).len(), 2);
    let notice = &json["notices"][0]["message"];
    assert!(
        notice
            .as_str()
            .unwrap()
            .contains("`nothing/*.yaml` matched no file"),
        "{json:#}"
    );
}

#[test]
fn github_writes_a_job_summary() {
    let dir = scratch("ci-github");
    let summary = dir.join("summary.md");
    write(&summary, "earlier step\n");
    let out = rampart(&[
        "test",
        "-p",
        POLICIES,
        "-o",
        "github",
        "tests/manifests/formats/pod.yaml",
        "tests/manifests/formats/list.yaml",
    ])
    .env("GITHUB_STEP_SUMMARY", &summary)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("earlier step\n## Rampart"),
        "appended: {text}"
    );
    assert!(text.contains("`fail: 8 rules checked"), "{text}");
    assert!(
        text.contains("| `t.privileged` | critical | 1 | 1 | 0 |"),
        "{text}"
    );
    assert!(
        text.contains("| `t.role_wildcard` | medium | 1 | 1 | 0 |"),
        "{text}"
    );
    // The top findings list the most severe first.
    let first = text
        .lines()
        .position(|l| l.contains("| ❌ | `t.privileged`"));
    let later = text
        .lines()
        .position(|l| l.contains("| ❌ | `t.role_wildcard`"));
    assert!(first.is_some() && first < later, "{text}");
    assert!(
        text.contains("`tests/manifests/formats/pod.yaml:11`"),
        "{text}"
    );

    // Other formats, or no variable: nothing is written.
    let out = rampart(&["test", "-p", POLICIES, "-o", "json", FORMATS])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), text);
}

#[test]
fn stdin_name_names_stdin_in_every_format() {
    let pod = std::fs::read_to_string(root().join(FORMATS)).unwrap();
    for format in ["human", "json", "junit", "sarif", "github", "tap"] {
        let out = common::run_with_stdin(
            &[
                "test",
                "-p",
                POLICIES,
                "-o",
                format,
                "-",
                "--stdin-name",
                "rendered/app.yaml",
            ],
            pod.as_bytes(),
        );
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{format}");
        assert!(text.contains("rendered/app.yaml"), "{format}: {text}");
    }
}

#[test]
fn a_finding_on_an_absent_field_points_at_its_nearest_existing_ancestor() {
    let dir = scratch("ci-absent");
    let pod = write(
        &dir.join("pod.yaml"),
        "apiVersion: v1
kind: Pod
metadata:
  name: api
spec:
  enableServiceLinks: false
  containers:
    - name: app
      image: app:1.0
      securityContext:
        runAsNonRoot: true
",
    );
    let account = write(
        &dir.join("account.yaml"),
        "apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder
",
    );
    let out = run(&["test", "-o", "json", &pod, &account]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let at = |file: &str, rule: &str| -> (u64, u64) {
        let v = json["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["file"] == file)
            .flat_map(|r| r["violations"].as_array().unwrap())
            .find(|v| v["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} in {file}: {json:#}"));
        (v["line"].as_u64().unwrap(), v["column"].as_u64().unwrap())
    };
    // `spec.automountServiceAccountToken` is absent: its ancestor is `spec:` (line 5), not
    // the sibling `enableServiceLinks` on line 6.
    assert_eq!(at(&pod, "rbac.no_automount_token"), (5, 1));
    // A top-level field of the ServiceAccount: the object, shown by its `kind` line.
    assert_eq!(at(&account, "rbac.no_automount_token_service_account").0, 2);

    let out = run(&["test", &pod]);
    let human = stdout(&out);
    assert!(human.contains("5 │ spec:"), "{human}");
}
