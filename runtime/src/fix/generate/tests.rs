use rampart_compiler::ir::{PathStep, Template, TemplatePart};
use serde_json::json;

use super::*;
use crate::manifest::{load, Limits};

fn node(yaml: &str) -> Node {
    load(yaml, &Limits::default()).expect("loads").objects[0]
        .node
        .clone()
}

fn subject(path: &[&str]) -> TemplatePart {
    TemplatePart::Subject(
        path.iter()
            .map(|f| PathStep::Field(f.to_string()))
            .collect(),
    )
}

fn template(name: Vec<TemplatePart>) -> Template {
    Template::Map(vec![
        ("apiVersion".into(), Template::Const(json!("v1"))),
        ("kind".into(), Template::Const(json!("ConfigMap"))),
        (
            "metadata".into(),
            Template::Map(vec![("name".into(), Template::Str(name))]),
        ),
        (
            "data".into(),
            Template::List(vec![
                Template::Const(json!(1)),
                Template::Const(json!(null)),
            ]),
        ),
    ])
}

const NAMESPACE: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  generation: 7\n  labels:\n    flag: yes\n    ratio: 1.5\n";

#[test]
fn scalars_of_the_subject_are_printed_into_the_strings() {
    let ns = node(NAMESPACE);
    let t = template(vec![
        subject(&["metadata", "name"]),
        TemplatePart::Text("-".into()),
        subject(&["metadata", "generation"]),
        TemplatePart::Text("-".into()),
        TemplatePart::Subject(vec![
            PathStep::Field("metadata".into()),
            PathStep::Field("labels".into()),
            PathStep::Key("flag".into()),
        ]),
        TemplatePart::Text("-".into()),
        TemplatePart::Subject(vec![
            PathStep::Field("metadata".into()),
            PathStep::Field("labels".into()),
            PathStep::Key("ratio".into()),
        ]),
    ]);
    assert_eq!(
        fill(&t, &ns, &[]),
        Some(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "team-a-7-true-1.5"},
            "data": [1, null]
        }))
    );
}

#[test]
fn an_absent_or_non_scalar_path_generates_nothing() {
    let ns = node(NAMESPACE);
    assert_eq!(
        fill(
            &template(vec![subject(&["metadata", "namespace"])]),
            &ns,
            &[]
        ),
        None
    );
    assert_eq!(
        fill(&template(vec![subject(&["metadata", "labels"])]), &ns, &[]),
        None
    );
    let missing_subject = [PathSegment::Field("spec".into())];
    assert_eq!(
        fill(
            &template(vec![subject(&["metadata", "name"])]),
            &ns,
            &missing_subject
        ),
        None
    );
}

#[test]
fn under_autogen_paths_read_the_template_and_the_namespace_the_controller() {
    let deployment = node(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    metadata:\n      name: tpl\n      namespace: other\n",
    );
    let at = [
        PathSegment::Field("spec".into()),
        PathSegment::Field("template".into()),
    ];
    let t = template(vec![
        subject(&["metadata", "name"]),
        TemplatePart::Text("@".into()),
        subject(&["metadata", "namespace"]),
    ]);
    let filled = fill(&t, &deployment, &at).expect("both are present");
    assert_eq!(filled["metadata"]["name"], json!("tpl@shop"));
}
