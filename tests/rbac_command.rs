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
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
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
    let yes = run(&[
        "can",
        "sa:payments/api",
        "get",
        "secrets",
        "-n",
        "payments",
        "tests/rbac/new",
    ]);
    assert_eq!(yes.status.code(), Some(0), "{}", text(&yes));
    let out = text(&yes);
    assert!(
        out.starts_with("yes: sa:payments/api get secrets in namespace `payments`"),
        "{out}"
    );
    assert!(
        out.contains("RoleBinding payments/api (tests/rbac/new/payments.yaml:9)"),
        "{out}"
    );
    assert!(
        out.contains("Role payments/api (tests/rbac/new/payments.yaml:1)"),
        "{out}"
    );
    assert!(out.contains("(tests/rbac/new/payments.yaml:5)"), "{out}");
    let no = run(&[
        "can",
        "sa:payments/api",
        "get",
        "secrets",
        "-n",
        "payments",
        "tests/rbac/old",
    ]);
    assert_eq!(no.status.code(), Some(1));
    assert!(text(&no).starts_with("no: "));
}

#[test]
fn can_answers_non_resource_urls_and_json() {
    let (code, v) = json(&[
        "can",
        "sa:monitoring/prometheus",
        "get",
        "/metrics",
        "tests/rbac/old",
    ]);
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
    assert!(
        lines[1].contains("RoleBinding payments/api (-:9)"),
        "{table}"
    );
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
                c["resource"]
                    .as_str()
                    .or(c["nonResourceURL"].as_str())
                    .unwrap(),
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
    let hit = run(&[
        "diff",
        "tests/rbac/old",
        "tests/rbac/new",
        "--fail-on",
        "read-secrets",
    ]);
    assert_eq!(hit.status.code(), Some(1));
    assert!(text(&hit).contains("+ gained"));
    let miss = run(&[
        "diff",
        "tests/rbac/old",
        "tests/rbac/new",
        "--fail-on",
        "create-pods",
    ]);
    assert_eq!(miss.status.code(), Some(0));
    let any = run(&[
        "diff",
        "tests/rbac/new",
        "tests/rbac/old",
        "--fail-on",
        "any",
    ]);
    // Going back only gains the /metrics permission.
    assert_eq!(any.status.code(), Some(1));
    let unknown = run(&[
        "diff",
        "tests/rbac/old",
        "tests/rbac/new",
        "--fail-on",
        "nope",
    ]);
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
    assert!(
        stderr.contains("b.yaml:4: `rules` must be a list"),
        "{stderr}"
    );
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
    assert!(text(&out)
        .contains("ClusterRoleBinding system:public-info-viewer (defaults:kubernetes-1.37.yaml:"));
    let out = run(&["can", "user:x", "get", "/metrics", "--with-defaults"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Runs a command over the real corpus and returns (subject, where, binding) per grant.
fn corpus_json(args: &[&str], key: &str) -> Option<Vec<Value>> {
    let dir = corpus()?;
    let dir = dir.display().to_string();
    let mut all = args.to_vec();
    all.push(&dir);
    let (_, v) = json(&all);
    Some(v[key].as_array().unwrap().clone())
}

fn place(v: &Value) -> String {
    v.as_str().unwrap_or("cluster").to_string()
}

#[test]
fn corpus_who_can_get_secrets() {
    let Some(grants) = corpus_json(&["who-can", "get", "secrets"], "grants") else {
        eprintln!("../shared/corpus/real is absent: skipped");
        return;
    };
    let mut found: Vec<String> = grants
        .iter()
        .map(|g| {
            format!(
                "{} {} {}",
                g["subject"].as_str().unwrap(),
                place(&g["namespace"]),
                g["chain"]["binding"]["name"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    found.dedup();
    let expected = [
        // argo-cd's cluster install: the application controller's ClusterRole is `*` on `*`
        // (it deploys anything), argocd-server's has get/patch/delete on `*`, and the
        // applicationset controller's lists secrets and configmaps (cluster secrets).
        "sa:argocd/argocd-application-controller cluster argocd-application-controller",
        "sa:argocd/argocd-applicationset-controller cluster argocd-applicationset-controller",
        "sa:argocd/argocd-server cluster argocd-server",
        // argo-cd's namespaced Roles and RoleBindings carry no namespace (installed with
        // `-n argocd`), so they are in `default`, and their ServiceAccount subjects too.
        "sa:default/argocd-application-controller default argocd-application-controller",
        "sa:default/argocd-applicationset-controller default argocd-applicationset-controller",
        "sa:default/argocd-dex-server default argocd-dex-server",
        "sa:default/argocd-server default argocd-server",
        // flux: one ClusterRole `crd-controller` (get/list/watch secrets) bound to all seven
        // controllers by one ClusterRoleBinding.
        "sa:flux-system/helm-controller cluster crd-controller",
        "sa:flux-system/image-automation-controller cluster crd-controller",
        "sa:flux-system/image-reflector-controller cluster crd-controller",
        "sa:flux-system/kustomize-controller cluster crd-controller",
        "sa:flux-system/notification-controller cluster crd-controller",
        "sa:flux-system/source-controller cluster crd-controller",
        "sa:flux-system/source-watcher cluster crd-controller",
        // gatekeeper: its ClusterRole reads `*` in `*` (to sync any kind), and its Role
        // manages the webhook certificate secret in gatekeeper-system.
        "sa:gatekeeper-system/gatekeeper-admin cluster gatekeeper-manager-rolebinding",
        "sa:gatekeeper-system/gatekeeper-admin gatekeeper-system gatekeeper-manager-rolebinding",
        // ingress-nginx: the controller's Role reads TLS secrets; the admission job's Role
        // gets and creates its certificate secret. Its ClusterRole only lists and watches
        // secrets, which is not `get`.
        "sa:ingress-nginx/ingress-nginx ingress-nginx ingress-nginx",
        "sa:ingress-nginx/ingress-nginx-admission ingress-nginx ingress-nginx-admission",
        // metallb: the controller's Role manages the memberlist secret, the `pod-lister`
        // Role (controller and speaker) reads secrets, frr-k8s reads its BGP passwords.
        "sa:metallb-system/controller metallb-system controller",
        "sa:metallb-system/controller metallb-system pod-lister",
        "sa:metallb-system/frr-k8s-daemon metallb-system frr-k8s-daemon-rolebinding",
        "sa:metallb-system/speaker metallb-system pod-lister",
    ];
    assert_eq!(found, expected);
}

#[test]
fn corpus_risks() {
    let Some(findings) = corpus_json(&["risks"], "risks") else {
        eprintln!("../shared/corpus/real is absent: skipped");
        return;
    };
    let found: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["risk"].as_str().unwrap(),
                f["subject"].as_str().unwrap(),
                place(&f["namespace"])
            )
        })
        .collect();
    // `AC` is argocd-application-controller, whose ClusterRole is `*` verbs on `*` in `*`:
    // it holds every risk. `AS` is argocd-server, whose ClusterRole grants delete, get and
    // patch on `*` in `*`. Gatekeeper's ClusterRole reads `*` in `*`.
    let expected = [
        "create-pods sa:argocd/argocd-application-controller cluster", // AC
        "create-pods sa:argocd/argocd-server cluster", // AS: create jobs (batch), to run resource actions
        "read-secrets sa:argocd/argocd-application-controller cluster", // AC
        "read-secrets sa:argocd/argocd-applicationset-controller cluster", // get/list/watch secrets
        "read-secrets sa:argocd/argocd-server cluster", // AS: get on `*`
        "read-secrets sa:default/argocd-application-controller default", // Role: secrets get/list/watch
        "read-secrets sa:default/argocd-applicationset-controller default", // Role: secrets get/list/watch
        "read-secrets sa:default/argocd-dex-server default", // Role: secrets get/list/watch
        "read-secrets sa:default/argocd-notifications-controller default", // Role: list/watch secrets
        "read-secrets sa:default/argocd-server default", // Role: full access to secrets
        "read-secrets sa:flux-system/helm-controller cluster", // crd-controller: get/list/watch secrets
        "read-secrets sa:flux-system/image-automation-controller cluster", // same
        "read-secrets sa:flux-system/image-reflector-controller cluster", // same
        "read-secrets sa:flux-system/kustomize-controller cluster", // same
        "read-secrets sa:flux-system/notification-controller cluster", // same
        "read-secrets sa:flux-system/source-controller cluster", // same
        "read-secrets sa:flux-system/source-watcher cluster",  // same
        "read-secrets sa:gatekeeper-system/gatekeeper-admin cluster", // get/list/watch `*`
        "read-secrets sa:gatekeeper-system/gatekeeper-admin gatekeeper-system", // Role: secrets
        "read-secrets sa:ingress-nginx/ingress-nginx cluster", // ClusterRole: list/watch secrets
        "read-secrets sa:ingress-nginx/ingress-nginx ingress-nginx", // Role: get/list/watch secrets
        "read-secrets sa:ingress-nginx/ingress-nginx-admission ingress-nginx", // Role: get/create secrets
        "read-secrets sa:metallb-system/controller metallb-system",            // Role: secrets
        "read-secrets sa:metallb-system/frr-k8s-daemon metallb-system", // Role: get/list/watch/update secrets
        "read-secrets sa:metallb-system/speaker metallb-system", // pod-lister Role: get/list/watch secrets
        "bind sa:argocd/argocd-application-controller cluster",  // AC
        "escalate sa:argocd/argocd-application-controller cluster", // AC
        "impersonate sa:argocd/argocd-application-controller cluster", // AC
        "pods-exec sa:argocd/argocd-application-controller cluster", // AC
        "pods-exec sa:argocd/argocd-server cluster", // AS: get pods/exec (the WebSocket form)
        "pods-exec sa:gatekeeper-system/gatekeeper-admin cluster", // get on `*` includes pods/exec
        "pods-attach sa:argocd/argocd-application-controller cluster", // AC
        "pods-attach sa:argocd/argocd-server cluster", // AS: get pods/attach
        "pods-attach sa:gatekeeper-system/gatekeeper-admin cluster", // get on `*`
        "serviceaccount-token sa:argocd/argocd-application-controller cluster", // AC
        "serviceaccount-token sa:flux-system/helm-controller cluster", // crd-controller: create serviceaccounts/token
        "serviceaccount-token sa:flux-system/image-automation-controller cluster", // same
        "serviceaccount-token sa:flux-system/image-reflector-controller cluster", // same
        "serviceaccount-token sa:flux-system/kustomize-controller cluster", // same
        "serviceaccount-token sa:flux-system/notification-controller cluster", // same
        "serviceaccount-token sa:flux-system/source-controller cluster", // same
        "serviceaccount-token sa:flux-system/source-watcher cluster",  // same
        "approve-csr sa:argocd/argocd-application-controller cluster", // AC
        "approve-csr sa:argocd/argocd-server cluster", // AS: patch on `*` includes the approval subresource
        "nodes-proxy sa:argocd/argocd-application-controller cluster", // AC
        "nodes-proxy sa:argocd/argocd-server cluster", // AS: get on `*`
        "nodes-proxy sa:gatekeeper-system/gatekeeper-admin cluster", // get on `*`
        "nodes-proxy sa:linkerd-viz/prometheus cluster", // scrapes kubelets: get nodes/proxy
        "nodes-proxy sa:spire/spire-agent cluster", // attests workloads through the kubelet: get nodes/proxy
        "nodes-write sa:argocd/argocd-application-controller cluster", // AC
        "nodes-write sa:argocd/argocd-server cluster", // AS: patch and delete on `*`
        "webhooks-write sa:argocd/argocd-application-controller cluster", // AC
        "webhooks-write sa:argocd/argocd-server cluster", // AS: patch on `*`
        "webhooks-write sa:ingress-nginx/ingress-nginx-admission cluster", // patches its caBundle: update validatingwebhookconfigurations
        "webhooks-write sa:spire/spire-server cluster", // manages its webhook: patch validatingwebhookconfigurations
        "rbac-write sa:argocd/argocd-application-controller cluster", // AC
        "rbac-write sa:argocd/argocd-server cluster",   // AS: patch on `*`
    ];
    assert_eq!(found, expected);
    let code = run(&["risks", &corpus().unwrap().display().to_string()])
        .status
        .code();
    assert_eq!(code, Some(1), "risks found: exit 1");
}
