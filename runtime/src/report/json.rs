//! The JSON format: the stable document that scripts read (`"version": 1`).

use serde::Serialize;

use crate::eval::Action;
use crate::runner::{ObjectResult, Report, RuleCounts, RunError, Summary, Violation};

/// The document after `version` and `results`; field order is the order of the output. The
/// summary comes last: the results are written as the run goes, before the counts are known.
#[derive(Serialize)]
struct Tail<'a> {
    errors: Vec<JsonError<'a>>,
    notices: Vec<JsonError<'a>>,
    /// Inputs that are not (only) Kubernetes objects.
    skipped_files: Vec<JsonSkipped<'a>>,
    /// What fails the run beyond `deny` findings.
    gate: JsonGate<'a>,
    /// Kinds whose objects were not checked against a schema: they have none.
    unvalidated_kinds: Vec<JsonKind<'a>>,
    summary: JsonSummary,
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

/// One result as the document shows it.
fn result(r: &ObjectResult, baseline: bool) -> JsonResult<'_> {
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
        rules: rule_counts(r.rules),
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
    /// The object the finding generates (`generate` of a set rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    generated: Option<&'a serde_json::Value>,
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
        generated: v.generated.as_ref(),
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

fn summary(s: &Summary) -> JsonSummary {
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
        rules_passed: s.rules_passed,
        rules_not_applied: s.rules_not_applied,
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
    let mut stream = Stream::start(report.gate.baseline.is_some(), w)?;
    for r in &report.results {
        stream.result(r, w)?;
    }
    stream.finish(report, w)
}

/// The document written as the run goes: `version`, then each result as it comes, then the
/// rest, `summary` last. The output is the pretty-printed document, as one serialisation
/// of the whole would write it.
pub struct Stream {
    baseline: bool,
    results: usize,
    /// One result's text, written out whole.
    buffer: Vec<u8>,
}

/// serde_json's pretty layout (two spaces a level) starting `base` levels deep: a value
/// serialised on its own but indented to sit inside the document.
struct Nested {
    level: usize,
    has_value: bool,
}

impl Nested {
    fn new(base: usize) -> Self {
        Nested {
            level: base,
            has_value: false,
        }
    }

    fn indent<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        for _ in 0..self.level {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(bracket)
    }

    fn element<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.element(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.element(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

impl Stream {
    /// Writes the document's start; `baseline`: whether the run has a baseline (findings
    /// then carry `baselineState`).
    pub fn start(baseline: bool, w: &mut dyn std::io::Write) -> std::io::Result<Stream> {
        w.write_all(b"{\n  \"version\": 1,\n  \"results\": [")?;
        Ok(Stream {
            baseline,
            results: 0,
            buffer: Vec::new(),
        })
    }

    /// Writes one result.
    pub fn result(&mut self, r: &ObjectResult, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let separator: &[u8] = if self.results == 0 {
            b"\n    "
        } else {
            b",\n    "
        };
        self.results += 1;
        self.buffer.clear();
        self.buffer.extend_from_slice(separator);
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut self.buffer, Nested::new(2));
        result(r, self.baseline)
            .serialize(&mut serializer)
            .map_err(std::io::Error::from)?;
        w.write_all(&self.buffer)
    }

    /// Writes the rest of the document from the finished report (its results are not read).
    pub fn finish(self, report: &Report, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let close: &[u8] = if self.results == 0 { b"]" } else { b"\n  ]" };
        w.write_all(close)?;
        let text = serde_json::to_vec_pretty(&tail(report)).map_err(std::io::Error::from)?;
        // `{` + the fields at the document's indentation + `}`: the fields follow `results`.
        w.write_all(b",")?;
        w.write_all(&text[1..])?;
        w.write_all(b"\n")
    }
}

fn tail(report: &Report) -> Tail<'_> {
    Tail {
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
        summary: summary(&report.summary),
    }
}
