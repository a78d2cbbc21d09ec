//! The committed schema must be exactly what the generator produces, and must say what
//! Kubernetes says about a few well-known fields.

use rampart_compiler::schema::{Schema, SchemaType};

const COMMITTED: &str = include_str!("../../schema/kubernetes-1.37.json");

fn list(ty: SchemaType) -> SchemaType {
    SchemaType::List(Box::new(ty))
}

fn object(name: &str) -> SchemaType {
    SchemaType::Object(name.to_string())
}

/// The type of `field` in the object type `type_name`.
fn field(schema: &Schema, type_name: &str, field: &str) -> SchemaType {
    let object = schema
        .object(type_name)
        .unwrap_or_else(|| panic!("no type `{type_name}`"));
    let field = object
        .fields
        .get(field)
        .unwrap_or_else(|| panic!("no field `{field}` in `{type_name}`"));
    field.ty.clone()
}

#[test]
fn committed_schema_is_up_to_date() {
    let generated = rampart_schema_gen::generate().unwrap().to_json();
    // Not assert_eq: a diff of two 200 KB strings helps nobody.
    assert!(
        generated == COMMITTED,
        "stdlib/schema/kubernetes-1.37.json is out of date: \
         run `cargo run -p rampart-schema-gen -- stdlib/schema/kubernetes-1.37.json` to update"
    );
}

#[test]
fn schema_has_the_kubernetes_facts() {
    let schema = Schema::from_json(COMMITTED).unwrap();
    assert_eq!(schema.kubernetes, rampart_schema_gen::KUBERNETES_VERSION);

    let pod = schema.find_kinds(Some(""), Some("v1"), "Pod");
    assert_eq!(pod.len(), 1);
    assert!(pod[0].namespaced);
    let pod_spec = field(&schema, &pod[0].type_name, "spec");
    assert_eq!(pod_spec, object("io.k8s.api.core.v1.PodSpec"));
    assert_eq!(
        field(&schema, "io.k8s.api.core.v1.PodSpec", "containers"),
        list(object("io.k8s.api.core.v1.Container"))
    );
    assert_eq!(
        field(&schema, "io.k8s.api.core.v1.PodSpec", "hostUsers"),
        SchemaType::Boolean
    );
    assert_eq!(
        field(&schema, "io.k8s.api.core.v1.Container", "securityContext"),
        object("io.k8s.api.core.v1.SecurityContext")
    );
    assert_eq!(
        field(&schema, "io.k8s.api.core.v1.SecurityContext", "privileged"),
        SchemaType::Boolean
    );
    assert_eq!(
        field(&schema, "io.k8s.api.core.v1.ResourceRequirements", "limits"),
        SchemaType::Map(Box::new(SchemaType::Quantity))
    );
    assert_eq!(
        field(&schema, "io.k8s.api.core.v1.ContainerPort", "hostPort"),
        SchemaType::Integer
    );
    assert_eq!(
        field(&schema, "io.k8s.api.core.v1.ServicePort", "targetPort"),
        SchemaType::IntOrString
    );
    assert_eq!(
        field(
            &schema,
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "creationTimestamp"
        ),
        SchemaType::String
    );
    assert_eq!(
        field(&schema, "io.k8s.api.rbac.v1.Role", "rules"),
        list(object("io.k8s.api.rbac.v1.PolicyRule"))
    );
    assert_eq!(
        field(&schema, "io.k8s.api.apps.v1.ControllerRevision", "data"),
        SchemaType::Any
    );

    // Scope comes from k8s-openapi's `Resource::Scope`.
    let namespace = schema.find_kinds(Some(""), Some("v1"), "Namespace");
    assert!(!namespace[0].namespaced);
    assert!(!schema.find_kinds(None, None, "ClusterRole")[0].namespaced);
    // Subresources, discovery documents and lists are not kinds.
    for not_a_kind in ["Scale", "Status", "APIGroup", "PodList"] {
        assert!(
            schema.find_kinds(None, None, not_a_kind).is_empty(),
            "{not_a_kind}"
        );
    }
    assert_eq!(
        schema
            .find_kinds(None, None, "HorizontalPodAutoscaler")
            .len(),
        2
    );
    assert_eq!(
        schema.resolve_type_name("Container").unwrap(),
        "io.k8s.api.core.v1.Container"
    );
}

#[test]
fn committed_field_docs_are_up_to_date() {
    let committed = include_str!("../../schema/kubernetes-1.37-docs.json");
    assert!(
        committed == rampart_schema_gen::generate_docs(),
        "stdlib/schema/kubernetes-1.37-docs.json is stale: run \
         `cargo run -p rampart-schema-gen -- --docs stdlib/schema/kubernetes-1.37-docs.json`"
    );
}
