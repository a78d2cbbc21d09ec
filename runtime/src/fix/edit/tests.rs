use serde_json::json;

use super::*;
use crate::fix::FixOp;
use crate::manifest::PathSegment;

/// `a.b[0].c` as path segments (digits are indexes).
fn path(p: &str) -> Vec<PathSegment> {
    p.split('.')
        .flat_map(|part| {
            let mut out = Vec::new();
            let mut pieces = part.split('[');
            out.push(PathSegment::Field(pieces.next().unwrap().to_owned()));
            for idx in pieces {
                out.push(PathSegment::Index(
                    idx.trim_end_matches(']').parse().unwrap(),
                ));
            }
            out
        })
        .collect()
}

fn fix(op: FixOp, p: &str, value: Option<Value>) -> Fix {
    Fix {
        review: false,
        op,
        path: path(p),
        value,
    }
}

fn set(p: &str, v: Value) -> Fix {
    fix(FixOp::Set, p, Some(v))
}

fn run(text: &str, fixes: Vec<Fix>) -> Result<String, Refusal> {
    let target = Target {
        doc_index: 0,
        item_index: None,
        fixes,
    };
    edit(text, &[target], &Limits::default()).map(|e| e.text)
}

const POD: &str = "\
# a pod
apiVersion: v1
kind: Pod
metadata:
  name: web # the name
spec:
  hostPID: true   # why
  containers:
  - name: app
    image: 'nginx'
    securityContext:
      capabilities:
        drop: [NET_RAW]
  # the sidecar
  - name: side
    image: busybox
";

#[test]
fn a_scalar_is_replaced_in_place() {
    let out = run(POD, vec![set("spec.hostPID", json!(false))]).unwrap();
    assert_eq!(
        out,
        POD.replace("hostPID: true   # why", "hostPID: false   # why")
    );
}

#[test]
fn a_quoted_string_keeps_its_quotes() {
    let out = run(
        POD,
        vec![set("spec.containers[0].image", json!("nginx:1.27"))],
    )
    .unwrap();
    assert_eq!(out, POD.replace("'nginx'", "'nginx:1.27'"));
}

#[test]
fn a_missing_key_is_a_new_line_with_its_missing_parents() {
    let out = run(
        POD,
        vec![set(
            "spec.containers[1].securityContext.runAsNonRoot",
            json!(true),
        )],
    )
    .unwrap();
    assert_eq!(
        out,
        format!("{POD}    securityContext:\n      runAsNonRoot: true\n")
    );
    let out = run(POD, vec![set("spec.hostNetwork", json!(false))]).unwrap();
    assert!(out.contains("  hostPID: true   # why\n  containers:"));
    assert!(
        out.ends_with("    image: busybox\n  hostNetwork: false\n"),
        "{out}"
    );
}

#[test]
fn an_element_is_appended_to_a_one_line_flow_sequence() {
    let fixes = vec![fix(
        FixOp::Add,
        "spec.containers[0].securityContext.capabilities.drop",
        Some(json!("ALL")),
    )];
    let out = run(POD, fixes).unwrap();
    assert_eq!(out, POD.replace("[NET_RAW]", "[NET_RAW, ALL]"));
}

#[test]
fn an_element_is_appended_to_a_block_sequence() {
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    args:\n      - x # first\n";
    let fixes = vec![fix(
        FixOp::Add,
        "spec.containers[0].args",
        Some(json!("y z")),
    )];
    let out = run(text, fixes).unwrap();
    assert_eq!(out, format!("{text}      - y z\n"));
}

#[test]
fn removals_delete_lines_and_keep_comments_above() {
    let out = run(POD, vec![fix(FixOp::Remove, "spec.hostPID", None)]).unwrap();
    assert_eq!(out, POD.replace("  hostPID: true   # why\n", ""));
    let out = run(POD, vec![fix(FixOp::Remove, "spec.containers[1]", None)]).unwrap();
    assert_eq!(out, POD.replace("  - name: side\n    image: busybox\n", ""));
    assert!(out.contains("# the sidecar"));
    let fixes = vec![fix(
        FixOp::RemoveValue,
        "spec.containers[0].securityContext.capabilities.drop",
        Some(json!("NET_RAW")),
    )];
    let out = run(POD, fixes).unwrap();
    assert_eq!(out, POD.replace("[NET_RAW]", "[]"));
}

#[test]
fn the_first_entry_of_an_item_gives_its_line_to_the_next() {
    let out = run(
        POD,
        vec![fix(FixOp::Remove, "spec.containers[1].name", None)],
    )
    .unwrap();
    assert_eq!(
        out,
        POD.replace("  - name: side\n    image: busybox", "  - image: busybox")
    );
}

#[test]
fn an_empty_or_null_value_becomes_block_lines() {
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  securityContext: {} # none\n  hostIPC:\n";
    let out = run(
        text,
        vec![set("spec.securityContext.runAsNonRoot", json!(true))],
    )
    .unwrap();
    assert_eq!(
        out,
        "apiVersion: v1\nkind: Pod\nspec:\n  securityContext: # none\n    runAsNonRoot: true\n  hostIPC:\n"
    );
    let out = run(text, vec![set("spec.hostIPC", json!(false))]).unwrap();
    assert!(out.ends_with("  hostIPC: false\n"), "{out}");
}

#[test]
fn crlf_and_other_documents_are_kept() {
    let text =
        "kind: A\r\napiVersion: v1\r\n---\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nspec:\r\n  a: 1\r\n";
    let target = Target {
        doc_index: 1,
        item_index: None,
        fixes: vec![set("spec.b", json!("x"))],
    };
    let out = edit(text, &[target], &Limits::default()).unwrap();
    assert_eq!(out.text, format!("{text}  b: x\r\n"));
}

#[test]
fn strings_that_would_read_as_other_values_are_quoted() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    a: b\n";
    let out = run(text, vec![set("metadata.labels.x", json!("true"))]).unwrap();
    assert!(out.ends_with("    x: \"true\"\n"), "{out}");
}

fn refused(text: &str, fixes: Vec<Fix>) -> Refusal {
    run(text, fixes).expect_err("the edit is refused")
}

#[test]
fn anchors_over_the_edited_value_are_refused_with_the_line() {
    let text = "apiVersion: v1\nkind: Pod\nspec: &s\n  hostPID: true\n";
    let r = refused(text, vec![set("spec.hostPID", json!(false))]);
    assert_eq!(r.line, 3, "{r}");
    assert!(r.message.contains("anchor"), "{r}");
}

#[test]
fn multi_line_flow_collections_are_refused() {
    let text = "apiVersion: v1\nkind: Pod\nspec: {\n  hostPID: true}\n";
    let r = refused(text, vec![set("spec.hostPID", json!(false))]);
    assert_eq!(r.line, 3);
    assert!(
        r.message.contains("flow collection over several lines"),
        "{r}"
    );
}

#[test]
fn json_files_are_refused() {
    let text = "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n \"spec\": {\"hostPID\": true}}\n";
    let r = refused(text, vec![set("spec.hostPID", json!(false))]);
    assert!(r.message.contains("JSON"), "{r}");
}

#[test]
fn block_scalars_are_refused() {
    let text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: |\n    x\n";
    let r = refused(text, vec![set("data.a", json!("y"))]);
    assert_eq!(r.line, 4);
    assert!(r.message.contains("block scalar"), "{r}");
}

#[test]
fn templated_lines_are_refused() {
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  hostPID: true # {{ .Values.x }}\n";
    let r = refused(text, vec![set("spec.hostPID", json!(false))]);
    assert_eq!(r.line, 4);
    assert!(r.message.contains("templated"), "{r}");
}

#[test]
fn nothing_to_change_leaves_the_text() {
    let out = edit(
        POD,
        &[Target {
            doc_index: 0,
            item_index: None,
            fixes: vec![set("spec.hostPID", json!(true))],
        }],
        &Limits::default(),
    )
    .unwrap();
    assert!(!out.changed);
    assert_eq!(out.text, POD);
}

#[test]
fn a_flow_mapping_whose_entries_are_all_replaced_stays_one_line() {
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  securityContext: {privileged: true} # x\n";
    let fixes = vec![
        fix(FixOp::Remove, "spec.securityContext.privileged", None),
        set("spec.securityContext.runAsNonRoot", json!(true)),
    ];
    let out = run(text, fixes).unwrap();
    assert_eq!(
        out,
        text.replace("{privileged: true}", "{runAsNonRoot: true}")
    );
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  x: [a, b, c]\n";
    let fixes = vec![
        fix(FixOp::RemoveValue, "spec.x", Some(json!("b"))),
        fix(FixOp::RemoveValue, "spec.x", Some(json!("c"))),
        fix(FixOp::Add, "spec.x", Some(json!("d"))),
    ];
    let out = run(text, fixes).unwrap();
    assert_eq!(out, text.replace("[a, b, c]", "[a, d]"));
}

#[test]
fn merge_keys_in_the_edited_mapping_are_refused() {
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  <<: {hostIPC: true}\n  hostPID: true\n";
    let r = refused(text, vec![set("spec.hostPID", json!(false))]);
    assert_eq!(r.line, 4);
    assert!(r.message.contains("merge key"), "{r}");
}

#[test]
fn a_key_with_dots_and_slashes_is_written_plain_and_items_of_lists_are_found() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: a\n";
    let target = Target {
        doc_index: 0,
        item_index: Some(0),
        fixes: vec![Fix {
            review: false,
            op: FixOp::Set,
            path: vec![
                PathSegment::Field("metadata".into()),
                PathSegment::Field("labels".into()),
                PathSegment::Key("pod-security.kubernetes.io/enforce".into()),
            ],
            value: Some(json!("restricted")),
        }],
    };
    let out = edit(text, &[target], &Limits::default()).unwrap();
    assert_eq!(
        out.text,
        format!("{text}    labels:\n      pod-security.kubernetes.io/enforce: restricted\n")
    );
}
