//! The documentation of Kubernetes fields, from the OpenAPI descriptions.

/// The description of field `field` of object type `type_name`.
pub fn field_doc(_type_name: &str, _field: &str) -> Option<&'static str> {
    None
}
