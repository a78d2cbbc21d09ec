//! Evaluator tests with raw modules written here (a loop and a memory hog the compiler can
//! never produce) and the on-disk cache.

use std::time::{Duration, Instant};

use serde_json::json;
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, CustomSection, ExportKind, ExportSection, Function,
    FunctionSection, GlobalSection, GlobalType, MemorySection, MemoryType, Module, TypeSection,
    ValType,
};

use super::*;
use crate::manifest::Value as NV;

fn rule_meta(id: &str, kind: &str) -> serde_json::Value {
    json!({
        "id": id, "module": "raw", "name": id, "title": id, "description": "", "rationale": "",
        "category": "", "remediation": "", "severity": "high", "controls": [],
        "matcher": {"targets": [{"gvk": {"group": "", "version": "v1", "kind": kind},
                                  "subject_path": [], "namespaced": true}],
                    "namespaces": [], "exclude_namespaces": [], "labels": [], "exclude_labels": []},
        "params": [], "reads_kinds": [], "outcomes": []
    })
}

/// Rule 0 (Pod) loops forever, rule 1 (Secret) grows memory forever, rule 2 (ConfigMap)
/// returns at once.
fn raw_module(tag: &str) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    types.ty().function(
        [ValType::I32, ValType::I32, ValType::I32, ValType::I32],
        [ValType::I32],
    );
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(1);
    let mut code = CodeSection::new();
    let mut alloc = Function::new([]);
    alloc.instructions().i32_const(1024).end();
    code.function(&alloc);
    let mut eval = Function::new([]);
    eval.instructions()
        .local_get(0)
        .i32_eqz()
        .if_(BlockType::Empty)
        .loop_(BlockType::Empty)
        .br(0)
        .end()
        .end()
        .local_get(0)
        .i32_const(1)
        .i32_eq()
        .if_(BlockType::Empty)
        .loop_(BlockType::Empty)
        .i32_const(16)
        .memory_grow(0)
        .drop()
        .br(0)
        .end()
        .end()
        .i32_const(0)
        .end();
    code.function(&eval);
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    let g = GlobalType {
        val_type: ValType::I32,
        mutable: true,
        shared: false,
    };
    globals.global(g, &ConstExpr::i32_const(0));
    globals.global(g, &ConstExpr::i32_const(0));
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("rampart_alloc", ExportKind::Func, 0);
    exports.export("rampart_evaluate", ExportKind::Func, 1);
    exports.export("rampart_error", ExportKind::Global, 0);
    exports.export("rampart_findings", ExportKind::Global, 1);
    let meta = json!({
        "abi": 1, "compiler_version": tag, "source_digest": "", "set_kinds": [],
        "rules": [rule_meta("loop", "Pod"), rule_meta("grow", "Secret"), rule_meta("ok", "ConfigMap")]
    });
    let mut module = Module::new();
    module
        .section(&types)
        .section(&funcs)
        .section(&memory)
        .section(&globals)
        .section(&exports)
        .section(&code)
        .section(&CustomSection {
            name: "rampart.meta".into(),
            data: meta.to_string().into_bytes().into(),
        });
    module.finish()
}

fn object(kind: &str) -> Node {
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

fn engine() -> Engine {
    Engine::new().unwrap()
}

#[test]
fn eval_deadline_stops_a_loop_and_the_next_object_runs() {
    let p = Policies::load(&engine(), &raw_module("a"), None).unwrap();
    let limits = Limits {
        deadline: Duration::from_millis(200),
        ..Limits::default()
    };
    let none = (ObjectSet::default(), Params::default());
    let start = Instant::now();
    let e = p
        .evaluate(&object("Pod"), &none.0, &none.1, &limits)
        .unwrap_err();
    assert_eq!(e, EvalError::Deadline(Duration::from_millis(200)));
    assert_eq!(e.to_string(), "evaluation exceeded its 200ms deadline");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        p.evaluate(&object("ConfigMap"), &none.0, &none.1, &limits),
        Ok(vec![])
    );
    assert_eq!(
        EvalError::Deadline(Duration::from_secs(1)).to_string(),
        "evaluation exceeded its 1s deadline"
    );
}

#[test]
fn eval_memory_cap_stops_a_hog_and_the_next_object_runs() {
    let p = Policies::load(&engine(), &raw_module("b"), None).unwrap();
    let limits = Limits::default();
    let none = (ObjectSet::default(), Params::default());
    let e = p
        .evaluate(&object("Secret"), &none.0, &none.1, &limits)
        .unwrap_err();
    assert_eq!(e, EvalError::Memory(64 << 20));
    assert_eq!(e.to_string(), "evaluation exceeded its 64 MiB memory limit");
    assert_eq!(
        p.evaluate(&object("ConfigMap"), &none.0, &none.1, &limits),
        Ok(vec![])
    );
    // Objects no rule applies to never reach the module.
    assert_eq!(
        p.evaluate(&object("Service"), &none.0, &none.1, &limits),
        Ok(vec![])
    );
}

#[test]
fn eval_cache_is_written_then_used_and_keyed_by_module() {
    let dir = std::env::temp_dir().join(format!("rampart-eval-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let engine = engine();
    let first = Policies::load(&engine, &raw_module("c"), Some(&dir)).unwrap();
    assert!(!first.loaded_from_cache);
    assert!(dir.join(format!("{}.cwasm", first.cache_key)).exists());
    let second = Policies::load(&engine, &raw_module("c"), Some(&dir)).unwrap();
    assert!(second.loaded_from_cache);
    assert_eq!(first.cache_key, second.cache_key);
    let limits = Limits::default();
    let none = (ObjectSet::default(), Params::default());
    assert_eq!(
        second.evaluate(&object("ConfigMap"), &none.0, &none.1, &limits),
        Ok(vec![])
    );
    let other = Policies::load(&engine, &raw_module("d"), Some(&dir)).unwrap();
    assert!(!other.loaded_from_cache);
    assert_ne!(other.cache_key, first.cache_key);
    // A corrupt entry is recompiled, not trusted.
    // (Replaced, not truncated: the old file is still mapped by `second`.)
    let entry = dir.join(format!("{}.cwasm", first.cache_key));
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, b"junk").unwrap();
    let again = Policies::load(&engine, &raw_module("c"), Some(&dir)).unwrap();
    assert!(!again.loaded_from_cache);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_rejects_modules_without_metadata() {
    let e = Policies::load(&engine(), b"\0asm\x01\0\0\0", None)
        .err()
        .unwrap();
    assert_eq!(e.0, "not a Rampart module: no `rampart.meta` section");
}
