//! Faults in a policy module are errors for the object being evaluated, never a crash of the
//! run and never a pass: a module that traps, and modules that are corrupt bytes.

use rampart_runtime::eval::{Engine, Policies};
use rampart_runtime::runner::{self, Input, Options, Source};
use serde_json::json;
use wasm_encoder::{
    CodeSection, ConstExpr, CustomSection, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// A module of one rule, `trap`, on Pods, whose evaluation executes `unreachable`.
fn trapping_module() -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let four = [ValType::I32; 4];
    types.ty().function(four, [ValType::I32]);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(1);
    let mut code = CodeSection::new();
    let mut alloc = Function::new([]);
    alloc.instructions().i32_const(1024).end();
    code.function(&alloc);
    let mut evaluate = Function::new([]);
    evaluate.instructions().unreachable().end();
    code.function(&evaluate);
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 1,
        maximum: Some(16),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    for _ in 0..2 {
        let ty = GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        };
        globals.global(ty, &ConstExpr::i32_const(0));
    }
    let mut exports = ExportSection::new();
    for (name, kind, index) in [
        ("memory", ExportKind::Memory, 0),
        ("rampart_alloc", ExportKind::Func, 0),
        ("rampart_evaluate", ExportKind::Func, 1),
        ("rampart_error", ExportKind::Global, 0),
        ("rampart_findings", ExportKind::Global, 1),
    ] {
        exports.export(name, kind, index);
    }
    let pods = json!({"targets": [{"gvk": {"group": "", "version": "v1", "kind": "Pod"},
                                   "subject_path": [], "namespaced": true}],
                      "namespaces": [], "exclude_namespaces": [], "labels": [],
                      "exclude_labels": []});
    let rule = json!({
        "id": "trap", "module": "faults", "name": "trap", "title": "traps",
        "description": "", "rationale": "", "category": "", "remediation": "",
        "severity": "high", "controls": [], "matcher": pods, "params": [],
        "reads_kinds": [], "outcomes": []
    });
    let meta = json!({"abi": 1, "compiler_version": "faults", "source_digest": "",
                      "set_kinds": [], "rules": [rule]});
    // Custom sections may come first; the others keep the order the format requires.
    let metadata = CustomSection {
        name: "rampart.meta".into(),
        data: meta.to_string().into_bytes().into(),
    };
    let mut module = Module::new();
    module.section(&metadata).section(&types).section(&funcs);
    module.section(&memory).section(&globals).section(&exports);
    module.section(&code);
    module.finish()
}

const MANIFEST: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: first
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: untouched
---
apiVersion: v1
kind: Pod
metadata:
  name: second
";

#[test]
fn a_trapping_module_is_an_error_for_each_object_it_evaluates() {
    let policies = Policies::load(&Engine::new().unwrap(), &trapping_module(), None).unwrap();
    let inputs = [Input {
        name: "pods.yaml".into(),
        source: Source::Bytes(MANIFEST.as_bytes().to_vec()),
    }];
    let report = runner::run(&policies, &inputs, Vec::new(), &Options::default());
    let outcome: Vec<_> = report
        .results
        .iter()
        .map(|r| (r.name.as_deref().unwrap(), r.error.is_some()))
        .collect();
    // Both Pods fail on their own; the ConfigMap, which no rule selects, still passes.
    assert_eq!(
        outcome,
        [("first", true), ("untouched", false), ("second", true)]
    );
    let error = report.results[0].error.as_deref().unwrap();
    assert!(error.starts_with("rule `trap`"), "{error}");
    assert!(error.contains("unreachable"), "{error}");
    let located: Vec<_> = report.errors.iter().map(|e| (e.line, e.col)).collect();
    assert_eq!(located, [(Some(1), Some(1)), (Some(11), Some(1))]);
    assert_eq!(report.summary.errors, 2);
    assert!(!report.interrupted);
}

#[test]
fn corrupt_modules_are_refused_when_loaded() {
    let engine = Engine::new().unwrap();
    let good = trapping_module();
    let mut flipped = good.clone();
    // The first byte of the code section's body: no longer a valid function.
    let code_at = good.len() / 2;
    flipped[code_at] ^= 0xff;
    for bytes in [
        Vec::new(),
        b"\0asm".to_vec(),
        good[..good.len() / 3].to_vec(),
        flipped,
    ] {
        // An error, never a panic; which error depends on where the damage is.
        assert!(Policies::load(&engine, &bytes, None).is_err());
    }
}
