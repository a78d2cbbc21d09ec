//! The Gatekeeper export run by regorus: each rule's Rego module evaluated as Gatekeeper
//! evaluates a ConstraintTemplate (Rego v0), on a review of the case's object.

use std::collections::BTreeMap;

use rampart_compiler::backend::rego;
use rampart_compiler::backend::rego::gatekeeper;
use rampart_compiler::ir::Program;
use serde_json::{json, Value as Json};

use super::super::backend::{Backend, Details, Got};
use super::super::parse::Case;
use crate::eval::{select, Action, AdmissionContext, Finding, RuleInfo};
use crate::manifest::{Node, PathSegment};

/// One rule's module, loaded.
struct Module {
    engine: regorus::Engine,
    /// `data.<package>.violation`.
    query: String,
    /// The Constraint's parameters: the defaults.
    params: serde_json::Map<String, Json>,
}

/// A rule as the Rego backend sees it.
enum Entry {
    Loaded(Box<Module>),
    /// The Gatekeeper export refuses the rule: why.
    NotExported(String),
    /// regorus rejects the module: why.
    Rejected(String),
}

/// The exported Rego of a policy set, one engine per rule.
pub struct RegoBackend {
    rules: BTreeMap<String, Entry>,
}

impl RegoBackend {
    /// Exports every rule of `program` to Rego and loads it.
    pub fn new(program: &Program) -> RegoBackend {
        // The rules the export leaves out, or every rule's error when it fails.
        let refused: BTreeMap<String, String> = gatekeeper::export(program)
            .map_or_else(|errors| errors, |exported| exported.gaps)
            .iter()
            .map(|e| (e.rule.clone(), e.to_string()))
            .collect();
        let mut rules = BTreeMap::new();
        for rule in &program.rules {
            let entry = if let Some(why) = refused.get(&rule.id) {
                Entry::NotExported(why.clone())
            } else {
                let package = gatekeeper::kind_name(&rule.id).to_lowercase();
                let module = rego::rule_module(rule, &package);
                let mut engine = regorus::Engine::new();
                // Gatekeeper reads templates as Rego v0.
                engine.set_rego_v0(true);
                match engine.add_policy(format!("{}.rego", rule.id), module) {
                    Ok(_) => Entry::Loaded(Box::new(Module {
                        engine,
                        query: format!("data.{package}.violation"),
                        params: rule
                            .params
                            .iter()
                            .map(|p| {
                                let v = serde_json::to_value(&p.default).unwrap_or(Json::Null);
                                (p.name.clone(), v)
                            })
                            .collect(),
                    })),
                    Err(e) => Entry::Rejected(format!("regorus rejects the Rego: {e}")),
                }
            };
            rules.insert(rule.id.clone(), entry);
        }
        RegoBackend { rules }
    }
}

impl Backend for RegoBackend {
    fn name(&self) -> &'static str {
        "rego"
    }

    fn details(&self) -> Details {
        Details::ALL
    }

    fn outcomes(&self, rule: &RuleInfo, case: &Case) -> Result<Got, String> {
        if select::subject(&rule.matcher, &case.object).is_none() {
            return Ok(Got::Skip);
        }
        let module = match self.rules.get(&rule.id) {
            None => return Err(format!("no Rego for rule `{}`", rule.id)),
            Some(Entry::NotExported(why)) => return Ok(Got::NotApplicable(why.clone())),
            Some(Entry::Rejected(why)) => return Err(why.clone()),
            Some(Entry::Loaded(m)) => m,
        };
        let mut engine = module.engine.clone();
        let set: Vec<Json> = case.set.iter().map(Node::to_json).collect();
        engine
            .add_data(regorus::Value::from(json!({"inventory": inventory(&set)})))
            .map_err(|e| format!("data.inventory: {e}"))?;
        let mut params = module.params.clone();
        for (name, value) in super::overrides(case, &rule.id) {
            params.insert(name.to_string(), value.clone());
        }
        let mut input = json!({"review": review_in(&case.object.to_json(), &case.context)});
        if !params.is_empty() {
            input["parameters"] = Json::Object(params);
        }
        engine.set_input(regorus::Value::from(input));
        let result = engine
            .eval_rule(module.query.clone())
            .map_err(|e| e.to_string())?;
        // An undefined rule has no violation.
        let violations = match serde_json::to_value(&result) {
            _ if matches!(result, regorus::Value::Undefined) => Vec::new(),
            Ok(Json::Array(items)) => items,
            Ok(other) => return Err(format!("`violation` is not a set: {other}")),
            Err(e) => return Err(e.to_string()),
        };
        let mut findings = Vec::new();
        for v in violations {
            let message = v["msg"].as_str().unwrap_or_default().to_string();
            let action = match v["details"]["action"].as_str() {
                Some("deny") => Action::Deny,
                Some("warn") => Action::Warn,
                _ => return Err(format!("a violation without `details.action`: {v}")),
            };
            let path = parse_path(v["details"]["path"].as_str().unwrap_or_default());
            let (node, _) = case.object.locate(&path);
            findings.push(Finding {
                rule_id: rule.id.clone(),
                action,
                message,
                path,
                line: node.line,
                col: node.col,
                fixes: Vec::new(),
                generated: None,
            });
        }
        Ok(Got::Findings(findings))
    }
}

/// A Gatekeeper review of one object, as for a CREATE request.
pub fn review(object: &Json) -> Json {
    review_in(object, &AdmissionContext::create())
}

/// A Gatekeeper review of one object under an admission request: the request's fields
/// (`operation`, `userInfo`, `dryRun`, `namespace`, `name`), `kind`, `object` and, on
/// UPDATE and DELETE, `oldObject`.
pub fn review_in(object: &Json, context: &AdmissionContext) -> Json {
    let api = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let mut r = context.request_json(object);
    r["object"] = object.clone();
    r["kind"] = json!({"group": group, "version": version, "kind": object["kind"]});
    if context.old_object.is_some() {
        r["oldObject"] = context.old_json();
    }
    r
}

/// `data.inventory` as Gatekeeper syncs it: `cluster[apiVersion][kind][name]` and
/// `namespace[ns][apiVersion][kind][name]`.
pub fn inventory(objects: &[Json]) -> Json {
    let mut inv = json!({"cluster": {}, "namespace": {}});
    for o in objects {
        let (Some(api), Some(kind), Some(name)) = (
            o["apiVersion"].as_str(),
            o["kind"].as_str(),
            o["metadata"]["name"].as_str(),
        ) else {
            continue;
        };
        match o["metadata"]["namespace"].as_str() {
            Some(ns) => inv["namespace"][ns][api][kind][name] = o.clone(),
            None => inv["cluster"][api][kind][name] = o.clone(),
        }
    }
    inv
}

/// The path text the Rego writes (`spec.containers[0].image`, `metadata.labels["a/b"]`)
/// back as segments: names after a dot are fields, quoted names keys, numbers indexes.
fn parse_path(text: &str) -> Vec<PathSegment> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            if r.starts_with('"') {
                // A JSON string, then `]`.
                let mut stream = serde_json::Deserializer::from_str(r).into_iter::<String>();
                let Some(Ok(key)) = stream.next() else {
                    break;
                };
                let used = stream.byte_offset();
                out.push(PathSegment::Key(key));
                rest = r[used..].strip_prefix(']').unwrap_or(&r[used..]);
            } else {
                let end = r.find(']').unwrap_or(r.len());
                match r[..end].parse() {
                    Ok(i) => out.push(PathSegment::Index(i)),
                    Err(_) => break,
                }
                rest = r.get(end + 1..).unwrap_or("");
            }
        } else {
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(PathSegment::Field(r[..end].to_string()));
            rest = &r[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::format_path;

    #[test]
    fn rego_paths_read_back() {
        for text in [
            "spec.containers[0].securityContext.privileged",
            "metadata.labels[\"app.kubernetes.io/name\"]",
            "spec.template.spec.volumes[12].hostPath",
            "",
        ] {
            assert_eq!(format_path(&parse_path(text)), text);
        }
        assert_eq!(
            parse_path("metadata.annotations[\"a\\\"]b\"].x"),
            [
                PathSegment::Field("metadata".into()),
                PathSegment::Field("annotations".into()),
                PathSegment::Key("a\"]b".into()),
                PathSegment::Field("x".into()),
            ]
        );
    }
}
