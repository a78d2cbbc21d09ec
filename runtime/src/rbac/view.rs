//! The `who_can(verb, resource)` view of the policy language (spec/rbac.md §11): the grants
//! of the RBAC objects of a run, computed here by the same code as `rampart rbac who-can`
//! and passed to the Wasm module as a set list of records.

use std::sync::OnceLock;

use serde_json::{json, Map, Value as Json};

use super::load::{DEFAULTS, DEFAULTS_NAME};
use super::model::{SubjectKind, RBAC_GROUP};
use super::policy::{Builder, Policy};
use super::query::{who_can, Ask, Scope};
use crate::manifest::{self, Limits, Loaded, Node, Object};

/// The kinds the view is computed from.
pub const KINDS: &[&str] = &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/// Whether an object is one the view reads.
pub fn is_rbac_object(api_version: &str, kind: &str) -> bool {
    api_version
        .split_once('/')
        .is_some_and(|(group, _)| group == RBAC_GROUP)
        && KINDS.contains(&kind)
}

/// The default roles and bindings of Kubernetes 1.37, parsed once.
fn defaults() -> &'static Loaded {
    static DEFAULTS_LOADED: OnceLock<Loaded> = OnceLock::new();
    DEFAULTS_LOADED.get_or_init(|| {
        manifest::load(DEFAULTS, &Limits::default()).expect("the built-in defaults parse")
    })
}

/// The RBAC policy of a run: the defaults of Kubernetes 1.37, then the RBAC objects among
/// `objects` in order (a later definition replaces an earlier one). Malformed objects are
/// left out; `rampart test` reports their fields against the schema.
pub fn policy(objects: &[&Node]) -> Policy {
    let mut builder = Builder::new();
    builder.add(DEFAULTS_NAME, defaults());
    let text = |node: &Node, key: &str| node.get(key).and_then(Node::as_str).map(str::to_string);
    let loaded = Loaded {
        objects: objects
            .iter()
            .filter_map(|node| {
                let api_version = text(node, "apiVersion")?;
                let kind = text(node, "kind")?;
                if !is_rbac_object(&api_version, &kind) {
                    return None;
                }
                let meta = node.get("metadata");
                Some(Object {
                    node: (*node).clone(),
                    doc_index: 0,
                    item_index: None,
                    api_version,
                    kind,
                    name: meta.and_then(|m| text(m, "name")),
                    namespace: meta.and_then(|m| text(m, "namespace")),
                })
            })
            .collect(),
        skipped: 0,
    };
    builder.add("", &loaded);
    builder.finish()
}

/// The records of `who_can(verb, resource)`: one per grant, in binding order (the order of
/// `rampart rbac who-can VERB RESOURCE --with-defaults`).
pub fn who_can_records(policy: &Policy, verb: &str, resource: &str) -> Vec<Json> {
    let ask = Ask {
        verb: verb.to_string(),
        resource: resource.to_string(),
        subresource: None,
        name: None,
    };
    let Ok(grants) = who_can(policy, &ask, &Scope::Any) else {
        return Vec::new();
    };
    grants
        .iter()
        .map(|g| {
            let binding = &policy.bindings[g.binding];
            let role = &policy.roles[g.role];
            let rule = &role.rules[g.rule];
            let reference = |kind: &str, name: &str, namespace: &Option<String>| {
                let mut r = Map::new();
                r.insert("kind".into(), kind.into());
                r.insert("name".into(), name.into());
                if let Some(ns) = namespace {
                    r.insert("namespace".into(), ns.as_str().into());
                }
                Json::Object(r)
            };
            let kind = match &g.subject.kind {
                SubjectKind::User => "User",
                SubjectKind::Group => "Group",
                SubjectKind::ServiceAccount => "ServiceAccount",
                SubjectKind::Other(k) => k.as_str(),
            };
            let mut record = Map::new();
            record.insert(
                "subject".into(),
                reference(kind, &g.subject.name, &g.subject.namespace),
            );
            if let Some(ns) = &g.namespace {
                record.insert("namespace".into(), ns.as_str().into());
            }
            record.insert(
                "binding".into(),
                reference(binding.kind.as_str(), &binding.name, &binding.namespace),
            );
            record.insert(
                "role".into(),
                reference(role.kind.as_str(), &role.name, &role.namespace),
            );
            let mut r = json!({
                "verbs": rule.verbs,
                "apiGroups": rule.api_groups,
                "resources": rule.resources,
            });
            if !rule.resource_names.is_empty() {
                r["resourceNames"] = json!(rule.resource_names);
            }
            if !rule.non_resource_urls.is_empty() {
                r["nonResourceURLs"] = json!(rule.non_resource_urls);
            }
            record.insert("rule".into(), r);
            Json::Object(record)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(text: &str) -> Vec<Node> {
        manifest::load(text, &Limits::default())
            .unwrap()
            .objects
            .into_iter()
            .map(|o| o.node)
            .collect()
    }

    const RUN: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
  - {apiGroups: [\"\"], resources: [secrets], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects:
  - {kind: ServiceAccount, name: api}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: editors}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
  - {kind: Group, name: devs}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
";

    #[test]
    fn records_carry_subject_place_binding_role_and_rule() {
        let objects = nodes(RUN);
        let refs: Vec<&Node> = objects.iter().collect();
        let policy = policy(&refs);
        let records = who_can_records(&policy, "list", "secrets");
        let ours: Vec<&Json> = records
            .iter()
            .filter(|r| r["binding"]["name"] == "read")
            .collect();
        assert_eq!(ours.len(), 1, "{records:#?}");
        let r = ours[0];
        // The ServiceAccount's namespace defaults to the RoleBinding's, where it holds.
        assert_eq!(
            r["subject"],
            json!({"kind": "ServiceAccount", "name": "api", "namespace": "shop"})
        );
        assert_eq!(r["namespace"], "shop");
        assert_eq!(r["role"], json!({"kind": "ClusterRole", "name": "reader"}));
        assert_eq!(r["rule"]["verbs"], json!(["get", "list"]));
        // `edit` comes from the defaults, aggregated: it reads secrets cluster-wide.
        let devs: Vec<&Json> = records
            .iter()
            .filter(|r| r["subject"]["name"] == "devs")
            .collect();
        assert!(!devs.is_empty(), "{records:#?}");
        assert!(devs.iter().all(|r| r.get("namespace").is_none()));
        assert!(devs.iter().all(|r| r["role"]["name"] == "edit"));
    }

    #[test]
    fn a_request_no_rule_allows_has_no_record_from_the_run() {
        let objects = nodes(RUN);
        let refs: Vec<&Node> = objects.iter().collect();
        let policy = policy(&refs);
        let records = who_can_records(&policy, "delete", "secrets");
        assert!(records.iter().all(|r| r["binding"]["name"] != "read"));
        assert!(is_rbac_object("rbac.authorization.k8s.io/v1", "Role"));
        assert!(!is_rbac_object("v1", "Role"));
        assert!(!is_rbac_object("rbac.authorization.k8s.io/v1", "Other"));
    }
}
