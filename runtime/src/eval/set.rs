//! Several policy modules evaluated as one, such as a prebuilt `policies.wasm` bundle next to
//! policies compiled from source: the rules of all, each object evaluated by every module,
//! findings in rule id order as from one module (spec/language.md §4.7).

use super::select::Index;
use super::{
    AdmissionContext, EvalError, Evaluation, Gvk, Limits, ObjectSet, Params, Policies, Prepared,
    Projection, RuleInfo,
};
use crate::manifest::Node;

/// Loaded modules whose rule ids are distinct.
pub struct PolicySet<'a> {
    modules: Vec<Module<'a>>,
    rules: Vec<RuleInfo>,
    /// The rules by the kinds they match.
    index: Index,
    set_kinds: Vec<Gvk>,
}

/// A module of a set: the caller's, or the set's own ([`PolicySet::owned`]).
enum Module<'a> {
    Borrowed(&'a Policies),
    Owned(Policies),
}

impl std::ops::Deref for Module<'_> {
    type Target = Policies;

    fn deref(&self) -> &Policies {
        match self {
            Module::Borrowed(p) => p,
            Module::Owned(p) => p,
        }
    }
}

impl PolicySet<'static> {
    /// [`PolicySet::new`] keeping the modules, for a set that outlives its caller (the
    /// webhook's policy snapshot).
    pub fn owned(modules: Vec<Policies>) -> Result<PolicySet<'static>, String> {
        Self::build(modules.into_iter().map(Module::Owned).collect())
    }
}

impl<'a> PolicySet<'a> {
    /// Puts modules together; a rule id defined by two of them is an error.
    pub fn new(modules: Vec<&'a Policies>) -> Result<PolicySet<'a>, String> {
        Self::build(modules.into_iter().map(Module::Borrowed).collect())
    }

    fn build(modules: Vec<Module<'a>>) -> Result<PolicySet<'a>, String> {
        let mut rules: Vec<RuleInfo> = modules
            .iter()
            .flat_map(|m| m.rules().iter().cloned())
            .collect();
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = rules.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(format!(
                "rule `{}` is defined by two of the policy modules given",
                pair[0].id
            ));
        }
        let mut set_kinds: Vec<Gvk> = Vec::new();
        for kind in modules.iter().flat_map(|m| &m.metadata().set_kinds) {
            if !set_kinds.contains(kind) {
                set_kinds.push(kind.clone());
            }
        }
        Ok(PolicySet {
            modules,
            index: Index::new(rules.iter().map(|r| &r.matcher)),
            rules,
            set_kinds,
        })
    }

    /// One module alone.
    pub fn one(module: &'a Policies) -> PolicySet<'a> {
        let rules = module.rules().to_vec();
        PolicySet {
            modules: vec![Module::Borrowed(module)],
            index: Index::new(rules.iter().map(|r| &r.matcher)),
            rules,
            set_kinds: module.metadata().set_kinds.clone(),
        }
    }

    /// The rules of every module, in id order.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// The rules that apply to `object`, in id order.
    pub fn applicable(&self, object: &Node) -> Vec<&RuleInfo> {
        let selected = self.index.subjects(|r| &self.rules[r].matcher, object);
        selected.into_iter().map(|(r, _)| &self.rules[r]).collect()
    }

    /// The kinds `objects(Kind)` reads in any module.
    pub fn set_kinds(&self) -> &[Gvk] {
        &self.set_kinds
    }

    /// What the rules of every module read of the objects of `kind` (one of
    /// [`PolicySet::set_kinds`]); the whole objects for a module that does not say.
    pub fn set_projection(&self, kind: &Gvk) -> Projection {
        let mut out = Projection::empty();
        for m in &self.modules {
            let meta = m.metadata();
            if let Some(i) = meta.set_kinds.iter().position(|k| k == kind) {
                out.merge(meta.set_reads.get(i).unwrap_or(&Projection::Whole));
            }
        }
        out
    }

    /// The overrides of `params` that name a rule of `module`.
    fn params_of(module: &Policies, params: &Params) -> Params {
        let values = params
            .values
            .iter()
            .filter(|((rule, _), _)| module.rules().iter().any(|r| &r.id == rule))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Params { values }
    }

    /// Checks parameter overrides against the declared types of the rule they name.
    pub fn check_params(&self, params: &Params) -> Result<(), String> {
        if let Some((rule, _)) = params
            .values
            .keys()
            .find(|(rule, _)| !self.rules.iter().any(|r| &r.id == rule))
        {
            return Err(format!("unknown rule `{rule}`"));
        }
        for m in &self.modules {
            m.check_params(&Self::params_of(m, params))?;
        }
        Ok(())
    }

    /// Prepares every module ([`Policies::prepare`]).
    pub fn prepare(&self, set: &ObjectSet, params: &Params) -> Vec<Result<Prepared, EvalError>> {
        self.modules
            .iter()
            .map(|m| m.prepare(set, &Self::params_of(m, params)))
            .collect()
    }

    /// Evaluates objects with every module; an object's findings are merged in rule id
    /// order, and the errors of every module's rules are kept (each is its rule's own).
    pub fn evaluate_all_prepared(
        &self,
        objects: &[&Node],
        prepared: &[Result<Prepared, EvalError>],
        limits: &Limits,
    ) -> Vec<Evaluation> {
        let per_module = self
            .modules
            .iter()
            .zip(prepared)
            .map(|(m, p)| m.evaluate_all_prepared(objects, p, limits));
        merge(objects.len(), per_module)
    }

    /// [`PolicySet::evaluate_all_prepared`] with an admission context per object.
    pub fn evaluate_all_admission(
        &self,
        objects: &[(&Node, &AdmissionContext)],
        prepared: &[Result<Prepared, EvalError>],
        limits: &Limits,
    ) -> Vec<Evaluation> {
        let per_module = self
            .modules
            .iter()
            .zip(prepared)
            .map(|(m, p)| m.evaluate_all_admission(objects, p, limits));
        merge(objects.len(), per_module)
    }
}

/// The evaluations of `count` objects by each module, merged per object.
fn merge(count: usize, mut per_module: impl Iterator<Item = Vec<Evaluation>>) -> Vec<Evaluation> {
    let Some(first) = per_module.next() else {
        return (0..count).map(|_| Evaluation::default()).collect();
    };
    let mut merged = first;
    for results in per_module {
        for (into, more) in merged.iter_mut().zip(results) {
            into.findings.extend(more.findings);
            // Stable: a rule's own findings keep their order.
            into.findings.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
            into.errors.extend(more.errors);
        }
    }
    merged
}
