//! The PolicyReport format (`wgpolicyk8s.io/v1alpha2`, the Kubernetes policy working group's
//! report API that Kyverno, Policy Reporter and other dashboards read): a `v1` `List` of one
//! `PolicyReport` per namespace of the objects and one `ClusterPolicyReport` for objects
//! without a namespace, which `kubectl apply -f` accepts.
//!
//! Each result is one rule on one object: `fail` (a deny finding), `warn`, `skip` (a
//! finding an exception waives), `error` (the rule could not be evaluated) or `pass` (the
//! rule applies to the object and found nothing; known when the run recorded the rules
//! that apply, [`crate::runner::Options::applicable_rules`]).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::eval::{Action, RuleInfo};
use crate::runner::{ObjectResult, Report};

/// The API version of the reports written.
pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";

/// Counts per result, for a report's `summary`.
#[derive(Default)]
struct Summary {
    pass: u64,
    fail: u64,
    warn: u64,
    error: u64,
    skip: u64,
}

impl Summary {
    fn count(&mut self, result: &str) {
        match result {
            "pass" => self.pass += 1,
            "fail" => self.fail += 1,
            "warn" => self.warn += 1,
            "error" => self.error += 1,
            _ => self.skip += 1,
        }
    }
}

/// One report being filled.
#[derive(Default)]
struct Scope {
    results: Vec<Value>,
    summary: Summary,
}

/// The severities the report API knows (rule severities outside it are left out).
fn severity(s: &str) -> Option<&str> {
    matches!(s, "critical" | "high" | "medium" | "low" | "info").then_some(s)
}

/// The reference to the object a result is about.
fn resource(r: &ObjectResult) -> Value {
    let mut m = Map::new();
    m.insert("apiVersion".into(), json!(r.api_version));
    m.insert("kind".into(), json!(r.kind));
    if let Some(name) = &r.name {
        m.insert("name".into(), json!(name));
    }
    if let Some(ns) = &r.namespace {
        m.insert("namespace".into(), json!(ns));
    }
    Value::Object(m)
}

struct Entry<'a> {
    rule: &'a str,
    result: &'static str,
    message: String,
    properties: Map<String, Value>,
}

fn result(
    rules: &BTreeMap<&str, &RuleInfo>,
    object: &ObjectResult,
    entry: Entry,
    timestamp: &Value,
) -> Value {
    let info = rules.get(entry.rule);
    let (policy, name) = match info {
        Some(i) if !i.module.is_empty() => (i.module.as_str(), i.name.as_str()),
        _ => entry
            .rule
            .rsplit_once('.')
            .unwrap_or(("rampart", entry.rule)),
    };
    let mut m = Map::new();
    m.insert("source".into(), json!("rampart"));
    m.insert("policy".into(), json!(policy));
    m.insert("rule".into(), json!(name));
    m.insert("result".into(), json!(entry.result));
    m.insert("scored".into(), json!(true));
    m.insert("message".into(), json!(entry.message));
    if let Some(i) = info {
        if let Some(s) = severity(&i.severity) {
            m.insert("severity".into(), json!(s));
        }
        if !i.category.is_empty() {
            m.insert("category".into(), json!(i.category));
        }
    }
    let mut properties = entry.properties;
    properties.insert("ruleId".into(), json!(entry.rule));
    properties.insert("file".into(), json!(object.file));
    m.insert("properties".into(), Value::Object(properties));
    m.insert("resources".into(), json!([resource(object)]));
    m.insert("timestamp".into(), timestamp.clone());
    Value::Object(m)
}

/// The results of one object.
fn object_results(
    rules: &BTreeMap<&str, &RuleInfo>,
    r: &ObjectResult,
    timestamp: &Value,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut reported: Vec<&str> = Vec::new();
    for v in &r.violations {
        let outcome = match (&v.exemption, v.action) {
            (Some(_), _) => "skip",
            (None, Action::Deny) => "fail",
            (None, Action::Warn) => "warn",
        };
        let mut properties = Map::new();
        properties.insert("path".into(), json!(v.path));
        properties.insert("line".into(), json!(v.line.to_string()));
        if let Some(e) = &v.exemption {
            properties.insert("exemption".into(), json!(e.reason));
        }
        reported.push(&v.rule);
        let entry = Entry {
            rule: &v.rule,
            result: outcome,
            message: v.message.clone(),
            properties,
        };
        out.push(result(rules, r, entry, timestamp));
    }
    for rule in &r.failed_rules {
        reported.push(rule);
        let entry = Entry {
            rule,
            result: "error",
            message: r.error.clone().unwrap_or_default(),
            properties: Map::new(),
        };
        out.push(result(rules, r, entry, timestamp));
    }
    for rule in &r.applicable {
        if reported.contains(&rule.as_ref()) {
            continue;
        }
        let entry = Entry {
            rule,
            result: "pass",
            message: rules
                .get(rule.as_ref())
                .map_or(String::new(), |i| i.title.clone()),
            properties: Map::new(),
        };
        out.push(result(rules, r, entry, timestamp));
    }
    out
}

/// The reports as a `v1` `List`, as JSON.
pub fn render(report: &Report) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let timestamp = json!({"seconds": now.as_secs(), "nanos": 0});
    let rules: BTreeMap<&str, &RuleInfo> =
        report.rules.iter().map(|r| (r.id.as_str(), r)).collect();
    // `None`: the cluster report.
    let mut scopes: BTreeMap<Option<&str>, Scope> = BTreeMap::new();
    for r in &report.results {
        let scope = scopes.entry(r.namespace.as_deref()).or_default();
        for v in object_results(&rules, r, &timestamp) {
            scope.summary.count(v["result"].as_str().unwrap_or(""));
            scope.results.push(v);
        }
    }
    let items: Vec<Value> = scopes
        .into_iter()
        .map(|(namespace, scope)| {
            let s = &scope.summary;
            let mut metadata = json!({
                "labels": {"app.kubernetes.io/managed-by": "rampart"},
            });
            let kind = match namespace {
                Some(ns) => {
                    metadata["name"] = json!("rampart");
                    metadata["namespace"] = json!(ns);
                    "PolicyReport"
                }
                None => {
                    metadata["name"] = json!("rampart-cluster");
                    "ClusterPolicyReport"
                }
            };
            json!({
                "apiVersion": API_VERSION,
                "kind": kind,
                "metadata": metadata,
                "summary": {"pass": s.pass, "fail": s.fail, "warn": s.warn, "error": s.error, "skip": s.skip},
                "results": scope.results,
            })
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}
