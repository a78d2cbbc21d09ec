//! The SARIF 2.1.0 format, as GitHub code scanning reads it: one reportingDescriptor per
//! rule, results with regions, exemptions as suppressions, input errors as notifications.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::eval::Action;
use crate::runner::Report;

/// A path as a relative URI: forward slashes, no leading `./`, spaces and `%` escaped.
fn uri(file: &str) -> String {
    let path = file.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    path.replace('%', "%25").replace(' ', "%20")
}

/// GitHub's `security-severity` score for a rule severity.
fn score(severity: &str) -> &'static str {
    match severity {
        "critical" => "9.5",
        "high" => "8.0",
        "medium" => "5.5",
        _ => "3.0",
    }
}

/// Renders the report as a SARIF log.
pub fn render(report: &Report) -> String {
    let index: HashMap<&str, usize> = report
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|r| {
            let level = if r.outcomes.iter().all(|o| o.action == Action::Warn) {
                "warning"
            } else {
                "error"
            };
            let mut tags = vec![json!("security"), json!(r.category)];
            tags.extend(r.controls.iter().map(|c| json!(c)));
            let help = format!(
                "{}\n\nRemediation: {}",
                if r.description.is_empty() { &r.title } else { &r.description },
                r.remediation
            );
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": if r.description.is_empty() { &r.title } else { &r.description }},
                "help": {"text": help},
                "defaultConfiguration": {"level": level},
                "properties": {
                    "tags": tags,
                    "precision": "very-high",
                    "problem.severity": if level == "error" { "error" } else { "warning" },
                    "security-severity": score(&r.severity),
                    "severity": r.severity,
                },
            })
        })
        .collect();
    let mut results = Vec::new();
    for r in &report.results {
        for v in &r.violations {
            let mut result = json!({
                "ruleId": v.rule,
                "level": match v.action { Action::Deny => "error", Action::Warn => "warning" },
                "message": {"text": format!("{} ({})", v.message, r.describe())},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&r.file)},
                        "region": {"startLine": v.line, "startColumn": v.col},
                    },
                    "logicalLocations": [{"fullyQualifiedName": v.path, "kind": "member"}],
                }],
            });
            if let Some(&i) = index.get(&*v.rule) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(e) = &v.exemption {
                result["suppressions"] = json!([{
                    "kind": if e.origin == "annotation" { "inSource" } else { "external" },
                    "justification": e.reason,
                    "location": {"physicalLocation": {"artifactLocation": {"uri": uri(&e.origin)}}},
                }]);
                if e.origin == "annotation" {
                    result["suppressions"][0]
                        .as_object_mut()
                        .expect("built above as an object")
                        .remove("location");
                }
            }
            results.push(result);
        }
    }
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let mut region = json!({});
            if let (Some(l), Some(c)) = (e.line, e.col) {
                region = json!({"startLine": l, "startColumn": c});
            }
            let mut notification = json!({
                "level": "error",
                "message": {"text": e.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri(&e.file)},
                    "region": region,
                }}],
            });
            if let Some(rule) = &e.rule {
                notification["associatedRule"] = json!({"id": rule});
            }
            notification
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rampart",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
