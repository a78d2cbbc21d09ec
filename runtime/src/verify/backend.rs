//! The engines a test runs on. Every backend answers the same question for one rule and one
//! object, so the runner can compare them and report where they disagree.

use crate::eval::{select, Engine, Finding, Limits, ObjectSet, Params, Policies, RuleInfo};
use crate::manifest::Node;

/// What a backend saw for one rule on one object.
#[derive(Clone, Debug, PartialEq)]
pub enum Got {
    /// The rule does not apply to the object.
    Skip,
    /// The rule applies; its findings (none means it passes).
    Findings(Vec<Finding>),
}

/// An engine that evaluates compiled rules.
pub trait Backend {
    /// The name used in `--backend` and in reports.
    fn name(&self) -> &'static str;
    /// What `rule` does with `object`, with `set` as the objects checked together with it
    /// and `params` overriding parameter defaults.
    fn outcomes(
        &self,
        rule: &RuleInfo,
        object: &Node,
        set: &[Node],
        params: &Params,
    ) -> Result<Got, String>;
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

    fn outcomes(
        &self,
        rule: &RuleInfo,
        object: &Node,
        set: &[Node],
        params: &Params,
    ) -> Result<Got, String> {
        if select::subject(&rule.matcher, object).is_none() {
            return Ok(Got::Skip);
        }
        let set = ObjectSet {
            objects: set.iter().collect(),
        };
        let findings = self
            .policies
            .evaluate(object, &set, params, &Limits::default())
            .map_err(|e| e.to_string())?;
        Ok(Got::Findings(
            findings
                .into_iter()
                .filter(|f| f.rule_id == rule.id)
                .collect(),
        ))
    }
}
