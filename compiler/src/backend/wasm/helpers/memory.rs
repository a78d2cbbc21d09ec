//! The heap: failing with an error code, growing memory, bump allocation, and appending
//! bytes at the heap top (the writers of `text` build strings that way).

use wasm_encoder::BlockType;

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F, G_ERROR, G_ERROR_EXPECTED, G_ERROR_NODE, G_HEAP};

const EMPTY: BlockType = BlockType::Empty;

/// `(code)`: records the error code and traps.
pub fn fail() -> F {
    let mut f = F::new(1);
    f.i().local_get(0).global_set(G_ERROR).unreachable();
    f
}

/// `(node, expected tags)`: records the node and the expected tags, then fails with
/// [`ERR_TYPE`].
pub fn fail_type(g: &mut Gen) -> F {
    let fail = g.h(Helper::Fail);
    let mut f = F::new(2);
    f.i()
        .local_get(0)
        .global_set(G_ERROR_NODE)
        .local_get(1)
        .global_set(G_ERROR_EXPECTED)
        .i32_const(ERR_TYPE)
        .call(fail);
    f
}

/// `(end)`: grows the memory so that `end` is in bounds, or fails with a memory error.
pub fn ensure(g: &mut Gen) -> F {
    let fail = g.h(Helper::Fail);
    let mut f = F::new(1);
    f.i()
        .local_get(0)
        .memory_size(0)
        .i32_const(16)
        .i32_shl()
        .i32_gt_u()
        .if_(EMPTY)
        .local_get(0)
        .i32_const(65535)
        .i32_add()
        .i32_const(16)
        .i32_shr_u()
        .memory_size(0)
        .i32_sub()
        .memory_grow(0)
        .i32_const(-1)
        .i32_eq()
        .if_(EMPTY)
        .i32_const(ERR_MEMORY)
        .call(fail)
        .end()
        .end();
    f
}

pub fn alloc(g: &mut Gen) -> F {
    let ens = g.h(Helper::Ensure);
    let mut f = F::new(1);
    let p = f.l32();
    let end = f.l32();
    f.i()
        .global_get(G_HEAP)
        .i32_const(7)
        .i32_add()
        .i32_const(-8)
        .i32_and()
        .local_tee(p)
        .local_get(0)
        .i32_add()
        .local_tee(end)
        .call(ens)
        .local_get(end)
        .global_set(G_HEAP)
        .local_get(p);
    f
}

/// `(byte)`: appends a byte at the heap top.
pub fn w_byte(g: &mut Gen) -> F {
    let ens = g.h(Helper::Ensure);
    let mut f = F::new(1);
    f.i()
        .global_get(G_HEAP)
        .i32_const(1)
        .i32_add()
        .call(ens)
        .global_get(G_HEAP)
        .local_get(0)
        .i32_store8(m(0, 0))
        .global_get(G_HEAP)
        .i32_const(1)
        .i32_add()
        .global_set(G_HEAP);
    f
}

/// `(ptr, len)`: appends bytes at the heap top.
pub fn w_bytes(g: &mut Gen) -> F {
    let ens = g.h(Helper::Ensure);
    let mut f = F::new(2);
    f.i()
        .global_get(G_HEAP)
        .local_get(1)
        .i32_add()
        .call(ens)
        .global_get(G_HEAP)
        .local_get(0)
        .local_get(1)
        .memory_copy(0, 0)
        .global_get(G_HEAP)
        .local_get(1)
        .i32_add()
        .global_set(G_HEAP);
    f
}
