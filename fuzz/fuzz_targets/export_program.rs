//! The exporters: any program that type-checks exports to every target (Wasm, Gatekeeper,
//! Kyverno, Kyverno ValidatingPolicy, ValidatingAdmissionPolicy) or names the rule it cannot
//! express; no exporter panics, and every exported file is YAML that reads back as
//! Kubernetes objects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_compiler::backend::cel::{kyverno, vap};
use rampart_compiler::backend::rego::gatekeeper;
use rampart_compiler::backend::wasm;
use rampart_runtime::manifest::{load, Limits};

fn reads_back(path: &str, contents: &str) {
    let loaded = load(contents, &Limits::default())
        .unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}\n{contents}"));
    assert_eq!(
        loaded.skipped, 0,
        "{path}: a document is not an object\n{contents}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some(compilation) = rampart_fuzz::compile_bytes(data) else {
        return;
    };
    let Some(program) = compilation.program else {
        return;
    };
    let _ = wasm::compile(&program).expect("a checked program compiles to Wasm");
    if let Ok(exported) = gatekeeper::export(&program) {
        exported.files.iter().for_each(|f| reads_back(&f.path, &f.contents));
    }
    for (files, _cannot_express) in [
        kyverno::export_cluster_policies_all(&program),
        kyverno::export_validating_policies_all(&program),
        vap::export_all(&program),
    ] {
        files.iter().for_each(|f| reads_back(&f.path, &f.contents));
    }
});
