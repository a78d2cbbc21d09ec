//! The RBAC semantics of spec/rbac.md, one documented behaviour per case, over the objects
//! of `tests/rbac/fixture.yaml`.

use rampart_runtime::manifest::Limits;
use rampart_runtime::rbac::load;
use rampart_runtime::rbac::policy::Policy;
use rampart_runtime::rbac::query::{can, Ask, Identity, Scope};

fn fixture() -> Policy {
    let path = format!("{}/tests/rbac/fixture.yaml", env!("CARGO_MANIFEST_DIR"));
    load::load(&[path], false, &Limits::default())
}

/// One question and its documented answer.
struct Case {
    /// The behaviour checked (spec/rbac.md section).
    behaviour: &'static str,
    subject: &'static str,
    verb: &'static str,
    resource: &'static str,
    namespace: &'static str,
    name: Option<&'static str>,
    allowed: bool,
}

const fn case(
    behaviour: &'static str,
    subject: &'static str,
    verb: &'static str,
    resource: &'static str,
    namespace: &'static str,
    allowed: bool,
) -> Case {
    Case {
        behaviour,
        subject,
        verb,
        resource,
        namespace,
        name: None,
        allowed,
    }
}

const fn named(mut c: Case, name: &'static str) -> Case {
    c.name = Some(name);
    c
}

const CASES: &[Case] = &[
    // §2 verbs
    case(
        "§2 `*` in verbs matches any verb",
        "user:alice",
        "delete",
        "configmaps",
        "",
        true,
    ),
    case(
        "§2 `*` in verbs matches unusual verbs too",
        "user:alice",
        "escalate",
        "configmaps",
        "",
        true,
    ),
    case(
        "§2 verbs are compared case-sensitively (`GET` is not `get`)",
        "user:leo",
        "get",
        "secrets",
        "",
        false,
    ),
    case(
        "§2 a listed verb matches only itself",
        "user:erin",
        "delete",
        "configmaps",
        "",
        false,
    ),
    // §2 apiGroups
    case(
        "§2 `*` in apiGroups matches the apps group",
        "user:bob",
        "get",
        "deployments.apps",
        "",
        true,
    ),
    case(
        "§2 `*` in apiGroups matches any other group",
        "user:bob",
        "get",
        "deployments.extensions",
        "",
        true,
    ),
    case(
        "§2 apiGroup `\"\"` is the core group only",
        "user:mia",
        "get",
        "deployments.apps",
        "",
        false,
    ),
    case(
        "§2 apiGroup `\"\"` matches core resources",
        "user:mia",
        "get",
        "pods",
        "",
        true,
    ),
    // §2 resources
    case(
        "§2 `*` in resources matches every resource of the group",
        "user:carol",
        "list",
        "statefulsets",
        "",
        true,
    ),
    case(
        "§2 `*` in resources does not cross groups",
        "user:carol",
        "list",
        "pods",
        "",
        false,
    ),
    case(
        "§2 `*` in resources includes subresources",
        "user:carol",
        "list",
        "deployments/scale",
        "",
        true,
    ),
    case(
        "§2 a subresource rule matches that subresource",
        "group:oncall",
        "create",
        "pods/exec",
        "",
        true,
    ),
    case(
        "§2 a subresource rule does not grant the resource",
        "group:oncall",
        "create",
        "pods",
        "",
        false,
    ),
    case(
        "§2 a resource rule does not grant its subresources",
        "user:mia",
        "get",
        "pods/log",
        "",
        false,
    ),
    case(
        "§2 `*/scale` matches the scale subresource of any resource",
        "user:dave",
        "update",
        "deployments/scale",
        "",
        true,
    ),
    case(
        "§2 `*/scale` matches statefulsets/scale",
        "user:dave",
        "update",
        "statefulsets.apps/scale",
        "",
        true,
    ),
    case(
        "§2 `*/scale` does not match the resource itself",
        "user:dave",
        "update",
        "deployments",
        "",
        false,
    ),
    case(
        "§2 `*/scale` does not match other subresources",
        "user:dave",
        "update",
        "deployments/status",
        "",
        false,
    ),
    // §2 resourceNames
    named(
        case(
            "§2 resourceNames allow the named object",
            "user:erin",
            "get",
            "configmaps",
            "",
            true,
        ),
        "app-config",
    ),
    named(
        case(
            "§2 resourceNames refuse other names",
            "user:erin",
            "get",
            "configmaps",
            "",
            false,
        ),
        "other",
    ),
    case(
        "§2 resourceNames refuse requests without a name (list)",
        "user:erin",
        "list",
        "configmaps",
        "",
        false,
    ),
    // §2 nonResourceURLs
    case(
        "§2 nonResourceURLs match the exact path",
        "user:frank",
        "get",
        "/metrics",
        "",
        true,
    ),
    case(
        "§2 a trailing `*` matches deeper paths",
        "user:frank",
        "get",
        "/logs/kube/api.log",
        "",
        true,
    ),
    case(
        "§2 `/logs/*` does not match `/logs`",
        "user:frank",
        "get",
        "/logs",
        "",
        false,
    ),
    case(
        "§2 nonResourceURLs need the verb",
        "user:frank",
        "post",
        "/metrics",
        "",
        false,
    ),
    case(
        "§2 a URL rule grants no resource",
        "user:frank",
        "get",
        "metrics",
        "",
        false,
    ),
    // §3 role references
    case(
        "§3 a binding to a missing ClusterRole grants nothing",
        "user:hank",
        "get",
        "pods",
        "",
        false,
    ),
    case(
        "§3 a RoleBinding's Role is looked up in its own namespace",
        "user:hank",
        "get",
        "services",
        "payments",
        false,
    ),
    case(
        "§3 a ClusterRoleBinding cannot bind a Role",
        "user:nina",
        "get",
        "secrets",
        "payments",
        false,
    ),
    // §4 aggregation
    case(
        "§4 an aggregated ClusterRole has the rules of the selected roles",
        "user:ivy",
        "get",
        "widgets.example.com",
        "",
        true,
    ),
    case(
        "§4 roles the selector does not select are not aggregated",
        "user:ivy",
        "delete",
        "widgets.example.com",
        "",
        false,
    ),
    case(
        "§4 an aggregated role's own rules are replaced",
        "user:ivy",
        "list",
        "gadgets.example.com",
        "",
        false,
    ),
    case(
        "§4 aggregation through an aggregated role converges",
        "user:kim",
        "get",
        "widgets.example.com",
        "",
        true,
    ),
    case(
        "§4 matchExpressions `In` with `NotIn` on a missing label selects",
        "user:jack",
        "get",
        "services",
        "",
        true,
    ),
    case(
        "§4 matchExpressions `NotIn` refuses a listed value",
        "user:jack",
        "delete",
        "services",
        "",
        false,
    ),
    case(
        "§4 matchExpressions `Exists` and `DoesNotExist` select",
        "user:jack",
        "get",
        "endpoints",
        "",
        true,
    ),
    case(
        "§4 matchExpressions `DoesNotExist` refuses a present label",
        "user:jack",
        "delete",
        "endpoints",
        "",
        false,
    ),
    // §5 subjects
    case(
        "§5 a ServiceAccount subject without namespace takes the RoleBinding's",
        "sa:payments/api",
        "get",
        "secrets",
        "payments",
        true,
    ),
    case(
        "§5 a ServiceAccount subject of another namespace is honoured",
        "sa:shop/worker",
        "get",
        "secrets",
        "payments",
        true,
    ),
    case(
        "§5 a different ServiceAccount of the namespace is not the subject",
        "sa:payments/web",
        "get",
        "secrets",
        "payments",
        false,
    ),
    case(
        "§5 a ServiceAccount is in `system:serviceaccounts:NS`",
        "sa:payments/web",
        "list",
        "pods",
        "",
        true,
    ),
    case(
        "§5 `system:serviceaccounts:NS` is only that namespace's",
        "sa:shop/worker",
        "list",
        "pods",
        "",
        false,
    ),
    case(
        "§5 a ServiceAccount is in `system:serviceaccounts`",
        "sa:shop/worker",
        "get",
        "leases",
        "",
        true,
    ),
    case(
        "§5 a user is not in `system:serviceaccounts`",
        "user:alice",
        "get",
        "leases",
        "",
        false,
    ),
    case(
        "§5 a user is in `system:authenticated`",
        "user:alice",
        "create",
        "selfsubjectreviews",
        "",
        true,
    ),
    case(
        "§5 a ServiceAccount is in `system:authenticated`",
        "sa:shop/worker",
        "create",
        "selfsubjectreviews.authentication.k8s.io",
        "",
        true,
    ),
    case(
        "§5 a `group:` question has only that group",
        "group:oncall",
        "create",
        "selfsubjectreviews",
        "",
        false,
    ),
    case(
        "§5 a User subject `system:serviceaccount:NS:NAME` is that ServiceAccount",
        "sa:shop/builder",
        "create",
        "pods",
        "shop",
        true,
    ),
    case(
        "§5 `user:system:serviceaccount:NS:NAME` is the ServiceAccount",
        "user:system:serviceaccount:shop:builder",
        "create",
        "pods",
        "",
        true,
    ),
    case(
        "§5 a cluster-wide ServiceAccount subject without namespace applies to nobody",
        "sa:default/robot",
        "get",
        "configmaps",
        "",
        false,
    ),
    case(
        "§5 unknown subject kinds apply to nobody (the User alice still does)",
        "user:alice",
        "get",
        "configmaps",
        "",
        true,
    ),
    // §6 which bindings count
    case(
        "§6 a RoleBinding to a ClusterRole grants in its namespace",
        "user:gina",
        "delete",
        "secrets",
        "shop",
        true,
    ),
    case(
        "§6 a RoleBinding to a ClusterRole grants nothing in other namespaces",
        "user:gina",
        "delete",
        "secrets",
        "payments",
        false,
    ),
    case(
        "§6 a RoleBinding grants nothing cluster-wide",
        "user:gina",
        "list",
        "secrets",
        "",
        false,
    ),
    case(
        "§6 a RoleBinding never grants cluster-scoped resources",
        "user:gina",
        "get",
        "nodes",
        "shop",
        false,
    ),
    named(
        case(
            "§6 `get namespace X` is asked in namespace X",
            "user:gina",
            "get",
            "namespaces",
            "",
            true,
        ),
        "shop",
    ),
    case(
        "§6 a RoleBinding never grants non-resource URLs",
        "user:omar",
        "get",
        "/metrics",
        "payments",
        false,
    ),
    case(
        "§6 a Role grants nothing cluster-wide",
        "sa:payments/api",
        "get",
        "secrets",
        "",
        false,
    ),
    case(
        "§6 ClusterRoleBindings grant in every namespace",
        "user:alice",
        "get",
        "configmaps",
        "kube-system",
        true,
    ),
    case(
        "§1 a RoleBinding without a namespace, in a `kind: List`, is in `default`",
        "user:paul",
        "list",
        "pods",
        "default",
        true,
    ),
    case(
        "§6 the RoleBinding in `default` grants nothing elsewhere",
        "user:paul",
        "list",
        "pods",
        "other",
        false,
    ),
];

#[test]
fn every_case_matches_the_documented_behaviour() {
    let policy = fixture();
    assert!(policy.errors.is_empty(), "{:?}", policy.errors);
    let mut failures = Vec::new();
    for c in CASES {
        let who = Identity::parse(c.subject).unwrap();
        let ask = Ask {
            verb: c.verb.into(),
            resource: c.resource.into(),
            subresource: None,
            name: c.name.map(str::to_string),
        };
        let grants = can(&policy, &who, &ask, &Scope::Namespace(c.namespace.into())).unwrap();
        if grants.is_empty() == c.allowed {
            failures.push(format!(
                "{}: {} {} {} in `{}` should be {}",
                c.behaviour,
                c.subject,
                c.verb,
                c.resource,
                c.namespace,
                if c.allowed { "allowed" } else { "refused" }
            ));
        }
    }
    assert!(CASES.len() >= 40);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_roles_are_reported_with_their_line() {
    let policy = fixture();
    let missing: Vec<String> = policy
        .warnings
        .iter()
        .filter(|w| w.message.contains("grants nothing"))
        .map(|w| format!("{}: {}", w.origin.line, w.message))
        .collect();
    assert_eq!(missing.len(), 3, "{missing:#?}");
    assert!(missing
        .iter()
        .any(|m| m.contains("`cross-namespace`") && m.contains("namespace `payments`")));
    assert!(missing.iter().any(|m| m.contains("`not-defined-anywhere`")));
    assert!(missing.iter().any(|m| m.contains("`binds-a-role`")));
}

#[test]
fn an_aggregated_role_with_own_rules_is_reported() {
    let policy = fixture();
    assert!(policy
        .warnings
        .iter()
        .any(|w| w.message.contains("`widgets-aggregate`") && w.message.contains("replaced")));
}

#[test]
fn chains_name_the_binding_role_and_rule_lines() {
    let policy = fixture();
    let who = Identity::parse("sa:payments/api").unwrap();
    let ask = Ask {
        verb: "get".into(),
        resource: "secrets".into(),
        ..Ask::default()
    };
    let grants = can(&policy, &who, &ask, &Scope::Namespace("payments".into())).unwrap();
    assert_eq!(grants.len(), 1);
    let g = &grants[0];
    let binding = &policy.bindings[g.binding];
    let role = &policy.roles[g.role];
    assert_eq!(binding.name, "api-reads-secrets");
    assert_eq!(binding.origin.line, 12);
    assert_eq!(role.name, "secret-reader");
    assert_eq!(role.origin.line, 3);
    assert_eq!(role.rules[g.rule].origin.line, 7);
    assert!(binding.origin.file.ends_with("fixture.yaml"));
}

#[test]
fn aggregated_rules_name_the_role_they_are_written_in() {
    let policy = fixture();
    let top = policy
        .roles
        .iter()
        .find(|r| r.name == "top-aggregate")
        .unwrap();
    assert_eq!(top.rules.len(), 1);
    assert_eq!(
        top.aggregated_from,
        vec![Some("widgets-reader".to_string())]
    );
}

#[test]
fn malformed_objects_are_errors_at_their_line_and_the_rest_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\nrules:\n- verbs: get\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: binding}\nroleRef: {kind: ClusterRole, name: z}\nsubjects: [{kind: User, name: u}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: z}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n",
    )
    .unwrap();
    let policy = load::load(&[bad.display().to_string()], false, &Limits::default());
    assert_eq!(policy.errors.len(), 1, "{:?}", policy.errors);
    assert_eq!(policy.errors[0].origin.line, 5);
    assert!(policy.errors[0]
        .message
        .contains("`verbs` must be a list of strings"));
    let who = Identity::parse("user:u").unwrap();
    let ask = Ask {
        verb: "get".into(),
        resource: "pods".into(),
        ..Ask::default()
    };
    assert_eq!(
        can(&policy, &who, &ask, &Scope::Namespace(String::new()))
            .unwrap()
            .len(),
        1
    );
}
