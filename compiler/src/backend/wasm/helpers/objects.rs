//! Fields of maps: field lookup, indexing by key or position, `keys`, and the pod's
//! containers as one list.

use wasm_encoder::{BlockType, ValType};

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F};
use super::lists::copy_items_at;
use super::values::push_tag;

const I64: ValType = ValType::I64;
const EMPTY: BlockType = BlockType::Empty;

/// The value of field (name pointer, name length) of a map, or 0 when absent. It runs about
/// a thousand times per object, so the key comparison is inline: a key of another length is
/// skipped at once, an equal-length key is compared eight bytes at a time.
pub fn get_field(g: &mut Gen) -> F {
    let (fail_type, norm) = (g.h(Helper::FailType), g.h(Helper::Norm));
    let mut f = F::new(3);
    let t = f.l32();
    let i = f.l32();
    let e = f.l32();
    let key = f.l32();
    let kp = f.l32();
    let j = f.l32();
    push_tag(&mut f, 0);
    f.i()
        .local_tee(t)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_MAP)
        .i32_ne()
        .if_(EMPTY)
        .local_get(0)
        .i32_const(1 << TAG_MAP)
        .call(fail_type)
        .end()
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(0)
        .i32_load(m(4, 2))
        .i32_ge_u()
        .br_if(1)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(i)
        .i32_const(8)
        .i32_mul()
        .i32_add()
        .local_tee(e)
        .i32_load(m(0, 2))
        .local_set(key)
        // block 0: the next key
        .block(EMPTY)
        .local_get(key)
        .i32_load(m(4, 2))
        .local_get(2)
        .i32_ne()
        .br_if(0)
        .local_get(key)
        .i32_load(m(8, 2))
        .local_set(kp)
        .i32_const(0)
        .local_set(j)
        // eight bytes at a time while eight remain
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(j)
        .i32_const(8)
        .i32_add()
        .local_get(2)
        .i32_gt_u()
        .br_if(1)
        .local_get(kp)
        .local_get(j)
        .i32_add()
        .i64_load(m(0, 0))
        .local_get(1)
        .local_get(j)
        .i32_add()
        .i64_load(m(0, 0))
        .i64_ne()
        .br_if(2)
        .local_get(j)
        .i32_const(8)
        .i32_add()
        .local_set(j)
        .br(0)
        .end()
        .end()
        // then byte by byte
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(j)
        .local_get(2)
        .i32_ge_u()
        .br_if(1)
        .local_get(kp)
        .local_get(j)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .local_get(1)
        .local_get(j)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .i32_ne()
        .br_if(2)
        .local_get(j)
        .i32_const(1)
        .i32_add()
        .local_set(j)
        .br(0)
        .end()
        .end()
        .local_get(e)
        .i32_load(m(4, 2))
        .call(norm)
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

pub fn index(g: &mut Gen) -> F {
    let (tag, fail_type, as_int, norm, ex, gf) = (
        g.h(Helper::Tag),
        g.h(Helper::FailType),
        g.h(Helper::AsInt),
        g.h(Helper::Norm),
        g.h(Helper::Expect),
        g.h(Helper::GetField),
    );
    let mut f = F::new(2);
    let t = f.l32();
    let i = f.local(I64);
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
        .i32_eq()
        .if_(EMPTY)
        .local_get(1)
        .call(as_int)
        .local_tee(i)
        .i64_const(0)
        .i64_lt_s()
        .local_get(i)
        .local_get(0)
        .i64_load32_u(m(4, 2))
        .i64_ge_s()
        .i32_or()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(i)
        .i32_wrap_i64()
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .i32_load(m(0, 2))
        .call(norm)
        .return_()
        .end()
        .local_get(t)
        .i32_const(TAG_MAP)
        .i32_ne()
        .if_(EMPTY)
        .local_get(0)
        .i32_const((1 << TAG_LIST) | (1 << TAG_MAP))
        .call(fail_type)
        .end()
        .local_get(1)
        .i32_const(TAG_STRING)
        .call(ex)
        .local_get(0)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(1)
        .i32_load(m(4, 2))
        .call(gf);
    f
}

pub fn keys(g: &mut Gen) -> F {
    let (cl, nl) = (g.h(Helper::CollLen), g.h(Helper::NewList));
    let mut f = F::new(1);
    let (n, r, i) = (f.l32(), f.l32(), f.l32());
    f.i()
        .local_get(0)
        .call(cl)
        .local_tee(n)
        .call(nl)
        .local_set(r)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(n)
        .i32_ge_u()
        .br_if(1)
        .local_get(r)
        .i32_load(m(8, 2))
        .local_get(i)
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(i)
        .i32_const(8)
        .i32_mul()
        .i32_add()
        .i32_load(m(0, 2))
        .i32_store(m(0, 2))
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end()
        .local_get(r);
    f
}

/// `spec.initContainers`, `spec.containers`, `spec.ephemeralContainers` as one list whose
/// items are the original nodes (so findings keep their paths).
pub fn all_containers(g: &mut Gen) -> F {
    let (gf, ck, cl, nl) = (
        g.h(Helper::Field),
        g.h(Helper::Check),
        g.h(Helper::CollLen),
        g.h(Helper::NewList),
    );
    let mut f = F::new(1);
    let spec = f.l32();
    let lists = [f.l32(), f.l32(), f.l32()];
    let lens = [f.l32(), f.l32(), f.l32()];
    let (r, at) = (f.l32(), f.l32());
    let (sp, sl) = g.str_bytes("spec");
    f.i()
        .local_get(0)
        .i32_const(1 << TAG_MAP)
        .call(ck)
        .i32_const(sp)
        .i32_const(sl)
        .i32_const(1 << TAG_MAP)
        .call(gf)
        .local_set(spec);
    for (k, name) in ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .enumerate()
    {
        let (np, nl_) = g.str_bytes(name);
        f.i()
            .local_get(spec)
            .i32_const(np)
            .i32_const(nl_)
            .i32_const(1 << TAG_LIST)
            .call(gf)
            .local_tee(lists[k])
            .call(cl)
            .local_set(lens[k]);
    }
    f.i()
        .local_get(lens[0])
        .local_get(lens[1])
        .i32_add()
        .local_get(lens[2])
        .i32_add()
        .call(nl)
        .local_set(r);
    for k in 0..3 {
        copy_items_at(&mut f, r, at, lists[k], lens[k]);
        f.i()
            .local_get(at)
            .local_get(lens[k])
            .i32_add()
            .local_set(at);
    }
    f.i().local_get(r);
    f
}
