//! `rampart build --target wasm -o DIR [POLICY…]`: compiles policies to `DIR/policies.wasm`,
//! a bundle that `rampart test -p` runs without the compiler's front end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rampart_runtime::report::write_atomically;

use super::fail;
use super::policies::{self, Selection, BUNDLE};

/// Runs `rampart build --target wasm`.
pub fn wasm(paths: &[PathBuf], out_dir: &Path) -> ExitCode {
    let module = match policies::module(paths, &Selection::default()) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        return fail(&format!("cannot create `{}`: {e}", out_dir.display()));
    }
    let target = out_dir.join(BUNDLE);
    if let Err(e) = write_atomically(&target, &module.wasm) {
        return fail(&format!("cannot write `{}`: {e}", target.display()));
    }
    eprintln!(
        "wrote {} ({} rules, {} bytes)",
        target.display(),
        module.selected.len(),
        module.wasm.len()
    );
    ExitCode::SUCCESS
}
