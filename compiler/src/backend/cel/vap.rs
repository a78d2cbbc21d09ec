//! Export to Kubernetes ValidatingAdmissionPolicy (`admissionregistration.k8s.io/v1`): one
//! policy and one binding per rule and action, in one file.
//!
//! Choices: parameters are inlined as their default values (no `paramKind`, so a binding
//! needs no parameter resource); `failurePolicy: Fail`, so an evaluation error denies as
//! the Wasm evaluator reports it as an error; a rule with both `deny` and `warn` outcomes
//! gives two policies (`<name>` bound with [Deny], `<name>-warn` bound with [Warn, Audit]),
//! because validation actions belong to the binding. There is no autogen in the API server:
//! pod rules match Pod and the pod controllers, and a `subject` variable picks the pod
//! template of each shape.

use crate::backend::cel::{self, yaml_docs, yaml_map, ylist, ys, Dialect, ExportError, OutputFile};
use crate::ir::{Action, Program, Rule};
use crate::names;

const TARGET: &str = "vap";

/// Every exportable rule as policy + binding files, and an error for each rule that is not.
pub fn export_all(program: &Program) -> (Vec<OutputFile>, Vec<ExportError>) {
    cel::export_each(program, TARGET, export_rule)
}

/// Exports every rule, or the errors of the rules that cannot be exported.
pub fn export(program: &Program) -> Result<Vec<OutputFile>, Vec<ExportError>> {
    cel::all_or_errors(export_all(program))
}

/// The file of one rule: its policies and bindings, their names recorded in `claims`.
pub fn export_rule(rule: &Rule, claims: &mut names::Claims) -> Result<OutputFile, ExportError> {
    let compiled = cel::compile_rule(rule, Dialect::Vap, TARGET)?;
    let base = format!("rampart-{}", names::label(&rule.id));
    let targets: Vec<_> = rule.matcher.targets.iter().collect();
    let mut docs = Vec::new();
    for (action, name, validations) in compiled.by_action(&base) {
        // A binding has the name of its policy.
        claims.claim("ValidatingAdmissionPolicy name", &name, &rule.id);
        let actions = match action {
            Action::Deny => vec!["Deny"],
            Action::Warn => vec!["Warn", "Audit"],
        };
        let mut spec = vec![
            ("failurePolicy", ys("Fail")),
            (
                "matchConstraints",
                yaml_map(vec![("resourceRules", cel::resource_rules(&targets))]),
            ),
        ];
        spec.extend(compiled.yaml_fields(&validations));
        docs.push(yaml_map(vec![
            ("apiVersion", ys("admissionregistration.k8s.io/v1")),
            ("kind", ys("ValidatingAdmissionPolicy")),
            ("metadata", metadata(&name, rule)),
            ("spec", yaml_map(spec)),
        ]));
        docs.push(yaml_map(vec![
            ("apiVersion", ys("admissionregistration.k8s.io/v1")),
            ("kind", ys("ValidatingAdmissionPolicyBinding")),
            ("metadata", metadata(&name, rule)),
            (
                "spec",
                yaml_map(vec![
                    ("policyName", ys(&name)),
                    ("validationActions", ylist(&actions)),
                ]),
            ),
        ]));
    }
    Ok(OutputFile {
        path: format!("{}.yaml", names::fit(&base)),
        contents: yaml_docs(&docs),
    })
}

fn metadata(name: &str, rule: &Rule) -> serde_yaml_ng::Value {
    yaml_map(vec![
        ("name", ys(name)),
        (
            "annotations",
            yaml_map(vec![
                ("rampart.dev/rule", ys(&rule.id)),
                ("rampart.dev/title", ys(&rule.meta.title)),
                ("rampart.dev/severity", ys(rule.meta.severity.as_str())),
            ]),
        ),
    ])
}
