//! Embeds every `policies/**/*.rp` file: writes `$OUT_DIR/policies.rs` with one
//! `include_str!` per file, sorted by path so the binary is reproducible.
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("stdlib/policies is readable")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rp") {
            out.push(path);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policies = root.join("policies");
    println!("cargo:rerun-if-changed={}", policies.display());
    let mut files = Vec::new();
    walk(&policies, &mut files);
    files.sort();
    let mut code = String::from("/// The standard library's policy sources: (path under stdlib/, text).\npub const POLICIES: &[(&str, &str)] = &[\n");
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
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("policies.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
