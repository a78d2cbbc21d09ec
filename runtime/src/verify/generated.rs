//! `generated:` expectations (spec/testing.md "Generated objects"): the objects the Wasm
//! evaluator's findings generate are compared with the expected list, and every selected
//! backend evaluates the rule again with them among the objects checked together, where the
//! set rule must stop firing.

use serde_json::Value as Json;

use super::backend::{Backend, Got};
use super::fixed::{first_difference, judge};
use super::parse::{Case, Expectation, Outcome};
use super::Row;
use crate::eval::RuleInfo;
use crate::manifest::Node;

/// The row of an expectation's `generated:`, or `None` when it has none.
pub(super) fn run_generated(
    file: &str,
    case: &Case,
    e: &Expectation,
    rule: &RuleInfo,
    reference: &dyn Backend,
    backends: &[&dyn Backend],
) -> Option<Row> {
    let (want, line) = e.generated.as_ref()?;
    let mut row = Row::new(
        file,
        *line,
        format!("{} (generated)", case.name),
        e,
        "generated",
    );
    let fail = |row: &mut Row, reason: String| {
        row.passed = false;
        row.failed_on.push(reference.name().to_string());
        row.reasons.push(reason);
    };
    let got = match reference.outcomes(rule, case) {
        Ok(Got::Findings(f)) => f.into_iter().filter_map(|f| f.generated).collect(),
        Ok(_) => Vec::new(),
        Err(e) => {
            fail(&mut row, format!("evaluation error: {e}"));
            return Some(row);
        }
    };
    if let Some(reason) = difference(want, &got) {
        fail(&mut row, format!("line {line}: {reason}"));
        return Some(row);
    }
    let mut with = case.clone();
    with.expects = Vec::new();
    with.set.extend(got.into_iter().map(Node::from_json));
    judge(
        &mut row,
        e,
        Outcome::Pass,
        &with,
        rule,
        backends,
        "after generating",
    );
    Some(row)
}

/// How the generated objects differ from the expected ones, if they do.
fn difference(want: &[Json], got: &[Json]) -> Option<String> {
    if want.len() != got.len() {
        return Some(format!(
            "expected {} generated object(s), got {}",
            want.len(),
            got.len()
        ));
    }
    want.iter().zip(got).enumerate().find_map(|(i, (w, g))| {
        first_difference(w, g, &mut Vec::new()).map(|d| format!("generated object {}: {d}", i + 1))
    })
}
