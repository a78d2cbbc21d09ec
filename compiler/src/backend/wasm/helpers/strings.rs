//! Strings: byte comparison, concatenation, prefix, suffix and substring tests, case
//! conversion, byte search.

use wasm_encoder::{BlockType, ValType};

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F};
use super::values::expect2;

const EMPTY: BlockType = BlockType::Empty;
const RI32: BlockType = BlockType::Result(ValType::I32);

/// `(p1, l1, p2, l2) -> -1 | 0 | 1`: byte-wise comparison, shorter first on a common prefix.
pub fn bytes_cmp() -> F {
    let mut f = F::new(4);
    let i = f.l32();
    let n = f.l32();
    let a = f.l32();
    let b = f.l32();
    f.i()
        .local_get(1)
        .local_get(3)
        .local_get(1)
        .local_get(3)
        .i32_lt_u()
        .select()
        .local_set(n)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(n)
        .i32_ge_u()
        .br_if(1)
        .local_get(0)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .local_tee(a)
        .local_get(2)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .local_tee(b)
        .i32_ne()
        .if_(EMPTY)
        .i32_const(-1)
        .i32_const(1)
        .local_get(a)
        .local_get(b)
        .i32_lt_u()
        .select()
        .return_()
        .end()
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end()
        .local_get(1)
        .local_get(3)
        .i32_gt_u()
        .local_get(1)
        .local_get(3)
        .i32_lt_u()
        .i32_sub();
    f
}

/// `(p1, l1, p2, l2) -> bool`: byte-wise equality.
pub fn str_eq(g: &mut Gen) -> F {
    let bc = g.h(Helper::BytesCmp);
    let mut f = F::new(4);
    f.i()
        .local_get(1)
        .local_get(3)
        .i32_eq()
        .if_(RI32)
        .local_get(0)
        .local_get(1)
        .local_get(2)
        .local_get(3)
        .call(bc)
        .i32_eqz()
        .else_()
        .i32_const(0)
        .end();
    f
}

/// `(a, b) -> -1 | 0 | 1`: ordering of two string nodes.
pub fn str_cmp(g: &mut Gen) -> F {
    let (ex, bc) = (g.h(Helper::Expect), g.h(Helper::BytesCmp));
    let mut f = F::new(2);
    expect2(&mut f, ex, TAG_STRING);
    f.i()
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(0)
        .i32_load(m(4, 2))
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(1)
        .i32_load(m(4, 2))
        .call(bc);
    f
}

pub fn concat(g: &mut Gen) -> F {
    let (ex, alloc, ns) = (g.h(Helper::Expect), g.h(Helper::Alloc), g.h(Helper::NewStr));
    let mut f = F::new(2);
    let la = f.l32();
    let lb = f.l32();
    let p = f.l32();
    expect2(&mut f, ex, TAG_STRING);
    f.i()
        .local_get(0)
        .i32_load(m(4, 2))
        .local_set(la)
        .local_get(1)
        .i32_load(m(4, 2))
        .local_set(lb)
        .local_get(la)
        .local_get(lb)
        .i32_add()
        .call(alloc)
        .local_tee(p)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(la)
        .memory_copy(0, 0)
        .local_get(p)
        .local_get(la)
        .i32_add()
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(lb)
        .memory_copy(0, 0)
        .local_get(p)
        .local_get(la)
        .local_get(lb)
        .i32_add()
        .call(ns);
    f
}

pub fn starts_ends(g: &mut Gen, ends: bool) -> F {
    let (ex, bc) = (g.h(Helper::Expect), g.h(Helper::BytesCmp));
    let mut f = F::new(2);
    let ls = f.l32();
    let lp = f.l32();
    expect2(&mut f, ex, TAG_STRING);
    f.i()
        .local_get(0)
        .i32_load(m(4, 2))
        .local_set(ls)
        .local_get(1)
        .i32_load(m(4, 2))
        .local_set(lp)
        .local_get(lp)
        .local_get(ls)
        .i32_gt_u()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .local_get(0)
        .i32_load(m(8, 2));
    if ends {
        f.i().local_get(ls).local_get(lp).i32_sub().i32_add();
    }
    f.i()
        .local_get(lp)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(lp)
        .call(bc)
        .i32_eqz();
    f
}

pub fn contains(g: &mut Gen) -> F {
    let (ex, bc) = (g.h(Helper::Expect), g.h(Helper::BytesCmp));
    let mut f = F::new(2);
    let ls = f.l32();
    let lp = f.l32();
    let i = f.l32();
    expect2(&mut f, ex, TAG_STRING);
    f.i()
        .local_get(0)
        .i32_load(m(4, 2))
        .local_set(ls)
        .local_get(1)
        .i32_load(m(4, 2))
        .local_set(lp)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(lp)
        .i32_add()
        .local_get(ls)
        .i32_gt_u()
        .br_if(1)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(i)
        .i32_add()
        .local_get(lp)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(lp)
        .call(bc)
        .i32_eqz()
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

/// ASCII `lower`/`upper` into a new string.
pub fn case(g: &mut Gen, upper: bool) -> F {
    let (ex, alloc, ns) = (g.h(Helper::Expect), g.h(Helper::Alloc), g.h(Helper::NewStr));
    let (lo, hi) = if upper { (b'a', b'z') } else { (b'A', b'Z') };
    let mut f = F::new(1);
    let l = f.l32();
    let p = f.l32();
    let i = f.l32();
    let c = f.l32();
    f.i()
        .local_get(0)
        .i32_const(TAG_STRING)
        .call(ex)
        .local_get(0)
        .i32_load(m(4, 2))
        .local_tee(l)
        .call(alloc)
        .local_set(p)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(l)
        .i32_ge_u()
        .br_if(1)
        .local_get(p)
        .local_get(i)
        .i32_add()
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .local_tee(c)
        .i32_const(32)
        .i32_xor()
        .local_get(c)
        .local_get(c)
        .i32_const(lo as i32)
        .i32_ge_u()
        .local_get(c)
        .i32_const(hi as i32)
        .i32_le_u()
        .i32_and()
        .select()
        .i32_store8(m(0, 0))
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end()
        .local_get(p)
        .local_get(l)
        .call(ns);
    f
}

/// `(p, from, to, byte) -> index`: first (or last) index of `byte` in `p[from..to]`, or -1.
pub fn find(last: bool) -> F {
    let mut f = F::new(4);
    let i = f.l32();
    if last {
        f.i().local_get(2).i32_const(1).i32_sub().local_set(i);
    } else {
        f.i().local_get(1).local_set(i);
    }
    f.i().block(EMPTY).loop_(EMPTY);
    if last {
        f.i().local_get(i).local_get(1).i32_lt_s().br_if(1);
    } else {
        f.i().local_get(i).local_get(2).i32_ge_s().br_if(1);
    }
    f.i()
        .local_get(0)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .local_get(3)
        .i32_eq()
        .if_(EMPTY)
        .local_get(i)
        .return_()
        .end()
        .local_get(i)
        .i32_const(if last { -1 } else { 1 })
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end()
        .i32_const(-1);
    f
}
