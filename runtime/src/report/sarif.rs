//! The SARIF 2.1.0 format, as GitHub code scanning reads it: one reportingDescriptor per
//! rule, results with regions, exemptions as suppressions, input errors and warnings about
//! the run as notifications. Files are named relative to the `%SRCROOT%` base (the git
//! repository holding the current folder, else the current folder), absolute input paths
//! included; a file outside it gets an absolute `file://` URI.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use crate::eval::Action;
use crate::report::json::baseline_state;
use crate::runner::{Report, RunError};

/// The name of the base that relative URIs are resolved against.
const SRCROOT: &str = "%SRCROOT%";

/// Percent-encodes a path for a URI: everything but unreserved characters and `/`.
fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Where files are named from: the current folder and the `%SRCROOT%` base.
pub struct Root {
    /// The current folder, which relative input names start from.
    pub cwd: PathBuf,
    /// The base of relative URIs.
    pub base: PathBuf,
}

impl Root {
    /// The current folder, with the base at the git repository holding it (or itself).
    pub fn current() -> Option<Root> {
        let cwd = std::env::current_dir().ok()?;
        let base = cwd
            .ancestors()
            .find(|dir| dir.join(".git").exists())
            .unwrap_or(&cwd)
            .to_path_buf();
        Some(Root { cwd, base })
    }

    /// The `file://` URI of the base folder, ending in `/` as SARIF asks.
    fn base_uri(&self) -> String {
        let mut path = self.base.to_string_lossy().replace('\\', "/");
        if !path.ends_with('/') {
            path.push('/');
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        format!("file://{}", escape(&path))
    }

    /// An `artifactLocation` for an input name (stdin `-` is kept as it is).
    fn artifact(&self, file: &str) -> Value {
        if file == "-" {
            return json!({"uri": "-"});
        }
        let path = normalize(&self.cwd.join(file.replace('\\', "/")));
        match path.strip_prefix(&self.base) {
            Ok(relative) => json!({
                "uri": escape(&relative.to_string_lossy().replace('\\', "/")),
                "uriBaseId": SRCROOT,
            }),
            Err(_) => {
                let text = path.to_string_lossy().replace('\\', "/");
                let text = if text.starts_with('/') {
                    text
                } else {
                    format!("/{text}")
                };
                json!({"uri": format!("file://{}", escape(&text))})
            }
        }
    }
}

/// A `physicalLocation` at `file`, with the region when a line is known.
fn location(root: &Root, file: &str, line: Option<u32>, col: Option<u32>) -> Value {
    let mut region = json!({});
    if let Some(l) = line {
        region["startLine"] = json!(l);
    }
    if let Some(c) = col {
        region["startColumn"] = json!(c);
    }
    json!({"artifactLocation": root.artifact(file), "region": region})
}

/// A notification for an error or a warning about the run.
fn notification(root: &Root, level: &str, e: &RunError) -> Value {
    let mut notification = json!({
        "level": level,
        "message": {"text": e.message},
        "locations": [{"physicalLocation": location(root, &e.file, e.line, e.col)}],
    });
    if let Some(rule) = &e.rule {
        notification["associatedRule"] = json!({"id": rule});
    }
    notification
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

/// Renders the report as a SARIF log, with files named from the current folder.
pub fn render(report: &Report) -> String {
    let root = Root::current().unwrap_or(Root {
        cwd: PathBuf::from("/"),
        base: PathBuf::from("/"),
    });
    render_with_root(report, &root)
}

/// Renders the report as a SARIF log, with files named from `root`.
pub fn render_with_root(report: &Report, root: &Root) -> String {
    let baseline = report.gate.baseline.is_some();
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
                // `error` for the findings at the run's failure threshold, whether or not an
                // exception or the baseline lets them pass (suppressions and baselineState
                // say that).
                "level": if v.at_threshold { "error" } else { "warning" },
                "message": {"text": format!("{} ({})", v.message, r.describe())},
                "locations": [{
                    "physicalLocation": location(root, &r.file, Some(v.line), Some(v.col)),
                    "logicalLocations": [{"fullyQualifiedName": v.path, "kind": "member"}],
                }],
            });
            if let Some(&i) = index.get(&*v.rule) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(state) = baseline_state(v, baseline) {
                result["baselineState"] = json!(state);
            }
            if let Some(e) = &v.exemption {
                let mut suppression = json!({
                    "kind": if e.origin == "annotation" { "inSource" } else { "external" },
                    "justification": e.reason,
                });
                // An exceptions file entry is `FILE:LINE`; an annotation is in the manifest.
                let (file, line) = match e.origin.rsplit_once(':') {
                    Some((file, line)) if line.parse::<u32>().is_ok() => {
                        (file, line.parse::<u32>().ok())
                    }
                    _ => (r.file.as_str(), Some(r.line)),
                };
                suppression["location"] =
                    json!({"physicalLocation": location(root, file, line, None)});
                result["suppressions"] = json!([suppression]);
            }
            results.push(result);
        }
    }
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| notification(root, "error", e))
        .chain(
            report
                .notices
                .iter()
                .map(|n| notification(root, "warning", n)),
        )
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
            "originalUriBaseIds": {SRCROOT: {"uri": root.base_uri()}},
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
