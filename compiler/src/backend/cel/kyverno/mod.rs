//! Export to Kyverno: `kyverno.io/v1` ClusterPolicy (one per module, a CEL rule per rule)
//! and `policies.kyverno.io/v1` ValidatingPolicy (one per rule). Targets Kyverno 1.17 and
//! later (per-rule `validate.failureAction`, ValidatingPolicy v1); schemas of v1.19.
//!
//! Pod rules are written against the Pod and left to Kyverno's autogen, which rewrites the
//! text `object.spec`/`object.metadata` into the pod template of each controller. Autogen
//! only runs when every rule of a ClusterPolicy matches Pod alone, so a module that mixes pod
//! rules with other rules gives two ClusterPolicies: `<module>` for the other rules and
//! `<module>-pods` for the pod rules. Namespace matching uses `match`/`exclude` resources
//! (ClusterPolicy; CEL preconditions for rules with cluster-scoped kinds, which Kyverno's
//! `namespaces` would match by name) or `matchConditions` (ValidatingPolicy); label matching uses CEL on the
//! object's own metadata written with `object.?metadata`, which autogen leaves alone, so a
//! controller is matched on its own labels as spec §3 asks.

use crate::backend::cel::{
    self, yaml_docs, yaml_map, yaml_named, yaml_validations, ylist, ys, CelRule, Dialect,
    ExportError, OutputFile,
};
use crate::ir::{Action, Program, Rule, Severity};
use crate::names;
use serde_yaml_ng::Value as Y;

pub mod generate;
pub mod generating_policy;
mod jmespath;
pub mod mutate;
mod pattern;

pub use pattern::{export_pattern_policies_all, PATTERN_DIR, PATTERN_TARGET};

/// The autogen controllers of a rule, in Kyverno's spelling (`none` without autogen).
fn controllers(rule: &Rule) -> String {
    let kinds: Vec<&str> = cel::POD_CONTROLLERS
        .iter()
        .copied()
        .filter(|k| {
            rule.matcher
                .targets
                .iter()
                .any(|t| !t.subject_path.is_empty() && t.gvk.kind == *k)
        })
        .collect();
    if kinds.is_empty() {
        "none".into()
    } else {
        kinds.join(",")
    }
}

/// A target's kind as Kyverno's `match.resources.kinds` names it: `Kind` in the core group,
/// `group/version/Kind` otherwise (`group/*/Kind` without a version).
fn kind_name(t: &crate::ir::Target) -> String {
    if t.gvk.group.is_empty() || t.gvk.kind == crate::ir::EVERY_KIND {
        t.gvk.kind.clone()
    } else if t.gvk.version.is_empty() {
        format!("{}/*/{}", t.gvk.group, t.gvk.kind)
    } else {
        format!("{}/{}/{}", t.gvk.group, t.gvk.version, t.gvk.kind)
    }
}

/// The kinds a Kyverno rule matches: the Pod alone for autogen rules.
fn kinds(rule: &Rule) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &rule.matcher.targets {
        if !t.subject_path.is_empty() {
            continue;
        }
        let k = kind_name(t);
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

fn failure_action(action: Action) -> &'static str {
    match action {
        Action::Deny => "Enforce",
        Action::Warn => "Audit",
    }
}

/// The ClusterPolicy rules of one IR rule (two when it has both deny and warn outcomes),
/// their names recorded in `claims` under the policy's name.
fn cluster_policy_rules(
    rule: &Rule,
    compiled: &CelRule,
    policy: &str,
    claims: &mut names::Claims,
) -> Vec<Y> {
    let mut out = Vec::new();
    let base = names::label(&rule.name);
    for (action, name, validations) in compiled.by_action(&base) {
        claims.claim(
            &format!("rule name in ClusterPolicy `{policy}`"),
            &name,
            &rule.id,
        );
        // Kyverno matches `namespaces` of a Namespace against its own name, and `*` against
        // the empty namespace of other cluster-scoped objects; spec §3 selects neither. Rules
        // with cluster-scoped kinds test the namespace in CEL preconditions instead.
        let in_cel = rule.matcher.targets.iter().any(|t| !t.namespaced);
        let mut resources = vec![("kinds", ylist(&kinds(rule)))];
        if !rule.matcher.namespaces.is_empty() && !in_cel {
            resources.push(("namespaces", ylist(&rule.matcher.namespaces)));
        }
        let mut entries = vec![
            ("name", ys(&name)),
            (
                "match",
                yaml_map(vec![(
                    "any",
                    Y::Sequence(vec![yaml_map(vec![("resources", yaml_map(resources))])]),
                )]),
            ),
        ];
        if !rule.matcher.exclude_namespaces.is_empty() && !in_cel {
            let r = yaml_map(vec![(
                "namespaces",
                ylist(&rule.matcher.exclude_namespaces),
            )]);
            entries.push((
                "exclude",
                yaml_map(vec![(
                    "any",
                    Y::Sequence(vec![yaml_map(vec![("resources", r)])]),
                )]),
            ));
        }
        let labels: Vec<_> = cel::matcher_conditions(rule, Dialect::Kyverno)
            .into_iter()
            .filter(|c| in_cel || c.name.ends_with("labels"))
            .collect();
        if !labels.is_empty() {
            entries.push(("celPreconditions", yaml_named(&labels)));
        }
        let mut cel_entries = Vec::new();
        if !compiled.variables.is_empty() {
            cel_entries.push(("variables", yaml_named(&compiled.variables)));
        }
        cel_entries.push(("expressions", yaml_validations(&validations)));
        entries.push((
            "validate",
            yaml_map(vec![
                ("failureAction", ys(failure_action(action))),
                ("cel", yaml_map(cel_entries)),
            ]),
        ));
        out.push(yaml_map(entries));
    }
    out
}

fn max_severity(rules: &[&Rule]) -> Severity {
    rules
        .iter()
        .map(|r| r.meta.severity)
        .max()
        .unwrap_or(Severity::Medium)
}

fn unique<I: IntoIterator<Item = String>>(items: I) -> Vec<String> {
    let mut out = Vec::new();
    for i in items {
        if !i.is_empty() && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// The library annotations of a policy holding `rules`.
fn annotations(title: &str, rules: &[&Rule], autogen: &str) -> Y {
    let categories = unique(rules.iter().map(|r| r.meta.category.clone()));
    let subjects = unique(
        rules
            .iter()
            .flat_map(|r| r.matcher.targets.iter())
            .filter(|t| t.subject_path.is_empty())
            .map(|t| t.gvk.kind.clone()),
    );
    let description = rules
        .iter()
        .map(|r| {
            if r.meta.description.is_empty() {
                format!("{}: {}", r.id, r.meta.title)
            } else {
                format!("{}: {}", r.id, r.meta.description)
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    yaml_map(vec![
        ("pod-policies.kyverno.io/autogen-controllers", ys(autogen)),
        ("policies.kyverno.io/category", ys(&categories.join(", "))),
        ("policies.kyverno.io/description", ys(&description)),
        (
            "policies.kyverno.io/severity",
            ys(max_severity(rules).as_str()),
        ),
        ("policies.kyverno.io/subject", ys(&subjects.join(", "))),
        ("policies.kyverno.io/title", ys(title)),
        (
            "rampart.dev/rules",
            ys(&rules
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(",")),
        ),
    ])
}

/// A `kyverno.io/v1` ClusterPolicy document: titled after its rule when it holds one rule,
/// after the module otherwise.
fn cluster_policy(
    name: &str,
    module: &str,
    rules: &[&Rule],
    autogen: &str,
    spec: Vec<(&str, Y)>,
) -> Y {
    let title = match rules {
        [rule] => rule.meta.title.clone(),
        _ => format!("Rampart module {module}"),
    };
    yaml_map(vec![
        ("apiVersion", ys("kyverno.io/v1")),
        ("kind", ys("ClusterPolicy")),
        (
            "metadata",
            yaml_map(vec![
                ("name", ys(name)),
                ("annotations", annotations(&title, rules, autogen)),
            ]),
        ),
        ("spec", yaml_map(spec)),
    ])
}

/// The rules that go into one ClusterPolicy: those of one module and autogen group, with
/// their CEL, in rule id order.
struct PolicyGroup<'a> {
    module: String,
    autogen: String,
    rules: Vec<(&'a Rule, CelRule)>,
}

/// One ClusterPolicy per module (two when pod rules and other rules are mixed), and an
/// error for each rule that cannot be expressed.
pub fn export_cluster_policies_all(program: &Program) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut errors = Vec::new();
    let mut groups: Vec<PolicyGroup> = Vec::new();
    for rule in &program.rules {
        let compiled = match cel::compile_rule(rule, Dialect::Kyverno, "kyverno") {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let autogen = controllers(rule);
        match groups
            .iter_mut()
            .find(|g| g.module == rule.module && g.autogen == autogen)
        {
            Some(g) => g.rules.push((rule, compiled)),
            None => groups.push(PolicyGroup {
                module: rule.module.clone(),
                autogen,
                rules: vec![(rule, compiled)],
            }),
        }
    }
    let mut files = Vec::new();
    let mut claims = names::Claims::default();
    for (i, group) in groups.iter().enumerate() {
        let PolicyGroup {
            module,
            autogen,
            rules,
        } = group;
        let in_module = groups.iter().filter(|g| g.module == *module).count();
        let mut name = names::label(module);
        if in_module > 1 && autogen != "none" {
            name.push_str("-pods");
            let pod_groups_before = groups[..i]
                .iter()
                .filter(|g| g.module == *module && g.autogen != "none")
                .count();
            if pod_groups_before > 0 {
                name.push_str(&format!("-{}", pod_groups_before + 1));
            }
        }
        let name = names::fit(&name);
        let refs: Vec<&Rule> = rules.iter().map(|(r, _)| *r).collect();
        // Two modules whose names map to one policy name: the clash names a rule of each.
        claims.claim("ClusterPolicy name", &name, &refs[0].id);
        let policy_rules: Vec<Y> = rules
            .iter()
            .flat_map(|(r, c)| cluster_policy_rules(r, c, &name, &mut claims))
            .collect();
        let doc = cluster_policy(
            &name,
            module,
            &refs,
            autogen,
            vec![
                ("admission", Y::Bool(true)),
                ("background", Y::Bool(true)),
                ("rules", Y::Sequence(policy_rules)),
            ],
        );
        files.push(OutputFile {
            path: format!("{name}.yaml"),
            contents: yaml_docs(&[doc]),
        });
    }
    errors.extend(cel::clash_errors(claims, "kyverno"));
    (files, errors)
}

/// ClusterPolicies for every module, or the errors of the rules that cannot be exported.
pub fn export_cluster_policies(program: &Program) -> Result<Vec<OutputFile>, Vec<ExportError>> {
    cel::all_or_errors(export_cluster_policies_all(program))
}

/// One ValidatingPolicy file per rule, and an error for each rule that cannot be expressed.
pub fn export_validating_policies_all(program: &Program) -> (Vec<OutputFile>, Vec<ExportError>) {
    cel::export_each(program, "kyverno-vpol", validating_policy)
}

/// ValidatingPolicies for every rule, or the errors of the rules that cannot be exported.
pub fn export_validating_policies(program: &Program) -> Result<Vec<OutputFile>, Vec<ExportError>> {
    cel::all_or_errors(export_validating_policies_all(program))
}

/// The ValidatingPolicy file of one rule (two policies when it both denies and warns), their
/// names recorded in `claims`.
pub fn validating_policy(
    rule: &Rule,
    claims: &mut names::Claims,
) -> Result<OutputFile, ExportError> {
    let compiled = cel::compile_rule(rule, Dialect::Kyverno, "kyverno-vpol")?;
    let base = names::label(&rule.id);
    let targets: Vec<_> = rule
        .matcher
        .targets
        .iter()
        .filter(|t| t.subject_path.is_empty())
        .collect();
    let pod_only = targets
        .iter()
        .all(|t| t.gvk.kind == "Pod" && t.gvk.group.is_empty());
    let mut docs = Vec::new();
    for (action, name, validations) in compiled.by_action(&base) {
        claims.claim("ValidatingPolicy name", &name, &rule.id);
        let actions = match action {
            Action::Deny => vec!["Deny"],
            Action::Warn => vec!["Audit", "Warn"],
        };
        let mut spec = vec![
            ("validationActions", ylist(&actions)),
            (
                "matchConstraints",
                yaml_map(vec![("resourceRules", cel::resource_rules(&targets))]),
            ),
        ];
        spec.extend(compiled.yaml_fields(&validations));
        if pod_only {
            // Kyverno generates the controller policies; name them, or none for `autogen off`.
            let c: Vec<String> = cel::POD_CONTROLLERS
                .iter()
                .filter(|k| {
                    rule.matcher
                        .targets
                        .iter()
                        .any(|t| !t.subject_path.is_empty() && t.gvk.kind == **k)
                })
                .map(|k| cel::resource_name(k))
                .collect();
            spec.push((
                "autogen",
                yaml_map(vec![(
                    "podControllers",
                    yaml_map(vec![("controllers", ylist(&c))]),
                )]),
            ));
        }
        docs.push(yaml_map(vec![
            ("apiVersion", ys("policies.kyverno.io/v1")),
            ("kind", ys("ValidatingPolicy")),
            (
                "metadata",
                yaml_map(vec![
                    ("name", ys(&name)),
                    (
                        "annotations",
                        annotations(&rule.meta.title, &[rule], &controllers(rule)),
                    ),
                ]),
            ),
            ("spec", yaml_map(spec)),
        ]));
    }
    Ok(OutputFile {
        path: format!("{}.yaml", names::fit(&base)),
        contents: yaml_docs(&docs),
    })
}
