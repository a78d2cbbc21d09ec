//! Permissions gained and lost per subject between two sets of manifests
//! (spec/rbac.md §8).

use std::collections::{BTreeSet, HashMap};

use super::matching::ALL;
use super::model::{Rule, Subject, SubjectKind};
use super::policy::Policy;
use super::query::{cluster_scoped, Effective, Identity, SA_PREFIX};
use super::risks::{Risk, RISKS};

/// One permission: a verb on one resource (or URL), in one place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom {
    /// `None`: cluster-wide; else the namespace of the RoleBinding.
    pub namespace: Option<String>,
    /// The verb (may be `*`).
    pub verb: String,
    /// The API group (may be `*`), `""` for core; empty for URLs.
    pub api_group: String,
    /// The resource (may be `*` or `*/sub`), or the non-resource URL.
    pub resource: String,
    /// The resource name, `None` for every name.
    pub name: Option<String>,
    /// Whether `resource` is a non-resource URL.
    pub url: bool,
}

impl Atom {
    /// Whether this permission includes `other` (wildcards, `*/sub`, URL prefixes, a
    /// cluster-wide grant including every namespace).
    pub fn covers(&self, other: &Atom) -> bool {
        let place = self.namespace.is_none() || self.namespace == other.namespace;
        let verb = self.verb == ALL || self.verb == other.verb;
        if self.url != other.url || !place || !verb {
            return false;
        }
        if self.url {
            return super::matching::non_resource_url_matches(&self.as_rule(), &other.resource);
        }
        let group = self.api_group == ALL || self.api_group == other.api_group;
        let resource = self.resource == ALL
            || self.resource == other.resource
            || self.resource.strip_prefix("*/").is_some_and(|sub| {
                other
                    .resource
                    .split_once('/')
                    .is_some_and(|(_, s)| s == sub || sub == ALL)
            });
        let name = self.name.is_none() || self.name == other.name;
        group && resource && name
    }

    /// The atom as a one-verb rule (for risk matching).
    pub fn as_rule(&self) -> Rule {
        let one = |s: &str| vec![s.to_string()];
        Rule {
            verbs: one(&self.verb),
            api_groups: if self.url {
                vec![]
            } else {
                one(&self.api_group)
            },
            resources: if self.url {
                vec![]
            } else {
                one(&self.resource)
            },
            resource_names: self.name.iter().cloned().collect(),
            non_resource_urls: if self.url {
                one(&self.resource)
            } else {
                vec![]
            },
            origin: super::model::Origin {
                file: String::new(),
                line: 0,
            },
        }
    }

    /// The risks this permission grants.
    pub fn risks(&self) -> Vec<&'static Risk> {
        let rule = self.as_rule();
        RISKS.iter().filter(|r| r.granted_by(&rule)).collect()
    }
}

/// The atoms of one effective rule; RoleBindings never grant URLs or cluster-scoped
/// resources, so those are dropped.
pub fn atoms(policy: &Policy, e: &Effective) -> Vec<Atom> {
    let rule = &policy.roles[e.role].rules[e.rule];
    let mut out = Vec::new();
    for verb in &rule.verbs {
        if e.namespace.is_none() {
            for url in &rule.non_resource_urls {
                out.push(Atom {
                    namespace: None,
                    verb: verb.clone(),
                    api_group: String::new(),
                    resource: url.clone(),
                    name: None,
                    url: true,
                });
            }
        }
        for group in &rule.api_groups {
            for resource in &rule.resources {
                let base = resource.split('/').next().unwrap_or("");
                if e.namespace.is_some() && cluster_scoped(group, base) {
                    continue;
                }
                let names: Vec<Option<String>> = if rule.resource_names.is_empty() {
                    vec![None]
                } else {
                    rule.resource_names.iter().cloned().map(Some).collect()
                };
                for name in names {
                    out.push(Atom {
                        namespace: e.namespace.clone(),
                        verb: verb.clone(),
                        api_group: group.clone(),
                        resource: resource.clone(),
                        name,
                        url: false,
                    });
                }
            }
        }
    }
    out
}

/// A permission gained or lost, with the chain that grants it (in NEW for gains, in OLD
/// for losses).
#[derive(Debug, Clone)]
pub struct Change {
    /// The subject.
    pub subject: Subject,
    /// `true` for a gain.
    pub gained: bool,
    /// The permission.
    pub atom: Atom,
    /// The chain granting it.
    pub via: Effective,
    /// The risks of the permission.
    pub risks: Vec<&'static Risk>,
}

/// Every permission gained or lost by every subject bound in either set.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut subjects: BTreeSet<Subject> = BTreeSet::new();
    for policy in [old, new] {
        for binding in &policy.bindings {
            subjects.extend(binding.subjects.iter().cloned());
        }
    }
    // In the order people read them: `group:…`, `sa:NS/NAME`, `user:…`.
    let mut subjects: Vec<Subject> = subjects.into_iter().collect();
    subjects.sort_by_cached_key(|s| s.to_string());
    let (old_index, new_index) = (principals(old), principals(new));
    let mut out = Vec::new();
    for subject in subjects {
        let Some(who) = Identity::of_subject(&subject) else {
            continue;
        };
        let before = with_atoms(old, &old_index, &who);
        let after = with_atoms(new, &new_index, &who);
        for (gained, from, against) in [(false, &before, &after), (true, &after, &before)] {
            let mut seen = BTreeSet::new();
            for (atom, via) in from {
                if against.iter().any(|(o, _)| o.covers(atom)) || !seen.insert(atom.clone()) {
                    continue;
                }
                out.push(Change {
                    subject: subject.clone(),
                    gained,
                    risks: if gained { atom.risks() } else { Vec::new() },
                    atom: atom.clone(),
                    via: via.clone(),
                });
            }
        }
    }
    out
}

/// The bindings naming each principal, in binding order: `u:USER` for a User subject and for
/// a ServiceAccount subject (by its user name `system:serviceaccount:NS:NAME`), `g:GROUP` for
/// a Group. Subjects the authorizer ignores are left out.
fn principals(policy: &Policy) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    for (b, binding) in policy.bindings.iter().enumerate() {
        for s in &binding.subjects {
            let key = match (&s.kind, &s.namespace) {
                (SubjectKind::User, _) => format!("u:{}", s.name),
                (SubjectKind::Group, _) => format!("g:{}", s.name),
                (SubjectKind::ServiceAccount, Some(ns)) => format!("u:{SA_PREFIX}{ns}:{}", s.name),
                _ => continue,
            };
            let list = out.entry(key).or_default();
            if list.last() != Some(&b) {
                list.push(b);
            }
        }
    }
    out
}

/// [`effective`] in every namespace, through the index of [`principals`] rather than by
/// matching the identity against every binding subject.
fn effective_indexed(
    policy: &Policy,
    index: &HashMap<String, Vec<usize>>,
    who: &Identity,
) -> Vec<Effective> {
    let keys = who
        .user
        .iter()
        .map(|u| format!("u:{u}"))
        .chain(who.groups.iter().map(|g| format!("g:{g}")));
    let mut bindings: Vec<usize> = keys
        .filter_map(|k| index.get(&k))
        .flatten()
        .copied()
        .collect();
    bindings.sort_unstable();
    bindings.dedup();
    let mut out = Vec::new();
    for b in bindings {
        if let Some(r) = policy.resolved[b] {
            for i in 0..policy.roles[r].rules.len() {
                out.push(Effective {
                    namespace: policy.bindings[b].namespace.clone(),
                    binding: b,
                    role: r,
                    rule: i,
                });
            }
        }
    }
    out
}

fn with_atoms(
    policy: &Policy,
    index: &HashMap<String, Vec<usize>>,
    who: &Identity,
) -> Vec<(Atom, Effective)> {
    effective_indexed(policy, index, who)
        .into_iter()
        .flat_map(|e| atoms(policy, &e).into_iter().map(move |a| (a, e.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{self, Limits};
    use crate::rbac::policy::Builder;
    use crate::rbac::query::{effective, Scope};

    #[test]
    fn the_index_finds_the_same_rules_as_matching_every_subject() {
        let text = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules: [{apiGroups: [\"\"], resources: [pods], verbs: [get]}, {nonResourceURLs: [/x], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: a, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}
subjects:
  - {kind: ServiceAccount, name: api}
  - {kind: Group, name: \"system:serviceaccounts:shop\"}
  - {kind: User, name: \"system:serviceaccount:shop:api\"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}
subjects:
  - {kind: Group, name: \"system:authenticated\"}
  - {kind: ServiceAccount, name: nowhere}
  - {kind: User, name: alice}
  - {kind: Robot, name: alice}
";
        let mut builder = Builder::new();
        builder.add("t.yaml", &manifest::load(text, &Limits::default()).unwrap());
        let policy = builder.finish();
        let index = principals(&policy);
        for who in [
            "sa:shop/api",
            "sa:other/x",
            "user:alice",
            "user:bob",
            "group:system:authenticated",
        ] {
            let who = Identity::parse(who).unwrap();
            assert_eq!(
                effective_indexed(&policy, &index, &who),
                effective(&policy, &who, &Scope::Any),
                "{who:?}"
            );
        }
        assert_eq!(
            effective_indexed(&policy, &index, &Identity::parse("sa:shop/api").unwrap()).len(),
            4
        );
    }
}
