//! The forms authors write first (spec/language.md §1, §2, §4.2, §4.5) compile and mean what
//! the spec says on the Wasm evaluator, the reference the Rego and CEL exports are compared
//! with (`written_forms_agree_with_wasm` in gatekeeper.rs and cel.rs).

use rampart_runtime::eval::{Action, Engine, Limits, ObjectSet, Params, Policies};

mod common;
use common::{compile_source, load_objects, FORMS, FORMS_OBJECTS};

/// Every finding as `object rule action: message`, in evaluation order.
fn findings() -> Vec<String> {
    let program = compile_source(FORMS);
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("wasm compiles");
    let engine = Engine::new().expect("engine");
    let policies = Policies::load(&engine, &wasm, None).expect("loads");
    let mut out = Vec::new();
    for (name, node) in load_objects("forms", FORMS_OBJECTS.as_bytes()) {
        let found = policies
            .evaluate(
                &node,
                &ObjectSet::default(),
                &Params::default(),
                &Limits::default(),
            )
            .into_result()
            .expect("evaluates");
        for f in found {
            let action = match f.action {
                Action::Deny => "deny",
                Action::Warn => "warn",
            };
            let rule = f.rule_id.trim_start_matches("t.forms.");
            out.push(format!("{name} {rule} {action}: {}", f.message));
        }
    }
    out
}

fn of<'a>(all: &'a [String], prefix: &str) -> Vec<&'a str> {
    all.iter()
        .filter(|f| f.starts_with(prefix))
        .map(|f| f.as_str())
        .collect()
}

#[test]
fn quantifier_after_not_and_and() {
    let all = findings();
    assert_eq!(
        of(&all, "forms Pod/p1 registries"),
        [
            "forms Pod/p1 registries deny: container `b` image `nginx` is from an unknown registry",
            "forms Pod/p1 registries warn: every container of p1 is named",
        ]
    );
    assert_eq!(
        of(&all, "forms Deployment/d1 registries"),
        ["forms Deployment/d1 registries deny: container `web` image `quay.io/web:2` is from an unknown registry"]
    );
    assert!(of(&all, "forms Pod/p2 registries").is_empty());
}

#[test]
fn keywords_as_names() {
    let all = findings();
    // `for rule in …` and `any match in …`: the first rule grants `*`, the second secrets.
    assert_eq!(of(&all, "forms Role/r1 keyword_names deny").len(), 2);
    assert!(of(&all, "forms ClusterRole/cr1").is_empty());
}

#[test]
fn outcome_let_and_message_concatenation() {
    let all = findings();
    assert_eq!(
        of(&all, "forms Pod/p1 outcome_let"),
        ["forms Pod/p1 outcome_let deny: container `b` pulls from docker.io (repository `library/nginx`)"]
    );
    assert_eq!(
        of(&all, "forms Deployment/d1 outcome_let"),
        ["forms Deployment/d1 outcome_let deny: container `web` pulls from quay.io (repository `web`)"]
    );
}

#[test]
fn optional_values_compare_absent_equal_to_absent_only() {
    let all = findings();
    // rb1 is in `prod`: sa1 (prod) matches; sa2 (no namespace) and u (other) differ.
    assert_eq!(
        of(&all, "forms RoleBinding/rb1 optional_compare"),
        [
            "forms RoleBinding/rb1 optional_compare deny: service account sa1 of the binding's namespace",
            "forms RoleBinding/rb1 optional_compare warn: subject sa2 from another namespace",
            "forms RoleBinding/rb1 optional_compare warn: subject u from another namespace",
        ]
    );
    // rb2 has no namespace: sa3 (none) is equal, sa4 ("") is not: absent is not empty.
    assert_eq!(
        of(&all, "forms RoleBinding/rb2 optional_compare"),
        [
            "forms RoleBinding/rb2 optional_compare deny: service account sa3 of the binding's namespace",
            "forms RoleBinding/rb2 optional_compare warn: subject sa4 from another namespace",
        ]
    );
}

#[test]
fn optional_parameter_types() {
    let all = findings();
    assert_eq!(
        of(&all, "forms Pod/p1 limits"),
        ["forms Pod/p1 limits deny: container a asks for more than 1Gi"]
    );
    assert!(of(&all, "forms Pod/p2 limits").is_empty());
}

#[test]
fn raw_strings_keep_regex_repetitions() {
    let all = findings();
    assert!(of(&all, "forms ConfigMap/ab-12 regex deny").is_empty());
    assert_eq!(of(&all, "forms ConfigMap/abc-1234 regex deny").len(), 1);
    assert_eq!(of(&all, "forms ConfigMap/Bad_name regex deny").len(), 1);
    // `\"` inside `{…}` is a quote: the message reads the `key` entry.
    assert_eq!(
        of(&all, "forms ConfigMap/ab-12 regex warn"),
        ["forms ConfigMap/ab-12 regex warn: data key v"]
    );
}

#[test]
fn list_functions() {
    let all = findings();
    assert_eq!(
        of(&all, "forms Pod/p1 lists"),
        [
            r#"forms Pod/p1 lists deny: 1 of ["i","a","b"] have no limits"#,
            r#"forms Pod/p1 lists warn: labels starting with x: ["xfront"]"#,
        ]
    );
    assert_eq!(
        of(&all, "forms Deployment/d1 lists"),
        [r#"forms Deployment/d1 lists deny: 1 of ["web"] have no limits"#]
    );
    assert!(of(&all, "forms Pod/p2 lists").is_empty());
}

#[test]
fn removed_api_versions_match_by_version() {
    let all = findings();
    assert_eq!(
        of(&all, "forms CronJob/old-cron removed_versions"),
        ["forms CronJob/old-cron removed_versions deny: CronJob old-cron uses batch/v1beta1"]
    );
    assert_eq!(
        of(&all, "forms Ingress/old-ingress removed_versions"),
        ["forms Ingress/old-ingress removed_versions deny: Ingress old-ingress uses extensions/v1beta1"]
    );
    assert!(of(&all, "forms CronJob/new-cron removed_versions").is_empty());
}

#[test]
fn trim_prefix_and_suffix() {
    let all = findings();
    assert_eq!(
        of(&all, "forms ConfigMap/ab-12 strings"),
        ["forms ConfigMap/ab-12 strings deny: trimmed 12"]
    );
    assert!(of(&all, "forms ConfigMap/abc-1234 strings").is_empty());
    assert!(of(&all, "forms ConfigMap/Bad_name strings").is_empty());
}

#[test]
fn split_and_join() {
    let all = findings();
    assert_eq!(
        of(&all, "forms Secret/a-b-c- split_join"),
        [
            "forms Secret/a-b-c- split_join deny: 4 parts: a+b+c+",
            "forms Secret/a-b-c- split_join warn: é1: 2 characters, fields x|y||z f1;f2",
            "forms Secret/a-b-c- split_join warn: 日本: 2 characters, fields a f1;f2",
        ]
    );
    // No separator in the name: one piece. An empty string splits into no characters and
    // into one empty field; absent finalizers join to "".
    assert_eq!(
        of(&all, "forms Secret/single split_join"),
        [
            "forms Secret/single split_join warn: : 0 characters, fields  ",
            "forms Secret/single split_join warn: ab: 2 characters, fields | ",
        ]
    );
}
