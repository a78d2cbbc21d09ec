//! Faults in a policy module are errors for the object being evaluated, never a crash of the
//! run and never a pass: a module that traps, and modules that are corrupt bytes.

use rampart_runtime::eval::{Engine, Policies};
use rampart_runtime::runner::{self, Input, Options, Source};
use wasm_encoder::Function;

mod support;

/// A module of one rule, `trap`, on Pods, whose evaluation executes `unreachable`.
fn trapping_module() -> Vec<u8> {
    let mut evaluate = Function::new([]);
    evaluate.instructions().unreachable().end();
    let rules = vec![support::rule_meta("faults", "trap", "Pod")];
    support::module(&evaluate, Some(16), "faults", rules)
}

const MANIFEST: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: first
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: untouched
---
apiVersion: v1
kind: Pod
metadata:
  name: second
";

#[test]
fn a_trapping_module_is_an_error_for_each_object_it_evaluates() {
    let policies = Policies::load(&Engine::new().unwrap(), &trapping_module(), None).unwrap();
    let inputs = [Input {
        name: "pods.yaml".into(),
        source: Source::Bytes(MANIFEST.as_bytes().to_vec()),
    }];
    let report = runner::run(&policies, &inputs, Vec::new(), &Options::default());
    let outcome: Vec<_> = report
        .results
        .iter()
        .map(|r| (r.name.as_deref().unwrap(), r.error.is_some()))
        .collect();
    // Both Pods fail on their own; the ConfigMap, which no rule selects, still passes.
    assert_eq!(
        outcome,
        [("first", true), ("untouched", false), ("second", true)]
    );
    let error = report.results[0].error.as_deref().unwrap();
    assert!(error.starts_with("rule `trap`"), "{error}");
    assert!(error.contains("unreachable"), "{error}");
    let located: Vec<_> = report.errors.iter().map(|e| (e.line, e.col)).collect();
    assert_eq!(located, [(Some(1), Some(1)), (Some(11), Some(1))]);
    assert_eq!(report.summary.errors, 2);
    assert!(!report.interrupted);
}

#[test]
fn corrupt_modules_are_refused_when_loaded() {
    let engine = Engine::new().unwrap();
    let good = trapping_module();
    let mut flipped = good.clone();
    // One byte in the middle of the module flipped.
    let middle = good.len() / 2;
    flipped[middle] ^= 0xff;
    for bytes in [
        Vec::new(),
        b"\0asm".to_vec(),
        good[..good.len() / 3].to_vec(),
        flipped,
    ] {
        // An error, never a panic; which error depends on where the damage is.
        assert!(Policies::load(&engine, &bytes, None).is_err());
    }
}
