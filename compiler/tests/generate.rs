//! `generate` on set rules (spec/language.md §4.14): the template the checker lowers into the
//! IR, its serde form (the module metadata), and how the host fills it from a subject.

use rampart_compiler::ir::{PathStep, Template, TemplatePart};
use serde_json::json;

mod common;
use common::compile_source;

const POLICY: &str = r#"module t
rule default_deny {
  title "Namespaces have a default-deny NetworkPolicy"
  match Namespace
  deny when len(objects(NetworkPolicy)) == 0
    message "no NetworkPolicy"
    generate {
      "apiVersion": "networking.k8s.io/v1",
      "kind": "NetworkPolicy",
      "metadata": {
        "name": "default-deny",
        "namespace": "{object.metadata.name}",
        "labels": {"owner": "ns-{object.metadata.labels["team"]}-{object.metadata.generation}"}
      },
      "spec": {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": "dns-tcp"}]}]
      }
    }
  warn when len(objects(ConfigMap)) == 0
    message "no ConfigMap"
}
"#;

fn template() -> Template {
    let program = compile_source(POLICY);
    let rule = &program.rules[0];
    assert!(rule.outcomes[1].generate.is_none());
    rule.outcomes[0]
        .generate
        .clone()
        .expect("the first outcome generates")
}

#[test]
fn the_checker_lowers_constants_and_subject_paths() {
    let t = template();
    assert_eq!(
        t.entry("apiVersion").and_then(Template::const_str),
        Some("networking.k8s.io/v1")
    );
    assert_eq!(
        t.entry("kind").and_then(Template::const_str),
        Some("NetworkPolicy")
    );
    let meta = t.entry("metadata").expect("metadata");
    assert_eq!(
        meta.entry("namespace"),
        Some(&Template::Str(vec![TemplatePart::Subject(vec![
            PathStep::Field("metadata".into()),
            PathStep::Field("name".into()),
        ])]))
    );
    let owner = meta.entry("labels").and_then(|l| l.entry("owner"));
    assert_eq!(
        owner,
        Some(&Template::Str(vec![
            TemplatePart::Text("ns-".into()),
            TemplatePart::Subject(vec![
                PathStep::Field("metadata".into()),
                PathStep::Field("labels".into()),
                PathStep::Key("team".into()),
            ]),
            TemplatePart::Text("-".into()),
            TemplatePart::Subject(vec![
                PathStep::Field("metadata".into()),
                PathStep::Field("generation".into()),
            ]),
        ]))
    );
    // Entries keep their source order.
    let Template::Map(entries) = &t else {
        panic!("a map")
    };
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
}

#[test]
fn the_metadata_form_reads_back_as_the_same_template() {
    let t = template();
    let text = serde_json::to_string(&t).unwrap();
    assert!(
        text.contains(r#"{"subject":[{"field":"metadata"},{"field":"name"}]}"#),
        "{text}"
    );
    let back: Template = serde_json::from_str(&text).unwrap();
    assert_eq!(back, t);
}

#[test]
fn filling_reads_each_path_and_fails_on_an_absent_one() {
    let t = template();
    let subject =
        json!({"metadata": {"name": "team-a", "labels": {"team": "blue"}, "generation": 3}});
    let mut read = |steps: &[PathStep]| {
        let mut v = &subject;
        for s in steps {
            v = match s {
                PathStep::Field(f) | PathStep::Key(f) => v.get(f)?,
                PathStep::Index(i) => v.get(*i as usize)?,
            };
        }
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    };
    let filled = t.fill(&mut read).expect("every path is present");
    assert_eq!(
        filled,
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": "team-a", "labels": {"owner": "ns-blue-3"}},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": "dns-tcp"}]}]
            }
        })
    );
    let mut absent = |steps: &[PathStep]| (steps.len() == 2).then(|| "x".to_string());
    assert_eq!(t.fill(&mut absent), None, "the team label is absent");
}
