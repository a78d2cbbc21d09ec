//! `rampart rbac`: the real binary on the fixtures of tests/rbac/ and on the real-world
//! manifests of ../shared/corpus/real (spec/rbac.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("rbac")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn run(args: &[&str]) -> Output {
    run_with_stdin(args, None)
}

fn json(args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = run(&all);
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap(), value)
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn corpus() -> Option<PathBuf> {
    let dir = root().join("../shared/corpus/real");
    dir.is_dir().then_some(dir)
}

#[test]
fn can_exits_0_for_yes_and_1_for_no_with_the_chain() {
    let yes = run(&["can", "sa:payments/api", "get", "secrets", "-n", "payments", "tests/rbac/new"]);
    assert_eq!(yes.status.code(), Some(0), "{}", text(&yes));
    let out = text(&yes);
    assert!(out.starts_with("yes: sa:payments/api get secrets in namespace `payments`"), "{out}");
    assert!(out.contains("RoleBinding payments/api (tests/rbac/new/payments.yaml:9)"), "{out}");
    assert!(out.contains("Role payments/api (tests/rbac/new/payments.yaml:1)"), "{out}");
    assert!(out.contains("(tests/rbac/new/payments.yaml:5)"), "{out}");
    let no = run(&["can", "sa:payments/api", "get", "secrets", "-n", "payments", "tests/rbac/old"]);
    assert_eq!(no.status.code(), Some(1));
    assert!(text(&no).starts_with("no: "));
}

#[test]
fn can_answers_non_resource_urls_and_json() {
    let (code, v) = json(&["can", "sa:monitoring/prometheus", "get", "/metrics", "tests/rbac/old"]);
    assert_eq!(code, 0);
    assert_eq!(v["allowed"], true);
    let chain = &v["chains"][0]["chain"];
    assert_eq!(chain["binding"]["name"], "prometheus-metrics");
    assert_eq!(chain["binding"]["at"]["line"], 23);
    assert_eq!(chain["role"]["name"], "metrics-reader");
    assert_eq!(chain["rule"]["nonResourceURLs"][0], "/metrics");
}

#[test]
fn who_can_reads_stdin_and_says_where_each_grant_holds() {
    let manifest = std::fs::read_to_string(root().join("tests/rbac/new/payments.yaml")).unwrap();
    let out = run_with_stdin(&["who-can", "list", "secrets", "-"], Some(&manifest));
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("SUBJECT"));
    assert!(lines[1].starts_with("sa:payments/api"), "{table}");
    assert!(lines[1].contains("namespace payments"));
    assert!(lines[1].contains("RoleBinding payments/api (-:9)"), "{table}");
}

#[test]
fn list_shows_effective_rules() {
    let (code, v) = json(&["list", "sa:payments/api", "tests/rbac/new"]);
    assert_eq!(code, 0);
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["namespace"], "payments");
    assert_eq!(rules[0]["chain"]["rule"]["resources"][1], "secrets");
}

#[test]
fn diff_shows_gains_with_risks_and_losses() {
    let (code, v) = json(&["diff", "tests/rbac/old", "tests/rbac/new"]);
    assert_eq!(code, 0);
    let changes: Vec<String> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {} {}",
                c["subject"].as_str().unwrap(),
                c["change"].as_str().unwrap(),
                c["verb"].as_str().unwrap(),
                c["resource"].as_str().or(c["nonResourceURL"].as_str()).unwrap(),
                c["namespace"].as_str().unwrap_or("cluster-wide"),
                c["risks"]
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            "sa:monitoring/prometheus lost get /metrics cluster-wide []",
            "sa:payments/api gained get secrets payments [\"read-secrets\"]",
            "sa:payments/api gained list secrets payments [\"read-secrets\"]",
        ]
    );
}

#[test]
fn diff_fails_on_the_named_risks_only() {
    let hit = run(&["diff", "tests/rbac/old", "tests/rbac/new", "--fail-on", "read-secrets"]);
    assert_eq!(hit.status.code(), Some(1));
    assert!(text(&hit).contains("+ gained"));
    let miss = run(&["diff", "tests/rbac/old", "tests/rbac/new", "--fail-on", "create-pods"]);
    assert_eq!(miss.status.code(), Some(0));
    let any = run(&["diff", "tests/rbac/new", "tests/rbac/old", "--fail-on", "any"]);
    // Going back only gains the /metrics permission.
    assert_eq!(any.status.code(), Some(1));
    let unknown = run(&["diff", "tests/rbac/old", "tests/rbac/new", "--fail-on", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown risk `nope`"));
}

#[test]
fn bad_input_is_exit_2_with_file_and_line_and_the_rest_still_answers() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rbac-bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: r}\nsubjects: [{kind: User, name: u}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n",
    )
    .unwrap();
    std::fs::write(dir.join("b.yaml"), "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: x}\nrules: {verbs: [get]}\n").unwrap();
    std::fs::write(dir.join("c.yaml"), "a: [\n").unwrap();
    let dir_arg = dir.display().to_string();
    let out = run(&["can", "user:u", "get", "pods", &dir_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).starts_with("yes: "));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("b.yaml:4: `rules` must be a list"), "{stderr}");
    assert!(stderr.contains("c.yaml:"), "{stderr}");
    let none = run(&["who-can", "get", "pods"]);
    assert_eq!(none.status.code(), Some(2));
    let bad_subject = run(&["can", "bob", "get", "pods", &dir_arg]);
    assert_eq!(bad_subject.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_subject.stderr).contains("`bob`"));
}

#[test]
fn with_defaults_answers_without_manifests() {
    let out = run(&["can", "user:x", "get", "/version", "--with-defaults"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("ClusterRoleBinding system:public-info-viewer (defaults:kubernetes-1.37.yaml:"));
    let out = run(&["can", "user:x", "get", "/metrics", "--with-defaults"]);
    assert_eq!(out.status.code(), Some(1));
}
