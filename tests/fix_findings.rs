//! The evaluator makes each finding's fixes concrete (spec/abi.md "Fixes"): binder-rooted
//! fixes at the element's path, subject-rooted ones at the subject's (through the pod
//! template under autogen), parameters at their values; and applying them makes the
//! outcome stop firing.

use rampart_compiler::schema::Schema;
use rampart_compiler::{compile, Source};
use rampart_runtime::eval::{Engine, Finding, ObjectSet, Params, Policies};
use rampart_runtime::fix::{self, FixOp};
use rampart_runtime::manifest::{self, PathSegment};

const POLICY: &str = r#"module demo

rule caps {
  title "Containers drop all capabilities"
  match Pod

  deny for c in all_containers(object)
    when "ALL" not in (c.securityContext.capabilities.drop ?? [])
    at c.securityContext.capabilities.drop
    message "container `{c.name}` keeps its capabilities"
    fix add c.securityContext.capabilities.drop, "ALL"
}

rule host_pid {
  title "No host PID"
  match Pod
  param allowed: bool = false

  deny when object.spec.hostPID ?? false
    at object.spec.hostPID
    message "host PID"
    fix set object.spec.hostPID = allowed
}
"#;

fn policies() -> Policies {
    let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap();
    let compiled = compile(
        vec![Source {
            name: "demo.rp".into(),
            text: Ok(POLICY.into()),
        }],
        &schema,
    );
    let program = compiled.program.expect("the policy compiles");
    let wasm = rampart_compiler::backend::wasm::compile(&program).unwrap();
    Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap()
}

fn findings(p: &Policies, yaml: &str) -> Vec<Finding> {
    let loaded = manifest::load_bytes(yaml.as_bytes(), &Default::default()).unwrap();
    let node = &loaded.objects[0].node;
    p.evaluate(
        node,
        &ObjectSet::default(),
        &Params::default(),
        &Default::default(),
    )
    .into_result()
    .unwrap()
}

fn field(s: &str) -> PathSegment {
    PathSegment::Field(s.into())
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      hostPID: true
      containers:
      - name: a
        securityContext: {capabilities: {drop: [NET_RAW]}}
      - name: b
        securityContext: {capabilities: {drop: [ALL]}}
      initContainers:
      - name: init
";

#[test]
fn fixes_are_made_concrete_per_finding_through_the_pod_template() {
    let p = policies();
    let found = findings(&p, DEPLOYMENT);
    let caps: Vec<&Finding> = found.iter().filter(|f| f.rule_id == "demo.caps").collect();
    assert_eq!(caps.len(), 2, "{found:#?}");
    let template = [field("spec"), field("template"), field("spec")];
    let drop = |list: &str, i: usize| {
        let mut p = template.to_vec();
        p.extend([
            field(list),
            PathSegment::Index(i),
            field("securityContext"),
            field("capabilities"),
            field("drop"),
        ]);
        p
    };
    let paths: Vec<&Vec<PathSegment>> = caps.iter().map(|f| &f.fixes[0].path).collect();
    assert!(paths.contains(&&drop("containers", 0)), "{paths:?}");
    assert!(paths.contains(&&drop("initContainers", 0)), "{paths:?}");
    for f in &caps {
        assert_eq!(f.fixes[0].op, FixOp::Add);
        assert_eq!(f.fixes[0].value, Some(serde_json::json!("ALL")));
        assert!(!f.fixes[0].review);
    }
    let pid = found.iter().find(|f| f.rule_id == "demo.host_pid").unwrap();
    let mut path = template.to_vec();
    path.push(field("hostPID"));
    assert_eq!(pid.fixes[0].path, path);
    // The parameter's value (its default here).
    assert_eq!(pid.fixes[0].value, Some(serde_json::json!(false)));
    assert_eq!(
        pid.fixes[0].describe(),
        "set spec.template.spec.hostPID = false"
    );
}

#[test]
fn applying_the_fixes_makes_the_outcomes_stop_firing() {
    let p = policies();
    let found = findings(&p, DEPLOYMENT);
    let fixes: Vec<fix::Fix> = found.iter().flat_map(|f| f.fixes.clone()).collect();
    let loaded = manifest::load_bytes(DEPLOYMENT.as_bytes(), &Default::default()).unwrap();
    let mut object = loaded.objects[0].node.to_json();
    let done = fix::apply(&mut object, &fixes);
    assert_eq!(done.applied.len(), fixes.len());
    let fixed = serde_json::to_string(&object).unwrap();
    assert_eq!(findings(&p, &fixed), Vec::new());
    // The other values are kept.
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
            ["drop"],
        serde_json::json!(["NET_RAW", "ALL"])
    );
}
