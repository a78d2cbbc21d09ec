//! The default roles and bindings of Kubernetes 1.37 (`--with-defaults`, spec/rbac.md §9):
//! at least one question per default ClusterRole, answered as a 1.37 cluster answers it.

use rampart_runtime::manifest::Limits;
use rampart_runtime::rbac::load;
use rampart_runtime::rbac::model::RoleKind;
use rampart_runtime::rbac::policy::Policy;
use rampart_runtime::rbac::query::{can, Ask, Identity, Scope};

/// (role, subject, verb, resource, namespace, allowed); the manifests add a RoleBinding of
/// `admin`, `edit` and `view` in namespace `team` to users `ann`, `ed` and `vi`, and a
/// ClusterRoleBinding per role without a default binding.
const CASES: &[(&str, &str, &str, &str, &str, bool)] = &[
    (
        "cluster-admin",
        "group:system:masters",
        "delete",
        "nodes",
        "",
        true,
    ),
    (
        "cluster-admin",
        "group:system:masters",
        "get",
        "/anything/at/all",
        "",
        true,
    ),
    ("cluster-admin", "user:nobody", "get", "pods", "", false),
    ("admin", "user:ann", "create", "rolebindings", "team", true),
    ("admin", "user:ann", "get", "secrets", "team", true),
    (
        "admin",
        "user:ann",
        "create",
        "localsubjectaccessreviews",
        "team",
        true,
    ),
    (
        "admin",
        "user:ann",
        "create",
        "rolebindings",
        "other",
        false,
    ),
    ("edit", "user:ed", "create", "deployments", "team", true),
    ("edit", "user:ed", "get", "secrets", "team", true),
    ("edit", "user:ed", "create", "pods/exec", "team", true),
    (
        "edit",
        "user:ed",
        "create",
        "serviceaccounts/token",
        "team",
        true,
    ),
    ("edit", "user:ed", "create", "rolebindings", "team", false),
    ("edit", "user:ed", "update", "resourcequotas", "team", false),
    ("view", "user:vi", "list", "pods", "team", true),
    ("view", "user:vi", "get", "pods/log", "team", true),
    ("view", "user:vi", "get", "secrets", "team", false),
    ("view", "user:vi", "create", "pods/exec", "team", false),
    (
        "system:aggregate-to-admin",
        "user:agg-admin",
        "delete",
        "roles",
        "",
        true,
    ),
    (
        "system:aggregate-to-edit",
        "user:agg-edit",
        "update",
        "secrets",
        "",
        true,
    ),
    (
        "system:aggregate-to-view",
        "user:agg-view",
        "watch",
        "endpointslices",
        "",
        true,
    ),
    (
        "system:basic-user",
        "user:anyone",
        "create",
        "selfsubjectaccessreviews",
        "",
        true,
    ),
    (
        "system:basic-user",
        "user:anyone",
        "create",
        "selfsubjectrulesreviews",
        "",
        true,
    ),
    (
        "system:basic-user",
        "group:system:unauthenticated",
        "create",
        "selfsubjectaccessreviews",
        "",
        false,
    ),
    (
        "system:discovery",
        "user:anyone",
        "get",
        "/apis/apps/v1",
        "",
        true,
    ),
    (
        "system:discovery",
        "user:anyone",
        "get",
        "/metrics",
        "",
        false,
    ),
    (
        "system:public-info-viewer",
        "group:system:unauthenticated",
        "get",
        "/version",
        "",
        true,
    ),
    (
        "system:public-info-viewer",
        "group:system:unauthenticated",
        "get",
        "/apis",
        "",
        false,
    ),
    (
        "system:monitoring",
        "group:system:monitoring",
        "get",
        "/metrics",
        "",
        true,
    ),
    (
        "system:monitoring",
        "group:system:monitoring",
        "get",
        "/readyz/etcd",
        "",
        true,
    ),
    (
        "system:auth-delegator",
        "user:delegator",
        "create",
        "tokenreviews",
        "",
        true,
    ),
    (
        "system:kubelet-api-admin",
        "user:kubelet-admin",
        "get",
        "nodes/proxy",
        "",
        true,
    ),
    (
        "system:node-bootstrapper",
        "user:bootstrap",
        "create",
        "certificatesigningrequests",
        "",
        true,
    ),
    (
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        "user:nodeclient",
        "create",
        "certificatesigningrequests/nodeclient",
        "",
        true,
    ),
    (
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "user:selfnode",
        "create",
        "certificatesigningrequests/selfnodeclient",
        "",
        true,
    ),
    (
        "system:node-proxier",
        "user:system:kube-proxy",
        "list",
        "endpointslices",
        "",
        true,
    ),
    (
        "system:node-proxier",
        "user:system:kube-proxy",
        "get",
        "secrets",
        "",
        false,
    ),
    (
        "system:kube-dns",
        "sa:kube-system/kube-dns",
        "watch",
        "services",
        "",
        true,
    ),
    (
        "system:volume-scheduler",
        "user:system:kube-scheduler",
        "patch",
        "persistentvolumes",
        "",
        true,
    ),
    (
        "system:service-account-issuer-discovery",
        "sa:any/one",
        "get",
        "/openid/v1/jwks",
        "",
        true,
    ),
];

/// Bindings for the roles the defaults do not bind to anyone.
const BINDINGS: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ann, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: User, name: ann}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ed, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: User, name: ed}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vi, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: vi}]
"#;

const CLUSTER_BINDINGS: &[(&str, &str)] = &[
    ("system:aggregate-to-admin", "agg-admin"),
    ("system:aggregate-to-edit", "agg-edit"),
    ("system:aggregate-to-view", "agg-view"),
    ("system:auth-delegator", "delegator"),
    ("system:kubelet-api-admin", "kubelet-admin"),
    ("system:node-bootstrapper", "bootstrap"),
    (
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        "nodeclient",
    ),
    (
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "selfnode",
    ),
];

fn policy() -> Policy {
    let dir = tempfile::tempdir().unwrap();
    let mut text = BINDINGS.to_string();
    for (role, user) in CLUSTER_BINDINGS {
        text.push_str(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {user}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: \"{role}\"}}\nsubjects: [{{kind: User, name: {user}}}]\n"
        ));
    }
    let path = dir.path().join("bindings.yaml");
    std::fs::write(&path, text).unwrap();
    load::load(&[path.display().to_string()], true, &Limits::default())
}

#[test]
fn the_defaults_load_cleanly() {
    let policy = policy();
    assert!(policy.errors.is_empty(), "{:?}", policy.errors);
    assert!(policy.warnings.is_empty(), "{:?}", policy.warnings);
}

#[test]
fn every_default_role_answers_as_in_kubernetes() {
    let policy = policy();
    let mut failures = Vec::new();
    for &(role, subject, verb, resource, namespace, allowed) in CASES {
        let who = Identity::parse(subject).unwrap();
        let ask = Ask {
            verb: verb.into(),
            resource: resource.into(),
            ..Ask::default()
        };
        let grants = can(&policy, &who, &ask, &Scope::Namespace(namespace.into())).unwrap();
        let through_role = grants.iter().any(|g| policy.roles[g.role].name == role);
        // A refusal must be a refusal by every role; an allowance must come from this role.
        let ok = if allowed {
            through_role
        } else {
            grants.is_empty()
        };
        if !ok {
            failures.push(format!(
                "{role}: {subject} {verb} {resource} in `{namespace}` should be {allowed}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_default_cluster_role_has_a_case() {
    let policy = policy();
    for role in policy
        .roles
        .iter()
        .filter(|r| r.kind == RoleKind::ClusterRole && r.origin.file == load::DEFAULTS_NAME)
    {
        assert!(
            CASES.iter().any(|c| c.0 == role.name),
            "default ClusterRole `{}` has no case",
            role.name
        );
    }
}

#[test]
fn admin_edit_and_view_are_aggregated_in_order() {
    let policy = policy();
    let rules = |name: &str| {
        policy
            .roles
            .iter()
            .find(|r| r.name == name && r.origin.file == load::DEFAULTS_NAME)
            .unwrap()
            .rules
            .len()
    };
    let (view, edit, admin) = (rules("view"), rules("edit"), rules("admin"));
    assert!(
        view > 0 && edit > view && admin > edit,
        "{view} {edit} {admin}"
    );
}
