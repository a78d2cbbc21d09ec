//! End-to-end tests of the exports on the real binary: `rampart check --target T` reports
//! what `rampart build --target T` would (rules a target cannot express, exported names that
//! clash), long rule ids are shortened the same way in every export, and the Gatekeeper
//! output is split so that it applies in two steps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const TARGETS: [&str; 5] = [
    "gatekeeper",
    "gatekeeper-cel",
    "kyverno",
    "kyverno-vpol",
    "vap",
];
const CLASH: &str = "tests/exports/clash";
const LONG: &str = "tests/exports/long";
const LONG_ID: &str =
    "platform.security.baseline.containers_must_not_run_as_the_root_user_in_any_production_namespace";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// Runs `rampart build --target TARGET -o DIR POLICIES…`.
fn build(target: &str, dir: &Path, policies: &[&str]) -> Output {
    let dir = dir.display().to_string();
    let mut args = vec!["build", "--target", target, "-o", &dir];
    args.extend_from_slice(policies);
    run(&args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder can be made");
    dir
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every document of every file written below `dir`, with its file.
fn documents(dir: &Path) -> Vec<(PathBuf, Value)> {
    use serde::Deserialize;
    let mut files = Vec::new();
    yaml_files(dir, &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for d in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = Value::deserialize(d).unwrap();
            if !v.is_null() {
                out.push((f.clone(), v));
            }
        }
    }
    out
}

/// The report of `rampart check -o json ARGS`, and its diagnostics with `code`.
fn check_json(args: &[&str], code: &str) -> (Value, Vec<Value>) {
    let mut all = vec!["check", "-o", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let found = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .cloned()
        .collect();
    (v, found)
}

/// `team.web.no_root_user` / `team.web_no.root_user` and `Mixed_Case_Rule` /
/// `mixed_case_rule` map to the same names: each target refuses them at check time, naming
/// both rules with their file and line.
#[test]
fn check_target_reports_clashing_names_with_both_rules() {
    for target in TARGETS {
        let out = run(&["check", "--target", target, CLASH]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{target}: {err}");
        assert!(!err.contains("error: error:"), "{err}");
        // The second rule of each pair is located, the first named with its file:line.
        assert!(err.contains("error[export-name]"), "{target}: {err}");
        // Kyverno ClusterPolicies are per module (`team-web`, `team-web-no`), so only the
        // rules of one module can clash there.
        if target != "kyverno" {
            assert!(
                err.contains("`team.web.no_root_user`") && err.contains("`team.web_no.root_user`"),
                "{target}: {err}"
            );
            assert!(
                err.contains("tests/exports/clash/b.rp:3:6")
                    && err.contains(
                        "rule `team.web.no_root_user` is defined at tests/exports/clash/a.rp:3:6"
                    ),
                "{target}: {err}"
            );
        }
        assert!(
            err.contains("`team.web_no.Mixed_Case_Rule`")
                && err.contains("`team.web_no.mixed_case_rule`"),
            "{target}: {err}"
        );
        let (v, clashes) = check_json(&["--target", target, CLASH], "export-name");
        assert!(
            clashes.len() >= 1 + (target != "kyverno") as usize,
            "{target}: {v:#}"
        );
        assert_eq!(v["errors"].as_u64().unwrap(), clashes.len() as u64);
    }
}

/// A build whose names clash writes nothing and prints each error once.
#[test]
fn build_with_clashing_names_writes_nothing() {
    for target in TARGETS {
        let dir = scratch(&format!("clash-{target}"));
        let out_dir = dir.join("out");
        let out = build(target, &out_dir, &[CLASH]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{target}: {err}");
        assert!(!out_dir.exists(), "{target}: nothing is written");
        assert!(!err.contains("error: error:"), "{err}");
        assert!(err.contains("error: nothing written to"), "{target}: {err}");
    }
}

/// A rule id longer than 63 characters exports to every target with every name within 63
/// characters, the same name in every run, and the full id in an annotation.
#[test]
fn long_rule_ids_are_shortened_in_every_export() {
    for target in TARGETS {
        let check = run(&["check", "--target", target, LONG]);
        assert_eq!(check.status.code(), Some(0), "{target}: {}", stderr(&check));
        let mut runs = Vec::new();
        for attempt in 0..2 {
            let dir = scratch(&format!("long-{target}-{attempt}"));
            let out = build(target, &dir, &[LONG]);
            assert_eq!(out.status.code(), Some(0), "{target}: {}", stderr(&out));
            runs.push(documents(&dir));
        }
        let strip = |docs: &[(PathBuf, Value)]| -> Vec<(String, Value)> {
            docs.iter()
                .map(|(p, v)| {
                    (
                        p.file_name().unwrap().to_string_lossy().into_owned(),
                        v.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(strip(&runs[0]), strip(&runs[1]), "{target}: deterministic");
        let docs = &runs[0];
        assert!(!docs.is_empty());
        let mut names = 0;
        for (path, d) in docs {
            let file = path.file_stem().unwrap().to_string_lossy();
            assert!(file.len() <= 63, "{target}: file {file}");
            let name = d["metadata"]["name"].as_str().unwrap();
            assert!(name.len() <= 63, "{target}: {name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{target}: {name}"
            );
            names += 1;
            let kind = d["kind"].as_str().unwrap();
            assert!(kind.len() <= 63, "{target}: {kind}");
            for r in d["spec"]["rules"].as_array().into_iter().flatten() {
                let rule = r["name"].as_str().unwrap();
                assert!(rule.len() <= 63, "{target}: Kyverno rule {rule}");
                names += 1;
            }
            let annotations = &d["metadata"]["annotations"];
            let id = annotations["rampart.dev/rule"]
                .as_str()
                .or(annotations["rampart.dev/rules"].as_str());
            assert_eq!(id, Some(LONG_ID), "{target}: {d:#}");
        }
        assert!(names >= 2, "{target}");
    }
}

/// Gatekeeper output: templates (and the SyncSet) in `templates/`, Constraints in
/// `constraints/`, the fixes' mutators in `mutations/`, nothing at the top that `kubectl
/// apply -f` would trip on.
#[test]
fn gatekeeper_output_applies_in_two_steps() {
    for target in ["gatekeeper", "gatekeeper-cel"] {
        let dir = scratch(&format!("two-steps-{target}"));
        let out = build(target, &dir, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("templates/ first, then"), "{err}");
        let top: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut top = top;
        top.sort();
        assert_eq!(top, ["constraints", "mutations", "templates"]);
        let docs = documents(&dir);
        let mut constraints = 0;
        for (path, d) in &docs {
            let folder = path.parent().unwrap().file_name().unwrap();
            if d["apiVersion"] == "constraints.gatekeeper.sh/v1beta1" {
                assert_eq!(folder, "constraints", "{path:?}");
                constraints += 1;
            } else if d["apiVersion"] == "mutations.gatekeeper.sh/v1" {
                assert_eq!(folder, "mutations", "{path:?}");
            } else {
                assert_eq!(folder, "templates", "{path:?}");
                assert!(["ConstraintTemplate", "SyncSet"].contains(&d["kind"].as_str().unwrap()));
            }
        }
        assert!(constraints > 40, "{constraints}");
    }
}

/// `check --target` reports, per rule and located, what the target cannot express: the same
/// warnings as `build`, with the exit code of a clean check.
#[test]
fn check_target_reports_what_a_target_cannot_express() {
    let (v, gaps) = check_json(&["--target", "vap"], "export-gap");
    assert_eq!(v["errors"], 0, "{v:#}");
    assert!(
        !gaps.is_empty(),
        "the standard library has set rules: {v:#}"
    );
    for g in &gaps {
        assert_eq!(g["level"], "warning");
        let message = g["message"].as_str().unwrap();
        assert!(
            message.contains("cannot be exported to vap")
                || message.contains("it runs only in `rampart test` (CI)"),
            "{message}"
        );
        assert!(g["file"].as_str().unwrap().ends_with(".rp"), "{g:#}");
    }
    let dir = scratch("gaps-vap");
    let build = build("vap", &dir, &[]);
    let err = stderr(&build);
    assert_eq!(build.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("warning[export-gap]").count(),
        gaps.len(),
        "{err}"
    );
    let plain = run(&["check"]);
    assert!(!stderr(&plain).contains("export-gap"));
}

/// Rules that read other objects go into the Gatekeeper output only with `--referential`:
/// without it each is a located warning and no SyncSet is written; with it they are there,
/// with the SyncSet of the kinds they read.
#[test]
fn gatekeeper_referential_rules_are_opt_in() {
    let templates = |dir: &Path| -> Vec<Value> {
        documents(dir)
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| d["kind"] == "ConstraintTemplate" || d["kind"] == "SyncSet")
            .collect()
    };
    let reads_inventory =
        |d: &Value| d["kind"] == "ConstraintTemplate" && d.to_string().contains("data.inventory");

    let plain = scratch("referential-off");
    let out = build("gatekeeper", &plain, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("rule `net.default_deny`: reading other objects"),
        "{err}"
    );
    assert!(err.contains("export it with `--referential`"), "{err}");
    let without = templates(&plain);
    assert!(!without.iter().any(reads_inventory));
    assert!(!without.iter().any(|d| d["kind"] == "SyncSet"));

    let full = scratch("referential-on");
    let dir = full.display().to_string();
    let out = run(&[
        "build",
        "--target",
        "gatekeeper",
        "--referential",
        "-o",
        &dir,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("reading other objects"), "{err}");
    let with = templates(&full);
    let referential = with.iter().filter(|d| reads_inventory(d)).count();
    assert!(referential >= 2, "{referential}");
    assert_eq!(with.iter().filter(|d| d["kind"] == "SyncSet").count(), 1);
    assert_eq!(
        with.len(),
        without.len() + referential + 1,
        "the referential templates and the SyncSet are the only additions"
    );
}

/// `--target map` writes a MutatingAdmissionPolicy and binding per rule with a fix (the
/// `review` ones only with `--unsafe`), and they pass the Kubernetes 1.37 schema as
/// `rampart test` checks it (an unknown field in the policy would be a finding).
#[test]
fn map_output_validates_against_the_kubernetes_schema() {
    let policy = "compiler/tests/fixes/fixes.rp";
    let safe = scratch("map-safe");
    let out = build("map", &safe, &[policy]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = scratch("map-unsafe");
    let dir = all.display().to_string();
    let out = run(&["build", "--target", "map", "--unsafe", "-o", &dir, policy]);
    assert!(out.status.success(), "{}", stderr(&out));
    let count = |d: &Path| std::fs::read_dir(d).unwrap().count();
    assert_eq!(
        count(&all),
        count(&safe) + 1,
        "the review fix is the one more"
    );
    let out = run(&["test", &dir, "--rule", "schema.*", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    // Every document is checked against its schema with no violation. (`rampart test`
    // also reports the `rampart.dev/rule` annotation, which it reads as a malformed
    // exemption: an error of the test run, not of the schema.)
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 2 * count(&all), "{report:#}");
    for r in results {
        assert_eq!(r["violations"], serde_json::json!([]), "{r:#}");
        assert!(r["rules"]["applied"].as_u64().unwrap_or(0) > 0, "{r:#}");
    }
    let kinds = documents(&all)
        .into_iter()
        .map(|(_, d)| d["kind"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert!(kinds.iter().any(|k| k == "MutatingAdmissionPolicy"));
    assert!(kinds.iter().any(|k| k == "MutatingAdmissionPolicyBinding"));
    // The check can fail: a misspelt field of the policy is reported.
    let bad = all.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingAdmissionPolicy\n\
         metadata: {name: x}\nspec:\n  mutatons: []\n",
    )
    .unwrap();
    let out = run(&["test", &bad.display().to_string(), "--rule", "schema.*"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// `--target gatekeeper` writes the fixes as mutators in `mutations/` (the `review` ones
/// only with `--unsafe`), and warns at each rule whose fixes mutators cannot express.
#[test]
fn gatekeeper_build_writes_mutators() {
    let policy = "compiler/tests/fixes/fixes.rp";
    let safe = scratch("gatekeeper-mutators-safe");
    let out = build("gatekeeper", &safe, &[policy]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for rule in ["no_host_path", "sa_token", "psa_label"] {
        assert!(
            err.contains(&format!("rule `fixtures.fixes.{rule}`: the fix"))
                && err.contains("cannot be exported to Gatekeeper mutators"),
            "{rule}: {err}"
        );
    }
    assert!(err.contains("mutations/"), "{err}");
    let all = scratch("gatekeeper-mutators-unsafe");
    let dir = all.display().to_string();
    let out = run(&[
        "build",
        "--target",
        "gatekeeper",
        "--unsafe",
        "-o",
        &dir,
        policy,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let count = |d: &Path| std::fs::read_dir(d.join("mutations")).unwrap().count();
    assert_eq!(count(&safe), 4);
    assert_eq!(count(&all), 5, "the review fix is the one more");
    let mut kinds: Vec<String> = documents(&all.join("mutations"))
        .into_iter()
        .map(|(_, d)| {
            assert_eq!(d["apiVersion"], "mutations.gatekeeper.sh/v1");
            d["kind"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["Assign", "ModifySet"]);
}

/// A set rule with `generate` (the standard library's `net.default_deny`) breaks no export,
/// and the Gatekeeper, ValidatingAdmissionPolicy and MutatingAdmissionPolicy warnings say
/// that its generated objects are not exported.
#[test]
fn generate_is_not_exported_and_the_warnings_say_so() {
    let cases: [(&str, &[&str]); 3] = [("gatekeeper", &[]), ("vap", &[]), ("map", &[])];
    for (target, extra) in cases {
        let dir = scratch(&format!("generate-{target}-{}", extra.len()));
        let mut policies = extra.to_vec();
        policies.push("stdlib/policies");
        let out = build(target, &dir, &policies);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{target} {extra:?}: {err}");
        let warning = err
            .lines()
            .find(|l| l.contains("`net.default_deny`") && l.contains("generate"))
            .unwrap_or_else(|| panic!("{target} {extra:?}: no warning about generate:\n{err}"));
        assert!(
            warning.starts_with("warning[export-gap]")
                && warning.contains("`rampart fix` writes them"),
            "{target}: {warning}"
        );
    }
}
