//! The compliance view of a report (`rampart test --summary controls`, and the HTML report):
//! for every CIS, NIST and NSA-CISA control the selected rules name, how many of the rules
//! behind it passed, failed or had nothing to check.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::eval::RuleInfo;
use crate::runner::Report;

/// What one rule did in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A finding of the rule is not covered by an exception (deny or warn).
    Fail,
    /// The rule applied to some object (by kind) and every finding is exempted, or none.
    Pass,
    /// No checked object has a kind the rule matches.
    NotApplicable,
}

impl Status {
    /// `pass`, `fail` or `n/a`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Pass => "pass",
            Status::NotApplicable => "n/a",
        }
    }
}

/// One control and the rules behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlRow {
    /// The control as the rules write it: `CIS 5.2.1`, `NIST AC-6`, `NSA-CISA Pod security`.
    pub control: String,
    /// The rules naming it, by id, with what each did.
    pub rules: Vec<(String, Status)>,
}

impl ControlRow {
    /// How many of its rules have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.rules.iter().filter(|(_, s)| *s == status).count()
    }

    /// The control's own status: fail when a rule fails, pass when one passes, else n/a.
    pub fn status(&self) -> Status {
        if self.count(Status::Fail) > 0 {
            Status::Fail
        } else if self.count(Status::Pass) > 0 {
            Status::Pass
        } else {
            Status::NotApplicable
        }
    }
}

/// What `rule` did in the run of `report`.
pub fn rule_status(report: &Report, rule: &RuleInfo) -> Status {
    let failed = report
        .results
        .iter()
        .flat_map(|r| r.active())
        .any(|v| *v.rule == *rule.id);
    if failed {
        return Status::Fail;
    }
    let applies = report.results.iter().any(|o| {
        rule.matcher.targets.is_empty()
            || rule
                .matcher
                .targets
                .iter()
                .any(|t| t.gvk.matches(&o.api_version, &o.kind))
    });
    if applies {
        Status::Pass
    } else {
        Status::NotApplicable
    }
}

/// Sort key of a control: its framework, then its text with numbers compared as numbers
/// (`CIS 5.2.9` before `CIS 5.2.10`).
fn sort_key(control: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in control.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() || !text.is_empty() {
                key.push((std::mem::take(&mut text), digits.parse().unwrap_or(0)));
                digits.clear();
            }
            text.push(c);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

/// Every control the selected rules name, in framework and number order.
pub fn summarize(report: &Report) -> Vec<ControlRow> {
    let mut rows: BTreeMap<String, Vec<(String, Status)>> = BTreeMap::new();
    for rule in &report.rules {
        let status = rule_status(report, rule);
        for control in &rule.controls {
            rows.entry(control.clone())
                .or_default()
                .push((rule.id.clone(), status));
        }
    }
    let mut out: Vec<ControlRow> = rows
        .into_iter()
        .map(|(control, rules)| ControlRow { control, rules })
        .collect();
    out.sort_by_key(|r| sort_key(&r.control));
    out
}

/// The table `--summary controls` prints.
pub fn render(rows: &[ControlRow]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("controls: the selected rules name no control\n");
        return out;
    }
    let width = rows
        .iter()
        .map(|r| r.control.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let _ = writeln!(
        out,
        "{:width$}  {:6}  {:>4}  {:>4}  {:>4}  rules",
        "control", "status", "pass", "fail", "n/a"
    );
    for row in rows {
        let rules: Vec<String> = row
            .rules
            .iter()
            .map(|(id, s)| format!("{id} ({})", s.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "{:width$}  {:6}  {:>4}  {:>4}  {:>4}  {}",
            row.control,
            row.status().as_str(),
            row.count(Status::Pass),
            row.count(Status::Fail),
            row.count(Status::NotApplicable),
            rules.join(", ")
        );
    }
    let failing = rows.iter().filter(|r| r.status() == Status::Fail).count();
    let _ = writeln!(
        out,
        "{} controls: {} failing, {} passing, {} not applicable",
        rows.len(),
        failing,
        rows.iter().filter(|r| r.status() == Status::Pass).count(),
        rows.iter()
            .filter(|r| r.status() == Status::NotApplicable)
            .count()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_sort_by_framework_then_number() {
        let mut controls = vec![
            "CIS 5.2.10",
            "NIST AC-6",
            "CIS 5.2.9",
            "CIS 5.1.1",
            "NIST AC-14",
        ];
        controls.sort_by_key(|c| sort_key(c));
        assert_eq!(
            controls,
            vec![
                "CIS 5.1.1",
                "CIS 5.2.9",
                "CIS 5.2.10",
                "NIST AC-6",
                "NIST AC-14"
            ]
        );
    }

    #[test]
    fn a_control_fails_when_one_rule_fails_and_is_na_when_none_applies() {
        let row = ControlRow {
            control: "CIS 5.2.1".into(),
            rules: vec![
                ("a".into(), Status::Pass),
                ("b".into(), Status::Fail),
                ("c".into(), Status::NotApplicable),
            ],
        };
        assert_eq!(row.status(), Status::Fail);
        assert_eq!((row.count(Status::Pass), row.count(Status::Fail)), (1, 1));
        let na = ControlRow {
            control: "x".into(),
            rules: vec![("c".into(), Status::NotApplicable)],
        };
        assert_eq!(na.status(), Status::NotApplicable);
        let text = render(&[row, na]);
        assert!(text.contains("b (fail)"), "{text}");
        assert!(
            text.contains("2 controls: 1 failing, 0 passing, 1 not applicable"),
            "{text}"
        );
    }
}
