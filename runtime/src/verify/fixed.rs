//! `fixed:` expectations (spec/testing.md "Fixes"): the rule's fixes, as the Wasm evaluator
//! makes them concrete for the case's findings, are applied to the object with
//! [`crate::fix::apply`] (safe and review fixes alike), and every selected backend evaluates
//! the rule again on the fixed object.

use serde_json::Value as Json;

use super::backend::{Backend, Got};
use super::parse::{Case, Expectation};
use super::{check, describe, Row};
use crate::eval::RuleInfo;
use crate::fix;
use crate::manifest::{format_path, Node};

/// The row of an expectation's `fixed:` outcome (and `fixed_object:`), or `None` when the
/// expectation has none. `reference` is the backend whose findings carry the fixes (the
/// Wasm evaluator); `backends` are those selected, which judge the fixed object.
pub(super) fn run_fixed(
    file: &str,
    case: &Case,
    e: &Expectation,
    rule: &RuleInfo,
    reference: &dyn Backend,
    backends: &[&dyn Backend],
) -> Option<Row> {
    let (outcome, line) = e.fixed?;
    let mut row = Row::new(
        file,
        line,
        format!("{} (fixed)", case.name),
        e,
        outcome.as_str(),
    );
    let fixed = match fixed_object(case, rule, reference) {
        Ok(fixed) => fixed,
        Err(reason) => {
            row.passed = false;
            row.failed_on.push(reference.name().to_string());
            row.got
                .push((reference.name().to_string(), "error".to_string()));
            row.reasons.push(reason);
            return Some(row);
        }
    };
    if let Some((want, at)) = &e.fixed_object {
        if let Some(diff) = first_difference(want, &fixed, &mut Vec::new()) {
            row.passed = false;
            row.failed_on.push(reference.name().to_string());
            row.reasons.push(format!(
                "line {at}: the fixed object differs from `fixed_object`: {diff}"
            ));
        }
    }
    let fixed_case = with_object(case, Node::from_json(fixed));
    judge(
        &mut row,
        e,
        outcome,
        &fixed_case,
        rule,
        backends,
        "after the fixes",
    );
    Some(row)
}

/// Runs every backend on `case` and records in `row` whether each gives `outcome`; the
/// reasons start with `after` ("after the fixes").
pub(super) fn judge(
    row: &mut Row,
    e: &Expectation,
    outcome: super::parse::Outcome,
    case: &Case,
    rule: &RuleInfo,
    backends: &[&dyn Backend],
    after: &str,
) {
    let expectation = Expectation {
        rule: e.rule.clone(),
        outcome,
        count: None,
        message: None,
        path: None,
        line: None,
        at: row.line,
        fixed: None,
        fixed_object: None,
        generated: None,
    };
    let mut applicable = 0;
    for backend in backends {
        let got = backend.outcomes(rule, case);
        let details = backend.details();
        row.got
            .push((backend.name().to_string(), describe(&got, details.count)));
        if let Ok(Got::NotApplicable(why)) = &got {
            row.notes.push(format!("{}: n/a: {why}", backend.name()));
            continue;
        }
        applicable += 1;
        if let Err(reason) = check(&expectation, &got, details) {
            row.passed = false;
            row.failed_on.push(backend.name().to_string());
            row.reasons.push(if backends.len() > 1 {
                format!("{}: {after}, {reason}", backend.name())
            } else {
                format!("{after}, {reason}")
            });
        }
    }
    if applicable == 0 && !backends.is_empty() {
        row.passed = false;
        row.not_applicable = true;
    }
}

/// The case's object with the fixes of the rule's findings applied; an error when the
/// rule does not apply, fails to evaluate, has no fix to apply, or its fixes conflict or
/// cannot be followed.
fn fixed_object(case: &Case, rule: &RuleInfo, reference: &dyn Backend) -> Result<Json, String> {
    let findings = match reference.outcomes(rule, case) {
        Ok(Got::Findings(f)) => f,
        Ok(Got::Skip) => {
            return Err("no fix to apply: the rule does not apply to the object".into())
        }
        Ok(Got::NotApplicable(why)) => return Err(format!("no fix to apply: {why}")),
        Err(e) => return Err(format!("evaluation error: {e}")),
    };
    if findings.is_empty() {
        return Err("no fix to apply: the rule finds nothing".into());
    }
    let fixes: Vec<fix::Fix> = findings.iter().flat_map(|f| f.fixes.clone()).collect();
    if fixes.is_empty() {
        return Err("no fix to apply: the rule's findings carry no fix".into());
    }
    let mut object = case.object.to_json();
    let applied = fix::apply(&mut object, &fixes);
    if let Some(c) = applied.conflicts.first() {
        let which: Vec<String> = c.fixes.iter().map(|&i| fixes[i].describe()).collect();
        return Err(format!(
            "the fixes conflict at `{}`: {}",
            format_path(&c.path),
            which.join("; ")
        ));
    }
    if let Some(&i) = applied.unreachable.first() {
        return Err(format!(
            "the fix `{}` cannot be applied: its path crosses a value of another type",
            fixes[i].describe()
        ));
    }
    Ok(object)
}

/// The case with `object` in place of its object (also among the objects checked together).
fn with_object(case: &Case, object: Node) -> Case {
    let mut set = case.set.clone();
    match set.first_mut() {
        Some(first) => *first = object.clone(),
        None => set.push(object.clone()),
    }
    Case {
        object,
        set,
        expects: Vec::new(),
        ..case.clone()
    }
}

/// Where `got` first differs from `want`, as `at `path`: expected …, got …`.
pub(super) fn first_difference(want: &Json, got: &Json, path: &mut Vec<String>) -> Option<String> {
    let here = |path: &[String]| {
        if path.is_empty() {
            "the object".to_string()
        } else {
            format!("`{}`", path.concat().trim_start_matches('.'))
        }
    };
    match (want, got) {
        (Json::Object(a), Json::Object(b)) => {
            for (k, v) in a {
                path.push(format!(".{k}"));
                let d = match b.get(k) {
                    Some(w) => first_difference(v, w, path),
                    None => Some(format!("at {}: expected {v}, got nothing", here(path))),
                };
                path.pop();
                if d.is_some() {
                    return d;
                }
            }
            b.iter().find(|(k, _)| !a.contains_key(*k)).map(|(k, v)| {
                path.push(format!(".{k}"));
                let d = format!("at {}: expected nothing, got {v}", here(path));
                path.pop();
                d
            })
        }
        (Json::Array(a), Json::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (v, w))| {
                path.push(format!("[{i}]"));
                let d = first_difference(v, w, path);
                path.pop();
                d
            })
        }
        _ if want == got => None,
        _ => Some(format!("at {}: expected {want}, got {got}", here(path))),
    }
}

#[cfg(test)]
mod tests;
