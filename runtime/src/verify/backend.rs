//! The engines a test runs on. Every backend answers the same question for one rule and one
//! object, so the runner can compare them and report where they disagree.

use super::parse::Case;
use crate::eval::{select, Engine, Finding, Limits, ObjectSet, Params, Policies, RuleInfo};

/// What a backend saw for one rule on one object.
#[derive(Clone, Debug, PartialEq)]
pub enum Got {
    /// The rule does not apply to the object.
    Skip,
    /// The rule applies; its findings (none means it passes).
    Findings(Vec<Finding>),
    /// The backend's target cannot express the rule (the exporter refuses it): why.
    NotApplicable(String),
}

/// Which details of a finding a backend reports, beyond its action and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Details {
    /// One finding per offending element (so `count` can be checked).
    pub count: bool,
    /// The field path of each finding.
    pub path: bool,
    /// The line of each finding.
    pub line: bool,
}

impl Details {
    /// Every detail.
    pub const ALL: Details = Details {
        count: true,
        path: true,
        line: true,
    };
}

/// An engine that evaluates compiled rules.
pub trait Backend {
    /// The name used in `--backend` and in reports.
    fn name(&self) -> &'static str;
    /// Which details its findings carry.
    fn details(&self) -> Details {
        Details::ALL
    }
    /// What `rule` does with the case's object, with the case's `with` objects checked
    /// together with it and its `params` overriding parameter defaults.
    fn outcomes(&self, rule: &RuleInfo, case: &Case) -> Result<Got, String>;
}

/// The Wasm module run by the embedded wasmtime evaluator.
pub struct WasmBackend {
    policies: Policies,
}

impl WasmBackend {
    /// Loads a module compiled by the Wasm backend of the compiler.
    pub fn new(engine: &Engine, wasm: &[u8]) -> Result<WasmBackend, String> {
        let policies = Policies::load(engine, wasm, None)
            .map_err(|e| format!("cannot load the compiled policies: {e}"))?;
        Ok(WasmBackend { policies })
    }

    /// Checks parameter overrides against the declared types.
    pub fn check_params(&self, params: &Params) -> Result<(), String> {
        self.policies.check_params(params)
    }

    /// The rules of the module, in id order.
    pub fn rules(&self) -> &[RuleInfo] {
        self.policies.rules()
    }
}

impl Backend for WasmBackend {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn outcomes(&self, rule: &RuleInfo, case: &Case) -> Result<Got, String> {
        if select::subject(&rule.matcher, &case.object).is_none() {
            return Ok(Got::Skip);
        }
        let set = ObjectSet {
            objects: case.set.iter().collect(),
        };
        let evaluation = self.policies.evaluate_admission(
            &case.object,
            &case.context,
            &set,
            &case.params,
            &Limits::default(),
        );
        // Only this rule's error (or one of the whole object) concerns this case.
        if let Some(e) = evaluation
            .errors
            .iter()
            .find(|e| e.rule_id.as_ref().is_none_or(|id| *id == rule.id))
        {
            return Err(e.to_string());
        }
        Ok(Got::Findings(
            evaluation
                .findings
                .into_iter()
                .filter(|f| f.rule_id == rule.id)
                .collect(),
        ))
    }
}
