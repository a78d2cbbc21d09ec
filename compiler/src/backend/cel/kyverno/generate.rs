//! `generate` outcomes of set rules as Kyverno ClusterPolicy `generate` rules
//! (`kyverno.io/v1`, spec/fix.md §7.4): written by `rampart build --target kyverno`, one
//! policy `generate-<rule>` per rule with a `generate` outcome, one Kyverno rule per such
//! outcome.
//!
//! Each Kyverno rule matches the rule's kinds, lists every kind the rule reads with
//! `objects(Kind)` into a context variable (an `apiCall` over all namespaces), and holds the
//! outcome's `when` (under its `for`s) as JMESPath preconditions ([`super::jmespath`]). The
//! template becomes the generated resource: `apiVersion`, `kind`, `name` and `namespace`
//! from it, the rest as `data`, with each interpolated subject path a `{{request.object.…}}`
//! variable; a precondition per such path requires it to be present, as the evaluator
//! generates nothing when one is absent. Generation is one-off (`synchronize: false`) and
//! covers the objects already in the cluster (`generateExisting: true`).

use serde_yaml_ng::Value as Y;

use super::jmespath::{ident, objects_variable, Jmes};
use super::mutate::{cluster_policy, conditions, export_each, matcher, unmatchable};
use crate::backend::cel::{resource_name, yaml_map, ys, ExportError, OutputFile};
use crate::ir::{Gvk, Outcome, PathStep, Program, Rule, Template, TemplatePart};
use crate::names;

/// The name of this export in diagnostics.
pub const TARGET: &str = "Kyverno generate rules";

/// The object every translated condition and variable reads the subject as.
const SUBJECT: &str = "request.object";

/// The generate ClusterPolicy files of every rule with a `generate` outcome, and a warning
/// for each such rule that cannot be expressed.
pub fn export_all(program: &Program) -> (Vec<OutputFile>, Vec<ExportError>) {
    export_each(program, policy_name, export_rule)
}

fn policy_name(rule: &Rule) -> String {
    names::fit(&format!("generate-{}", names::label(&rule.id)))
}

/// The generate ClusterPolicy of one rule, `None` when no outcome generates.
pub fn export_rule(rule: &Rule) -> Result<Option<OutputFile>, ExportError> {
    let fail = |construct: String| ExportError {
        rule: rule.id.clone(),
        construct,
        target: TARGET.into(),
        other: None,
    };
    let outcomes: Vec<(&Outcome, &Template)> = rule
        .outcomes
        .iter()
        .filter_map(|o| o.generate.as_ref().map(|t| (o, t)))
        .collect();
    if outcomes.is_empty() {
        return Ok(None);
    }
    unmatchable(rule).map_err(|why| fail(format!("its `match`: {why}")))?;
    if rule
        .matcher
        .targets
        .iter()
        .any(|t| !t.subject_path.is_empty())
    {
        return Err(fail(
            "its subject is a pod template, which the generated object cannot read".into(),
        ));
    }
    let shape: Vec<_> = rule.matcher.targets.iter().collect();
    let base = names::label(&rule.name);
    let mut rules = Vec::new();
    for (i, (outcome, template)) in outcomes.into_iter().enumerate() {
        let name = names::fit(&format!("{base}-{}", i + 1));
        let entries = generate_rule(rule, outcome, template, &name, &shape)
            .map_err(|why| fail(format!("its generated object: {why}")))?;
        rules.push(yaml_map(entries));
    }
    Ok(Some(cluster_policy(&policy_name(rule), rule, true, rules)))
}

/// The entries of one Kyverno generate rule.
fn generate_rule(
    rule: &Rule,
    outcome: &Outcome,
    template: &Template,
    name: &str,
    shape: &[&crate::ir::Target],
) -> Result<Vec<(&'static str, Y)>, String> {
    let mut jmes = Jmes::with_context(rule, SUBJECT);
    let fires = jmes.fires(&outcome.binders, outcome.when.as_ref())?;
    let mut pre = Vec::new();
    if fires != "`true`" {
        pre.push(fires);
    }
    let mut reads = Vec::new();
    let resource = resource(template, &mut reads)?;
    pre.extend(reads.iter().map(|r| format!("({r} != `null`)")));
    let mut entries = vec![("name", ys(name))];
    entries.extend(matcher(rule, shape));
    let context: Vec<Y> = jmes.objects_read().iter().map(api_call).collect();
    if !context.is_empty() {
        entries.push(("context", Y::Sequence(context)));
    }
    if !pre.is_empty() {
        entries.push(("preconditions", conditions(&pre)));
    }
    entries.push(("generate", resource));
    Ok(entries)
}

/// A context entry listing every object of a kind, in every namespace.
fn api_call(gvk: &Gvk) -> Y {
    let resource = resource_name(&gvk.kind);
    let url = if gvk.group.is_empty() {
        format!("/api/{}/{resource}", gvk.version)
    } else {
        format!("/apis/{}/{}/{resource}", gvk.group, gvk.version)
    };
    yaml_map(vec![
        ("name", ys(&objects_variable(gvk))),
        (
            "apiCall",
            yaml_map(vec![("urlPath", ys(&url)), ("jmesPath", ys("items"))]),
        ),
    ])
}

/// The `generate` block of a template; the subject paths it reads are added to `reads`.
fn resource(template: &Template, reads: &mut Vec<String>) -> Result<Y, String> {
    let Template::Map(entries) = template else {
        return Err("not a mapping".into());
    };
    let constant = |key: &str| {
        template
            .entry(key)
            .and_then(Template::const_str)
            .ok_or(format!("no constant `{key}`"))
    };
    let (api_version, kind) = (constant("apiVersion")?, constant("kind")?);
    let metadata = match template.entry("metadata") {
        Some(Template::Map(m)) => m.as_slice(),
        _ => return Err("no `metadata` mapping".into()),
    };
    let name = metadata
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, t)| t)
        .ok_or("no `metadata.name`, which Kyverno requires")?;
    let namespace = metadata.iter().find(|(k, _)| k == "namespace");
    let mut out = vec![
        ("apiVersion", ys(api_version)),
        ("kind", ys(kind)),
        ("name", scalar_text(name, reads)?),
    ];
    if let Some((_, ns)) = namespace {
        out.push(("namespace", scalar_text(ns, reads)?));
    }
    out.push(("synchronize", Y::Bool(false)));
    out.push(("generateExisting", Y::Bool(true)));
    let mut data = serde_yaml_ng::Mapping::new();
    for (k, t) in entries {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                let rest: Vec<_> = metadata
                    .iter()
                    .filter(|(k, _)| k != "name" && k != "namespace")
                    .cloned()
                    .collect();
                if !rest.is_empty() {
                    data.insert(ys(&escape(k)), value(&Template::Map(rest), reads)?);
                }
            }
            _ => {
                data.insert(ys(&escape(k)), value(t, reads)?);
            }
        }
    }
    if !data.is_empty() {
        out.push(("data", Y::Mapping(data)));
    }
    Ok(yaml_map(out))
}

/// `name` or `namespace`: a string.
fn scalar_text(t: &Template, reads: &mut Vec<String>) -> Result<Y, String> {
    match t {
        Template::Const(serde_json::Value::String(_)) | Template::Str(_) => value(t, reads),
        _ => Err("a name or namespace that is not a string".into()),
    }
}

/// A template as the YAML Kyverno substitutes variables in.
fn value(t: &Template, reads: &mut Vec<String>) -> Result<Y, String> {
    Ok(match t {
        Template::Const(serde_json::Value::String(s)) => ys(&escape(s)),
        Template::Const(v) => serde_yaml_ng::to_value(v).map_err(|e| e.to_string())?,
        Template::Str(parts) => {
            let mut text = String::new();
            for p in parts {
                match p {
                    TemplatePart::Text(s) => text.push_str(&escape(s)),
                    TemplatePart::Subject(steps) => {
                        let read = subject_read(steps)?;
                        // A string that is one variable would take the value's own type.
                        let shown = if parts.len() == 1 {
                            format!("to_string({read})")
                        } else {
                            read.clone()
                        };
                        text.push_str(&format!("{{{{ {shown} }}}}"));
                        if !reads.contains(&read) {
                            reads.push(read);
                        }
                    }
                }
            }
            ys(&text)
        }
        Template::List(items) => Y::Sequence(
            items
                .iter()
                .map(|i| value(i, reads))
                .collect::<Result<_, _>>()?,
        ),
        Template::Map(entries) => {
            let mut m = serde_yaml_ng::Mapping::new();
            for (k, v) in entries {
                m.insert(ys(&escape(k)), value(v, reads)?);
            }
            Y::Mapping(m)
        }
    })
}

/// The JMESPath read of a subject path.
fn subject_read(steps: &[PathStep]) -> Result<String, String> {
    let mut out = SUBJECT.to_string();
    for s in steps {
        match s {
            PathStep::Field(f) | PathStep::Key(f) => {
                out.push('.');
                out.push_str(&ident(f));
            }
            PathStep::Index(i) if *i >= 0 => out.push_str(&format!("[{i}]")),
            PathStep::Index(_) => return Err("a negative list index".into()),
        }
    }
    Ok(out)
}

/// Constant text with `{{` escaped, so that Kyverno does not read it as a variable.
fn escape(text: &str) -> String {
    text.replace("{{", "\\{{")
}
