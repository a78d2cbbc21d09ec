//! The JSON format: the stable document that scripts read (`"version": 1`).

use serde::Serialize;

use crate::eval::Action;
use crate::runner::{Report, RuleCounts, RunError, Violation};

/// The whole document; field order is the order of the output.
#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    summary: JsonSummary,
    results: Results<'a>,
    errors: Vec<JsonError<'a>>,
    notices: Vec<JsonError<'a>>,
    /// Inputs that are not (only) Kubernetes objects.
    skipped_files: Vec<JsonSkipped<'a>>,
    /// What fails the run beyond `deny` findings.
    gate: JsonGate<'a>,
    /// Kinds whose objects were not checked against a schema: they have none.
    unvalidated_kinds: Vec<JsonKind<'a>>,
}

#[derive(Serialize)]
struct JsonSkipped<'a> {
    file: &'a str,
    documents: usize,
    no_object: bool,
}

#[derive(Serialize)]
struct JsonGate<'a> {
    fail_on_warn: bool,
    fail_on_severity: Option<&'a str>,
    baseline: Option<&'a str>,
    /// Baseline entries that no finding matched.
    stale: Vec<JsonStale<'a>>,
}

#[derive(Serialize)]
struct JsonStale<'a> {
    file: &'a str,
    object: &'a str,
    rule: &'a str,
    path: &'a str,
}

#[derive(Serialize)]
struct JsonKind<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    objects: usize,
}

/// The results, serialised one by one as they are converted: a report with hundreds of
/// thousands of findings is not copied into a second tree first.
struct Results<'a>(&'a Report);

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let baseline = self.0.gate.baseline.is_some();
        let selected = self.0.rules.len();
        s.collect_seq(self.0.results.iter().map(|r| {
            JsonResult {
                file: &r.file,
                document: r.document,
                line: r.line,
                api_version: &r.api_version,
                kind: &r.kind,
                namespace: r.namespace.as_deref(),
                name: r.name.as_deref(),
                violations: r.active().map(|v| violation(v, baseline)).collect(),
                exempted: r
                    .violations
                    .iter()
                    .filter(|v| v.exemption.is_some())
                    .map(|v| violation(v, baseline))
                    .collect(),
                error: r.error.as_deref(),
                rules: rule_counts(r.rule_counts(selected)),
            }
        }))
    }
}

#[derive(Serialize)]
struct JsonSummary {
    files: usize,
    resources: usize,
    violations: usize,
    warnings: usize,
    exempted: usize,
    baselined: usize,
    failing: usize,
    skipped: usize,
    errors: usize,
    unvalidated: usize,
    /// Over every object: (object, rule) pairs where the rule applied and passed, and
    /// where it did not apply.
    rules_passed: usize,
    rules_not_applied: usize,
}

/// The selected rules on one object: applied (`passed` of them found nothing) or not.
#[derive(Serialize)]
struct JsonRuleCounts {
    applied: usize,
    passed: usize,
    not_applied: usize,
}

fn rule_counts(c: RuleCounts) -> JsonRuleCounts {
    JsonRuleCounts {
        applied: c.applied,
        passed: c.passed,
        not_applied: c.not_applied,
    }
}

#[derive(Serialize)]
struct JsonResult<'a> {
    file: &'a str,
    document: usize,
    line: u32,
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    violations: Vec<JsonViolation<'a>>,
    /// Exempted findings are listed apart so that `violations` is exactly what fails.
    exempted: Vec<JsonViolation<'a>>,
    error: Option<&'a str>,
    rules: JsonRuleCounts,
}

#[derive(Serialize)]
struct JsonViolation<'a> {
    rule: &'a str,
    action: &'static str,
    severity: &'a str,
    message: &'a str,
    path: &'a str,
    line: u32,
    column: u32,
    /// Whether this finding fails the run.
    fails: bool,
    /// `new` or `unchanged`, when the run has a baseline.
    #[serde(rename = "baselineState", skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exemption: Option<JsonExemption<'a>>,
}

#[derive(Serialize)]
struct JsonExemption<'a> {
    reason: &'a str,
    owner: Option<&'a str>,
    until: Option<&'a str>,
    origin: &'a str,
}

#[derive(Serialize)]
struct JsonError<'a> {
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    message: &'a str,
    /// Evaluation errors only: the rule that failed and the field where it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
}

/// `deny` or `warn`.
pub fn action(a: Action) -> &'static str {
    match a {
        Action::Deny => "deny",
        Action::Warn => "warn",
    }
}

/// SARIF's `baselineState` of a finding, when the run has a baseline.
pub fn baseline_state(v: &Violation, baseline: bool) -> Option<&'static str> {
    match (baseline, v.baselined) {
        (false, _) => None,
        (true, true) => Some("unchanged"),
        (true, false) => Some("new"),
    }
}

fn violation(v: &Violation, baseline: bool) -> JsonViolation<'_> {
    JsonViolation {
        rule: &v.rule,
        action: action(v.action),
        severity: &v.severity,
        message: &v.message,
        path: &v.path,
        line: v.line,
        column: v.col,
        fails: v.fails(),
        baseline_state: baseline_state(v, baseline),
        exemption: v.exemption.as_ref().map(|e| JsonExemption {
            reason: &e.reason,
            owner: e.owner.as_deref(),
            until: e.until.as_deref(),
            origin: &e.origin,
        }),
    }
}

fn error(e: &RunError) -> JsonError<'_> {
    JsonError {
        file: &e.file,
        line: e.line,
        column: e.col,
        message: &e.message,
        rule: e.rule.as_deref(),
        path: e.path.as_deref(),
    }
}

fn summary(report: &Report) -> JsonSummary {
    let s = &report.summary;
    let selected = report.rules.len();
    let (mut rules_passed, mut rules_not_applied) = (0, 0);
    for r in &report.results {
        let c = r.rule_counts(selected);
        rules_passed += c.passed;
        rules_not_applied += c.not_applied;
    }
    JsonSummary {
        files: s.files,
        resources: s.resources,
        violations: s.violations,
        warnings: s.warnings,
        exempted: s.exempted,
        baselined: s.baselined,
        failing: s.failing,
        skipped: s.skipped,
        errors: s.errors,
        unvalidated: s.unvalidated,
        rules_passed,
        rules_not_applied,
    }
}

/// Renders the report as pretty-printed JSON.
pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    write(report, &mut out).expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Writes the report as pretty-printed JSON, straight to `w`: a large report is never held
/// as one string.
pub fn write(report: &Report, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let doc = Document {
        version: 1,
        summary: summary(report),
        results: Results(report),
        errors: report.errors.iter().map(error).collect(),
        notices: report.notices.iter().map(error).collect(),
        skipped_files: report
            .skipped_files
            .iter()
            .map(|f| JsonSkipped {
                file: &f.file,
                documents: f.documents,
                no_object: f.no_object,
            })
            .collect(),
        gate: JsonGate {
            fail_on_warn: report.gate.fail_on_warn,
            fail_on_severity: report.gate.min_severity.as_deref(),
            baseline: report.gate.baseline.as_deref(),
            stale: report
                .gate
                .stale
                .iter()
                .map(|s| JsonStale {
                    file: &s.file,
                    object: &s.object,
                    rule: &s.rule,
                    path: &s.path,
                })
                .collect(),
        },
        unvalidated_kinds: report
            .unvalidated
            .iter()
            .map(|((api_version, kind), objects)| JsonKind {
                api_version,
                kind,
                objects: *objects,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    w.write_all(b"\n")
}
