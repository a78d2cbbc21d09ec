//! Pod rules under pod-controller autogen read the pod template as the pods created from it
//! will be (spec/language.md "Pod-controller autogen"): `object.metadata.namespace` is the
//! controller's and `controller` is the controller itself, absent for a bare Pod. These are
//! the Wasm evaluator's answers, the reference the Rego and CEL exports are compared with
//! (`autogen_context_agrees_with_wasm` in gatekeeper.rs and cel.rs).

use rampart_runtime::eval::Action;

mod common;
use common::{compile_source, load_objects, Reference, AUTOGEN, AUTOGEN_OBJECTS};

/// Every finding as `Kind/name rule action: message`, in evaluation order.
fn findings() -> Vec<String> {
    let reference = Reference::new(&compile_source(AUTOGEN));
    let mut out = Vec::new();
    for (name, node) in load_objects("", AUTOGEN_OBJECTS.as_bytes()) {
        for f in reference.findings(&node).expect("evaluates") {
            let action = match f.action {
                Action::Deny => "deny",
                Action::Warn => "warn",
            };
            let rule = f.rule_id.trim_start_matches("t.podctl.");
            out.push(format!("{} {rule} {action}: {}", name.trim(), f.message));
        }
    }
    out
}

fn of<'a>(all: &'a [String], rule: &str) -> Vec<&'a str> {
    all.iter()
        .filter(|f| f.split(' ').nth(1) == Some(rule))
        .map(|f| f.as_str())
        .collect()
}

#[test]
fn namespace_is_the_controllers() {
    let all = findings();
    // A Deployment in `foo` is not in the default namespace; one without a namespace and
    // one in `default` are, and the message names the controller.
    assert_eq!(
        of(&all, "not_default"),
        [
            "Pod/loose not_default deny: Pod `loose` is in the default namespace",
            "Pod/in-default not_default deny: Pod `in-default` is in the default namespace",
            "Deployment/no-ns not_default deny: Deployment `no-ns` is in the default namespace",
            "Deployment/in-default not_default deny: Deployment `in-default` is in the default namespace",
            "CronJob/hourly not_default deny: CronJob `hourly` is in the default namespace",
        ]
    );
    assert_eq!(
        of(&all, "namespace_is_set"),
        [
            "Pod/loose namespace_is_set warn: no namespace",
            "Deployment/no-ns namespace_is_set warn: no namespace",
            "CronJob/hourly namespace_is_set warn: no namespace",
        ]
    );
    // The template's own namespace (`elsewhere` in CronJob/hourly) is not the pods'.
    assert!(of(&all, "same_namespace").is_empty(), "{all:#?}");
}

#[test]
fn controller_reads_the_controller() {
    let all = findings();
    assert_eq!(
        of(&all, "controller_kind"),
        [
            "CronJob/nightly controller_kind deny: CronJob `nightly` in jobs (batch/v1)",
            "CronJob/hourly controller_kind deny: CronJob `hourly` in no namespace (batch/v1)",
        ]
    );
    assert_eq!(
        of(&all, "bare_pod"),
        [
            "Pod/bare bare_pod warn: pod `bare` has no controller",
            "Pod/loose bare_pod warn: pod `loose` has no controller",
            "Pod/in-default bare_pod warn: pod `in-default` has no controller",
        ]
    );
    // Labels and annotations are the controller's, not the template's.
    assert_eq!(
        of(&all, "owner_label"),
        [
            "Deployment/no-ns owner_label deny: Deployment `no-ns` has no owner label (template app label: <none>)",
            "CronJob/nightly owner_label deny: CronJob `nightly` has no owner label (template app label: <none>)",
            "CronJob/hourly owner_label deny: CronJob `hourly` has no owner label (template app label: <none>)",
        ]
    );
    assert_eq!(
        of(&all, "team_annotation"),
        ["Deployment/web team_annotation deny: team `legacy` owns web"]
    );
}

#[test]
fn the_templates_name_is_its_own() {
    let all = findings();
    assert_eq!(
        of(&all, "template_name"),
        ["Deployment/no-ns template_name warn: template named named-template"]
    );
}

/// `controller` outside a rule with autogen is an error that says why; a misspelling gets a
/// suggestion, and so does a misspelt field of it.
#[test]
fn controller_is_checked() {
    let check = |text: &str| {
        let c = rampart_compiler::compile(
            vec![rampart_compiler::Source {
                name: "t.rp".into(),
                text: Ok(text.into()),
            }],
            &common::schema(),
        );
        let errors: Vec<String> = c
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {} {:?}", d.code, d.message, d.notes))
            .collect();
        errors
    };
    let rule = |matcher: &str, body: &str| {
        format!("module t\nrule r {{\n  title \"t\"\n  {matcher}\n  deny when {body}\n    message \"m\"\n}}\n")
    };
    assert!(check(&rule("match Pod", "controller.kind == \"Deployment\"")).is_empty());
    let e = check(&rule("match Deployment", "controller == null"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("only in a rule that applies to pod templates"),
        "{e:?}"
    );
    let e = check(&rule("match Pod\n  autogen off", "controller == null"));
    assert_eq!(e.len(), 1, "{e:?}");
    let e = check(&rule("match Pod", "controler == null"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("did you mean `controller`?"), "{e:?}");
    let e = check(&rule("match Pod", "controller.metdata.name == \"x\""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("did you mean `metadata`?"), "{e:?}");
    let e = check(&rule("match Pod", "controller.metadata.nme == \"x\""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("did you mean `name`?"), "{e:?}");
}
