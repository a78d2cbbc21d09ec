//! Ints and numbers: reading them from nodes, new nodes, checked integer arithmetic.

use wasm_encoder::{BlockType, ValType};

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F};

const I64: ValType = ValType::I64;
const EMPTY: BlockType = BlockType::Empty;

/// `(node) -> i64`: the value of an int node, else a type error.
pub fn as_int(g: &mut Gen) -> F {
    let ex = g.h(Helper::Expect);
    let mut f = F::new(1);
    f.i()
        .local_get(0)
        .i32_const(TAG_INT)
        .call(ex)
        .local_get(0)
        .i64_load(m(8, 3));
    f
}

pub fn as_num(g: &mut Gen) -> F {
    let (tag, fail_type) = (g.h(Helper::Tag), g.h(Helper::FailType));
    let mut f = F::new(1);
    let t = f.l32();
    f.i()
        .local_get(0)
        .call(tag)
        .local_tee(t)
        .i32_const(TAG_INT)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i64_load(m(8, 3))
        .f64_convert_i64_s()
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_FLOAT)
        .i32_ne()
        .if_(EMPTY)
        .local_get(0)
        .i32_const((1 << TAG_INT) | (1 << TAG_FLOAT))
        .call(fail_type)
        .end()
        .local_get(0)
        .f64_load(m(8, 3));
    f
}

/// `(i64) -> node` (or `(f64) -> node`): a new int (or number) node.
pub fn new_num(g: &mut Gen, int: bool) -> F {
    let alloc = g.h(Helper::Alloc);
    let mut f = F::new(1);
    let n = f.l32();
    f.i()
        .i32_const(NODE_SIZE)
        .call(alloc)
        .local_tee(n)
        .i32_const(if int { TAG_INT } else { TAG_FLOAT })
        .i32_store(m(0, 2))
        .local_get(n)
        .local_get(0);
    if int {
        f.i().i64_store(m(8, 3));
    } else {
        f.i().f64_store(m(8, 3));
    }
    f.i().local_get(n);
    f
}

pub fn add_sub(g: &mut Gen, sub: bool) -> F {
    let fail = g.h(Helper::Fail);
    let mut f = F::new(2);
    let r = f.local(I64);
    f.i().local_get(0).local_get(1);
    if sub {
        f.i().i64_sub();
    } else {
        f.i().i64_add();
    }
    f.i().local_set(r);
    // Signed overflow: add when both operands differ in sign from the result; sub when the
    // operands differ in sign and the result differs from the first.
    if sub {
        f.i()
            .local_get(0)
            .local_get(1)
            .i64_xor()
            .local_get(0)
            .local_get(r)
            .i64_xor()
            .i64_and();
    } else {
        f.i()
            .local_get(0)
            .local_get(r)
            .i64_xor()
            .local_get(1)
            .local_get(r)
            .i64_xor()
            .i64_and();
    }
    f.i()
        .i64_const(0)
        .i64_lt_s()
        .if_(EMPTY)
        .i32_const(ERR_OVERFLOW)
        .call(fail)
        .end()
        .local_get(r);
    f
}

/// `(i64) -> i64`: negation, failing on overflow.
pub fn neg_int(g: &mut Gen) -> F {
    let fail = g.h(Helper::Fail);
    let mut f = F::new(1);
    f.i()
        .local_get(0)
        .i64_const(i64::MIN)
        .i64_eq()
        .if_(EMPTY)
        .i32_const(ERR_OVERFLOW)
        .call(fail)
        .end()
        .i64_const(0)
        .local_get(0)
        .i64_sub();
    f
}
