//! The standard library's exported Gatekeeper templates against the gatekeeper-library's own
//! test suites (../shared/corpus/gatekeeper, flattened in `cases.jsonl`).
//!
//! For every suite whose constraint checks what one of our rules checks, our exported Rego,
//! run by regorus as Gatekeeper runs it (Rego v0, the constraint's default parameters), must
//! give the suite's expected verdict on the suite's example objects. Where it does not, the
//! case is listed in `DIFFERENCES` with the reason: a different policy, never a bug. A listed
//! case that starts to agree fails the test too, so the list stays true.
//! The Wasm evaluator must give the same number of findings as the Rego on every case.

mod common;

use rampart_compiler::backend::rego::gatekeeper;
use rampart_runtime::eval::{Engine, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, Node};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/gatekeeper"
);

/// gatekeeper-library test (its constraint) → the rules of ours that check the same thing.
/// The other suites check what no rule of ours checks: fsGroup ranges (`fsgroup`: no Pod
/// Security Standard restricts them) and the `general` templates about ingress, services,
/// probes, labels, annotations, storage classes, replica counts and deprecated APIs.
/// A case is a violation for us when any of them reports a finding.
const MAPPING: &[(&str, &[&str], &str)] = &[
    (
        "allow-privilege-escalation",
        &["pss.restricted.privilege_escalation"],
        "",
    ),
    ("apparmor", &["pss.baseline.apparmor"], ""),
    ("capabilities-baseline", &["pss.baseline.capabilities"], ""),
    (
        "capabilities-restricted",
        &["pss.restricted.capabilities"],
        "",
    ),
    ("flexvolume-drivers", &["pss.restricted.volume_types"], ""),
    ("forbidden-sysctls", &["pss.baseline.sysctls"], ""),
    ("forbidden-sysctls-wildcard", &["pss.baseline.sysctls"], ""),
    ("forbidden-sysctls3", &["pss.baseline.sysctls"], ""),
    (
        "forbidden-sysctls4-empty-allowedSysctls",
        &["pss.baseline.sysctls"],
        "",
    ),
    (
        "forbidden-sysctls5-unspecified-allowedSysctls",
        &["pss.baseline.sysctls"],
        "",
    ),
    ("host-filesystem", &["pss.baseline.host_path_volumes"], ""),
    ("no-host-paths", &["pss.baseline.host_path_volumes"], ""),
    ("host-namespace", &["pss.baseline.host_namespaces"], ""),
    (
        "port-range-with-host-network-allowed",
        &["pss.baseline.host_ports", "pss.baseline.host_namespaces"],
        "",
    ),
    (
        "host-network-forbidden",
        &["pss.baseline.host_ports", "pss.baseline.host_namespaces"],
        "",
    ),
    (
        "port-range-with-host-network-forbidden",
        &["pss.baseline.host_ports", "pss.baseline.host_namespaces"],
        "",
    ),
    (
        "host-probes-lifecycle-disallowed",
        &["pss.baseline.host_probes"],
        "",
    ),
    (
        "host-process-disallowed",
        &["pss.baseline.host_process"],
        "",
    ),
    (
        "privileged-containers-disallowed",
        &["pss.baseline.privileged"],
        "",
    ),
    (
        "default-proc-mount-required",
        &["pss.restricted.proc_mount"],
        "",
    ),
    (
        "require-read-only-root-filesystem",
        &["hardening.read_only_root_fs"],
        "",
    ),
    ("full-wildcard", &["hardening.read_only_root_fs"], ""),
    ("wildcard-prefix", &["hardening.read_only_root_fs"], ""),
    ("default-seccomp-required", &["pss.restricted.seccomp"], ""),
    ("seccomp-baseline", &["pss.baseline.seccomp"], ""),
    ("seccomp-restricted", &["pss.restricted.seccomp"], ""),
    (
        "require-matching-selinux-options",
        &["pss.baseline.selinux"],
        "",
    ),
    (
        "users-and-groups-together",
        &[
            "pss.restricted.run_as_non_root",
            "pss.restricted.run_as_user",
        ],
        "",
    ),
    ("host-path-disallowed", &["pss.restricted.volume_types"], ""),
    (
        "allowed-repos",
        &["images.allowed_registries"],
        r#"{"registries": ["docker.io/openpolicyagent"]}"#,
    ),
    (
        "allowed-reposv2",
        &["images.allowed_registries"],
        r#"{"registries": ["docker.io/openpolicyagent", "myregistry.azurecr.io", "docker.io/mydockerhub", "123456789123.dkr.ecr.eu-west-1.amazonaws.com/postgres"]}"#,
    ),
    (
        "automount-serviceaccount-token",
        &["rbac.no_automount_token"],
        "",
    ),
    ("block-nodeport-services", &["net.no_node_port"], ""),
    ("container-limits", &["resources.require_limits"], ""),
    (
        "container-limits-ignore-cpu",
        &["resources.require_limits"],
        "",
    ),
    ("container-requests", &["resources.require_requests"], ""),
    ("disallow-anonymous", &["rbac.no_system_group_binding"], ""),
    (
        "disallow-authenticated",
        &["rbac.no_system_group_binding"],
        "",
    ),
    ("disallowed-tags", &["images.no_latest_tag"], ""),
    ("allowed-ip", &["net.no_external_ips"], ""),
    (
        "container-image-must-have-digest",
        &["images.require_digest"],
        "",
    ),
];

/// The library's templates skip UPDATE requests, since these pod fields cannot change after
/// creation; our rules judge the object itself, so CI, audit and admission give one verdict.
const UPDATE: &str = "the template skips UPDATE; our rules judge the object, not the request";
/// The constraint exempts images (`exemptImages`); our rules have no per-image exemptions
/// (exclude namespaces or labels instead), so the image is judged like any other.
const EXEMPT_IMAGE: &str = "the constraint exempts the image; our rule exempts none";
/// The constraint allows host networking and host ports in a range; the baseline Pod Security
/// Standard allows neither.
const HOST_PORTS: &str =
    "the constraint allows host ports in 80..9000 and host networking; baseline allows neither";

/// (test, object file name, why our verdict differs from the suite's expectation). Each is a
/// different policy, not a bug.
const DIFFERENCES: &[(&str, &str, &str)] = &[
    ("allow-privilege-escalation", "update.yaml", UPDATE),
    ("allow-privilege-escalation", "example_allowed_exempt.yaml", EXEMPT_IMAGE),
    (
        "apparmor",
        "example_allowed_override.yaml",
        "the pod-level profile is Unconfined; baseline forbids it even when every container overrides it, as upstream's check does",
    ),
    ("capabilities-baseline", "update.yaml", UPDATE),
    ("capabilities-restricted", "update.yaml", UPDATE),
    (
        "flexvolume-drivers",
        "example_allowed.yaml",
        "the constraint allows listed flexVolume drivers; restricted allows no flexVolume",
    ),
    ("flexvolume-drivers", "update.yaml", UPDATE),
    ("forbidden-sysctls", "update.yaml", UPDATE),
    (
        "forbidden-sysctls-wildcard",
        "example_allowed.yaml",
        "the constraint forbids every sysctl; net.ipv4.ip_local_port_range is in baseline's safe set",
    ),
    ("forbidden-sysctls-wildcard", "update.yaml", UPDATE),
    ("forbidden-sysctls3", "update.yaml", UPDATE),
    (
        "forbidden-sysctls4-empty-allowedSysctls",
        "example_allowed.yaml",
        "an empty allowedSysctls forbids every sysctl; net.ipv4.ip_local_port_range is in baseline's safe set",
    ),
    ("forbidden-sysctls4-empty-allowedSysctls", "update.yaml", UPDATE),
    ("forbidden-sysctls5-unspecified-allowedSysctls", "update.yaml", UPDATE),
    (
        "host-filesystem",
        "example_allowed.yaml",
        "the constraint allows read-only hostPath volumes under /foo; baseline forbids every hostPath volume",
    ),
    ("host-filesystem", "update.yaml", UPDATE),
    ("host-namespace", "update.yaml", UPDATE),
    ("port-range-with-host-network-allowed", "example_allowed_in_range.yaml", HOST_PORTS),
    ("port-range-with-host-network-allowed", "update.yaml", UPDATE),
    ("port-range-with-host-network-allowed", "example_allowed_no_ports.yaml", HOST_PORTS),
    (
        "port-range-with-host-network-allowed",
        "example_allowed_out_of_range_exempted.yaml",
        EXEMPT_IMAGE,
    ),
    ("port-range-with-host-network-forbidden", "example_allowed_in_range.yaml", HOST_PORTS),
    ("port-range-with-host-network-forbidden", "update.yaml", UPDATE),
    ("host-probes-lifecycle-disallowed", "update.yaml", UPDATE),
    ("host-process-disallowed", "update.yaml", UPDATE),
    ("privileged-containers-disallowed", "update.yaml", UPDATE),
    ("privileged-containers-disallowed", "example_allowed_exempt.yaml", EXEMPT_IMAGE),
    ("default-proc-mount-required", "update.yaml", UPDATE),
    ("default-proc-mount-required", "example_allowed_exempt_image.yaml", EXEMPT_IMAGE),
    ("require-read-only-root-filesystem", "update.yaml", UPDATE),
    ("require-read-only-root-filesystem", "example_allowed_exempted.yaml", EXEMPT_IMAGE),
    ("full-wildcard", "example_disallowed.yaml", EXEMPT_IMAGE),
    ("wildcard-prefix", "example_allowed_safe_prefix.yaml", EXEMPT_IMAGE),
    (
        "default-seccomp-required",
        "example_allowed.yaml",
        "the profile is set by the seccomp annotation, which Kubernetes 1.27 stopped reading; restricted requires securityContext.seccompProfile",
    ),
    (
        "default-seccomp-required",
        "example_allowed2.yaml",
        "the profile is set by the pod's seccomp annotation, which Kubernetes 1.27 stopped reading; restricted requires securityContext.seccompProfile",
    ),
    ("default-seccomp-required", "example_allowed_exempt_image.yaml", EXEMPT_IMAGE),
    (
        "default-seccomp-required",
        "example_disallowed_localhost.yaml",
        "the constraint allows one named Localhost profile; restricted allows any Localhost profile",
    ),
    ("seccomp-baseline", "example_allowed_exempt_image.yaml", EXEMPT_IMAGE),
    ("seccomp-restricted", "example_allowed_exempt_image.yaml", EXEMPT_IMAGE),
    ("require-matching-selinux-options", "update.yaml", UPDATE),
    ("users-and-groups-together", "update.yaml", UPDATE),
    ("host-path-disallowed", "update.yaml", UPDATE),
    (
        "allowed-reposv2",
        "example_allowed_images.yaml",
        "the constraint allows one image by name and tag (ubuntu:20.14); our entries name registries and repositories",
    ),
    (
        "allowed-reposv2",
        "example_disallowed_images.yaml",
        "the constraint allows one image by name and tag (ubuntu:20.14), so it counts 2 violations to our 3",
    ),
    ("automount-serviceaccount-token", "update.yaml", UPDATE),
    (
        "container-limits",
        "example_disallowed.yaml",
        "the constraint caps the limits (memory 1Gi); our rule requires limits to be set, and they are",
    ),
    (
        "container-limits-ignore-cpu",
        "example_allowed.yaml",
        "the constraint ignores CPU (cpu: \"-1\"); our rule requires a CPU limit too",
    ),
    (
        "container-requests",
        "example_disallowed.yaml",
        "the constraint caps the requests (memory 1Gi); our rule requires requests to be set, and they are",
    ),
    (
        "disallow-anonymous",
        "example_allowed.yaml",
        "the constraint allows binding system:authenticated to the roles in allowedRoles; our rule allows no such binding",
    ),
    (
        "disallowed-tags",
        "example_exempt_image_w_disallowed_tag.yaml",
        EXEMPT_IMAGE,
    ),
    (
        "allowed-ip",
        "example_allowed.yaml",
        "the constraint allows listed external IPs; our rule forbids externalIPs altogether (CVE-2020-8554)",
    ),
];

/// One case of a suite.
struct Case {
    test: String,
    case: String,
    file: String,
    /// The object, the admission operation and, for AdmissionReview files, the old object.
    object: Node,
    operation: String,
    /// Whether the suite expects at least one violation, and the exact count when it says.
    expect: bool,
    count: Option<usize>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join("cases.jsonl"))
        .expect("../shared/corpus/gatekeeper/cases.jsonl is there");
    let mut out = Vec::new();
    for line in text.lines() {
        let c: Json = serde_json::from_str(line).expect("cases.jsonl is JSON lines");
        let test = c["test"].as_str().unwrap().to_string();
        if !MAPPING.iter().any(|(t, _, _)| *t == test) {
            continue;
        }
        let path = Path::new(CORPUS).join(c["object_file"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        let loaded = manifest::load_bytes(&bytes, &manifest::Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert_eq!(loaded.objects.len(), 1, "{}: one object", path.display());
        let node = loaded.objects.into_iter().next().unwrap().node;
        let (object, operation) =
            if node.get("kind").and_then(Node::as_str) == Some("AdmissionReview") {
                let request = node
                    .get("request")
                    .expect("an AdmissionReview has a request");
                (
                    request.get("object").expect("with an object").clone(),
                    request
                        .get("operation")
                        .and_then(Node::as_str)
                        .unwrap_or("CREATE")
                        .to_string(),
                )
            } else {
                (node, "CREATE".to_string())
            };
        let count = c["expected_violations"].as_u64().map(|n| n as usize);
        out.push(Case {
            test,
            case: c["case"].as_str().unwrap().to_string(),
            file: path.file_name().unwrap().to_string_lossy().into_owned(),
            object,
            operation,
            expect: count.map_or_else(|| c["expect"] == "yes", |n| n > 0),
            count,
        });
    }
    out
}

/// Rule id → (Rego package, engine loaded with the rule's Rego, the Constraint's parameters).
fn exported_engines() -> BTreeMap<String, (String, regorus::Engine, Json)> {
    use serde::Deserialize;
    let files = gatekeeper::export(&common::stdlib())
        .expect("the standard library exports")
        .files;
    let mut rego = BTreeMap::new();
    let mut params = BTreeMap::new();
    for f in &files {
        for d in serde_yaml_ng::Deserializer::from_str(&f.contents) {
            let d = Json::deserialize(d).unwrap();
            let Some(id) = d["metadata"]["annotations"]["rampart.dev/rule"].as_str() else {
                continue;
            };
            if d["kind"] == "ConstraintTemplate" {
                rego.insert(
                    id.to_string(),
                    d["spec"]["targets"][0]["rego"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            } else if d["apiVersion"] == "constraints.gatekeeper.sh/v1beta1" {
                params.insert(id.to_string(), d["spec"]["parameters"].clone());
            }
        }
    }
    rego.into_iter()
        .map(|(id, text)| {
            let package = text
                .lines()
                .find_map(|l| l.strip_prefix("package "))
                .unwrap()
                .to_string();
            let mut e = regorus::Engine::new();
            // Gatekeeper parses templates as Rego v0.
            e.set_rego_v0(true);
            e.add_policy(format!("{id}.rego"), text).unwrap();
            let p = params.remove(&id).unwrap_or(Json::Null);
            (id, (package, e, p))
        })
        .collect()
}

/// The number of violations the exported Rego gives for `case`, with `overrides` over the
/// Constraint's parameters.
fn rego_findings(
    engine: &(String, regorus::Engine, Json),
    case: &Case,
    overrides: &serde_json::Map<String, Json>,
) -> usize {
    let (package, engine, params) = engine;
    let object = case.object.to_json();
    let api = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let mut input = json!({"review": {
        "object": object,
        "kind": {"group": group, "version": version, "kind": object["kind"]},
        "name": object["metadata"]["name"],
        "operation": case.operation,
    }});
    let mut parameters = params.clone();
    for (k, v) in overrides {
        parameters[k] = v.clone();
    }
    if !parameters.is_null() {
        input["parameters"] = parameters;
    }
    let mut e = engine.clone();
    e.set_input(regorus::Value::from(input));
    let v = e
        .eval_rule(format!("data.{package}.violation"))
        .unwrap_or_else(|err| panic!("{package} errors on {}: {err}", case.file));
    v.as_set().map_or(0, |s| s.len())
}

#[test]
fn exported_templates_meet_the_library_suites() {
    let program = common::stdlib();
    let engines = exported_engines();
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("wasm compiles");
    let policies = Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap();
    let cases = cases();
    let mut seen = BTreeSet::new();
    let (mut agree, mut explained) = (0, 0);
    let mut problems = Vec::new();
    for case in &cases {
        assert!(
            seen.insert((case.test.clone(), case.file.clone())),
            "{} {} is one case",
            case.test,
            case.file
        );
        let (_, rules, overrides) = MAPPING.iter().find(|(t, _, _)| *t == case.test).unwrap();
        let overrides: serde_json::Map<String, Json> = if overrides.is_empty() {
            Default::default()
        } else {
            serde_json::from_str(overrides).expect("parameters are a JSON object")
        };
        let mut params = Params::default();
        for rule in *rules {
            for (k, v) in &overrides {
                params.set(rule, k, v.clone());
            }
        }
        let findings = policies
            .evaluate(
                &case.object,
                &ObjectSet::default(),
                &params,
                &Limits::default(),
            )
            .into_result()
            .expect("the Wasm evaluator runs");
        let mut total = 0;
        for rule in *rules {
            let engine = engines
                .get(*rule)
                .unwrap_or_else(|| panic!("`{rule}` is exported"));
            let n = rego_findings(engine, case, &overrides);
            let wasm = findings.iter().filter(|f| f.rule_id == *rule).count();
            assert_eq!(
                n, wasm,
                "{rule} on {} {}: the Rego and the Wasm evaluator disagree",
                case.test, case.file
            );
            total += n;
        }
        let got = total > 0;
        let meets = got == case.expect && case.count.is_none_or(|n| n == total);
        let difference = DIFFERENCES
            .iter()
            .find(|(t, f, _)| *t == case.test && *f == case.file);
        if std::env::var_os("GATEKEEPER_LIBRARY_PRINT").is_some() {
            eprintln!(
                "{:<45} {:<55} expect {:<5} {:?} got {total:<2} {}",
                case.test,
                case.file,
                case.expect,
                case.count,
                if meets { "ok" } else { "DIFFERS" }
            );
        }
        match (meets, difference) {
            (true, None) => agree += 1,
            (false, Some(_)) => explained += 1,
            (true, Some(_)) => problems.push(format!(
                "{} {} ({}): listed as a difference but now meets the suite",
                case.test, case.file, case.case
            )),
            (false, None) => problems.push(format!(
                "{} {} ({}): expected {} violation(s){}, got {total}",
                case.test,
                case.file,
                case.case,
                if case.expect { "some" } else { "no" },
                case.count
                    .map(|n| format!(" (exactly {n})"))
                    .unwrap_or_default()
            )),
        }
    }
    for (t, f, _) in DIFFERENCES {
        if !seen.contains(&(t.to_string(), f.to_string())) {
            problems.push(format!("{t} {f}: listed as a difference but not a case"));
        }
    }
    eprintln!(
        "gatekeeper-library suites: {} cases of {} suites; {agree} give the suite's verdict, {explained} differ by design",
        cases.len(),
        MAPPING.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cases.len() > 150, "the mapped suites have their cases");
}
