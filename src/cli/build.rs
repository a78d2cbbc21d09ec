//! `rampart build --target wasm -o DIR [POLICY…]`: compiles policies to `DIR/policies.wasm`,
//! a bundle that `rampart test -p` runs without the compiler's front end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rampart_runtime::report::write_atomically;

use super::fail;
use super::policies::{self, Selection, BUNDLE};
use rampart_runtime::schema_check::rules as schema_rules;

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
        module
            .selected
            .iter()
            .filter(|id| !schema_rules::is_schema_rule(id))
            .count(),
        module.wasm.len()
    );
    ExitCode::SUCCESS
}

/// The exporters `rampart build` knows besides `wasm`.
#[derive(Clone, Copy, Debug)]
pub enum Export {
    Gatekeeper,
    /// Gatekeeper templates with both the CEL and the Rego engine.
    GatekeeperCel,
    /// Kyverno ClusterPolicies; with `pattern`, also the pattern-style ones.
    Kyverno {
        pattern: bool,
    },
    KyvernoValidatingPolicy,
    Vap,
}

/// Runs `rampart build --target gatekeeper|gatekeeper-cel|kyverno|kyverno-vpol|vap`: writes every file
/// atomically, and reports each rule the target cannot express (naming the rule, the
/// construct and the target) as a warning; the rules that can be expressed are still written.
pub fn export(target: Export, paths: &[PathBuf], out_dir: &Path) -> ExitCode {
    let (program, _, _) = match policies::compile_program(paths) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let (files, skipped): (Vec<(String, String)>, Vec<String>) = match target {
        Export::Gatekeeper | Export::GatekeeperCel => {
            match rampart_compiler::gatekeeper::export_engines(
                &program,
                if matches!(target, Export::GatekeeperCel) {
                    rampart_compiler::gatekeeper::Engines::RegoAndCel
                } else {
                    rampart_compiler::gatekeeper::Engines::Rego
                },
            ) {
                Ok((files, skipped)) => (
                    files.into_iter().map(|f| (f.path, f.contents)).collect(),
                    skipped
                        .iter()
                        .map(|e| format!("{e}; its template has the Rego engine only"))
                        .collect(),
                ),
                Err(errors) => {
                    let text: Vec<String> = errors.iter().map(|e| format!("error: {e}")).collect();
                    return fail(&text.join("\n"));
                }
            }
        }
        Export::Kyverno { .. } | Export::KyvernoValidatingPolicy | Export::Vap => {
            let (mut files, mut errors) = match target {
                Export::Kyverno { .. } => {
                    rampart_compiler::kyverno::export_cluster_policies_all(&program)
                }
                Export::KyvernoValidatingPolicy => {
                    rampart_compiler::kyverno::export_validating_policies_all(&program)
                }
                _ => rampart_compiler::vap::export_all(&program),
            };
            if let Export::Kyverno { pattern: true } = target {
                let (more, skipped) =
                    rampart_compiler::kyverno::export_pattern_policies_all(&program);
                files.extend(more);
                errors.extend(skipped);
            }
            (
                files.into_iter().map(|f| (f.path, f.contents)).collect(),
                errors.iter().map(ToString::to_string).collect(),
            )
        }
    };
    for s in &skipped {
        eprintln!("warning: {s}");
    }
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        return fail(&format!("cannot create `{}`: {e}", out_dir.display()));
    }
    // Every file is written whole or not at all; one that cannot be written does not stop
    // the others, and the run fails naming each.
    let mut errors = Vec::new();
    for (path, contents) in &files {
        let target = out_dir.join(path);
        if let Some(parent) = target.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                errors.push(format!("cannot create `{}`: {e}", parent.display()));
                continue;
            }
        }
        if let Err(e) = write_atomically(&target, contents.as_bytes()) {
            errors.push(format!("cannot write `{}`: {e}", target.display()));
        }
    }
    if !errors.is_empty() {
        for e in &errors[..errors.len() - 1] {
            eprintln!("error: {e}");
        }
        return fail(&format!(
            "{} ({} of {} file(s) written)",
            errors[errors.len() - 1],
            files.len() - errors.len(),
            files.len()
        ));
    }
    eprintln!(
        "wrote {} file(s) to {}{}",
        files.len(),
        out_dir.display(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; {} rule(s) cannot be expressed for this target",
                skipped.len()
            )
        }
    );
    ExitCode::SUCCESS
}
