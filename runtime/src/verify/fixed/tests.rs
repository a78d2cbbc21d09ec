use serde_json::json;

use super::super::parse::Outcome;
use super::*;
use crate::eval::{Action, Finding, Params};
use crate::fix::{Fix, FixOp};
use crate::manifest::PathSegment;

/// A stand-in engine: denies while `spec.privileged` is true, and offers the fixes given
/// for it (when `with_fixes`).
struct Privileged {
    name: &'static str,
    fixes: Vec<Fix>,
}

impl Backend for Privileged {
    fn name(&self) -> &'static str {
        self.name
    }
    fn outcomes(&self, _: &RuleInfo, case: &Case) -> Result<Got, String> {
        let object = case.object.to_json();
        if object["spec"]["privileged"] != json!(true) {
            return Ok(Got::Findings(Vec::new()));
        }
        Ok(Got::Findings(vec![Finding {
            rule_id: "demo.rule".into(),
            action: Action::Deny,
            message: "privileged".into(),
            path: vec![field("spec"), field("privileged")],
            line: 1,
            col: 1,
            fixes: self.fixes.clone(),
            generated: None,
        }]))
    }
}

/// A stand-in engine that always denies, fixed or not.
struct Stubborn;

impl Backend for Stubborn {
    fn name(&self) -> &'static str {
        "cel"
    }
    fn outcomes(&self, _: &RuleInfo, _: &Case) -> Result<Got, String> {
        Ok(Got::Findings(vec![Finding {
            rule_id: "demo.rule".into(),
            action: Action::Deny,
            message: "privileged".into(),
            path: vec![field("spec")],
            line: 1,
            col: 1,
            fixes: Vec::new(),
            generated: None,
        }]))
    }
}

fn field(s: &str) -> PathSegment {
    PathSegment::Field(s.into())
}

fn set(path: &[&str], value: serde_json::Value) -> Fix {
    Fix {
        review: false,
        op: FixOp::Set,
        path: path.iter().map(|s| field(s)).collect(),
        value: Some(value),
    }
}

fn rule() -> RuleInfo {
    serde_json::from_value(json!({
        "id": "demo.rule", "module": "demo", "name": "rule", "title": "t",
        "description": "", "rationale": "", "category": "", "remediation": "",
        "severity": "high", "controls": [], "matcher": {"targets": []},
        "params": [], "reads_kinds": [], "outcomes": []
    }))
    .unwrap()
}

fn case() -> Case {
    let object = Node::from_json(json!({
        "apiVersion": "v1", "kind": "Demo", "metadata": {"name": "a"},
        "spec": {"privileged": true, "image": "nginx"}
    }));
    Case {
        name: "privileged".into(),
        object: object.clone(),
        set: vec![object],
        params: Params::default(),
        param_lines: vec![],
        expects: vec![],
        context: crate::eval::AdmissionContext::create(),
    }
}

fn expect(fixed: Outcome, object: Option<serde_json::Value>) -> Expectation {
    Expectation {
        rule: "demo.rule".into(),
        outcome: Outcome::Deny,
        count: None,
        message: None,
        path: None,
        line: None,
        at: 7,
        fixed: Some((fixed, 8)),
        fixed_object: object.map(|o| (o, 9)),
        generated: None,
    }
}

fn fixed_object() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Demo", "metadata": {"name": "a"},
        "spec": {"privileged": false, "image": "nginx"}
    })
}

#[test]
fn no_row_without_a_fixed_expectation() {
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![],
    };
    let e = Expectation {
        fixed: None,
        ..expect(Outcome::Pass, None)
    };
    assert!(run_fixed("t.test.yaml", &case(), &e, &rule(), &wasm, &[&wasm]).is_none());
}

#[test]
fn a_fix_that_works_passes_and_gives_the_expected_object() {
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![set(&["spec", "privileged"], json!(false))],
    };
    let e = expect(Outcome::Pass, Some(fixed_object()));
    let row = run_fixed("t.test.yaml", &case(), &e, &rule(), &wasm, &[&wasm]).unwrap();
    assert!(row.passed, "{row:?}");
    assert_eq!(
        (row.line, row.case.as_str(), row.expected.as_str()),
        (8, "privileged (fixed)", "pass")
    );
    assert_eq!(row.got_summary(), "pass");
}

#[test]
fn a_fix_that_does_not_stop_the_outcome_fails() {
    // Sets the wrong field: the rule still fires on the fixed object.
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![set(&["spec", "privilegd"], json!(false))],
    };
    let row = run_fixed(
        "t.test.yaml",
        &case(),
        &expect(Outcome::Pass, None),
        &rule(),
        &wasm,
        &[&wasm],
    )
    .unwrap();
    assert!(!row.passed);
    assert_eq!(
        row.reasons,
        ["after the fixes, expected pass, got deny: `privileged` at `spec.privileged`"]
    );
    // Expecting it to keep denying holds.
    let row = run_fixed(
        "t.test.yaml",
        &case(),
        &expect(Outcome::Deny, None),
        &rule(),
        &wasm,
        &[&wasm],
    )
    .unwrap();
    assert!(row.passed, "{row:?}");
}

#[test]
fn the_fixed_object_is_compared_field_by_field() {
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![
            set(&["spec", "privileged"], json!(false)),
            set(&["spec", "extra"], json!(1)),
        ],
    };
    let row = run_fixed(
        "t.test.yaml",
        &case(),
        &expect(Outcome::Pass, Some(fixed_object())),
        &rule(),
        &wasm,
        &[&wasm],
    )
    .unwrap();
    assert!(!row.passed);
    assert_eq!(row.failed_on, ["wasm"]);
    assert_eq!(
        row.reasons,
        ["line 9: the fixed object differs from `fixed_object`: at `spec.extra`: expected nothing, got 1"]
    );
    let mut want = fixed_object();
    want["spec"]["image"] = json!("nginx:1.27");
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![set(&["spec", "privileged"], json!(false))],
    };
    let row = run_fixed(
        "t.test.yaml",
        &case(),
        &expect(Outcome::Pass, Some(want)),
        &rule(),
        &wasm,
        &[&wasm],
    )
    .unwrap();
    assert_eq!(
        row.reasons,
        ["line 9: the fixed object differs from `fixed_object`: at `spec.image`: expected \"nginx:1.27\", got \"nginx\""]
    );
}

#[test]
fn findings_without_fixes_or_with_conflicting_fixes_fail() {
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![],
    };
    let e = expect(Outcome::Pass, None);
    let row = run_fixed("t.test.yaml", &case(), &e, &rule(), &wasm, &[&wasm]).unwrap();
    assert!(!row.passed);
    assert_eq!(
        row.reasons,
        ["no fix to apply: the rule's findings carry no fix"]
    );
    assert_eq!(row.got_summary(), "error");
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![
            set(&["spec", "privileged"], json!(false)),
            set(&["spec", "privileged"], json!("no")),
        ],
    };
    let row = run_fixed("t.test.yaml", &case(), &e, &rule(), &wasm, &[&wasm]).unwrap();
    assert_eq!(
        row.reasons,
        ["the fixes conflict at `spec.privileged`: set spec.privileged = false; set spec.privileged = \"no\""]
    );
}

#[test]
fn every_backend_judges_the_fixed_object() {
    let wasm = Privileged {
        name: "wasm",
        fixes: vec![set(&["spec", "privileged"], json!(false))],
    };
    let rego = Privileged {
        name: "rego",
        fixes: vec![],
    };
    let e = expect(Outcome::Pass, None);
    let row = run_fixed(
        "t.test.yaml",
        &case(),
        &e,
        &rule(),
        &wasm,
        &[&wasm, &rego, &Stubborn],
    )
    .unwrap();
    assert!(!row.passed);
    assert_eq!(row.failed_on, ["cel"]);
    assert_eq!(row.got_summary(), "wasm=pass rego=pass cel=deny");
    assert_eq!(
        row.reasons,
        ["cel: after the fixes, expected pass, got deny: `privileged` at `spec`"]
    );
}
