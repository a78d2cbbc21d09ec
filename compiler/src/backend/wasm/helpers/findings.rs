//! Findings: the records the host reads back after a rule ran (spec/abi.md).

use wasm_encoder::BlockType;

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F, G_HEAD, G_TAIL};

const EMPTY: BlockType = BlockType::Empty;

/// `(rule, outcome, root, message)`: appends a finding record to the list.
pub fn emit(g: &mut Gen) -> F {
    let alloc = g.h(Helper::Alloc);
    let mut f = F::new(4);
    let r = f.l32();
    f.i()
        .i32_const(FINDING_SIZE)
        .call(alloc)
        .local_tee(r)
        .i32_const(0)
        .i32_store(m(0, 2));
    for k in 0..4u32 {
        f.i()
            .local_get(r)
            .local_get(k)
            .i32_store(m(4 + 4 * k as u64, 2));
    }
    f.i()
        .global_get(G_TAIL)
        .if_(EMPTY)
        .global_get(G_TAIL)
        .local_get(r)
        .i32_store(m(0, 2))
        .else_()
        .local_get(r)
        .global_set(G_HEAD)
        .end()
        .local_get(r)
        .global_set(G_TAIL);
    f
}
