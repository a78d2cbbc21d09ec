//! The RBAC authorizer's matching of one request against one rule, written after
//! `pkg/apis/rbac/v1/evaluation_helpers.go` (`VerbMatches`, `APIGroupMatches`,
//! `ResourceMatches`, `ResourceNameMatches`, `NonResourceURLMatches`) and `RuleAllows` of
//! `plugin/pkg/auth/authorizer/rbac/rbac.go`. spec/rbac.md §2.

use super::model::{Operator, Rule, Selector};

/// `*` in verbs, apiGroups, resources and nonResourceURLs: everything.
pub const ALL: &str = "*";

/// One request, as the authorizer sees its attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Request {
    /// A request on an API resource.
    Resource {
        /// `get`, `list`, `create`, … (`use`, `bind`, `escalate`, `impersonate`, `approve` too).
        verb: String,
        /// The API group, `""` for the core group.
        api_group: String,
        /// The resource, e.g. `pods`.
        resource: String,
        /// The subresource, e.g. `exec`, or `""`.
        subresource: String,
        /// The object's name, or `""` (list, create without a name).
        name: String,
        /// The namespace, or `""` for cluster-scoped requests.
        namespace: String,
    },
    /// A request on a non-resource URL such as `/metrics`.
    NonResource {
        /// The verb, usually `get`.
        verb: String,
        /// The path.
        path: String,
    },
}

impl Request {
    /// The request's verb.
    pub fn verb(&self) -> &str {
        match self {
            Request::Resource { verb, .. } | Request::NonResource { verb, .. } => verb,
        }
    }
}

/// `VerbMatches`: the rule lists `*` or the verb.
pub fn verb_matches(rule: &Rule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// `APIGroupMatches`: the rule lists `*` or the group.
pub fn api_group_matches(rule: &Rule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == ALL || g == group)
}

/// `ResourceMatches`: `*`, the exact `resource/subresource`, or `*/subresource`.
pub fn resource_matches(rule: &Rule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

/// `ResourceNameMatches`: no names in the rule, or the requested name among them.
pub fn resource_name_matches(rule: &Rule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// `NonResourceURLMatches`: `*`, the exact path, or a prefix ending in `*`.
pub fn non_resource_url_matches(rule: &Rule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| {
        u == ALL || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

/// `RuleAllows`: whether one rule grants the request.
pub fn rule_allows(rule: &Rule, request: &Request) -> bool {
    match request {
        Request::Resource {
            verb,
            api_group,
            resource,
            subresource,
            name,
            ..
        } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            verb_matches(rule, verb)
                && api_group_matches(rule, api_group)
                && resource_matches(rule, &combined, subresource)
                && resource_name_matches(rule, name)
        }
        Request::NonResource { verb, path } => {
            verb_matches(rule, verb) && non_resource_url_matches(rule, path)
        }
    }
}

/// Whether a label selector selects the labels, as `metav1.LabelSelectorAsSelector` does:
/// every `matchLabels` pair and every expression must hold; an empty selector selects all.
pub fn selector_matches(selector: &Selector, labels: &[(String, String)]) -> bool {
    let value = |key: &str| labels.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    selector
        .match_labels
        .iter()
        .all(|(k, v)| value(k) == Some(v))
        && selector.match_expressions.iter().all(|r| {
            let found = value(&r.key);
            match r.operator {
                Operator::In => found.is_some_and(|v| r.values.contains(v)),
                Operator::NotIn => found.is_none_or(|v| !r.values.contains(v)),
                Operator::Exists => found.is_some(),
                Operator::DoesNotExist => found.is_none(),
            }
        })
}
