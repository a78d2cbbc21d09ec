//! Kubernetes resource quantities: parsing (`500m`, `1.5Gi`, `1e3`) into an exact
//! `mantissa × 10^exponent` and comparison by value.

use wasm_encoder::{BlockType, Ieee64, ValType};

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F, G_ERROR_NODE};

const F64: ValType = ValType::F64;
const EMPTY: BlockType = BlockType::Empty;
const RI32: BlockType = BlockType::Result(ValType::I32);

/// Decimal SI suffixes and the power of ten they add.
const DECIMAL: [(u8, i32); 9] = [
    (b'n', -9),
    (b'u', -6),
    (b'm', -3),
    (b'k', 3),
    (b'M', 6),
    (b'G', 9),
    (b'T', 12),
    (b'P', 15),
    (b'E', 18),
];
/// Binary suffixes (`Ki`, …) and the power of 1024 they multiply by.
const BINARY: [(u8, i32); 6] = [
    (b'K', 1),
    (b'M', 2),
    (b'G', 3),
    (b'T', 4),
    (b'P', 5),
    (b'E', 6),
];

/// `c = i < l ? p[i] : -1`.
fn peek(f: &mut F, p: u32, l: u32, i: u32, c: u32) {
    f.i()
        .local_get(i)
        .local_get(l)
        .i32_lt_u()
        .if_(RI32)
        .local_get(p)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .else_()
        .i32_const(-1)
        .end()
        .local_set(c);
}

/// Accumulates decimal digits at `i` into `acc` (i64); counts them in `n`; each digit
/// adds `e_step` to `e`.
#[allow(clippy::too_many_arguments)]
fn digits(
    f: &mut F,
    fail: u32,
    p: u32,
    l: u32,
    i: u32,
    c: u32,
    acc: u32,
    n: u32,
    e: u32,
    e_step: i32,
) {
    f.i().block(EMPTY).loop_(EMPTY);
    peek(f, p, l, i, c);
    f.i()
        .local_get(c)
        .i32_const(b'0' as i32)
        .i32_sub()
        .i32_const(9)
        .i32_gt_u()
        .br_if(1)
        .local_get(acc)
        .i64_const(i64::MAX / 10 - 1)
        .i64_gt_s()
        .if_(EMPTY)
        .i32_const(ERR_QUANTITY)
        .call(fail)
        .end()
        .local_get(acc)
        .i64_const(10)
        .i64_mul()
        .local_get(c)
        .i32_const(b'0' as i32)
        .i32_sub()
        .i64_extend_i32_u()
        .i64_add()
        .local_set(acc)
        .local_get(n)
        .i32_const(1)
        .i32_add()
        .local_set(n)
        .local_get(e)
        .i32_const(e_step)
        .i32_add()
        .local_set(e)
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end();
}

/// `(ptr, len) -> quantity node`; an invalid quantity fails with [`ERR_QUANTITY`].
pub fn qparse(g: &mut Gen) -> F {
    let (fail, qn) = (g.h(Helper::Fail), g.h(Helper::QNorm));
    let (p, l) = (0, 1);
    let mut f = F::new(2);
    let (i, c, e, n, k, neg, en, dummy) = (
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
    );
    let mant = f.local(ValType::I64);
    let x = f.local(ValType::I64);
    // Sign.
    peek(&mut f, p, l, i, c);
    f.i()
        .local_get(c)
        .i32_const(b'-' as i32)
        .i32_eq()
        .local_set(neg)
        .local_get(c)
        .i32_const(b'-' as i32)
        .i32_eq()
        .local_get(c)
        .i32_const(b'+' as i32)
        .i32_eq()
        .i32_or()
        .if_(EMPTY)
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .end();
    digits(&mut f, fail, p, l, i, c, mant, n, dummy, 0);
    peek(&mut f, p, l, i, c);
    f.i()
        .local_get(c)
        .i32_const(b'.' as i32)
        .i32_eq()
        .if_(EMPTY)
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .end();
    // Fraction digits: each lowers the exponent by one (a no-op without a point).
    digits(&mut f, fail, p, l, i, c, mant, n, e, -1);
    f.i()
        .local_get(n)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(ERR_QUANTITY)
        .call(fail)
        .end();
    peek(&mut f, p, l, i, c);
    f.i()
        .block(EMPTY)
        .local_get(c)
        .i32_const(-1)
        .i32_eq()
        .br_if(0);
    // Exponent form: `e`/`E` followed by a digit or a sign.
    f.i()
        .local_get(c)
        .i32_const(32)
        .i32_or()
        .i32_const(b'e' as i32)
        .i32_eq()
        .local_get(l)
        .local_get(i)
        .i32_sub()
        .i32_const(2)
        .i32_ge_u()
        .i32_and()
        .if_(EMPTY)
        .local_get(p)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(1, 0))
        .local_tee(c)
        .i32_const(b'0' as i32)
        .i32_sub()
        .i32_const(9)
        .i32_le_u()
        .local_get(c)
        .i32_const(b'-' as i32)
        .i32_eq()
        .local_get(c)
        .i32_const(b'+' as i32)
        .i32_eq()
        .i32_or()
        .i32_or()
        .if_(EMPTY)
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .local_get(c)
        .i32_const(b'-' as i32)
        .i32_eq()
        .local_set(en)
        .local_get(c)
        .i32_const(b'0' as i32)
        .i32_lt_u()
        .if_(EMPTY)
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .end()
        .i32_const(0)
        .local_set(n)
        .end()
        .end();
    // `n` is 0 here only when an exponent was started: read its digits.
    f.i().local_get(n).i32_eqz().if_(EMPTY);
    digits(&mut f, fail, p, l, i, c, x, n, dummy, 0);
    f.i()
        .local_get(n)
        .i32_eqz()
        .local_get(i)
        .local_get(l)
        .i32_ne()
        .i32_or()
        .local_get(x)
        .i64_const(400)
        .i64_gt_s()
        .i32_or()
        .if_(EMPTY)
        .i32_const(ERR_QUANTITY)
        .call(fail)
        .end()
        .local_get(e)
        .i32_const(0)
        .local_get(x)
        .i32_wrap_i64()
        .i32_sub()
        .local_get(x)
        .i32_wrap_i64()
        .local_get(en)
        .select()
        .i32_add()
        .local_set(e)
        .br(1)
        .end();
    peek(&mut f, p, l, i, c);
    // One-letter decimal suffix.
    f.i()
        .local_get(l)
        .local_get(i)
        .i32_sub()
        .i32_const(1)
        .i32_eq()
        .if_(EMPTY);
    for (ch, delta) in DECIMAL {
        f.i()
            .local_get(c)
            .i32_const(ch as i32)
            .i32_eq()
            .if_(EMPTY)
            .local_get(e)
            .i32_const(delta)
            .i32_add()
            .local_set(e)
            .br(2)
            .end();
    }
    f.i().end();
    // Two-letter binary suffix.
    f.i()
        .local_get(l)
        .local_get(i)
        .i32_sub()
        .i32_const(2)
        .i32_eq()
        .if_(EMPTY)
        .local_get(p)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(1, 0))
        .i32_const(b'i' as i32)
        .i32_eq()
        .if_(EMPTY);
    for (ch, power) in BINARY {
        f.i()
            .local_get(c)
            .i32_const(ch as i32)
            .i32_eq()
            .if_(EMPTY)
            .i32_const(power)
            .local_set(k)
            .br(3)
            .end();
    }
    f.i().end().end().i32_const(ERR_QUANTITY).call(fail).end();
    // Apply a binary suffix exactly: multiply by 1024 k times.
    f.i()
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(k)
        .i32_eqz()
        .br_if(1)
        .local_get(mant)
        .i64_const(i64::MAX / 1024)
        .i64_gt_s()
        .if_(EMPTY)
        .i32_const(ERR_QUANTITY)
        .call(fail)
        .end()
        .local_get(mant)
        .i64_const(1024)
        .i64_mul()
        .local_set(mant)
        .local_get(k)
        .i32_const(1)
        .i32_sub()
        .local_set(k)
        .br(0)
        .end()
        .end()
        .i64_const(0)
        .local_get(mant)
        .i64_sub()
        .local_get(mant)
        .local_get(neg)
        .select()
        .local_get(e)
        .call(qn);
    f
}

/// `(a, b) -> -1 | 0 | 1` on two quantity nodes, exact: the mantissa with the larger exponent
/// is scaled; if scaling overflows, its magnitude is larger than the other's.
pub fn qcmp(g: &mut Gen) -> F {
    let mut f = F::new(2);
    let (ma, mb) = (f.local(ValType::I64), f.local(ValType::I64));
    let (ea, eb, sa, sb) = (f.l32(), f.l32(), f.l32(), f.l32());
    let _ = g;
    f.i()
        .local_get(0)
        .i64_load(m(8, 3))
        .local_set(ma)
        .local_get(1)
        .i64_load(m(8, 3))
        .local_set(mb)
        .local_get(0)
        .i32_load(m(4, 2))
        .local_set(ea)
        .local_get(1)
        .i32_load(m(4, 2))
        .local_set(eb);
    for (mm, s) in [(ma, sa), (mb, sb)] {
        f.i()
            .local_get(mm)
            .i64_const(0)
            .i64_gt_s()
            .local_get(mm)
            .i64_const(0)
            .i64_lt_s()
            .i32_sub()
            .local_set(s);
    }
    f.i()
        .local_get(sa)
        .local_get(sb)
        .i32_ne()
        .local_get(sa)
        .i32_eqz()
        .i32_or()
        .if_(EMPTY)
        .local_get(sa)
        .local_get(sb)
        .i32_gt_s()
        .local_get(sa)
        .local_get(sb)
        .i32_lt_s()
        .i32_sub()
        .return_()
        .end();
    // Same non-zero sign: bring both to the smaller exponent.
    for (mm, from, to, result_sign) in [(ma, ea, eb, 1), (mb, eb, ea, -1)] {
        f.i()
            .block(EMPTY)
            .loop_(EMPTY)
            .local_get(from)
            .local_get(to)
            .i32_le_s()
            .br_if(1)
            .local_get(mm)
            .i64_const(i64::MAX / 10)
            .i64_gt_s()
            .local_get(mm)
            .i64_const(-(i64::MAX / 10))
            .i64_lt_s()
            .i32_or()
            .if_(EMPTY)
            .local_get(sa)
            .i32_const(result_sign)
            .i32_mul()
            .return_()
            .end()
            .local_get(mm)
            .i64_const(10)
            .i64_mul()
            .local_set(mm)
            .local_get(from)
            .i32_const(1)
            .i32_sub()
            .local_set(from)
            .br(0)
            .end()
            .end();
    }
    f.i()
        .local_get(ma)
        .local_get(mb)
        .i64_gt_s()
        .local_get(ma)
        .local_get(mb)
        .i64_lt_s()
        .i32_sub();
    f
}

pub fn to_qty(g: &mut Gen) -> F {
    let (tag, fail, qp, qn) = (
        g.h(Helper::Tag),
        g.h(Helper::Fail),
        g.h(Helper::QParse),
        g.h(Helper::QNorm),
    );
    let fail_type = g.h(Helper::FailType);
    let mut f = F::new(1);
    let t = f.l32();
    let x = f.local(F64);
    let e = f.l32();
    // An invalid quantity string is reported at this node.
    f.i().local_get(0).global_set(G_ERROR_NODE);
    f.i()
        .local_get(0)
        .call(tag)
        .local_tee(t)
        .i32_const(TAG_QUANTITY)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_STRING)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(0)
        .i32_load(m(4, 2))
        .call(qp)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_INT)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i64_load(m(8, 3))
        .i32_const(0)
        .call(qn)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_FLOAT)
        .i32_ne()
        .if_(EMPTY)
        .local_get(0)
        .i32_const((1 << TAG_STRING) | (1 << TAG_INT) | (1 << TAG_FLOAT))
        .call(fail_type)
        .end()
        // A number: scale by ten until integral (at most 9 digits after the point).
        .local_get(0)
        .f64_load(m(8, 3))
        .local_set(x)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(x)
        .f64_trunc()
        .local_get(x)
        .f64_eq()
        .br_if(1)
        .local_get(e)
        .i32_const(-9)
        .i32_le_s()
        .br_if(1)
        .local_get(x)
        .f64_const(Ieee64::from(10.0))
        .f64_mul()
        .local_set(x)
        .local_get(e)
        .i32_const(1)
        .i32_sub()
        .local_set(e)
        .br(0)
        .end()
        .end()
        .local_get(x)
        .f64_abs()
        .f64_const(Ieee64::from(9.2e18))
        .f64_lt()
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(ERR_QUANTITY)
        .call(fail)
        .end()
        .local_get(x)
        .f64_nearest()
        .i64_trunc_f64_s()
        .local_get(e)
        .call(qn);
    f
}

/// `(mantissa, exponent) -> quantity node`, normalised so equal values have equal fields.
pub fn qnorm(g: &mut Gen) -> F {
    let alloc = g.h(Helper::Alloc);
    let mut f = F::new(2);
    let n = f.l32();
    f.i()
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(0)
        .i64_eqz()
        .br_if(1)
        .local_get(0)
        .i64_const(10)
        .i64_rem_s()
        .i64_const(0)
        .i64_ne()
        .br_if(1)
        .local_get(0)
        .i64_const(10)
        .i64_div_s()
        .local_set(0)
        .local_get(1)
        .i32_const(1)
        .i32_add()
        .local_set(1)
        .br(0)
        .end()
        .end()
        .local_get(0)
        .i64_eqz()
        .if_(EMPTY)
        .i32_const(0)
        .local_set(1)
        .end()
        .i32_const(NODE_SIZE)
        .call(alloc)
        .local_tee(n)
        .i32_const(TAG_QUANTITY)
        .i32_store(m(0, 2))
        .local_get(n)
        .local_get(1)
        .i32_store(m(4, 2))
        .local_get(n)
        .local_get(0)
        .i64_store(m(8, 3))
        .local_get(n);
    f
}
