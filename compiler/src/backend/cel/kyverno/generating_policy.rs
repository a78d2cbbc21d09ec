//! Export of `generate` (spec/language.md §4.14) to Kyverno's GeneratingPolicy
//! (`policies.kyverno.io/v1`, Kyverno 1.17 and later): `rampart build --target kyverno-vpol`
//! writes `generate-<rule>.yaml` beside the ValidatingPolicies for each set rule with a
//! `generate` outcome.
//!
//! A GeneratingPolicy's CEL can list objects of the cluster (`resource.List`), which is what a
//! set rule's `objects(Kind)` reads: each kind the rule reads becomes a variable holding the
//! items of that kind in every namespace, and the rule's `let`s and outcomes compile as for
//! the ValidatingPolicy with `objects(Kind)` reading that variable. Each outcome with
//! `generate` gives one `generate` expression: when the outcome fires (the validation's
//! condition) and every subject path of the template has a value, `generator.Apply` creates
//! the filled template in its namespace; otherwise nothing is generated.
//!
//! The policy matches the rule's kinds on CREATE and UPDATE, and existing objects too
//! (`generateExisting`), like `rampart fix` over the files. It does not keep the generated
//! objects in sync (`synchronize` off): like `rampart fix`, it creates what is missing and
//! leaves the object to its owners afterwards. Not exported (a warning at the rule): rules
//! that read a view (`who_can`), and pod rules with autogen (a set rule's subject is the
//! object itself in every export).

use crate::backend::cel::{
    self, mutating, quote, select, setup_listing, yaml_docs, yaml_map, yaml_named, ys, Dialect,
    ExportError, Named, OutputFile,
};
use crate::ir::{Gvk, PathStep, Program, Rule, Template, TemplatePart};
use crate::names;
use serde_yaml_ng::Value as Y;

/// The target named in the diagnostics.
pub const TARGET: &str = "kyverno-vpol";

/// The GeneratingPolicy files of every rule with a `generate` outcome, and an error for
/// each such rule that cannot be expressed; other rules are left out without a word.
pub fn export_all(program: &Program) -> (Vec<OutputFile>, Vec<ExportError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut claims = names::Claims::default();
    for rule in &program.rules {
        if rule.outcomes.iter().all(|o| o.generate.is_none()) {
            continue;
        }
        let name = names::fit(&format!("generate-{}", names::label(&rule.id)));
        claims.claim("GeneratingPolicy name", &name, &rule.id);
        match generating_policy(rule, &name) {
            Ok(doc) => files.push(OutputFile {
                path: format!("{name}.yaml"),
                contents: yaml_docs(&[doc]),
            }),
            Err(construct) => errors.push(ExportError {
                rule: rule.id.clone(),
                construct,
                target: TARGET.to_string(),
                other: None,
            }),
        }
    }
    errors.extend(cel::clash_errors(claims, TARGET));
    (files, errors)
}

/// The GeneratingPolicy of one rule.
fn generating_policy(rule: &Rule, name: &str) -> Result<Y, String> {
    if rule.reads_view() {
        return Err(format!("generate: {}", crate::views::NOT_EXPORTED));
    }
    if cel::has_autogen(rule) {
        return Err(
            "generate in a rule with pod-controller autogen: a GeneratingPolicy \
                    is matched by the object it reads"
                .into(),
        );
    }
    let listed: Vec<(Gvk, Named)> = rule.reads_kinds.iter().map(listing).collect();
    let (mut cx, match_conditions, variables) = setup_listing(
        rule,
        Dialect::Kyverno,
        listed
            .iter()
            .map(|(g, v)| (g.clone(), format!("variables.{}", v.name)))
            .collect(),
    )?;
    let mut generate = Vec::new();
    for outcome in &rule.outcomes {
        let Some(template) = &outcome.generate else {
            continue;
        };
        let fires = cx.fires(outcome)?;
        let mut present = Vec::new();
        let object = template_cel(template, &mut present)?;
        let namespace = match template
            .entry("metadata")
            .and_then(|m| m.entry("namespace"))
        {
            Some(t) => template_cel(t, &mut present)?,
            None => "''".to_string(),
        };
        let mut condition = vec![format!("({fires})")];
        for p in present {
            if !condition.contains(&p) {
                condition.push(p);
            }
        }
        generate.push(yaml_map(vec![(
            "expression",
            ys(&format!(
                "{} ? generator.Apply({namespace}, [{object}]) : true",
                condition.join(" && ")
            )),
        )]));
    }
    let targets: Vec<_> = rule.matcher.targets.iter().collect();
    let mut spec = vec![
        (
            "evaluation",
            yaml_map(vec![
                (
                    "generateExisting",
                    yaml_map(vec![("enabled", Y::Bool(true))]),
                ),
                ("synchronize", yaml_map(vec![("enabled", Y::Bool(false))])),
            ]),
        ),
        (
            "matchConstraints",
            yaml_map(vec![("resourceRules", cel::resource_rules(&targets))]),
        ),
    ];
    if !match_conditions.is_empty() {
        spec.push(("matchConditions", yaml_named(&match_conditions)));
    }
    let all: Vec<Named> = listed
        .into_iter()
        .map(|(_, v)| v)
        .chain(variables)
        .collect();
    spec.push(("variables", yaml_named(&all)));
    spec.push(("generate", Y::Sequence(generate)));
    Ok(yaml_map(vec![
        ("apiVersion", ys("policies.kyverno.io/v1")),
        ("kind", ys("GeneratingPolicy")),
        ("metadata", mutating::metadata(name, rule)),
        ("spec", yaml_map(spec)),
    ]))
}

/// The variable listing the objects of a kind in every namespace: `objects(Kind)`.
fn listing(gvk: &Gvk) -> (Gvk, Named) {
    let plural = cel::resource_name(&gvk.kind);
    let api_version = if gvk.group.is_empty() {
        gvk.version.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.version)
    };
    let named = Named {
        name: format!("objects_{}", plural.replace(['.', '-'], "_")),
        expression: format!(
            "resource.List({}, {}, '').items",
            quote(&api_version),
            quote(&plural)
        ),
    };
    (gvk.clone(), named)
}

/// The template as a CEL value; each subject path it reads is pushed to `present` as a
/// test that it has a value (a finding whose subject lacks one generates nothing).
fn template_cel(t: &Template, present: &mut Vec<String>) -> Result<String, String> {
    Ok(match t {
        Template::Const(v) => json_literal(v),
        Template::Str(parts) => {
            let mut pieces = Vec::new();
            for p in parts {
                match p {
                    TemplatePart::Text(text) => pieces.push(quote(text)),
                    TemplatePart::Subject(steps) => {
                        let path = subject_path(steps)?;
                        present.push(format!("{path}.hasValue()"));
                        pieces.push(format!("string({path}.value())"));
                    }
                }
            }
            if pieces.is_empty() {
                "''".to_string()
            } else {
                pieces.join(" + ")
            }
        }
        Template::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| template_cel(i, present))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        ),
        Template::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| Ok(format!("{}: {}", quote(k), template_cel(v, present)?)))
                .collect::<Result<Vec<_>, String>>()?
                .join(", ")
        ),
    })
}

/// A path of the subject as an optional value, read as Kyverno reads untyped objects.
fn subject_path(steps: &[PathStep]) -> Result<String, String> {
    let mut out = String::from("object");
    for s in steps {
        match s {
            PathStep::Field(f) => out.push_str(&select(f, Dialect::Kyverno)?),
            PathStep::Index(i) => out.push_str(&format!("[?{i}]")),
            PathStep::Key(k) => out.push_str(&format!("[?{}]", quote(k))),
        }
    }
    Ok(out)
}

/// A JSON constant as a CEL literal.
fn json_literal(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Null => "null".into(),
        J::Bool(b) => b.to_string(),
        J::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        J::Number(n) => {
            let s = n.to_string();
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        J::String(s) => quote(s),
        J::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(json_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        J::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", quote(k), json_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
