//! The admission context a rule can read besides its object (spec/language.md §4.11):
//! `request` (the admission request) and `oldObject` (the object before the request).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::ir::{self, ExprKind, Type};
use crate::schema::{Field, ObjectType, SchemaType};

/// The type name of `request`. It is not a schema type: [`object_type`] describes it.
pub const REQUEST_TYPE: &str = "rampart.AdmissionRequest";

/// The names the context adds to a rule's scope.
pub const NAMES: [&str; 2] = ["request", "oldObject"];

static REQUEST: LazyLock<ObjectType> = LazyLock::new(|| {
    let field = |ty: SchemaType| Field {
        ty,
        required: true,
        enum_values: Vec::new(),
    };
    let fields: BTreeMap<String, Field> = [
        ("operation", field(SchemaType::String)),
        (
            "userInfo",
            field(SchemaType::Object(
                "io.k8s.api.authentication.v1.UserInfo".into(),
            )),
        ),
        ("dryRun", field(SchemaType::Boolean)),
        ("namespace", field(SchemaType::String)),
        ("name", field(SchemaType::String)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    ObjectType {
        fields,
        open: false,
    }
});

/// The object type of a context value (`request`), for type names the schema lacks.
pub fn object_type(type_name: &str) -> Option<&'static ObjectType> {
    (type_name == REQUEST_TYPE).then(|| &*REQUEST)
}

/// The IR of a context name in a rule whose subject has type `subject`, or `None` when
/// `name` is not one.
pub fn name(name: &str, subject: &Type) -> Option<ir::Expr> {
    match name {
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
