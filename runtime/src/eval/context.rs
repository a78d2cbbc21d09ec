//! The admission context of an evaluation (spec/language.md §4.11): what rules read as
//! `request` and `oldObject` besides the object itself.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value as Json};

use crate::manifest::Node;

/// The operation of an admission request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Operation {
    #[default]
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    /// Every operation, in the order the Kubernetes API lists them.
    pub const ALL: [Operation; 4] = [
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Connect,
    ];

    /// The name as the API server sends it (`CREATE`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = String;
    /// Reads an operation name, in any case (`update` and `UPDATE` are the same).
    fn from_str(s: &str) -> Result<Operation, String> {
        Operation::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown operation `{s}`: expected CREATE, UPDATE, DELETE or CONNECT")
            })
    }
}

/// The user making the request (`request.userInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
}

/// What an admission request adds to the object under review. [`Default`] is the context
/// `rampart test` evaluates in: a `CREATE` by an unnamed user, not a dry run.
#[derive(Clone, Debug, Default)]
pub struct AdmissionContext {
    pub operation: Operation,
    pub user_info: UserInfo,
    pub dry_run: bool,
    /// The object before the request: on `UPDATE` and `DELETE`; `None` otherwise.
    pub old_object: Option<Node>,
    /// The request's namespace; `None` takes the object's `metadata.namespace`.
    pub namespace: Option<String>,
    /// The request's name; `None` takes the object's `metadata.name`.
    pub name: Option<String>,
}

impl AdmissionContext {
    /// A `CREATE` request.
    pub fn create() -> AdmissionContext {
        AdmissionContext::default()
    }

    /// An `UPDATE` request replacing `old`.
    pub fn update(old: Node) -> AdmissionContext {
        AdmissionContext {
            operation: Operation::Update,
            old_object: Some(old),
            ..AdmissionContext::default()
        }
    }

    /// `request` as rules read it, for the review of `object`: `operation`, `userInfo`
    /// (`username`, `uid`, `groups`), `dryRun`, `namespace` and `name`. As in the JSON the
    /// API server sends, an empty string or list and a false `dryRun` are left out (absent).
    pub fn request_json(&self, object: &Json) -> Json {
        let meta = |f: &str| object["metadata"][f].as_str().map(str::to_string);
        let mut user = serde_json::Map::new();
        if !self.user_info.username.is_empty() {
            user.insert("username".into(), json!(self.user_info.username));
        }
        if !self.user_info.uid.is_empty() {
            user.insert("uid".into(), json!(self.user_info.uid));
        }
        if !self.user_info.groups.is_empty() {
            user.insert("groups".into(), json!(self.user_info.groups));
        }
        let mut r = serde_json::Map::new();
        r.insert("operation".into(), json!(self.operation.as_str()));
        r.insert("userInfo".into(), Json::Object(user));
        if self.dry_run {
            r.insert("dryRun".into(), json!(true));
        }
        let namespace = self.namespace.clone().or_else(|| meta("namespace"));
        if let Some(ns) = namespace.filter(|s| !s.is_empty()) {
            r.insert("namespace".into(), json!(ns));
        }
        let name = self.name.clone().or_else(|| meta("name"));
        if let Some(name) = name.filter(|s| !s.is_empty()) {
            r.insert("name".into(), json!(name));
        }
        Json::Object(r)
    }

    /// The old object as JSON (`null` when there is none).
    pub fn old_json(&self) -> Json {
        self.old_object.as_ref().map_or(Json::Null, Node::to_json)
    }
}

/// The `request` node of `context` for the review of `object`.
pub fn request_node(context: &AdmissionContext, object: &Node) -> Node {
    let meta = |f: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(f))
            .and_then(Node::as_str)
    };
    let head = json!({"metadata": {"name": meta("name"), "namespace": meta("namespace")}});
    super::json_node(&context.request_json(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse_in_any_case() {
        assert_eq!("update".parse::<Operation>(), Ok(Operation::Update));
        assert_eq!("CONNECT".parse::<Operation>(), Ok(Operation::Connect));
        let e = "PATCH".parse::<Operation>().unwrap_err();
        assert!(e.contains("`PATCH`"), "{e}");
    }

    #[test]
    fn request_leaves_out_empty_fields() {
        let object = json!({"metadata": {"name": "web", "namespace": "shop"}});
        let r = AdmissionContext::create().request_json(&object);
        assert_eq!(
            r,
            json!({"operation": "CREATE", "userInfo": {}, "namespace": "shop", "name": "web"})
        );
        let ctx = AdmissionContext {
            operation: Operation::Delete,
            user_info: UserInfo {
                username: "alice".into(),
                uid: String::new(),
                groups: vec!["dev".into()],
            },
            dry_run: true,
            namespace: Some(String::new()),
            ..AdmissionContext::default()
        };
        assert_eq!(
            ctx.request_json(&json!({"metadata": {"name": "n"}})),
            json!({"operation": "DELETE", "dryRun": true, "name": "n",
                   "userInfo": {"username": "alice", "groups": ["dev"]}})
        );
    }
}
