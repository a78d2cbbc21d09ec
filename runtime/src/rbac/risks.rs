//! Known privilege escalation paths, each a set of requests any one of which is enough
//! (spec/rbac.md §7).

use std::collections::HashMap;

use super::matching::{rule_allows, Request};
use super::model::{Rule, Subject};
use super::policy::Policy;
use super::query::{who_can, Ask, Grant, Scope};

/// One kind of risky permission.
#[derive(Debug, Clone, Copy)]
pub struct Risk {
    /// Identifier used by `--risk` and `--fail-on`.
    pub id: &'static str,
    /// Why it is an escalation path.
    pub why: &'static str,
    /// The requests, as `VERB RESOURCE[.GROUP][/SUBRESOURCE]`.
    pub probes: &'static [(&'static str, &'static str)],
}

/// Every risk `rampart rbac risks` looks for.
pub const RISKS: &[Risk] = &[
    Risk {
        id: "create-pods",
        why: "creating pods or pod controllers runs code as any ServiceAccount of the namespace and mounts its secrets",
        probes: &[
            ("create", "pods"),
            ("create", "deployments.apps"),
            ("create", "daemonsets.apps"),
            ("create", "statefulsets.apps"),
            ("create", "replicasets.apps"),
            ("create", "replicationcontrollers"),
            ("create", "jobs.batch"),
            ("create", "cronjobs.batch"),
        ],
    },
    Risk {
        id: "read-secrets",
        why: "secrets hold ServiceAccount tokens and credentials",
        probes: &[("get", "secrets"), ("list", "secrets"), ("watch", "secrets")],
    },
    Risk {
        id: "bind",
        why: "`bind` lets a subject grant any role it can name, beyond its own permissions",
        probes: &[
            ("bind", "clusterroles.rbac.authorization.k8s.io"),
            ("bind", "roles.rbac.authorization.k8s.io"),
        ],
    },
    Risk {
        id: "escalate",
        why: "`escalate` lets a subject write roles with permissions it does not hold",
        probes: &[
            ("escalate", "clusterroles.rbac.authorization.k8s.io"),
            ("escalate", "roles.rbac.authorization.k8s.io"),
        ],
    },
    Risk {
        id: "impersonate",
        why: "impersonation acts as another user, group or ServiceAccount",
        probes: &[
            ("impersonate", "users"),
            ("impersonate", "groups"),
            ("impersonate", "serviceaccounts"),
            ("impersonate", "uids.authentication.k8s.io"),
        ],
    },
    Risk {
        id: "pods-exec",
        why: "`pods/exec` runs commands in running containers, with their tokens",
        probes: &[("create", "pods/exec"), ("get", "pods/exec")],
    },
    Risk {
        id: "pods-attach",
        why: "`pods/attach` reaches the console of running containers",
        probes: &[("create", "pods/attach"), ("get", "pods/attach")],
    },
    Risk {
        id: "serviceaccount-token",
        why: "`serviceaccounts/token` mints tokens of any ServiceAccount of the namespace",
        probes: &[("create", "serviceaccounts/token")],
    },
    Risk {
        id: "approve-csr",
        why: "approving certificate requests issues client certificates, e.g. for `system:masters`",
        probes: &[
            ("update", "certificatesigningrequests.certificates.k8s.io/approval"),
            ("patch", "certificatesigningrequests.certificates.k8s.io/approval"),
        ],
    },
    Risk {
        id: "nodes-proxy",
        why: "`nodes/proxy` reaches the kubelet API, which runs commands in any pod of the node",
        probes: &[("get", "nodes/proxy"), ("create", "nodes/proxy")],
    },
    Risk {
        id: "nodes-write",
        why: "changing nodes (labels, taints, status) steers workloads onto or off nodes",
        probes: &[("update", "nodes"), ("patch", "nodes"), ("delete", "nodes")],
    },
    Risk {
        id: "webhooks-write",
        why: "admission webhooks see and can change every object sent to the API server",
        probes: &[
            ("create", "validatingwebhookconfigurations"),
            ("update", "validatingwebhookconfigurations"),
            ("patch", "validatingwebhookconfigurations"),
            ("create", "mutatingwebhookconfigurations"),
            ("update", "mutatingwebhookconfigurations"),
            ("patch", "mutatingwebhookconfigurations"),
        ],
    },
    Risk {
        id: "rbac-write",
        why: "writing roles or bindings changes who can do what",
        probes: &[
            ("create", "clusterrolebindings"),
            ("update", "clusterrolebindings"),
            ("patch", "clusterrolebindings"),
            ("create", "rolebindings"),
            ("update", "rolebindings"),
            ("patch", "rolebindings"),
            ("create", "clusterroles"),
            ("update", "clusterroles"),
            ("patch", "clusterroles"),
            ("create", "roles"),
            ("update", "roles"),
            ("patch", "roles"),
        ],
    },
];

/// The risk with this id.
pub fn find(id: &str) -> Option<&'static Risk> {
    RISKS.iter().find(|r| r.id == id)
}

impl Risk {
    /// The risk's requests, each asked in `namespace` (`""`: cluster-wide).
    pub fn requests(&self, namespace: &str) -> Vec<Request> {
        self.probes
            .iter()
            .filter_map(|&(verb, resource)| {
                Ask {
                    verb: verb.to_string(),
                    resource: resource.to_string(),
                    ..Ask::default()
                }
                .request(namespace)
                .ok()
            })
            .collect()
    }

    /// Whether a rule grants any of the risk's requests.
    pub fn granted_by(&self, rule: &Rule) -> bool {
        self.requests("").iter().any(|r| rule_allows(rule, r))
    }
}

/// A subject holding a risk, where, through which chain, and for which requests.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The risk.
    pub risk: &'static Risk,
    /// The subject as bound.
    pub subject: Subject,
    /// `None`: cluster-wide; else the namespace.
    pub namespace: Option<String>,
    /// The requests granted, `VERB RESOURCE`.
    pub actions: Vec<String>,
    /// The first chain found for each action, in the same order.
    pub grants: Vec<Grant>,
}

/// Every subject holding one of the selected risks (all when `only` is empty), ordered by
/// risk, subject and namespace.
pub fn risks(policy: &Policy, only: &[&'static Risk]) -> Vec<Finding> {
    let selected: Vec<&'static Risk> = if only.is_empty() {
        RISKS.iter().collect()
    } else {
        only.to_vec()
    };
    let mut out: Vec<Finding> = Vec::new();
    for risk in selected {
        let mut found: Vec<Finding> = Vec::new();
        let mut index: HashMap<(Subject, Option<String>), usize> = HashMap::new();
        for &(verb, resource) in risk.probes {
            let ask = Ask {
                verb: verb.to_string(),
                resource: resource.to_string(),
                ..Ask::default()
            };
            let Ok(grants) = who_can(policy, &ask, &Scope::Any) else {
                continue;
            };
            let action = format!("{verb} {resource}");
            for grant in grants {
                let key = (grant.subject.clone(), grant.namespace.clone());
                match index.get(&key) {
                    Some(&i) if found[i].actions.contains(&action) => {}
                    Some(&i) => {
                        found[i].actions.push(action.clone());
                        found[i].grants.push(grant);
                    }
                    None => {
                        index.insert(key, found.len());
                        found.push(Finding {
                            risk,
                            subject: grant.subject.clone(),
                            namespace: grant.namespace.clone(),
                            actions: vec![action.clone()],
                            grants: vec![grant],
                        });
                    }
                }
            }
        }
        found.sort_by(|a, b| {
            (a.subject.to_string(), &a.namespace).cmp(&(b.subject.to_string(), &b.namespace))
        });
        out.extend(found);
    }
    out
}
