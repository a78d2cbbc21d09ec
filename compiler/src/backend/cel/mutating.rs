//! Export of `fix` clauses to Kubernetes MutatingAdmissionPolicy
//! (`admissionregistration.k8s.io/v1`, Kubernetes 1.36 and later; `v1beta1` in 1.34–1.35):
//! `rampart build --target map`, one policy and one binding per rule that has an exported
//! fix, in one file; and to Kyverno's MutatingPolicy (`policies.kyverno.io/v1`, Kyverno
//! 1.17 and later), which has the same shape and no binding: written by `--target
//! kyverno-vpol` beside the ValidatingPolicies, as `fix-<rule>.yaml`.
//!
//! Kyverno binds objects as untyped maps: its patches read fields by key where a name is a
//! CEL reserved word (the Gatekeeper dialect), with a `params` variable holding no value so
//! that every parameter reads its default, as in the other Kyverno outputs. Kyverno's
//! autogen is turned off (`autogen.podControllers.controllers: []`): the policy matches
//! the pod controllers itself and patches their pod template.
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

/// The target named in the diagnostics of Kyverno's MutatingPolicy.
pub const KYVERNO_TARGET: &str = "kyverno-vpol";

/// The policy files of every rule with an exported fix, and an error for each such rule
/// that cannot be expressed; rules without fixes are left out without a word.
pub fn export_all(program: &Program, review: bool) -> (Vec<OutputFile>, Vec<ExportError>) {
    export_each(program, review, TARGET, export_rule)
}

/// The file each rule gives with `export` (rules without one left out), every rule's error,
/// and the name clashes among them.
fn export_each(
    program: &Program,
    review: bool,
    target: &str,
    export: fn(&Rule, bool, &mut names::Claims) -> Result<Option<OutputFile>, ExportError>,
) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut claims = names::Claims::default();
    for rule in &program.rules {
        match export(rule, review, &mut claims) {
            Ok(Some(f)) => files.push(f),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    errors.extend(cel::clash_errors(claims, target));
    (files, errors)
}

/// The file of one rule, `None` when it has no exported fix.
pub fn export_rule(
    rule: &Rule,
    review: bool,
    claims: &mut names::Claims,
) -> Result<Option<OutputFile>, ExportError> {
    if rule.generates() {
        return Err(ExportError {
            rule: rule.id.clone(),
            construct: "`generate`: a MutatingAdmissionPolicy changes the admitted object and \
                        cannot create other objects (`rampart fix` writes them)"
                .to_string(),
            target: TARGET.to_string(),
            other: None,
        });
    }
    let Some(compiled) = patch::compile_fixes(rule, cel::Dialect::Vap, TARGET, review)? else {
        return Ok(None);
    };
    let name = names::fit(&format!("rampart-fix-{}", names::label(&rule.id)));
    claims.claim("MutatingAdmissionPolicy name", &name, &rule.id);
    let spec = mutating_spec(rule, &compiled);
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

/// The `metadata` of a policy written for one rule: its name, and the rule's id and title.
pub(crate) fn metadata(name: &str, rule: &Rule) -> Y {
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

/// Kyverno MutatingPolicy files of every rule with an exported fix, and an error for each
/// such rule that cannot be expressed.
pub fn export_kyverno_all(program: &Program, review: bool) -> (Vec<OutputFile>, Vec<ExportError>) {
    export_each(program, review, KYVERNO_TARGET, kyverno_policy)
}

/// The rule's fixes as CEL for Kyverno: untyped objects, parameters at their defaults.
pub fn kyverno_patches(
    rule: &Rule,
    review: bool,
) -> Result<Option<patch::CelPatches>, ExportError> {
    let compiled = patch::compile_fixes(rule, cel::Dialect::Gatekeeper, KYVERNO_TARGET, review)?;
    Ok(compiled.map(|mut c| {
        c.variables.insert(
            0,
            cel::Named {
                name: "params".into(),
                expression: "{}".into(),
            },
        );
        c
    }))
}

/// The MutatingPolicy of one rule, `None` when it has no exported fix.
pub fn kyverno_policy(
    rule: &Rule,
    review: bool,
    claims: &mut names::Claims,
) -> Result<Option<OutputFile>, ExportError> {
    let Some(compiled) = kyverno_patches(rule, review)? else {
        return Ok(None);
    };
    let name = names::fit(&format!("fix-{}", names::label(&rule.id)));
    claims.claim("MutatingPolicy name", &name, &rule.id);
    let mut spec = mutating_spec(rule, &compiled);
    spec.push((
        "autogen",
        yaml_map(vec![(
            "podControllers",
            yaml_map(vec![("controllers", Y::Sequence(Vec::new()))]),
        )]),
    ));
    let doc = yaml_map(vec![
        ("apiVersion", ys("policies.kyverno.io/v1")),
        ("kind", ys("MutatingPolicy")),
        ("metadata", metadata(&name, rule)),
        ("spec", yaml_map(spec)),
    ]);
    Ok(Some(OutputFile {
        path: format!("{name}.yaml"),
        contents: yaml_docs(&[doc]),
    }))
}

/// The spec both policy kinds share: fail open, run once, match the rule's kinds, then the
/// match conditions, variables and one `JSONPatch` mutation per patch expression.
fn mutating_spec(rule: &Rule, compiled: &patch::CelPatches) -> Vec<(&'static str, Y)> {
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
    spec.push(("mutations", mutations(&compiled.patches)));
    spec
}

/// One `JSONPatch` mutation per patch expression.
fn mutations(patches: &[String]) -> Y {
    Y::Sequence(
        patches
            .iter()
            .map(|p| {
                yaml_map(vec![
                    ("patchType", ys("JSONPatch")),
                    ("jsonPatch", yaml_map(vec![("expression", ys(p))])),
                ])
            })
            .collect(),
    )
}
