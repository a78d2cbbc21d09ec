//! The admission request `rampart test` evaluates under (`--operation`, `--old`,
//! spec/language.md §4.11): a `CREATE` unless asked otherwise.

use crate::eval::{AdmissionContext, Operation, UserInfo};
use crate::manifest::Object;

/// The request every object of a run is evaluated under.
#[derive(Clone, Debug, Default)]
pub struct Admission {
    pub operation: Operation,
    /// The objects before the request (`--old`): each object of the run is paired with the
    /// old object of the same `apiVersion`, `kind`, namespace and name.
    pub old_objects: Vec<Object>,
    /// The requesting user (`rampart serve` passes the request's; none in `rampart test`).
    pub user_info: UserInfo,
    /// Whether the request is a dry run.
    pub dry_run: bool,
}

impl Admission {
    /// The context of one object: the run's operation and, on UPDATE and DELETE, the old
    /// object with the same identity (none when `--old` holds no such object).
    pub fn context_for(&self, object: &Object) -> AdmissionContext {
        let old = match self.operation {
            Operation::Update | Operation::Delete => self
                .old_objects
                .iter()
                .find(|o| same_identity(o, object))
                .map(|o| o.node.clone()),
            _ => None,
        };
        AdmissionContext {
            operation: self.operation,
            old_object: old,
            user_info: self.user_info.clone(),
            dry_run: self.dry_run,
            ..AdmissionContext::default()
        }
    }
}

fn same_identity(a: &Object, b: &Object) -> bool {
    a.api_version == b.api_version
        && a.kind == b.kind
        && a.namespace == b.namespace
        && a.name == b.name
}
