//! Lists (and maps as collections): length, items, concatenation, membership, `len`.

use wasm_encoder::{BlockType, ValType};

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F};
use super::values::push_checked;

const EMPTY: BlockType = BlockType::Empty;
const RI32: BlockType = BlockType::Result(ValType::I32);

pub fn coll_len(g: &mut Gen) -> F {
    let (tag, fail_type) = (g.h(Helper::Tag), g.h(Helper::FailType));
    let mut f = F::new(1);
    let t = f.l32();
    f.i()
        .local_get(0)
        .call(tag)
        .local_tee(t)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_LIST)
        .i32_ne()
        .local_get(t)
        .i32_const(TAG_MAP)
        .i32_ne()
        .i32_and()
        .if_(EMPTY)
        .local_get(0)
        .i32_const((1 << TAG_LIST) | (1 << TAG_MAP))
        .call(fail_type)
        .end()
        .local_get(0)
        .i32_load(m(4, 2));
    f
}

/// `(coll, i) -> node`: the i-th item (value for maps) or, for `key`, the index or key.
pub fn coll_item(g: &mut Gen, key: bool) -> F {
    let norm = g.h(Helper::Norm);
    let new_int = if key { g.h(Helper::NewInt) } else { 0 };
    let mut f = F::new(2);
    push_item(&mut f, key, new_int);
    if !key {
        f.i().call(norm);
    }
    f
}

/// `(coll, i, mask) -> node`: the i-th item checked against the tags in `mask` (as
/// `Check`): one call per element of an iteration instead of two.
pub fn item_checked(g: &mut Gen) -> F {
    let fail_type = g.h(Helper::FailType);
    let mut f = F::new(3);
    let (v, bit) = (f.l32(), f.l32());
    push_item(&mut f, false, 0);
    f.i().local_set(v);
    push_checked(&mut f, fail_type, v, 2, bit);
    f
}

/// Pushes item (or, for `key`, the index or key) number local 1 of the collection in local
/// 0; `new_int` makes a list's index a node.
fn push_item(f: &mut F, key: bool, new_int: u32) {
    f.i()
        .local_get(0)
        .i32_load(m(0, 2))
        .i32_const(TAG_MAP)
        .i32_eq()
        .if_(RI32)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(1)
        .i32_const(8)
        .i32_mul()
        .i32_add()
        .i32_load(m(if key { 0 } else { 4 }, 2))
        .else_();
    if key {
        f.i().local_get(1).i64_extend_i32_u().call(new_int);
    } else {
        f.i()
            .local_get(0)
            .i32_load(m(8, 2))
            .local_get(1)
            .i32_const(4)
            .i32_mul()
            .i32_add()
            .i32_load(m(0, 2));
    }
    f.i().end();
}

pub fn list_concat(g: &mut Gen) -> F {
    let (cl, nl) = (g.h(Helper::CollLen), g.h(Helper::NewList));
    let mut f = F::new(2);
    let la = f.l32();
    let lb = f.l32();
    let r = f.l32();
    f.i()
        .local_get(0)
        .call(cl)
        .local_set(la)
        .local_get(1)
        .call(cl)
        .local_set(lb)
        .local_get(la)
        .local_get(lb)
        .i32_add()
        .call(nl)
        .local_set(r);
    copy_items(&mut f, r, 0, 0, la);
    copy_items_at(&mut f, r, la, 1, lb);
    f.i().local_get(r);
    f
}

/// Copies `n` item words of list `src` into list `dst` at index `at_const`.
fn copy_items(f: &mut F, dst: u32, _at_const: i32, src: u32, n: u32) {
    f.i()
        .local_get(n)
        .if_(EMPTY)
        .local_get(dst)
        .i32_load(m(8, 2))
        .local_get(src)
        .i32_load(m(8, 2))
        .local_get(n)
        .i32_const(4)
        .i32_mul()
        .memory_copy(0, 0)
        .end();
}

/// Copies `n` item words of list `src` into list `dst` starting at the index in local `at`.
pub fn copy_items_at(f: &mut F, dst: u32, at: u32, src: u32, n: u32) {
    f.i()
        .local_get(n)
        .if_(EMPTY)
        .local_get(dst)
        .i32_load(m(8, 2))
        .local_get(at)
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .local_get(src)
        .i32_load(m(8, 2))
        .local_get(n)
        .i32_const(4)
        .i32_mul()
        .memory_copy(0, 0)
        .end();
}

pub fn in_coll(g: &mut Gen) -> F {
    let (tag, fail_type, eq, ex, gf) = (
        g.h(Helper::Tag),
        g.h(Helper::FailType),
        g.h(Helper::Eq),
        g.h(Helper::Expect),
        g.h(Helper::GetField),
    );
    let mut f = F::new(2);
    let t = f.l32();
    let i = f.l32();
    f.i()
        .local_get(1)
        .call(tag)
        .local_tee(t)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_MAP)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i32_const(TAG_STRING)
        .call(ex)
        .local_get(1)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(0)
        .i32_load(m(4, 2))
        .call(gf)
        .i32_const(0)
        .i32_ne()
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_LIST)
        .i32_ne()
        .if_(EMPTY)
        .local_get(1)
        .i32_const((1 << TAG_LIST) | (1 << TAG_MAP))
        .call(fail_type)
        .end()
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(1)
        .i32_load(m(4, 2))
        .i32_ge_u()
        .br_if(1)
        .local_get(0)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(i)
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .i32_load(m(0, 2))
        .call(eq)
        .if_(EMPTY)
        .i32_const(1)
        .return_()
        .end()
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end()
        .i32_const(0);
    f
}

pub fn len(g: &mut Gen) -> F {
    let (tag, fail_type, ni) = (g.h(Helper::Tag), g.h(Helper::FailType), g.h(Helper::NewInt));
    let mut f = F::new(1);
    let t = f.l32();
    f.i()
        .local_get(0)
        .call(tag)
        .local_tee(t)
        .i32_eqz()
        .if_(EMPTY)
        .i64_const(0)
        .call(ni)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_STRING)
        .i32_lt_u()
        .local_get(t)
        .i32_const(TAG_MAP)
        .i32_gt_u()
        .i32_or()
        .if_(EMPTY)
        .local_get(0)
        .i32_const((1 << TAG_STRING) | (1 << TAG_LIST) | (1 << TAG_MAP))
        .call(fail_type)
        .end()
        .local_get(0)
        .i64_load32_u(m(4, 2))
        .call(ni);
    f
}
