//! `rampart serve`: the real binary on a loopback port with a self-signed certificate,
//! spoken to over HTTPS (spec/admission.md).

mod common;

#[path = "common/webhook.rs"]
mod webhook;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use webhook::{answer_rules, review, Client, Server};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rampart"))
}

/// The hardened Pod of the examples: passes every rule of the standard library.
fn good_pod() -> Value {
    let text = std::fs::read_to_string(common::root().join("examples/manifests/hardened-pod.yaml"))
        .unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn privileged(mut pod: Value) -> Value {
    pod["spec"]["containers"][0]["securityContext"]["privileged"] = json!(true);
    pod
}

/// A Deployment of two replicas of `pod`, spread over nodes (the standard library asks
/// replicated workloads to spread).
fn deployment_of(pod: &Value) -> Value {
    let mut spec = pod["spec"].clone();
    spec["topologySpreadConstraints"] = json!([{
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}},
    }]);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
        },
    })
}

fn stdlib_server(name: &str, args: &[&str]) -> Server {
    Server::start(&binary(), &common::scratch(name), args)
}

/// A policy file with a deny rule on privileged containers and a warn rule on a label.
const POLICY_A: &str = r#"module t

rule privileged {
  title "Containers must not be privileged"
  severity high
  match Pod
  deny for c in all_containers(object)
    when c.securityContext.privileged ?? false
    at c.securityContext.privileged
    message "container `{c.name}` is privileged"
}

rule team {
  title "Pods should say their team"
  severity low
  match Pod
  match namespaces ["team-*"]
  warn when (object.metadata.labels["team"] ?? "") == ""
    at object.metadata.labels
    message "pod has no team label"
}
"#;

/// Another policy: denies every pod named `web`.
const POLICY_B: &str = r#"module t

rule named_web {
  title "No pod named web"
  severity high
  match Pod
  deny when (object.metadata.name ?? "") == "web"
    at object.metadata.name
    message "pod is named web"
}
"#;

fn pod_named(name: &str, namespace: Option<&str>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    });
    if let Some(ns) = namespace {
        pod["metadata"]["namespace"] = json!(ns);
    }
    pod
}

fn policy_server(name: &str, policy: &str, args: &[&str]) -> Server {
    let dir = common::scratch(name);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/t.rp"), policy).unwrap();
    let mut all = vec!["-p", "policies"];
    all.extend_from_slice(args);
    Server::start(&binary(), &dir, &all)
}

/// Replaces a file in one step, as a ConfigMap volume or an editor's save does.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn allowed_denied_and_warned_reviews() {
    let server = stdlib_server("serve-verdicts", &[]);
    let mut c = server.client().unwrap();

    let (status, answer) = c
        .review(&review("u-good", "CREATE", Some(&good_pod()), None))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], "u-good");
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    assert!(answer["response"].get("status").is_none());

    let bad = privileged(good_pod());
    let (status, answer) = c
        .review(&review("u-bad", "CREATE", Some(&bad), None))
        .unwrap();
    assert_eq!(status, 200);
    let response = &answer["response"];
    assert_eq!(response["uid"], "u-bad");
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("pss.baseline.privileged: container `api` sets securityContext.privileged: true (at spec.containers[0].securityContext.privileged)"),
        "{message}"
    );
    assert!(answer_rules(&answer, "denied-rules").contains(&"pss.baseline.privileged".to_string()));

    // A warn rule: a NodePort Service is allowed with a warning kubectl shows.
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    });
    let (_, answer) = c
        .review(&review("u-warn", "CREATE", Some(&service), None))
        .unwrap();
    assert_eq!(answer["response"]["allowed"], true);
    let warnings = answer["response"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("net.no_node_port: Service `web` is of type NodePort")),
        "{warnings:?}"
    );
    assert_eq!(answer_rules(&answer, "warned-rules"), ["net.no_node_port"]);

    // One JSON log line per decision.
    let line = server.wait_log(Duration::from_secs(5), |v| v["uid"] == "u-bad");
    assert_eq!(line["msg"], "decision");
    assert_eq!(line["verdict"], "denied");
    assert_eq!(line["kind"], "Pod");
    assert_eq!(line["namespace"], "shop");
    assert_eq!(line["name"], "api");
    assert_eq!(line["operation"], "CREATE");
    assert_eq!(line["user"], "alice");
    assert!(line["denied"]
        .as_array()
        .unwrap()
        .contains(&json!("pss.baseline.privileged")));
    assert!(line["latencyMs"].as_f64().unwrap() > 0.0);
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn update_delete_dry_run_and_controllers() {
    let server = stdlib_server("serve-operations", &[]);
    let mut c = server.client().unwrap();
    let good = good_pod();
    let bad = privileged(good_pod());

    // UPDATE: the new object decides, whatever the old one was.
    let (_, a) = c
        .review(&review("up-1", "UPDATE", Some(&good), Some(&bad)))
        .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
    let (_, a) = c
        .review(&review("up-2", "UPDATE", Some(&bad), Some(&good)))
        .unwrap();
    assert_eq!(a["response"]["allowed"], false, "{a}");

    // DELETE carries only oldObject: deleting is never refused.
    let (status, a) = c
        .review(&review("del", "DELETE", None, Some(&bad)))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(a["response"]["uid"], "del");
    assert_eq!(a["response"]["allowed"], true);
    let line = server.wait_log(Duration::from_secs(5), |v| v["uid"] == "del");
    assert_eq!(line["notEvaluated"], "delete");

    // A subresource other than ephemeral containers is not evaluated; ephemeral ones are.
    let mut status_update = review("sub", "UPDATE", Some(&bad), Some(&bad));
    status_update["request"]["subResource"] = json!("status");
    let (_, a) = c.review(&status_update).unwrap();
    assert_eq!(a["response"]["allowed"], true);
    let mut ephemeral = review("eph", "UPDATE", Some(&bad), Some(&good));
    ephemeral["request"]["subResource"] = json!("ephemeralcontainers");
    let (_, a) = c.review(&ephemeral).unwrap();
    assert_eq!(a["response"]["allowed"], false);

    // Dry run: the same verdict, logged as a dry run.
    let mut dry = review("dry", "CREATE", Some(&bad), None);
    dry["request"]["dryRun"] = json!(true);
    let (_, a) = c.review(&dry).unwrap();
    assert_eq!(a["response"]["allowed"], false);
    let line = server.wait_log(Duration::from_secs(5), |v| v["uid"] == "dry");
    assert_eq!(line["dryRun"], true);
    assert_eq!(line["verdict"], "denied");

    // A controller: the pod rules apply to its template (autogen), with its paths.
    let deployment = deployment_of(&bad);
    let (_, a) = c
        .review(&review("deploy", "CREATE", Some(&deployment), None))
        .unwrap();
    assert_eq!(a["response"]["allowed"], false);
    let message = a["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("(at spec.template.spec.containers[0].securityContext.privileged)"),
        "{message}"
    );
    let (_, a) = c
        .review(&review(
            "deploy-ok",
            "CREATE",
            Some(&deployment_of(&good)),
            None,
        ))
        .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
}

#[test]
fn bad_requests_and_probes() {
    let server = stdlib_server("serve-http", &[]);
    let mut c = server.client().unwrap();
    assert_eq!(c.get("/healthz").unwrap().0, 200);
    assert_eq!(c.get("/readyz").unwrap().0, 200);

    // Malformed JSON: 400 with the reason, and the connection still answers.
    let (status, body) = c
        .request("POST", "/validate", b"{\"apiVersion\": ")
        .unwrap();
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("the body is not JSON"));
    let mut c = server.client().unwrap();
    let wrong =
        json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}});
    let (status, body) = c
        .request("POST", "/validate", wrong.to_string().as_bytes())
        .unwrap();
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("admission.k8s.io/v1"));
    let (status, _) = c.request("GET", "/validate", b"").unwrap();
    assert_eq!(status, 405);
    let (status, _) = c.request("GET", "/nothing", b"").unwrap();
    assert_eq!(status, 404);

    // Over 3 MiB: 413 as soon as the headers say so, without reading the body.
    let mut c = server.client().unwrap();
    c.send_raw(b"POST /validate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3145729\r\n\r\n")
        .unwrap();
    let (status, body) = c.read_answer().unwrap();
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("exceeds the limit of 3145728 bytes"));
    // Exactly the limit is read (and refused as JSON, not as size).
    let mut c = server.client().unwrap();
    let big = vec![b' '; 3 << 20];
    let (status, body) = c.request("POST", "/validate", &big).unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    let metrics = String::from_utf8(server.client().unwrap().get("/metrics").unwrap().1).unwrap();
    assert!(
        metrics.contains("rampart_http_errors_total{code=\"400\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rampart_http_errors_total{code=\"413\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rampart_ready 1"));
    assert!(metrics.contains("# TYPE rampart_admission_duration_seconds histogram"));
}

#[test]
fn a_slow_client_is_cut_off_and_others_are_served() {
    let server = stdlib_server("serve-slow", &["--read-timeout", "1"]);
    let mut slow = server.client().unwrap();
    let started = Instant::now();
    // Half a request, then silence.
    slow.send_raw(b"POST /validate HTTP/1.1\r\ncontent-length: 100\r\n\r\n{\"api")
        .unwrap();
    // Meanwhile another client is answered at once.
    let mut other = server.client().unwrap();
    let (_, a) = other
        .review(&review("fast", "CREATE", Some(&good_pod()), None))
        .unwrap();
    assert_eq!(a["response"]["allowed"], true);
    // The slow one gets 408 and its connection closes after about the read timeout.
    let (status, _) = slow.read_answer().unwrap();
    assert_eq!(status, 408);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(slow.read_answer().is_err(), "the connection is closed");
    // A client that never finishes the TLS handshake is dropped as well.
    let mut raw = std::net::TcpStream::connect(server.addr).unwrap();
    raw.write_all(b"\x16\x03\x01").unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    // At most a TLS alert, then the end of the stream.
    let _ = std::io::Read::read_to_end(&mut raw, &mut got);
    assert!(start.elapsed() < Duration::from_secs(4));
    assert!(got.len() < 16 && !got.starts_with(b"HTTP"), "{got:?}");
}

#[test]
fn namespace_selectors_and_the_request_namespace() {
    let server = policy_server("serve-namespaces", POLICY_A, &[]);
    let mut c = server.client().unwrap();
    // The team rule matches namespaces `team-*`: the request's namespace counts when the
    // object has none.
    let mut r = review("ns-1", "CREATE", Some(&pod_named("p", None)), None);
    r["request"]["namespace"] = json!("team-a");
    let (_, a) = c.review(&r).unwrap();
    assert_eq!(answer_rules(&a, "warned-rules"), ["t.team"], "{a}");
    let mut r = review("ns-2", "CREATE", Some(&pod_named("p", None)), None);
    r["request"]["namespace"] = json!("other");
    let (_, a) = c.review(&r).unwrap();
    assert!(a["response"].get("warnings").is_none(), "{a}");
}

#[test]
fn evaluation_errors_fail_closed_unless_told_otherwise() {
    let policy = r#"module t

rule replicas {
  title "At most three replicas"
  match Deployment
  deny when (object.spec.replicas ?? 1) > 3
    at object.spec.replicas
    message "too many replicas"
}
"#;
    let mut deployment = deployment_of(&good_pod());
    // A value of the wrong type: the rule cannot be evaluated.
    deployment["spec"]["replicas"] = json!("many");
    let closed = policy_server("serve-fail-closed", policy, &[]);
    let (_, a) = closed
        .client()
        .unwrap()
        .review(&review("err", "CREATE", Some(&deployment), None))
        .unwrap();
    assert_eq!(a["response"]["allowed"], false, "{a}");
    let message = a["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("rule `t.replicas` could not be evaluated"),
        "{message}"
    );
    assert_eq!(answer_rules(&a, "error-rules"), ["t.replicas"]);

    let open = policy_server("serve-fail-open", policy, &["--failure-policy", "ignore"]);
    let (_, a) = open
        .client()
        .unwrap()
        .review(&review("err", "CREATE", Some(&deployment), None))
        .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
    let warnings = a["response"]["warnings"].as_array().unwrap();
    assert!(
        warnings[0].as_str().unwrap().contains("t.replicas"),
        "{warnings:?}"
    );
}

#[test]
fn audit_mode_allows_and_logs_what_it_would_deny() {
    let server = stdlib_server("serve-audit", &["--enforce=false"]);
    let mut c = server.client().unwrap();
    let (_, a) = c
        .review(&review(
            "audit",
            "CREATE",
            Some(&privileged(good_pod())),
            None,
        ))
        .unwrap();
    assert_eq!(a["response"]["allowed"], true);
    let warnings = a["response"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("audit: pss.baseline.privileged:")),
        "{warnings:?}"
    );
    let line = server.wait_log(Duration::from_secs(5), |v| v["uid"] == "audit");
    assert_eq!(line["verdict"], "audit_denied");
    assert!(line["denied"]
        .as_array()
        .unwrap()
        .contains(&json!("pss.baseline.privileged")));
}

/// Keeps posting reviews of a pod named `web` from several connections; counts failures.
struct Traffic {
    stop: Arc<AtomicBool>,
    failures: Arc<AtomicUsize>,
    sent: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(server: &Server, connections: usize) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicUsize::new(0));
        let threads = (0..connections)
            .map(|i| {
                let (stop, failures, sent) = (stop.clone(), failures.clone(), sent.clone());
                let mut client = server.client().unwrap();
                std::thread::spawn(move || {
                    let pod = pod_named("web", Some("shop"));
                    while !stop.load(Ordering::Relaxed) {
                        let r = review(&format!("t{i}"), "CREATE", Some(&pod), None);
                        match client.review(&r) {
                            Ok((200, a)) if a["response"]["uid"] == json!(format!("t{i}")) => {}
                            _ => {
                                failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Traffic {
            stop,
            failures,
            sent,
            threads,
        }
    }

    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.sent.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

fn web_pod_allowed(c: &mut Client) -> bool {
    let (_, a) = c
        .review(&review(
            "probe",
            "CREATE",
            Some(&pod_named("web", Some("shop"))),
            None,
        ))
        .unwrap();
    a["response"]["allowed"] == true
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn policies_reload_under_traffic_and_a_broken_policy_keeps_the_old_one() {
    let server = policy_server("serve-reload", POLICY_A, &["--watch-interval", "0.2"]);
    let policy = server.dir.join("policies/t.rp");
    let mut c = server.client().unwrap();
    assert!(
        web_pod_allowed(&mut c),
        "policy A allows a plain pod named web"
    );

    let traffic = Traffic::start(&server, 4);
    std::thread::sleep(Duration::from_millis(300));
    replace(&policy, POLICY_B);
    assert!(
        wait_until(Duration::from_secs(60), || !web_pod_allowed(&mut c)),
        "answers switch to policy B: {:#?}",
        server.logs()
    );
    std::thread::sleep(Duration::from_millis(300));
    let (sent, failures) = traffic.finish();
    assert!(
        sent > 10,
        "traffic flowed during the reload ({sent} requests)"
    );
    assert_eq!(failures, 0, "no request failed during the reload");
    let line = server.wait_log(Duration::from_secs(5), |v| v["msg"] == "policies reloaded");
    assert_eq!(line["cause"], "change");
    assert_eq!(line["rules"], 1);

    // A policy that does not compile: logged, and policy B keeps answering.
    replace(
        &policy,
        "module t\n\nrule broken {\n  title \"x\"\n  match Pod\n  deny when object.spec.nope\n}\n",
    );
    let line = server.wait_log(Duration::from_secs(60), |v| {
        v["msg"] == "policy reload failed: the previous policies keep serving"
    });
    assert_eq!(line["level"], "error");
    assert!(!web_pod_allowed(&mut c), "policy B still serves");
    let metrics = String::from_utf8(c.get("/metrics").unwrap().1).unwrap();
    assert!(
        metrics.contains("rampart_reloads_total{what=\"policies\",result=\"failure\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rampart_reloads_total{what=\"policies\",result=\"success\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rampart_rules 1"));
}

#[test]
fn sighup_reloads_at_once() {
    // A watch interval far longer than the test: only the signal can cause the reload.
    let server = policy_server("serve-sighup", POLICY_A, &["--watch-interval", "3600"]);
    let mut c = server.client().unwrap();
    assert!(web_pod_allowed(&mut c));
    replace(&server.dir.join("policies/t.rp"), POLICY_B);
    server.signal("HUP");
    assert!(wait_until(Duration::from_secs(60), || !web_pod_allowed(
        &mut c
    )));
    let line = server.wait_log(Duration::from_secs(5), |v| v["msg"] == "policies reloaded");
    assert_eq!(line["cause"], "signal");
}

#[test]
fn the_certificate_is_rotated_without_a_restart() {
    let server = stdlib_server("serve-rotate", &["--watch-interval", "0.2"]);
    let old = server.client().unwrap();
    let rotated = webhook::Certs::generate("rampart-rotated");
    // Not yet served: a client trusting only the new CA is refused.
    assert!(Client::connect(server.addr, rotated.client_config()).is_err());
    rotated.write(&server.dir);
    server.wait_log(Duration::from_secs(30), |v| {
        v["msg"] == "certificate reloaded"
    });
    let mut fresh =
        Client::connect(server.addr, rotated.client_config()).expect("new certificate served");
    assert_eq!(fresh.get("/healthz").unwrap().0, 200);
    // The old CA no longer verifies new connections; open ones keep working.
    assert!(server.client().is_err());
    let mut old = old;
    assert_eq!(old.get("/healthz").unwrap().0, 200);

    // A key that does not match: logged, the rotated certificate keeps serving. (Writing
    // the two files of the rotation one after the other may already have logged one.)
    let failed = "certificate reload failed: the previous certificate keeps serving";
    let before = server
        .json_logs()
        .iter()
        .filter(|v| v["msg"] == failed)
        .count();
    let other = webhook::Certs::generate("mismatch");
    std::fs::write(server.dir.join("tls.key"), &other.key_pem).unwrap();
    assert!(wait_until(Duration::from_secs(30), || {
        server
            .json_logs()
            .iter()
            .filter(|v| v["msg"] == failed)
            .count()
            > before
    }));
    assert!(Client::connect(server.addr, rotated.client_config()).is_ok());
}

#[test]
fn sigterm_stops_readiness_then_exits() {
    let mut server = stdlib_server("serve-term", &["--shutdown-delay", "1"]);
    let mut c = server.client().unwrap();
    server.signal("TERM");
    server.wait_log(Duration::from_secs(5), |v| v["msg"] == "shutting down");
    assert_eq!(c.get("/readyz").unwrap().0, 503);
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_policy_that_does_not_compile_at_start_is_an_error() {
    let dir = common::scratch("serve-bad-start");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/t.rp"), "module t\nrule r {\n").unwrap();
    let certs = webhook::Certs::generate("x");
    certs.write(&dir);
    let out = std::process::Command::new(binary())
        .current_dir(&dir)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "tls.crt",
            "--tls-key",
            "tls.key",
            "-p",
            "policies",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot load the policies"), "{stderr}");
    // A missing certificate is refused before anything is served.
    let out = std::process::Command::new(binary())
        .current_dir(&dir)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "none.crt",
            "--tls-key",
            "tls.key",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the certificate `none.crt`"));
}

#[test]
fn rules_read_the_request_and_the_old_object() {
    let policy = r#"module t

rule team_fixed {
  title "The team label cannot change"
  match Pod
  deny when request.operation == "UPDATE"
            and object.metadata.labels["team"] != oldObject.metadata.labels["team"]
    message "the team label cannot change"
}

rule no_mallory {
  title "Mallory may only dry-run"
  match Pod
  deny when (request.userInfo.username ?? "") == "mallory" and not (request.dryRun ?? false)
    message "mallory may not change pods"
}
"#;
    let server = policy_server("serve-request", policy, &[]);
    let mut c = server.client().unwrap();
    let mut old = pod_named("p", Some("shop"));
    old["metadata"]["labels"] = json!({"team": "a"});
    let mut new = old.clone();
    let (_, a) = c
        .review(&review("same", "UPDATE", Some(&new), Some(&old)))
        .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
    new["metadata"]["labels"]["team"] = json!("b");
    let (_, a) = c
        .review(&review("changed", "UPDATE", Some(&new), Some(&old)))
        .unwrap();
    assert_eq!(a["response"]["allowed"], false, "{a}");
    assert_eq!(answer_rules(&a, "denied-rules"), ["t.team_fixed"]);
    // The same object as a CREATE: no old object, nothing to compare.
    let (_, a) = c
        .review(&review("created", "CREATE", Some(&new), None))
        .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");

    let mut r = review("mallory", "CREATE", Some(&new), None);
    r["request"]["userInfo"]["username"] = json!("mallory");
    let (_, a) = c.review(&r).unwrap();
    assert_eq!(answer_rules(&a, "denied-rules"), ["t.no_mallory"], "{a}");
    r["request"]["dryRun"] = json!(true);
    let (_, a) = c.review(&r).unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
}
