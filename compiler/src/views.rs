//! Views: lists the host computes from all the objects of a run and passes to set rules
//! next to the `objects(Kind)` lists (spec/language.md §3 "Set rules", spec/rbac.md §11).
//!
//! The one view is `who_can(verb, resource)`: every way the RBAC objects of the run grant the
//! request, as `rampart rbac who-can VERB RESOURCE --with-defaults` answers it. A view is
//! named in `set_kinds` by a kind of the reserved group [`VIEW_GROUP`] whose kind text holds
//! the question (`get secrets`), so the Wasm module reads it as any other set list.

use std::collections::BTreeMap;

use crate::ir::Gvk;
use crate::schema::{Field, ObjectType, Schema, SchemaType};

/// The reserved API group of the `who_can` view in `set_kinds`.
pub const VIEW_GROUP: &str = "who-can.rbac.rampart.dev";

/// The version of the view's records.
pub const VIEW_VERSION: &str = "v1";

/// The schema type of one `who_can` record.
pub const GRANT_TYPE: &str = "dev.rampart.rbac.RbacGrant";

/// The schema type of the binding and role a record names.
pub const REF_TYPE: &str = "dev.rampart.rbac.RbacObjectRef";

/// Why no export target takes a rule that reads a view.
pub const NOT_EXPORTED: &str = "the rule reads `who_can`, the effective RBAC permissions of all the objects of a run, which an admission controller cannot see: it runs only in `rampart test` (CI)";

/// The set kind that carries the answers to `who_can(verb, resource)`.
pub fn who_can_gvk(verb: &str, resource: &str) -> Gvk {
    Gvk {
        group: VIEW_GROUP.into(),
        version: VIEW_VERSION.into(),
        kind: format!("{verb} {resource}"),
    }
}

/// The question of a view kind, `(verb, resource)`; `None` for a kind of objects.
pub fn who_can_question<'a>(group: &str, kind: &'a str) -> Option<(&'a str, &'a str)> {
    if group != VIEW_GROUP {
        return None;
    }
    kind.split_once(' ')
}

/// Whether a set kind is a view rather than a kind of objects.
pub fn is_view(gvk: &Gvk) -> bool {
    gvk.group == VIEW_GROUP
}

/// Checks the literal arguments of `who_can`: a verb without spaces and a resource as
/// `rampart rbac` takes it (`secrets`, `pods/exec`, `deployments.apps`, `/metrics`).
pub fn check_question(verb: &str, resource: &str) -> Result<(), String> {
    let plain = |s: &str| !s.is_empty() && !s.chars().any(char::is_whitespace);
    if !plain(verb) {
        return Err(format!(
            "`{verb}` is not a verb: the first argument of `who_can` is one verb such as `get`"
        ));
    }
    if !plain(resource) || resource.starts_with('.') || resource.ends_with('/') {
        return Err(format!(
            "`{resource}` is not a resource: write `resource[.group][/subresource]` or a `/path`"
        ));
    }
    Ok(())
}

/// Adds the record types of the views to a schema (each compilation gets its own copy).
pub fn add_types(schema: &mut Schema) {
    let field = |ty: SchemaType, required: bool| Field {
        ty,
        required,
        enum_values: Vec::new(),
    };
    let string = || SchemaType::String;
    let object = |name: &str| SchemaType::Object(name.to_string());
    let reference = BTreeMap::from([
        ("kind".to_string(), field(string(), true)),
        ("name".to_string(), field(string(), true)),
        ("namespace".to_string(), field(string(), false)),
    ]);
    let grant = BTreeMap::from([
        (
            "subject".to_string(),
            field(object("io.k8s.api.rbac.v1.Subject"), true),
        ),
        ("namespace".to_string(), field(string(), false)),
        ("binding".to_string(), field(object(REF_TYPE), true)),
        ("role".to_string(), field(object(REF_TYPE), true)),
        (
            "rule".to_string(),
            field(object("io.k8s.api.rbac.v1.PolicyRule"), true),
        ),
    ]);
    schema.types.insert(
        REF_TYPE.to_string(),
        ObjectType {
            fields: reference,
            open: false,
        },
    );
    schema.types.insert(
        GRANT_TYPE.to_string(),
        ObjectType {
            fields: grant,
            open: false,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_round_trips_through_the_set_kind() {
        let gvk = who_can_gvk("get", "pods/exec");
        assert!(is_view(&gvk));
        assert_eq!(
            who_can_question(&gvk.group, &gvk.kind),
            Some(("get", "pods/exec"))
        );
        assert_eq!(who_can_question("", "Pod"), None);
    }

    #[test]
    fn questions_are_checked() {
        assert!(check_question("get", "secrets").is_ok());
        assert!(check_question("get", "/metrics").is_ok());
        assert!(check_question("get list", "secrets").is_err());
        assert!(check_question("", "secrets").is_err());
        assert!(check_question("get", "").is_err());
        assert!(check_question("get", "pods/").is_err());
    }
}
