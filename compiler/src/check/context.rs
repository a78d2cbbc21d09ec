//! The admission context a rule can read besides its object (spec/language.md §4.11):
//! `request` (the admission request) and `oldObject` (the object before the request); and,
//! in a rule with pod-controller autogen, `controller` (the controller whose pod template
//! is the subject, spec/language.md "Pod-controller autogen").

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::ir::{self, ExprKind, Type};
use crate::schema::{Field, ObjectType, SchemaType};

/// The type name of `request`. It is not a schema type: [`object_type`] describes it.
pub const REQUEST_TYPE: &str = "rampart.AdmissionRequest";

/// The type name of `controller`: `apiVersion`, `kind` and `metadata` of the controller.
pub const CONTROLLER_TYPE: &str = "rampart.PodController";

/// The names the context adds to a rule's scope.
pub const NAMES: [&str; 2] = ["request", "oldObject"];

/// The name only a rule with pod-controller autogen has.
pub const CONTROLLER: &str = "controller";

/// A closed object type of the given fields.
fn closed(fields: Vec<(&str, SchemaType)>) -> ObjectType {
    let fields: BTreeMap<String, Field> = fields
        .into_iter()
        .map(|(k, ty)| {
            let field = Field {
                ty,
                required: true,
                enum_values: Vec::new(),
            };
            (k.to_string(), field)
        })
        .collect();
    ObjectType {
        fields,
        open: false,
    }
}

static CONTROLLER_FIELDS: LazyLock<ObjectType> = LazyLock::new(|| {
    closed(vec![
        ("apiVersion", SchemaType::String),
        ("kind", SchemaType::String),
        (
            "metadata",
            SchemaType::Object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into()),
        ),
    ])
});

static REQUEST: LazyLock<ObjectType> = LazyLock::new(|| {
    closed(vec![
        ("operation", SchemaType::String),
        (
            "userInfo",
            SchemaType::Object("io.k8s.api.authentication.v1.UserInfo".into()),
        ),
        ("dryRun", SchemaType::Boolean),
        ("namespace", SchemaType::String),
        ("name", SchemaType::String),
    ])
});

/// The object type of a context value (`request`, `controller`), for type names the schema
/// lacks.
pub fn object_type(type_name: &str) -> Option<&'static ObjectType> {
    match type_name {
        REQUEST_TYPE => Some(&*REQUEST),
        CONTROLLER_TYPE => Some(&*CONTROLLER_FIELDS),
        _ => None,
    }
}

/// The IR of a context name in a rule whose subject has type `subject` (and that applies to
/// pod templates through autogen when `autogen`), or `None` when `name` is not one.
pub fn name(name: &str, subject: &Type, autogen: bool) -> Option<ir::Expr> {
    match name {
        CONTROLLER if autogen => Some(ir::Expr {
            ty: Type::Object(CONTROLLER_TYPE.into()).optional(),
            kind: ExprKind::Controller,
        }),
        "request" => Some(ir::Expr {
            ty: Type::Object(REQUEST_TYPE.into()),
            kind: ExprKind::Request,
        }),
        "oldObject" => Some(ir::Expr {
            ty: subject.clone().optional(),
            kind: ExprKind::OldSubject,
        }),
        _ => None,
    }
}
