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
    /// For each binding, the role it references (`None` when the role is missing).
    pub resolved: Vec<Option<usize>>,
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
        let replaced = keep_last(policy);
        policy.warnings.extend(replaced);
        policy.warnings.extend(aggregate(&mut policy.roles));
        let index: HashMap<(RoleKind, Option<&str>, &str), usize> = policy
            .roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                (
                    (role.kind, role.namespace.as_deref(), role.name.as_str()),
                    i,
                )
            })
            .collect();
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
                .copied();
            if found.is_none() {
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

/// Keeps the last definition of each role and binding (same kind, namespace and name), as
/// `kubectl apply` of the files in order leaves it, with a warning for each replaced one.
fn keep_last(policy: &mut Policy) -> Vec<Problem> {
    fn last<T>(
        items: Vec<T>,
        key: impl Fn(&T) -> String,
        origin: impl Fn(&T) -> &Origin,
        what: impl Fn(&T) -> String,
        warnings: &mut Vec<Problem>,
    ) -> Vec<T> {
        let mut latest: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            latest.insert(key(item), i);
        }
        let mut kept = Vec::with_capacity(latest.len());
        for (i, item) in items.iter().enumerate() {
            let winner = latest[&key(item)];
            if winner != i {
                warnings.push(Problem {
                    origin: origin(item).clone(),
                    message: format!(
                        "{} is defined again at {}: the later definition replaces this one",
                        what(item),
                        origin(&items[winner])
                    ),
                });
            }
        }
        for (i, item) in items.into_iter().enumerate() {
            if latest[&key(&item)] == i {
                kept.push(item);
            }
        }
        kept
    }
    let mut warnings = Vec::new();
    let roles = std::mem::take(&mut policy.roles);
    policy.roles = last(
        roles,
        |r| {
            format!(
                "{}/{}/{}",
                r.kind.as_str(),
                r.namespace.as_deref().unwrap_or(""),
                r.name
            )
        },
        |r| &r.origin,
        |r| format!("{} `{}`", r.kind.as_str(), r.name),
        &mut warnings,
    );
    let bindings = std::mem::take(&mut policy.bindings);
    policy.bindings = last(
        bindings,
        |b| {
            format!(
                "{}/{}/{}",
                b.kind.as_str(),
                b.namespace.as_deref().unwrap_or(""),
                b.name
            )
        },
        |b| &b.origin,
        |b| format!("{} `{}`", b.kind.as_str(), b.name),
        &mut warnings,
    );
    warnings
}
