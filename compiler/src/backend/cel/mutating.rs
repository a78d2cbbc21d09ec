//! Export of `fix` clauses to Kubernetes MutatingAdmissionPolicy
//! (`admissionregistration.k8s.io/v1`, Kubernetes 1.36 and later; `v1beta1` in 1.34–1.35):
//! `rampart build --target map`, one policy and one binding per rule that has an exported
//! fix, in one file.
//!
//! The policy matches what the rule's validation would (the same `matchConstraints`,
//! `matchConditions` and `variables` as the ValidatingAdmissionPolicy export: no autogen in
//! the API server, the pod template of each shape is picked in CEL) and carries one
//! `JSONPatch` mutation per fix ([`super::patch`]). `review` fixes are exported only when
//! asked (`build --unsafe`). `reinvocationPolicy: Never`: the patches leave a fixed value
//! alone, so a second run would change nothing. `failurePolicy: Ignore`: a mutation that
//! cannot be evaluated leaves the object to the validating policies.

use crate::backend::cel::{
    self, patch, yaml_docs, yaml_map, yaml_named, ys, ExportError, OutputFile,
};
use crate::ir::{Program, Rule};
use crate::names;
use serde_yaml_ng::Value as Y;

pub const TARGET: &str = "map";

/// The policy files of every rule with an exported fix, and an error for each such rule
/// that cannot be expressed; rules without fixes are left out without a word.
pub fn export_all(program: &Program, review: bool) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut claims = names::Claims::default();
    for rule in &program.rules {
        match export_rule(rule, review, &mut claims) {
            Ok(Some(f)) => files.push(f),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    errors.extend(cel::clash_errors(claims, TARGET));
    (files, errors)
}

/// The file of one rule, `None` when it has no exported fix.
pub fn export_rule(
    rule: &Rule,
    review: bool,
    claims: &mut names::Claims,
) -> Result<Option<OutputFile>, ExportError> {
    let Some(compiled) = patch::compile_fixes(rule, cel::Dialect::Vap, TARGET, review)? else {
        return Ok(None);
    };
    let name = names::fit(&format!("rampart-fix-{}", names::label(&rule.id)));
    claims.claim("MutatingAdmissionPolicy name", &name, &rule.id);
    let targets: Vec<_> = rule.matcher.targets.iter().collect();
    let mut spec = vec![
        ("failurePolicy", ys("Ignore")),
        ("reinvocationPolicy", ys("Never")),
        (
            "matchConstraints",
            yaml_map(vec![("resourceRules", cel::resource_rules(&targets))]),
        ),
    ];
    if !compiled.match_conditions.is_empty() {
        spec.push(("matchConditions", yaml_named(&compiled.match_conditions)));
    }
    spec.push(("variables", yaml_named(&compiled.variables)));
    spec.push((
        "mutations",
        Y::Sequence(
            compiled
                .patches
                .iter()
                .map(|p| {
                    yaml_map(vec![
                        ("patchType", ys("JSONPatch")),
                        ("jsonPatch", yaml_map(vec![("expression", ys(p))])),
                    ])
                })
                .collect(),
        ),
    ));
    let docs = [
        yaml_map(vec![
            ("apiVersion", ys("admissionregistration.k8s.io/v1")),
            ("kind", ys("MutatingAdmissionPolicy")),
            ("metadata", metadata(&name, rule)),
            ("spec", yaml_map(spec)),
        ]),
        yaml_map(vec![
            ("apiVersion", ys("admissionregistration.k8s.io/v1")),
            ("kind", ys("MutatingAdmissionPolicyBinding")),
            ("metadata", metadata(&name, rule)),
            ("spec", yaml_map(vec![("policyName", ys(&name))])),
        ]),
    ];
    Ok(Some(OutputFile {
        path: format!("{name}.yaml"),
        contents: yaml_docs(&docs),
    }))
}

fn metadata(name: &str, rule: &Rule) -> Y {
    yaml_map(vec![
        ("name", ys(name)),
        (
            "annotations",
            yaml_map(vec![
                ("rampart.dev/rule", ys(&rule.id)),
                ("rampart.dev/title", ys(&rule.meta.title)),
            ]),
        ),
    ])
}
