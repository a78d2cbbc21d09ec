//! Fixes: how a finding says to repair its object (spec/language.md §4.12, spec/fix.md).
//!
//! The module's metadata describes each outcome's fixes ([`FixInfo`]); the evaluator makes
//! them concrete for each finding ([`Fix`]: a path from the object's root, an operation and
//! a value), and [`apply`] applies them to the object as JSON. A set rule's outcome may
//! instead generate an object, filled from the subject by [`generate::fill`].

mod apply;
pub mod edit;
pub mod generate;

pub use apply::{apply, Applied, Conflict};
pub use rampart_compiler::ir::FixOp;

use serde::Deserialize;

use crate::eval::At;
use crate::manifest::PathSegment;

/// A fix as the module's metadata describes it (spec/abi.md "Fixes").
#[derive(Clone, Debug, Deserialize)]
pub struct FixInfo {
    pub review: bool,
    pub op: FixOp,
    /// Rooted at `subject` or at `binder`, the finding's own root.
    pub path: At,
    /// A constant value.
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    /// Or the index of the rule parameter whose value is used.
    #[serde(default)]
    pub param: Option<usize>,
}

/// A fix made concrete for one finding: where in the object, what, and with which value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// Applied only when asked (`rampart fix --unsafe`).
    pub review: bool,
    pub op: FixOp,
    /// From the object's root (under autogen, through the pod template).
    pub path: Vec<PathSegment>,
    /// The value set, added or removed; `None` for [`FixOp::Remove`].
    pub value: Option<serde_json::Value>,
}

impl Fix {
    /// `set spec.containers[0].securityContext.privileged = false`, as shown to users.
    pub fn describe(&self) -> String {
        let path = crate::manifest::format_path(&self.path);
        let value = self.value.as_ref().map(|v| v.to_string());
        match (self.op, value) {
            (FixOp::Set, Some(v)) => format!("set {path} = {v}"),
            (FixOp::Add, Some(v)) => format!("add {v} to {path}"),
            (FixOp::RemoveValue, Some(v)) => format!("remove {v} from {path}"),
            _ => format!("remove {path}"),
        }
    }
}
