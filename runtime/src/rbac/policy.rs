//! All the RBAC objects of a run, indexed, with aggregation applied and every binding
//! resolved to the roles it grants (spec/rbac.md §3–§5).

use std::collections::HashMap;

use super::aggregate::aggregate;
use super::model::{self, Binding, BindingKind, Origin, Parsed, Problem, Role, RoleKind};
use crate::manifest::Loaded;

/// The roles and bindings of a set of manifests.
#[derive(Debug, Default)]
pub struct Policy {
    /// Roles and ClusterRoles, in input order.
    pub roles: Vec<Role>,
    /// RoleBindings and ClusterRoleBindings, in input order.
    pub bindings: Vec<Binding>,
    /// For each binding, the roles it references (empty when the role is missing).
    pub resolved: Vec<Vec<usize>>,
    /// Malformed RBAC objects (they are left out).
    pub errors: Vec<Problem>,
    /// Missing roles, duplicates, replaced rules of aggregated roles.
    pub warnings: Vec<Problem>,
}

/// Builds a [`Policy`] from loaded files, then [`Builder::finish`] resolves it.
#[derive(Debug, Default)]
pub struct Builder {
    policy: Policy,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Adds the RBAC objects of one loaded file; other kinds are ignored.
    pub fn add(&mut self, file: &str, loaded: &Loaded) {
        for object in &loaded.objects {
            match model::parse(file, object) {
                Ok(Parsed::Role(role)) => self.policy.roles.push(role),
                Ok(Parsed::Binding(binding)) => self.policy.bindings.push(binding),
                Ok(Parsed::Other) => {}
                Err(problem) => self.policy.errors.push(problem),
            }
        }
    }

    /// Records an error that is not about one object (an unreadable file).
    pub fn error(&mut self, origin: Origin, message: String) {
        self.policy.errors.push(Problem { origin, message });
    }

    /// Aggregates ClusterRoles and resolves each binding's `roleRef`.
    pub fn finish(mut self) -> Policy {
        let policy = &mut self.policy;
        let repeated = duplicates(policy);
        policy.warnings.extend(repeated);
        policy.warnings.extend(aggregate(&mut policy.roles));
        let mut index: HashMap<(RoleKind, Option<&str>, &str), Vec<usize>> = HashMap::new();
        for (i, role) in policy.roles.iter().enumerate() {
            index
                .entry((role.kind, role.namespace.as_deref(), role.name.as_str()))
                .or_default()
                .push(i);
        }
        let mut resolved = Vec::with_capacity(policy.bindings.len());
        let mut warnings = Vec::new();
        for binding in &policy.bindings {
            // GetRoleReferenceRules: a `Role` is looked up in the binding's namespace.
            let key = match binding.role_kind.as_str() {
                "ClusterRole" => Some((RoleKind::ClusterRole, None)),
                "Role" if binding.kind == BindingKind::RoleBinding => {
                    Some((RoleKind::Role, binding.namespace.as_deref()))
                }
                _ => None,
            };
            let found = key
                .and_then(|(kind, ns)| index.get(&(kind, ns, binding.role_name.as_str())))
                .cloned()
                .unwrap_or_default();
            if found.is_empty() {
                let message = match key {
                    Some((kind, ns)) => format!(
                        "{} `{}` references {} `{}`{}, which is not in the input: it grants nothing",
                        binding.kind.as_str(),
                        binding.name,
                        kind.as_str(),
                        binding.role_name,
                        ns.map(|ns| format!(" in namespace `{ns}`")).unwrap_or_default()
                    ),
                    None => format!(
                        "{} `{}` references a `{}`, which it cannot bind: it grants nothing",
                        binding.kind.as_str(),
                        binding.name,
                        binding.role_kind
                    ),
                };
                warnings.push(Problem {
                    origin: binding.origin.clone(),
                    message,
                });
            }
            resolved.push(found);
        }
        policy.resolved = resolved;
        policy.warnings.extend(warnings);
        self.policy
    }
}

/// A warning for each role or binding defined again under the same kind, namespace and
/// name: both definitions are kept (the union of what they grant).
fn duplicates(policy: &Policy) -> Vec<Problem> {
    let mut seen: HashMap<(String, Option<&str>, &str), &Origin> = HashMap::new();
    let mut out = Vec::new();
    let roles = policy
        .roles
        .iter()
        .map(|r| (r.kind.as_str(), r.namespace.as_deref(), r.name.as_str(), &r.origin));
    let bindings = policy
        .bindings
        .iter()
        .map(|b| (b.kind.as_str(), b.namespace.as_deref(), b.name.as_str(), &b.origin));
    for (kind, ns, name, origin) in roles.chain(bindings) {
        match seen.get(&(kind.to_string(), ns, name)) {
            Some(first) => out.push(Problem {
                origin: origin.clone(),
                message: format!(
                    "{kind} `{name}` is defined again (first at {first}): both definitions count"
                ),
            }),
            None => {
                seen.insert((kind.to_string(), ns, name), origin);
            }
        }
    }
    out
}
