//! The exporters: any program that type-checks exports to every target (Wasm, Gatekeeper,
//! Kyverno, Kyverno ValidatingPolicy, ValidatingAdmissionPolicy) or names the rule it cannot
//! express; no exporter panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_compiler::{gatekeeper, kyverno, vap, wasm};

fuzz_target!(|data: &[u8]| {
    let Some(compilation) = rampart_fuzz::compile_bytes(data) else {
        return;
    };
    let Some(program) = compilation.program else {
        return;
    };
    let _ = wasm::compile(&program).expect("a checked program compiles to Wasm");
    let _ = gatekeeper::export(&program);
    let _ = kyverno::export_cluster_policies_all(&program);
    let _ = kyverno::export_validating_policies_all(&program);
    let _ = vap::export_all(&program);
});
