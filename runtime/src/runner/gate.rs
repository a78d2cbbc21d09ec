//! What fails a run: `deny` findings by default; `--fail-on-warn` adds warnings,
//! `--fail-on-severity` keeps only findings at or above a severity, and `--baseline` lets
//! findings already known pass. Applied to each object's findings as they are reported, so
//! that every format reads the same verdict from [`Violation::fails`](super::Violation::fails).

use crate::eval::Action;

use super::baseline::{Baseline, Stale};
use super::{ObjectResult, Report, RunError};

/// Rule severities, in increasing order (spec/language.md §4.1).
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// The rank of a severity in [`SEVERITIES`]; an unknown one ranks highest, so that it is
/// never let through by a threshold.
pub fn rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(SEVERITIES.len())
}

/// How the run was asked to fail, as the reports show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `--fail-on-warn`.
    pub fail_on_warn: bool,
    /// `--fail-on-severity`: the lowest severity that fails.
    pub min_severity: Option<String>,
    /// `--baseline`: the report file, when one was given.
    pub baseline: Option<String>,
    /// Baseline entries that no finding of this run matched.
    pub stale: Vec<Stale>,
}

impl Settings {
    /// One line saying what fails the run, when it is not just `deny` findings.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.fail_on_warn {
            parts.push("warnings fail".to_string());
        }
        if let Some(min) = &self.min_severity {
            parts.push(format!("only severity {min} or higher fails"));
        }
        if let Some(file) = &self.baseline {
            parts.push(format!("findings in baseline `{file}` pass"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Decides which findings fail the run and matches them against the baseline, one object
/// at a time in report order (so that a streamed report reads the same verdict as a whole
/// one); [`Gate::finish`] then lists the baseline's stale entries and sets the report's
/// [`Settings`].
pub struct Gate {
    fail_on_warn: bool,
    min_severity: Option<String>,
    baseline: Option<Baseline>,
}

impl Default for Gate {
    /// `deny` findings fail; no baseline.
    fn default() -> Self {
        Gate::new(false, None, None)
    }
}

impl Gate {
    /// The gate of `--fail-on-warn`, `--fail-on-severity` and `--baseline`.
    pub fn new(fail_on_warn: bool, min_severity: Option<&str>, baseline: Option<Baseline>) -> Gate {
        Gate {
            fail_on_warn,
            min_severity: min_severity.map(str::to_string),
            baseline,
        }
    }

    /// Sets [`Violation::at_threshold`](super::Violation) and `baselined` on the findings of
    /// one object.
    pub fn judge(&mut self, r: &mut ObjectResult) {
        let min = self.min_severity.as_deref().map(rank).unwrap_or(0);
        for i in 0..r.violations.len() {
            let v = &r.violations[i];
            let at_threshold =
                (v.action == Action::Deny || self.fail_on_warn) && rank(&v.severity) >= min;
            // Exempted findings are left out of a report's `violations`, so they are never
            // in a baseline; matching them would use up entries of others.
            let baselined = match &mut self.baseline {
                Some(b) => v.exemption.is_none() && b.take(r, v),
                None => false,
            };
            let v = &mut r.violations[i];
            v.at_threshold = at_threshold;
            v.baselined = baselined;
        }
    }

    /// Records the settings in the report and lists the baseline entries no finding matched
    /// as notices.
    pub fn finish(self, report: &mut Report) {
        report.gate = Settings {
            fail_on_warn: self.fail_on_warn,
            min_severity: self.min_severity,
            baseline: self.baseline.as_ref().map(|b| b.file.clone()),
            stale: self.baseline.map(Baseline::stale).unwrap_or_default(),
        };
        for s in &report.gate.stale {
            report.notices.push(RunError::file(
                report.gate.baseline.as_deref().unwrap_or_default(),
                format!("baseline entry not found any more: {}", s.describe()),
            ));
        }
    }
}

/// Applies a gate to a finished report (results held in memory) and recounts the summary.
pub fn apply(
    report: &mut Report,
    fail_on_warn: bool,
    min_severity: Option<&str>,
    baseline: Option<Baseline>,
) {
    let mut gate = Gate::new(fail_on_warn, min_severity, baseline);
    for r in &mut report.results {
        gate.judge(r);
    }
    gate.finish(report);
    report.count_findings();
}
