//! Every policy we ship parses and type-checks cleanly: the examples and the standard library.

use rampart_compiler::schema::Schema;
use std::path::{Path, PathBuf};

fn rp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("folder exists").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rp_files(&path));
        } else if path.extension().is_some_and(|e| e == "rp") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_shipped_policy_file_parses_without_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<PathBuf> = ["examples", "stdlib/policies"]
        .iter()
        .flat_map(|d| rp_files(&root.join(d)))
        .collect();
    assert!(
        files.len() >= 5,
        "expected the examples and the standard library, found {files:?}"
    );
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        let (ast, errors) = rampart_compiler::syntax::parse_file(&text);
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
        assert!(ast.module.is_some(), "{} declares its module", f.display());
        assert!(!ast.items.is_empty(), "{} has items", f.display());
    }
}

#[test]
fn examples_type_check_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).expect("schema");
    let c = rampart_compiler::compile(
        rampart_compiler::read_sources(&[root.join("examples")]),
        &schema,
    );
    let text = rampart_compiler::diagnostics::render(&c.files, &c.diagnostics, false);
    assert!(c.diagnostics.is_empty(), "{text}");
    let program = c.program.expect("no errors, so a program");
    assert!(program
        .rules
        .iter()
        .any(|r| r.id == "example.containers.no_privileged"));
}

#[test]
fn the_embedded_standard_library_type_checks_cleanly() {
    let c = rampart_stdlib::compile();
    let text = rampart_compiler::diagnostics::render(&c.files, &c.diagnostics, false);
    assert!(c.diagnostics.is_empty(), "{text}");
    let program = c.program.expect("no errors, so a program");
    // Every rule carries the metadata the runner and the exporters report.
    for r in &program.rules {
        assert!(!r.meta.title.is_empty(), "{} has a title", r.id);
        assert!(!r.matcher.targets.is_empty(), "{} matches a kind", r.id);
    }
    // Pod rules apply to every pod controller through autogen, with the template path.
    let privileged = program
        .rules
        .iter()
        .find(|r| r.id == "pss.baseline.privileged")
        .expect("pss.baseline.privileged exists");
    let cron = privileged
        .matcher
        .targets
        .iter()
        .find(|t| t.gvk.kind == "CronJob")
        .expect("autogen adds CronJob");
    assert_eq!(
        cron.subject_path,
        ["spec", "jobTemplate", "spec", "template"]
    );
}
