//! Embeds every `policies/**/*.rp` and `crds/*.yaml` file: writes `$OUT_DIR/policies.rs`
//! with one `include_str!` per file, sorted by path so the binary is reproducible.
use std::path::{Path, PathBuf};

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("stdlib/policies is readable")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Writes `pub const NAME: &[(&str, &str)]` with every file of `dir` ending in `.ext`.
fn embed(root: &Path, dir: &str, ext: &str, name: &str, doc: &str, code: &mut String) {
    let dir = root.join(dir);
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    if dir.is_dir() {
        walk(&dir, ext, &mut files);
    }
    files.sort();
    code.push_str(&format!(
        "/// {doc}: (path under stdlib/, text).\npub const {name}: &[(&str, &str)] = &[\n"
    ));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(root)
            .expect("under the crate")
            .display()
            .to_string();
        code.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = String::new();
    embed(
        root,
        "policies",
        "rp",
        "POLICIES",
        "The standard library's policy sources",
        &mut code,
    );
    embed(
        root,
        "crds",
        "yaml",
        "CRDS",
        "CustomResourceDefinitions the policies import",
        &mut code,
    );
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("policies.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
