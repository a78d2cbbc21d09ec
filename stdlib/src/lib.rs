//! The standard library: policy sources and the Kubernetes schema, embedded in the binary.

/// The Kubernetes version of the embedded schema.
pub const KUBERNETES_VERSION: &str = "1.37";

/// The Kubernetes schema (kinds and object types) as written by `rampart-schema-gen`.
pub const KUBERNETES_SCHEMA: &str = include_str!("../schema/kubernetes-1.37.json");

include!(concat!(env!("OUT_DIR"), "/policies.rs"));

/// Compiles the embedded standard library against the embedded Kubernetes schema.
pub fn compile() -> rampart_compiler::Compilation {
    let schema = rampart_compiler::schema::Schema::from_json(KUBERNETES_SCHEMA)
        .expect("the embedded Kubernetes schema is valid (tested)");
    let sources = POLICIES
        .iter()
        .map(|(name, text)| rampart_compiler::Source {
            name: name.to_string(),
            text: Ok(text.to_string()),
        })
        .collect();
    let read = |path: &std::path::Path| {
        let wanted = path.to_string_lossy().replace('\\', "/");
        CRDS.iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, text)| text.to_string())
            .ok_or_else(|| format!("`{wanted}` is not among the embedded CRD files"))
    };
    rampart_compiler::compile_with(sources, &schema, &read)
}
