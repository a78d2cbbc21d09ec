//! The documentation of Kubernetes fields: the first paragraph of each OpenAPI description,
//! generated with the schema by `rampart-schema-gen --docs` and embedded in the binary.

use std::collections::HashMap;
use std::sync::OnceLock;

const DOCS: &str = include_str!("../../stdlib/schema/kubernetes-1.37-docs.json");

type Docs = HashMap<String, HashMap<String, String>>;

fn docs() -> &'static Docs {
    static PARSED: OnceLock<Docs> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(DOCS).unwrap_or_default())
}

/// The description of field `field` of object type `type_name`.
pub fn field_doc(type_name: &str, field: &str) -> Option<&'static str> {
    docs().get(type_name)?.get(field).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::field_doc;

    #[test]
    fn descriptions_of_well_known_fields() {
        let d = field_doc("io.k8s.api.core.v1.SecurityContext", "privileged").unwrap();
        assert!(d.contains("privileged mode"), "{d}");
        assert!(field_doc("io.k8s.api.core.v1.Container", "image").is_some());
        assert_eq!(
            field_doc("io.k8s.api.core.v1.Container", "no_such_field"),
            None
        );
    }
}
