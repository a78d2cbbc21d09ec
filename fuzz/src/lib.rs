//! What the fuzz targets share: the Kubernetes schema, parsed once.

use std::sync::OnceLock;

use rampart_compiler::schema::Schema;
use rampart_compiler::{compile_with, Compilation, Source};

/// The embedded Kubernetes schema, parsed on first use.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).expect("the embedded schema is valid")
    })
}

/// Compiles one policy file from fuzzer bytes; `None` when the bytes are not UTF-8.
/// `import "x.yaml"` finds no file, which must be a diagnostic like any other.
pub fn compile_bytes(data: &[u8]) -> Option<Compilation> {
    let text = std::str::from_utf8(data).ok()?;
    let source = Source {
        name: "fuzz.rp".into(),
        text: Ok(text.to_string()),
    };
    let no_files = |path: &std::path::Path| Err(format!("no file `{}`", path.display()));
    Some(compile_with(vec![source], schema(), &no_files))
}
