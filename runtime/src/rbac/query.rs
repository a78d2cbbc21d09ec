//! The questions: who is a subject, what request is asked, and which binding → role → rule
//! chains grant it (spec/rbac.md §5–§6).

use super::matching::{rule_allows, Request};
use super::model::{BindingKind, Subject, SubjectKind};
use super::policy::Policy;

/// The groups every authenticated user belongs to.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group of every ServiceAccount.
pub const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";
/// The user name prefix of ServiceAccounts.
pub const SA_PREFIX: &str = "system:serviceaccount:";

/// A user as the authenticator hands it to the authorizer: a name and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name (none for a bare group question).
    pub user: Option<String>,
    /// The groups.
    pub groups: Vec<String>,
}

impl Identity {
    /// Parses `user:NAME`, `group:NAME` or `sa:NS/NAME`.
    ///
    /// A user is also in `system:authenticated`; a ServiceAccount is the user
    /// `system:serviceaccount:NS:NAME` in `system:serviceaccounts`,
    /// `system:serviceaccounts:NS` and `system:authenticated`; `group:NAME` asks what the
    /// group alone grants.
    pub fn parse(text: &str) -> Result<Identity, String> {
        let bad = || {
            format!(
                "subject `{text}` must be written `user:NAME`, `group:NAME` or `sa:NAMESPACE/NAME`"
            )
        };
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
        match kind {
            "user" => match rest.strip_prefix(SA_PREFIX).and_then(|r| r.split_once(':')) {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                    Ok(Identity::service_account(ns, name))
                }
                _ => Ok(Identity {
                    user: Some(rest.to_string()),
                    groups: vec![AUTHENTICATED.to_string()],
                }),
            },
            "group" => Ok(Identity {
                user: None,
                groups: vec![rest.to_string()],
            }),
            "sa" | "serviceaccount" => match rest.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                    Ok(Identity::service_account(ns, name))
                }
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    /// The identity of ServiceAccount `name` in `namespace`.
    pub fn service_account(namespace: &str, name: &str) -> Identity {
        Identity {
            user: Some(format!("{SA_PREFIX}{namespace}:{name}")),
            groups: vec![
                ALL_SERVICE_ACCOUNTS.to_string(),
                format!("{ALL_SERVICE_ACCOUNTS}:{namespace}"),
                AUTHENTICATED.to_string(),
            ],
        }
    }

    /// The identity of a binding subject (`None` for kinds the authorizer ignores).
    pub fn of_subject(subject: &Subject) -> Option<Identity> {
        match subject.kind {
            SubjectKind::User => Identity::parse(&format!("user:{}", subject.name)).ok(),
            SubjectKind::Group => Some(Identity {
                user: None,
                groups: vec![subject.name.clone()],
            }),
            SubjectKind::ServiceAccount => subject
                .namespace
                .as_deref()
                .map(|ns| Identity::service_account(ns, &subject.name)),
            SubjectKind::Other(_) => None,
        }
    }

    /// `appliesToUser` of the authorizer: whether a binding subject names this identity;
    /// the subject's ServiceAccount namespace is already defaulted to the RoleBinding's.
    pub fn matches(&self, subject: &Subject) -> bool {
        match &subject.kind {
            SubjectKind::User => self.user.as_deref() == Some(subject.name.as_str()),
            SubjectKind::Group => self.groups.contains(&subject.name),
            SubjectKind::ServiceAccount => match (&subject.namespace, &self.user) {
                (Some(ns), Some(user)) => {
                    user.strip_prefix(SA_PREFIX).and_then(|r| r.split_once(':'))
                        == Some((ns.as_str(), subject.name.as_str()))
                }
                _ => false,
            },
            SubjectKind::Other(_) => false,
        }
    }
}

/// Resources of the built-in API groups, so `deployments` needs no `.apps`: (resource,
/// group, cluster-scoped).
const BUILT_IN: &[(&str, &str, bool)] = &[
    ("pods", "", false),
    ("services", "", false),
    ("endpoints", "", false),
    ("configmaps", "", false),
    ("secrets", "", false),
    ("serviceaccounts", "", false),
    ("persistentvolumeclaims", "", false),
    ("replicationcontrollers", "", false),
    ("events", "", false),
    ("limitranges", "", false),
    ("resourcequotas", "", false),
    ("podtemplates", "", false),
    ("bindings", "", false),
    ("nodes", "", true),
    ("namespaces", "", true),
    ("persistentvolumes", "", true),
    ("componentstatuses", "", true),
    ("users", "", true),
    ("groups", "", true),
    ("deployments", "apps", false),
    ("replicasets", "apps", false),
    ("statefulsets", "apps", false),
    ("daemonsets", "apps", false),
    ("controllerrevisions", "apps", false),
    ("jobs", "batch", false),
    ("cronjobs", "batch", false),
    ("horizontalpodautoscalers", "autoscaling", false),
    ("poddisruptionbudgets", "policy", false),
    ("ingresses", "networking.k8s.io", false),
    ("networkpolicies", "networking.k8s.io", false),
    ("ingressclasses", "networking.k8s.io", true),
    ("endpointslices", "discovery.k8s.io", false),
    ("leases", "coordination.k8s.io", false),
    ("roles", "rbac.authorization.k8s.io", false),
    ("rolebindings", "rbac.authorization.k8s.io", false),
    ("clusterroles", "rbac.authorization.k8s.io", true),
    ("clusterrolebindings", "rbac.authorization.k8s.io", true),
    ("certificatesigningrequests", "certificates.k8s.io", true),
    ("signers", "certificates.k8s.io", true),
    (
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        true,
    ),
    (
        "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        true,
    ),
    (
        "validatingadmissionpolicies",
        "admissionregistration.k8s.io",
        true,
    ),
    (
        "validatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
        true,
    ),
    ("customresourcedefinitions", "apiextensions.k8s.io", true),
    ("apiservices", "apiregistration.k8s.io", true),
    ("storageclasses", "storage.k8s.io", true),
    ("csidrivers", "storage.k8s.io", true),
    ("csinodes", "storage.k8s.io", true),
    ("volumeattachments", "storage.k8s.io", true),
    ("priorityclasses", "scheduling.k8s.io", true),
    ("runtimeclasses", "node.k8s.io", true),
    ("tokenreviews", "authentication.k8s.io", true),
    ("selfsubjectreviews", "authentication.k8s.io", true),
    ("subjectaccessreviews", "authorization.k8s.io", true),
    ("selfsubjectaccessreviews", "authorization.k8s.io", true),
    ("selfsubjectrulesreviews", "authorization.k8s.io", true),
    ("localsubjectaccessreviews", "authorization.k8s.io", false),
];

/// Whether a resource of a group is cluster-scoped (built-in resources only; others are
/// taken as namespaced).
pub fn cluster_scoped(group: &str, resource: &str) -> bool {
    BUILT_IN
        .iter()
        .any(|&(r, g, cluster)| cluster && r == resource && g == group)
}

/// What a question asks, before the namespace: `get pods`, `create pods/exec`,
/// `get deployments.apps/scale`, `get /metrics`.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// The verb.
    pub verb: String,
    /// `RESOURCE[.GROUP][/SUBRESOURCE]` or a `/path`.
    pub resource: String,
    /// `--subresource`.
    pub subresource: Option<String>,
    /// `--name`.
    pub name: Option<String>,
}

/// Where a question is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// In one namespace (`""`: a cluster-scoped request, e.g. all namespaces or a node).
    Namespace(String),
    /// In any namespace: each grant says where it holds.
    Any,
}

impl Ask {
    /// The request; `namespace` is ignored for cluster-scoped resources and URLs.
    pub fn request(&self, namespace: &str) -> Result<Request, String> {
        if self.verb.is_empty() {
            return Err("the verb is empty".into());
        }
        if self.resource.starts_with('/') {
            return Ok(Request::NonResource {
                verb: self.verb.clone(),
                path: self.resource.clone(),
            });
        }
        let (resource, mut subresource) = match self.resource.split_once('/') {
            Some((r, s)) => (r, s.to_string()),
            None => (self.resource.as_str(), String::new()),
        };
        if let Some(sub) = &self.subresource {
            if !subresource.is_empty() && &subresource != sub {
                return Err(format!(
                    "`{}` already names a subresource; drop `--subresource {sub}`",
                    self.resource
                ));
            }
            subresource = sub.clone();
        }
        let (resource, group) = match resource.split_once('.') {
            Some((r, g)) => (r.to_string(), g.to_string()),
            None => {
                let group = BUILT_IN
                    .iter()
                    .find(|&&(r, _, _)| r == resource)
                    .map_or("", |&(_, g, _)| g);
                (resource.to_string(), group.to_string())
            }
        };
        if resource.is_empty() {
            return Err(format!("resource `{}` is empty", self.resource));
        }
        let name = self.name.clone().unwrap_or_default();
        let namespace = if cluster_scoped(&group, &resource) {
            // A namespace is its own namespace: `get namespace X` is asked in `X`.
            if resource == "namespaces" && group.is_empty() && !name.is_empty() {
                name.clone()
            } else {
                String::new()
            }
        } else {
            namespace.to_string()
        };
        Ok(Request::Resource {
            verb: self.verb.clone(),
            api_group: group,
            resource,
            subresource,
            name,
            namespace,
        })
    }
}

/// One way a request is granted: binding → role → rule, and where it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The subject as the binding names it.
    pub subject: Subject,
    /// `None`: cluster-wide (a ClusterRoleBinding); else the RoleBinding's namespace.
    pub namespace: Option<String>,
    /// Index into [`Policy::bindings`].
    pub binding: usize,
    /// Index into [`Policy::roles`].
    pub role: usize,
    /// Index into the role's rules.
    pub rule: usize,
}

/// Every grant of the request, for every subject the filter accepts. With
/// [`Scope::Namespace`] this is the authorizer's `VisitRulesFor`: ClusterRoleBindings
/// always, RoleBindings only in the request's namespace; with [`Scope::Any`] each
/// RoleBinding counts in its own namespace.
pub fn grants(
    policy: &Policy,
    ask: &Ask,
    scope: &Scope,
    mut accept: impl FnMut(&Subject, Option<&str>) -> bool,
) -> Result<Vec<Grant>, String> {
    let mut out = Vec::new();
    let request_ns = match scope {
        Scope::Namespace(ns) => ns.as_str(),
        Scope::Any => "",
    };
    let base = ask.request(request_ns)?;
    for (b, binding) in policy.bindings.iter().enumerate() {
        let request = match binding.kind {
            BindingKind::ClusterRoleBinding => base.clone(),
            BindingKind::RoleBinding => {
                let ns = binding.namespace.as_deref().unwrap_or("");
                let request = match scope {
                    Scope::Any => ask.request(ns)?,
                    Scope::Namespace(_) => base.clone(),
                };
                // Non-resource URLs and cluster-scoped requests have no namespace, so no
                // RoleBinding applies to them.
                match &request {
                    Request::Resource { namespace, .. } if namespace == ns => request,
                    _ => continue,
                }
            }
        };
        let holds_in = binding.namespace.as_deref();
        let subjects: Vec<&Subject> = binding
            .subjects
            .iter()
            .filter(|s| accept(s, holds_in))
            .collect();
        if subjects.is_empty() {
            continue;
        }
        if let Some(r) = policy.resolved[b] {
            for (i, rule) in policy.roles[r].rules.iter().enumerate() {
                if rule_allows(rule, &request) {
                    for subject in &subjects {
                        out.push(Grant {
                            subject: (*subject).clone(),
                            namespace: binding.namespace.clone(),
                            binding: b,
                            role: r,
                            rule: i,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `rampart rbac can`: the grants of the request to one identity.
pub fn can(
    policy: &Policy,
    who: &Identity,
    ask: &Ask,
    scope: &Scope,
) -> Result<Vec<Grant>, String> {
    grants(policy, ask, scope, |subject, _| who.matches(subject))
}

/// `rampart rbac who-can`: the grants of the request to every subject. ServiceAccount
/// subjects of a ClusterRoleBinding without a namespace never match and are left out.
pub fn who_can(policy: &Policy, ask: &Ask, scope: &Scope) -> Result<Vec<Grant>, String> {
    grants(policy, ask, scope, |subject, _| {
        Identity::of_subject(subject).is_some()
    })
}

/// One effective rule of a subject, with its chain (`rampart rbac list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// `None`: cluster-wide; else the namespace of the RoleBinding.
    pub namespace: Option<String>,
    /// Index into [`Policy::bindings`].
    pub binding: usize,
    /// Index into [`Policy::roles`].
    pub role: usize,
    /// Index into the role's rules.
    pub rule: usize,
}

/// Every rule that applies to the identity: through ClusterRoleBindings, and through
/// RoleBindings of the namespace (or of every namespace with [`Scope::Any`]).
pub fn effective(policy: &Policy, who: &Identity, scope: &Scope) -> Vec<Effective> {
    let mut out = Vec::new();
    for (b, binding) in policy.bindings.iter().enumerate() {
        if binding.kind == BindingKind::RoleBinding {
            if let Scope::Namespace(ns) = scope {
                if binding.namespace.as_deref() != Some(ns.as_str()) {
                    continue;
                }
            }
        }
        if !binding.subjects.iter().any(|s| who.matches(s)) {
            continue;
        }
        if let Some(r) = policy.resolved[b] {
            for i in 0..policy.roles[r].rules.len() {
                out.push(Effective {
                    namespace: binding.namespace.clone(),
                    binding: b,
                    role: r,
                    rule: i,
                });
            }
        }
    }
    out
}
