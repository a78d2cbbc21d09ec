//! `rampart build --target wasm -o DIR [POLICY…]`: compiles policies to `DIR/policies.wasm`,
//! a bundle that `rampart test -p` runs without the compiler's front end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rampart_compiler::export::Target;
use rampart_runtime::output_file;

use super::fail;
use super::policies::{self, Selection, BUNDLE};
use rampart_runtime::schema_check::rules as schema_rules;

/// Runs `rampart build --target wasm`.
pub fn wasm(paths: &[PathBuf], selection: &Selection, out_dir: &Path) -> ExitCode {
    let module = match policies::module(paths, selection) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        return fail(&format!("cannot create `{}`: {e}", out_dir.display()));
    }
    let target = out_dir.join(BUNDLE);
    if let Err(e) = output_file::write(&target, &module.wasm) {
        return fail(&format!("cannot write `{}`: {e}", target.display()));
    }
    eprintln!(
        "wrote {} ({} rules, {} bytes)",
        target.display(),
        module
            .selected
            .iter()
            .filter(|id| !schema_rules::is_schema_rule(id))
            .count(),
        module.wasm.len()
    );
    ExitCode::SUCCESS
}

/// Runs `rampart build --target gatekeeper|gatekeeper-cel|kyverno|kyverno-vpol|vap|map`: reports
/// each rule the target cannot express (a warning at the rule; the others are still
/// written) and each pair of rules whose exported names clash (an error: nothing is
/// written), then writes every file atomically.
pub fn export(
    target: Target,
    paths: &[PathBuf],
    selection: &Selection,
    out_dir: &Path,
) -> ExitCode {
    let (compilation, _) = match policies::compile(paths) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let Some(mut program) = compilation.program.clone() else {
        return fail("the policies do not compile");
    };
    // The rules `rampart test` would run with the same selection: opt-in rules only when
    // a `--rule` glob or a profile names them.
    let opt_in = match policies::select_rules(&mut program, selection) {
        Ok(left_out) => left_out,
        Err(e) => return fail(&e),
    };
    if !opt_in.is_empty() {
        eprintln!(
            "note: {} opt-in rule(s) left out: {} (select them with --rule or --profile)",
            opt_in.len(),
            opt_in.join(", ")
        );
    }
    let export = rampart_compiler::export::export(&program, target, &compilation.files);
    crate::print_export_diagnostics(&compilation.files, &export.diagnostics);
    let gaps = export.diagnostics.len();
    if export.has_errors() {
        let errors = export.diagnostics.iter().filter(|d| d.is_error()).count();
        return fail(&format!(
            "nothing written to `{}`: {errors} error(s) above",
            out_dir.display()
        ));
    }
    if export.files.is_empty() {
        return fail(&format!(
            "no rule can be exported to {}: nothing written",
            target.name()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        return fail(&format!("cannot create `{}`: {e}", out_dir.display()));
    }
    let files = &export.files;
    // Every file is written whole or not at all; one that cannot be written does not stop
    // the others, and the run fails naming each.
    let mut errors = Vec::new();
    for (path, contents) in files {
        let target = out_dir.join(path);
        if let Some(parent) = target.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                errors.push(format!("cannot create `{}`: {e}", parent.display()));
                continue;
            }
        }
        if let Err(e) = output_file::write(&target, contents.as_bytes()) {
            errors.push(format!("cannot write `{}`: {e}", target.display()));
        }
    }
    if let Some((last, others)) = errors.split_last() {
        for e in others {
            eprintln!("error: {e}");
        }
        return fail(&format!(
            "{last} ({} of {} file(s) written)",
            files.len() - errors.len(),
            files.len()
        ));
    }
    eprintln!(
        "wrote {} file(s) to {}{}",
        files.len(),
        out_dir.display(),
        if gaps == 0 {
            String::new()
        } else {
            format!("; {gaps} rule(s) cannot be expressed for this target")
        }
    );
    if matches!(
        target,
        Target::Gatekeeper { .. } | Target::GatekeeperCel { .. }
    ) {
        eprintln!(
            "apply {0}/templates/ first, then {0}/constraints/ once Gatekeeper has created the \
             constraint CRDs; {0}/mutations/ (the fixes, when any) needs Gatekeeper's mutation \
             webhook (README: Gatekeeper output)",
            out_dir.display()
        );
    }
    ExitCode::SUCCESS
}
