//! Policy modules written by hand with wasm-encoder, for faults the compiler never produces
//! (loops, memory hogs, traps): the exports of spec/abi.md around one `rampart_evaluate` body.

use rampart_runtime::manifest::{Node, Value as NV};
use serde_json::{json, Value};
use wasm_encoder::{
    CodeSection, ConstExpr, CustomSection, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// The metadata of one rule on objects of core `kind`, with no parameters and no outcomes.
pub fn rule_meta(module: &str, id: &str, kind: &str) -> Value {
    json!({
        "id": id, "module": module, "name": id, "title": id, "description": "", "rationale": "",
        "category": "", "remediation": "", "severity": "high", "controls": [],
        "matcher": {"targets": [{"gvk": {"group": "", "version": "v1", "kind": kind},
                                  "subject_path": [], "namespaced": true}],
                    "namespaces": [], "exclude_namespaces": [], "labels": [], "exclude_labels": []},
        "params": [], "reads_kinds": [], "outcomes": []
    })
}

/// A module whose `rampart_alloc` always answers 1024 and whose `rampart_evaluate` is
/// `evaluate`, with one memory of at most `memory_max` pages and `rules` in its metadata.
pub fn module(
    evaluate: &Function,
    memory_max: Option<u64>,
    tag: &str,
    rules: Vec<Value>,
) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    // rampart_evaluate(rule, subject, params, set, request, old, controller) -> status (ABI 3).
    types.ty().function([ValType::I32; 7], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(1);
    let mut code = CodeSection::new();
    let mut alloc = Function::new([]);
    alloc.instructions().i32_const(1024).end();
    code.function(&alloc);
    code.function(evaluate);
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 1,
        maximum: memory_max,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    let global = GlobalType {
        val_type: ValType::I32,
        mutable: true,
        shared: false,
    };
    globals.global(global, &ConstExpr::i32_const(0));
    globals.global(global, &ConstExpr::i32_const(0));
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
    let meta = json!({"abi": 3, "compiler_version": tag, "source_digest": "",
                      "set_kinds": [], "rules": rules});
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

/// An object `{apiVersion: v1, kind: KIND}` at line 1, column 1.
#[allow(dead_code)] // not every test file that includes this module evaluates objects
pub fn object(kind: &str) -> Node {
    let s = |v: &str| Node::new(NV::String(v.into()), 1, 1);
    Node::new(
        NV::Map(vec![
            ("apiVersion".into(), s("v1")),
            ("kind".into(), s(kind)),
        ]),
        1,
        1,
    )
}
