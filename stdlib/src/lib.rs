//! The standard library: policy sources and the Kubernetes schema, embedded in the binary.

/// The Kubernetes version of the embedded schema.
pub const KUBERNETES_VERSION: &str = "1.37";

/// The Kubernetes schema (kinds and object types) as written by `rampart-schema-gen`.
pub const KUBERNETES_SCHEMA: &str = include_str!("../schema/kubernetes-1.37.json");

include!(concat!(env!("OUT_DIR"), "/policies.rs"));

/// Compiles the embedded standard library against the embedded Kubernetes schema.
pub fn compile() -> rampart_compiler::Compilation {
    compile_sources("", Vec::new())
}

/// The folder prefix of the library's sources when they are compiled with other policies,
/// so that their names and CRD imports cannot be mistaken for the user's files.
pub const PREFIX: &str = "<stdlib>/";

/// Compiles the embedded standard library together with `extra` policies (read from disk,
/// their CRD imports too) into one program, as `rampart test --stdlib -p DIR` runs them.
pub fn compile_with(extra: Vec<rampart_compiler::Source>) -> rampart_compiler::Compilation {
    compile_sources(PREFIX, extra)
}

/// The library's sources, their names prefixed with `prefix`.
fn sources(prefix: &str) -> Vec<rampart_compiler::Source> {
    POLICIES
        .iter()
        .map(|(name, text)| rampart_compiler::Source {
            name: format!("{prefix}{name}"),
            text: Ok(text.to_string()),
        })
        .collect()
}

/// Compiles the library's sources, named with `prefix`, and `extra` ones: imports under
/// `prefix` come from the embedded CRD files, the others from disk.
fn compile_sources(
    prefix: &str,
    extra: Vec<rampart_compiler::Source>,
) -> rampart_compiler::Compilation {
    let schema = rampart_compiler::schema::Schema::from_json(KUBERNETES_SCHEMA)
        .expect("the embedded Kubernetes schema is valid (tested)");
    let mut sources = sources(prefix);
    sources.extend(extra);
    let read = |path: &std::path::Path| {
        let wanted = path.to_string_lossy().replace('\\', "/");
        match wanted.strip_prefix(prefix) {
            Some(name) => CRDS
                .iter()
                .find(|(crd, _)| *crd == name)
                .map(|(_, text)| text.to_string())
                .ok_or_else(|| format!("`{name}` is not among the embedded CRD files")),
            None => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display())),
        }
    };
    rampart_compiler::compile_with(sources, &schema, &read)
}

/// The profiles shipped with the library (`kind: Profiles`, spec/config.md "Profiles").
pub const PROFILES: &str = include_str!("../profiles.yaml");
