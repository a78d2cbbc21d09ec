use serde_json::json;

use super::*;

fn path(text: &str) -> Vec<PathSegment> {
    text.split('.')
        .map(|s| match s.parse::<usize>() {
            Ok(i) => PathSegment::Index(i),
            Err(_) => PathSegment::Field(s.to_string()),
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

#[test]
fn set_creates_missing_parents_and_replaces_values() {
    let mut o = json!({"spec": {"containers": [{"name": "a"}]}});
    let fixes = [
        fix(
            FixOp::Set,
            "spec.containers.0.securityContext.privileged",
            Some(json!(false)),
        ),
        fix(FixOp::Set, "spec.containers.0.name", Some(json!("b"))),
    ];
    let done = apply(&mut o, &fixes);
    assert_eq!(done.applied, vec![0, 1]);
    assert_eq!(
        o,
        json!({"spec": {"containers": [{"name": "b", "securityContext": {"privileged": false}}]}})
    );
}

#[test]
fn add_appends_once_and_creates_the_list() {
    let mut o = json!({"c": {"drop": ["NET_RAW"]}, "d": {}});
    let fixes = [
        fix(FixOp::Add, "c.drop", Some(json!("ALL"))),
        fix(FixOp::Add, "c.drop", Some(json!("ALL"))),
        fix(FixOp::Add, "d.caps.drop", Some(json!("ALL"))),
    ];
    apply(&mut o, &fixes);
    assert_eq!(
        o,
        json!({"c": {"drop": ["NET_RAW", "ALL"]}, "d": {"caps": {"drop": ["ALL"]}}})
    );
    // A second application changes nothing.
    let before = o.clone();
    apply(&mut o, &fixes);
    assert_eq!(o, before);
}

#[test]
fn remove_value_and_remove_field() {
    let mut o = json!({"add": ["SYS_ADMIN", "NET_RAW", "SYS_ADMIN"], "hostPID": true});
    let fixes = [
        fix(FixOp::RemoveValue, "add", Some(json!("SYS_ADMIN"))),
        fix(FixOp::Remove, "hostPID", None),
        fix(FixOp::Remove, "absent.field", None),
    ];
    let done = apply(&mut o, &fixes);
    assert_eq!(done.applied, vec![0, 1, 2]);
    assert_eq!(o, json!({"add": ["NET_RAW"]}));
}

#[test]
fn element_removals_run_from_the_end_so_indexes_stay_right() {
    let mut o = json!({"l": ["a", "b", "c", "d"]});
    let fixes = [
        fix(FixOp::Remove, "l.1", None),
        fix(FixOp::Remove, "l.3", None),
        fix(FixOp::Remove, "l.1", None),
    ];
    let done = apply(&mut o, &fixes);
    assert_eq!(done.applied, vec![0, 1, 2]);
    assert_eq!(o, json!({"l": ["a", "c"]}));
}

#[test]
fn disagreeing_sets_are_a_conflict_and_neither_applies() {
    let mut o = json!({"a": 1});
    let fixes = [
        fix(FixOp::Set, "a", Some(json!(2))),
        fix(FixOp::Set, "a", Some(json!(3))),
        fix(FixOp::Set, "b", Some(json!(true))),
    ];
    let done = apply(&mut o, &fixes);
    assert_eq!(done.conflicts.len(), 1);
    assert_eq!(done.conflicts[0].fixes, vec![0, 1]);
    assert_eq!(done.applied, vec![2]);
    assert_eq!(o, json!({"a": 1, "b": true}));
}

#[test]
fn a_path_through_a_scalar_is_not_applied() {
    let mut o = json!({"a": "text"});
    let done = apply(&mut o, &[fix(FixOp::Set, "a.b", Some(json!(1)))]);
    assert_eq!(done.unreachable, vec![0]);
    assert_eq!(o, json!({"a": "text"}));
}
