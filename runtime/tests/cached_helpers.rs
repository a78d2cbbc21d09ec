//! The per-object cache shares `all_containers` and `image` results between the rules of one
//! object (spec/abi.md "Instance reuse"). Each rule reports, together with the others, exactly
//! what it reports alone in its own module: the same findings on good objects, and its own
//! error when the shared helper fails (an invalid image reference, containers of the wrong
//! type), since a failed helper stores nothing.

use rampart_compiler::schema::Schema;
use rampart_compiler::Source;
use rampart_runtime::eval::{Engine, Evaluation, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, Node};

/// Each rule reads the containers through `all_containers`; the first two parse every image.
const RULES: [(&str, &str); 4] = [
    (
        "latest",
        r#"deny for c in all_containers(object)
    when image(c.image ?? "").tag == "latest"
    at c.image
    message "{c.name}: {image(c.image ?? "").repository} uses latest""#,
    ),
    (
        "hub",
        r#"deny for c in all_containers(object)
    when image(c.image ?? "").registry == "docker.io"
    at c.image
    message "{c.name} pulls from {image(c.image ?? "").registry}""#,
    ),
    (
        "count",
        r#"deny when len(all_containers(object)) > 2
    message "{len(all_containers(object))} containers""#,
    ),
    (
        "named",
        r#"deny for c in all_containers(object)
    when c.name == "a"
    at c.name
    message "container a""#,
    ),
];

fn module(rules: &[(&str, &str)]) -> Policies {
    let mut text = String::from("module t\n");
    for (name, body) in rules {
        text.push_str(&format!(
            "rule {name} {{\n  title \"{name}\"\n  severity low\n  match Pod\n  {body}\n}}\n"
        ));
    }
    let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap();
    let source = Source {
        name: "t.rp".into(),
        text: Ok(text),
    };
    let compiled = rampart_compiler::compile(vec![source], &schema);
    let program = compiled.program.expect("the rules compile");
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("Wasm");
    Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap()
}

fn parse(text: &str) -> Node {
    let loaded = manifest::load(text, &manifest::Limits::default()).unwrap();
    loaded.objects.into_iter().next().unwrap().node
}

const OBJECTS: [&str; 5] = [
    // Good: three containers of the three lists, tags and registries of every kind.
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  initContainers:\n  - name: a\n    image: busybox:latest\n  containers:\n  - name: b\n    image: ghcr.io/org/app:1.2\n  - name: c\n    image: nginx\n  ephemeralContainers:\n  - name: d\n    image: docker.io/library/redis:latest\n",
    // The same containers under a Deployment's template.
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: quay.io/x/y:latest\n      - name: z\n        image: alpine:3\n",
    // An invalid image reference: both image rules fail on it, the others still report.
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: a\n    image: 'UPPER::case'\n  - name: b\n    image: nginx:latest\n  - name: c\n    image: nginx:latest\n",
    // Containers of the wrong type: every rule fails on them.
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: wrong\nspec:\n  containers: 3\n",
    // An image of the wrong type: the image rules fail, the others report.
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: num\nspec:\n  containers:\n  - name: a\n    image: 5\n  - name: b\n  - name: c\n",
];

fn evaluate(policies: &Policies, object: &Node) -> Evaluation {
    policies.evaluate(
        object,
        &ObjectSet::default(),
        &Params::default(),
        &Limits::default(),
    )
}

#[test]
fn rules_sharing_cached_helpers_report_what_each_reports_alone() {
    let together = module(&RULES);
    let alone: Vec<Policies> = RULES.iter().map(|r| module(&[*r])).collect();
    let (mut findings, mut errors) = (0, 0);
    // Twice over, so that the second pass runs in reused instances.
    for text in OBJECTS.iter().chain(OBJECTS.iter()) {
        let object = parse(text);
        let all = evaluate(&together, &object);
        for (k, (name, _)) in RULES.iter().enumerate() {
            let id = format!("t.{name}");
            let one = evaluate(&alone[k], &object);
            let of = |e: &Evaluation| {
                let f: Vec<_> = e
                    .findings
                    .iter()
                    .filter(|f| f.rule_id == id)
                    .cloned()
                    .collect();
                let r: Vec<_> = e
                    .errors
                    .iter()
                    .filter(|r| r.rule_id.as_deref() == Some(&id))
                    .cloned()
                    .collect();
                (f, r)
            };
            assert_eq!(of(&all), of(&one), "rule {name} on\n{text}");
            findings += one.findings.len();
            errors += one.errors.len();
        }
    }
    // And what they report is right: each container's own image, each pod's own containers.
    let messages = |text: &str| -> Vec<String> {
        let e = evaluate(&together, &parse(text));
        let mut m: Vec<String> = e.findings.into_iter().map(|f| f.message).collect();
        m.sort();
        m
    };
    assert_eq!(
        messages(OBJECTS[0]),
        [
            "4 containers",
            "a pulls from docker.io",
            "a: library/busybox uses latest",
            "c pulls from docker.io",
            "container a",
            "d pulls from docker.io",
            "d: library/redis uses latest",
        ]
    );
    assert_eq!(
        messages(OBJECTS[1]),
        [
            "a: x/y uses latest",
            "container a",
            "z pulls from docker.io"
        ]
    );
    // Every kind of outcome occurs: findings, and errors of the image and container reads.
    assert!(findings >= 16, "{findings} findings");
    assert!(errors >= 10, "{errors} errors");
}
