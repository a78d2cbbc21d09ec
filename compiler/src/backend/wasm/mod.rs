//! The Wasm backend: compiles a typed [`ir::Program`] to one self-contained module.
//!
//! The module imports nothing. It exports its memory, an allocator, the `rampart_evaluate`
//! entry point, the error and findings globals, and carries a `rampart.meta` custom section
//! with the rules' metadata as JSON. The host selects the rules that apply to an object (from
//! the matchers in the metadata), encodes the object once into linear memory and calls
//! `rampart_evaluate` once per selected rule. The ABI is described in spec/abi.md.

pub mod abi;
mod codegen;
mod gen;
mod helpers;
mod regex;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::{json, Value as Json};
use wasm_encoder::ValType;

use crate::ir;
use abi::*;
use gen::{Gen, Helper, F};

/// An IR construct the backend cannot lower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmError {
    /// Id of the rule holding the construct.
    pub rule: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule `{}`: {}", self.rule, self.message)
    }
}

impl std::error::Error for WasmError {}

/// Compiles a program to the bytes of a Wasm module.
pub fn compile(program: &ir::Program) -> Result<Vec<u8>, Vec<WasmError>> {
    let mut g = Gen::new();
    let set_kinds = set_kinds(program);
    let i32s = [ValType::I32; 1 + codegen::RULE_PARAMS as usize];
    let rule_funcs: Vec<u32> = program
        .rules
        .iter()
        .map(|_| g.declare(&i32s[1..], &[]))
        .collect();
    let mut errors = Vec::new();
    for (k, rule) in program.rules.iter().enumerate() {
        let (body, errs) = codegen::RuleGen::build(&mut g, rule, k as u32, &set_kinds);
        errors.extend(errs.into_iter().map(|message| WasmError {
            rule: rule.id.clone(),
            message,
        }));
        g.define(rule_funcs[k], body);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // rampart_evaluate(rule, subject, params, set, request, old, controller) -> status: dispatch on the
    // rule index.
    let eval = g.declare(&i32s, &[ValType::I32]);
    let mut f = F::new(i32s.len() as u32);
    for (k, func) in rule_funcs.iter().enumerate() {
        f.i()
            .local_get(0)
            .i32_const(k as i32)
            .i32_eq()
            .if_(wasm_encoder::BlockType::Empty);
        for p in 1..i32s.len() as u32 {
            f.i().local_get(p);
        }
        f.i().call(*func).i32_const(0).return_().end();
    }
    f.i().i32_const(ERR_RULE);
    g.define(eval, f);
    g.export_func(EXPORT_EVALUATE, eval);
    let alloc = g.h(Helper::Alloc);
    g.export_func(EXPORT_ALLOC, alloc);
    helpers::flush(&mut g);
    let meta = metadata(program, &set_kinds);
    Ok(g.finish(meta.to_string().as_bytes()))
}

/// Every kind read through `objects(Kind)`, sorted and without duplicates: the host passes
/// one list of objects per entry, in this order.
fn set_kinds(program: &ir::Program) -> Vec<ir::Gvk> {
    let mut kinds: Vec<ir::Gvk> = program
        .rules
        .iter()
        .flat_map(|r| r.reads_kinds.iter().cloned())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// An outcome's path in the metadata: `{"root": "subject"|"binder", "steps": [...]}`.
fn path_json(p: &ir::PathExpr) -> Json {
    let steps: Vec<Json> = p
        .steps
        .iter()
        .map(|s| match s {
            ir::PathStep::Field(f) => json!({ "field": f }),
            ir::PathStep::Index(i) => json!({ "index": i }),
            ir::PathStep::Key(k) => json!({ "key": k }),
        })
        .collect();
    let root = match p.root {
        ir::PathRoot::Subject => "subject",
        ir::PathRoot::Binder(_) => "binder",
    };
    json!({ "root": root, "steps": steps })
}

/// A fix in the metadata (spec/abi.md "Fixes"): its root is the subject or the finding's
/// own root (the checker allows no other binder).
fn fix_json(f: &ir::Fix) -> Json {
    let mut out = json!({ "review": f.review, "op": f.op, "path": path_json(&f.path) });
    match &f.value {
        Some(ir::FixValue::Const(v)) => out["value"] = v.to_json(),
        Some(ir::FixValue::Param(i)) => out["param"] = json!(i),
        None => {}
    }
    out
}

/// The JSON of the `rampart.meta` section.
pub fn metadata(program: &ir::Program, set_kinds: &[ir::Gvk]) -> Json {
    let rules: Vec<Json> = program
        .rules
        .iter()
        .map(|r| {
            let outcomes: Vec<Json> = r
                .outcomes
                .iter()
                .map(|o| {
                    let fixes: Vec<Json> = o.fixes.iter().map(fix_json).collect();
                    json!({
                        "action": o.action,
                        "at": path_json(&o.at),
                        "fixes": fixes,
                        "generate": o.generate,
                    })
                })
                .collect();
            let params: Vec<Json> = r
                .params
                .iter()
                .map(|p| json!({ "name": p.name, "type": p.ty, "default": p.default }))
                .collect();
            json!({
                "id": r.id,
                "module": r.module,
                "name": r.name,
                "title": r.meta.title,
                "description": r.meta.description,
                "rationale": r.meta.rationale,
                "category": r.meta.category,
                "remediation": r.meta.remediation,
                "severity": r.meta.severity,
                "controls": r.meta.controls,
                "matcher": r.matcher,
                "params": params,
                "reads_kinds": r.reads_kinds,
                "outcomes": outcomes,
            })
        })
        .collect();
    json!({
        "abi": ABI_VERSION,
        "compiler_version": env!("CARGO_PKG_VERSION"),
        "source_digest": program.source_digest,
        "set_kinds": set_kinds,
        "set_reads": crate::set_reads::projections(program, set_kinds),
        "rules": rules,
    })
}
