//! The RBAC objects read from manifests: roles, cluster roles and their bindings, each
//! remembering the file and line it came from.

use std::fmt;

use crate::manifest::{Node, Object, Value};

/// The API group of the RBAC objects.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Where something was written: a file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// The input's name as reported (path, `-` for stdin, `defaults:…` for the built-in set).
    pub file: String,
    /// 1-based line; 0 for the whole file.
    pub line: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: the whole file (it could not be read).
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// One `PolicyRule` of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `apiGroups`.
    pub api_groups: Vec<String>,
    /// `resources`, subresources written `pods/exec`.
    pub resources: Vec<String>,
    /// `resourceNames`; empty means every name.
    pub resource_names: Vec<String>,
    /// `nonResourceURLs`.
    pub non_resource_urls: Vec<String>,
    /// Where the rule is written.
    pub origin: Origin,
}

impl Rule {
    /// A short human form: `get,list secrets` or `get /metrics`.
    pub fn summary(&self) -> String {
        let mut out = self.verbs.join(",");
        if !self.resources.is_empty() {
            out.push(' ');
            out.push_str(&self.resources.join(","));
            let groups: Vec<&str> = self
                .api_groups
                .iter()
                .map(|g| if g.is_empty() { "core" } else { g.as_str() })
                .collect();
            out.push_str(&format!(" [{}]", groups.join(",")));
            if !self.resource_names.is_empty() {
                out.push_str(&format!(" names={}", self.resource_names.join(",")));
            }
        }
        if !self.non_resource_urls.is_empty() {
            out.push(' ');
            out.push_str(&self.non_resource_urls.join(","));
        }
        out
    }
}

/// `Role` or `ClusterRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleKind {
    /// A namespaced `Role`.
    Role,
    /// A `ClusterRole`.
    ClusterRole,
}

impl RoleKind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Role => "Role",
            RoleKind::ClusterRole => "ClusterRole",
        }
    }
}

/// A label selector of an aggregation rule, as `metav1.LabelSelector`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// `matchLabels`.
    pub match_labels: Vec<(String, String)>,
    /// `matchExpressions`.
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values (`In` and `NotIn` only).
    pub values: Vec<String>,
}

/// The operators of a label selector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is missing or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is missing.
    DoesNotExist,
}

/// A `Role` or `ClusterRole`.
#[derive(Debug, Clone)]
pub struct Role {
    /// Which of the two.
    pub kind: RoleKind,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (`Role` only).
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: Vec<(String, String)>,
    /// `rules`, or for an aggregated ClusterRole the aggregated rules (see `aggregated_from`).
    pub rules: Vec<Rule>,
    /// For each rule, the ClusterRole it was aggregated from (empty when not aggregated).
    pub aggregated_from: Vec<Option<String>>,
    /// `aggregationRule.clusterRoleSelectors`, when present.
    pub aggregation: Option<Vec<Selector>>,
    /// Where the object starts.
    pub origin: Origin,
}

/// The kind of a binding subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectKind {
    /// `User`.
    User,
    /// `Group`.
    Group,
    /// `ServiceAccount`.
    ServiceAccount,
    /// Any other kind, which the authorizer never matches.
    Other(String),
}

/// A subject of a binding, with the namespace of a ServiceAccount defaulted to the binding's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    /// The kind.
    pub kind: SubjectKind,
    /// `name`.
    pub name: String,
    /// `namespace` of a ServiceAccount (or of the RoleBinding when left out).
    pub namespace: Option<String>,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SubjectKind::User => write!(f, "user:{}", self.name),
            SubjectKind::Group => write!(f, "group:{}", self.name),
            SubjectKind::ServiceAccount => write!(
                f,
                "sa:{}/{}",
                self.namespace.as_deref().unwrap_or(""),
                self.name
            ),
            SubjectKind::Other(kind) => write!(f, "{kind}:{}", self.name),
        }
    }
}

/// `RoleBinding` or `ClusterRoleBinding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingKind {
    /// A namespaced `RoleBinding`.
    RoleBinding,
    /// A `ClusterRoleBinding`.
    ClusterRoleBinding,
}

impl BindingKind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingKind::RoleBinding => "RoleBinding",
            BindingKind::ClusterRoleBinding => "ClusterRoleBinding",
        }
    }
}

/// A `RoleBinding` or `ClusterRoleBinding`.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Which of the two.
    pub kind: BindingKind,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (`RoleBinding` only).
    pub namespace: Option<String>,
    /// `roleRef.kind`.
    pub role_kind: String,
    /// `roleRef.name`.
    pub role_name: String,
    /// `subjects`.
    pub subjects: Vec<Subject>,
    /// Where the object starts.
    pub origin: Origin,
}

/// A problem found while reading the RBAC objects, at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub origin: Origin,
    /// What, lowercase, one line.
    pub message: String,
}

/// The namespace kubectl applies a namespaced object to when its manifest names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What one manifest object holds for RBAC, if anything.
#[derive(Debug)]
pub enum Parsed {
    /// A `Role` or `ClusterRole`.
    Role(Role),
    /// A `RoleBinding` or `ClusterRoleBinding`.
    Binding(Binding),
    /// Not an RBAC object.
    Other,
}

/// Reads one object; RBAC objects with a malformed field are an error at that field.
pub fn parse(file: &str, object: &Object) -> Result<Parsed, Problem> {
    let is_rbac = object
        .api_version
        .split_once('/')
        .is_some_and(|(group, _)| group == RBAC_GROUP);
    if !is_rbac {
        return Ok(Parsed::Other);
    }
    let at = |node: &Node| Origin {
        file: file.to_string(),
        line: node.line,
    };
    let node = &object.node;
    let name = object
        .name
        .clone()
        .ok_or_else(|| problem(file, node, "`metadata.name` must be a string"))?;
    let namespace = || {
        Some(
            object
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
        )
    };
    match object.kind.as_str() {
        "Role" | "ClusterRole" => {
            let kind = if object.kind == "Role" {
                RoleKind::Role
            } else {
                RoleKind::ClusterRole
            };
            let rules = match node.get("rules") {
                None => Vec::new(),
                Some(n) if n.value == Value::Null => Vec::new(),
                Some(n) => {
                    let items = n
                        .as_list()
                        .ok_or_else(|| problem(file, n, "`rules` must be a list"))?;
                    items
                        .iter()
                        .map(|item| parse_rule(file, item))
                        .collect::<Result<_, _>>()?
                }
            };
            let aggregation = match (kind, node.get("aggregationRule")) {
                (RoleKind::ClusterRole, Some(rule)) if rule.value != Value::Null => {
                    Some(parse_selectors(file, rule)?)
                }
                _ => None,
            };
            let labels = node
                .get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(Node::as_map)
                .map(|entries| {
                    entries
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), scalar_text(v)?)))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Parsed::Role(Role {
                kind,
                name,
                namespace: if kind == RoleKind::Role {
                    namespace()
                } else {
                    None
                },
                labels,
                aggregated_from: Vec::new(),
                rules,
                aggregation,
                origin: at(node),
            }))
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let kind = if object.kind == "RoleBinding" {
                BindingKind::RoleBinding
            } else {
                BindingKind::ClusterRoleBinding
            };
            let namespace = if kind == BindingKind::RoleBinding {
                namespace()
            } else {
                None
            };
            let role_ref = node
                .get("roleRef")
                .ok_or_else(|| problem(file, node, "a binding needs a `roleRef`"))?;
            let role_kind = string_field(file, role_ref, "kind")?;
            let role_name = string_field(file, role_ref, "name")?;
            let subjects = match node.get("subjects") {
                None => Vec::new(),
                Some(n) if n.value == Value::Null => Vec::new(),
                Some(n) => n
                    .as_list()
                    .ok_or_else(|| problem(file, n, "`subjects` must be a list"))?
                    .iter()
                    .map(|s| parse_subject(file, s, namespace.as_deref()))
                    .collect::<Result<_, _>>()?,
            };
            Ok(Parsed::Binding(Binding {
                kind,
                name,
                namespace,
                role_kind,
                role_name,
                subjects,
                origin: at(node),
            }))
        }
        _ => Ok(Parsed::Other),
    }
}

fn problem(file: &str, node: &Node, message: &str) -> Problem {
    Problem {
        origin: Origin {
            file: file.to_string(),
            line: node.line,
        },
        message: message.to_string(),
    }
}

/// A scalar label value as the API server would store it (labels are strings).
fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn string_field(file: &str, node: &Node, key: &str) -> Result<String, Problem> {
    match node.get(key) {
        Some(n) => n
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| problem(file, n, &format!("`{key}` must be a string"))),
        None => Err(problem(file, node, &format!("`{key}` is required"))),
    }
}

fn string_list(file: &str, node: &Node, key: &str) -> Result<Vec<String>, Problem> {
    let Some(list) = node.get(key) else {
        return Ok(Vec::new());
    };
    if list.value == Value::Null {
        return Ok(Vec::new());
    }
    let items = list
        .as_list()
        .ok_or_else(|| problem(file, list, &format!("`{key}` must be a list of strings")))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| problem(file, item, &format!("`{key}` must be a list of strings")))
        })
        .collect()
}

fn parse_rule(file: &str, node: &Node) -> Result<Rule, Problem> {
    if node.as_map().is_none() {
        return Err(problem(file, node, "a rule must be a mapping"));
    }
    Ok(Rule {
        verbs: string_list(file, node, "verbs")?,
        api_groups: string_list(file, node, "apiGroups")?,
        resources: string_list(file, node, "resources")?,
        resource_names: string_list(file, node, "resourceNames")?,
        non_resource_urls: string_list(file, node, "nonResourceURLs")?,
        origin: Origin {
            file: file.to_string(),
            line: node.line,
        },
    })
}

fn parse_subject(file: &str, node: &Node, binding_ns: Option<&str>) -> Result<Subject, Problem> {
    let kind = match string_field(file, node, "kind")?.as_str() {
        "User" => SubjectKind::User,
        "Group" => SubjectKind::Group,
        "ServiceAccount" => SubjectKind::ServiceAccount,
        other => SubjectKind::Other(other.to_string()),
    };
    let name = string_field(file, node, "name")?;
    let written = match node.get("namespace") {
        Some(n) if n.value != Value::Null => Some(string_field(file, node, "namespace")?),
        _ => None,
    };
    // The authorizer defaults a ServiceAccount's namespace to the RoleBinding's.
    let namespace = match kind {
        SubjectKind::ServiceAccount => written
            .filter(|ns| !ns.is_empty())
            .or_else(|| binding_ns.map(str::to_string)),
        _ => None,
    };
    Ok(Subject {
        kind,
        name,
        namespace,
    })
}

fn parse_selectors(file: &str, rule: &Node) -> Result<Vec<Selector>, Problem> {
    let Some(list) = rule.get("clusterRoleSelectors") else {
        return Ok(Vec::new());
    };
    if list.value == Value::Null {
        return Ok(Vec::new());
    }
    let items = list
        .as_list()
        .ok_or_else(|| problem(file, list, "`clusterRoleSelectors` must be a list"))?;
    items.iter().map(|s| parse_selector(file, s)).collect()
}

fn parse_selector(file: &str, node: &Node) -> Result<Selector, Problem> {
    let mut selector = Selector::default();
    if let Some(labels) = node.get("matchLabels").filter(|n| n.value != Value::Null) {
        let entries = labels
            .as_map()
            .ok_or_else(|| problem(file, labels, "`matchLabels` must be a mapping"))?;
        for (key, value) in entries {
            let value = scalar_text(value)
                .ok_or_else(|| problem(file, value, "a label value must be a string"))?;
            selector.match_labels.push((key.clone(), value));
        }
    }
    if let Some(exprs) = node
        .get("matchExpressions")
        .filter(|n| n.value != Value::Null)
    {
        let items = exprs
            .as_list()
            .ok_or_else(|| problem(file, exprs, "`matchExpressions` must be a list"))?;
        for item in items {
            let key = string_field(file, item, "key")?;
            let operator = match string_field(file, item, "operator")?.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(problem(
                        file,
                        item,
                        &format!("unknown label selector operator `{other}`"),
                    ))
                }
            };
            let values = string_list(file, item, "values")?;
            // LabelSelectorAsSelector refuses these, and the controller then skips the role.
            let valid = match operator {
                Operator::In | Operator::NotIn => !values.is_empty(),
                Operator::Exists | Operator::DoesNotExist => values.is_empty(),
            };
            if !valid {
                return Err(problem(
                    file,
                    item,
                    "`In` and `NotIn` need values; `Exists` and `DoesNotExist` take none",
                ));
            }
            selector.match_expressions.push(Requirement {
                key,
                operator,
                values,
            });
        }
    }
    Ok(selector)
}
