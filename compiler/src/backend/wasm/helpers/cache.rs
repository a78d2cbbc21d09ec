//! The per-object cache (spec/abi.md "Instance reuse"): field reads, and the results of the
//! helpers that depend only on the node they are given, remembered for the later rules of
//! the same object.

use wasm_encoder::BlockType;

use super::super::gen::{m, Cached, Gen, Helper, F, G_FIELD_CACHE};
use super::values::push_checked;

const EMPTY: BlockType = BlockType::Empty;

/// Entries of the cache (a power of two): 16 bytes each.
const CACHE_BITS: u32 = 10;

/// The name length that marks a cached helper result: no string is 4 GiB long, so no field
/// read has this key.
const DERIVED: i32 = -1;

/// Emits the lookup of the key (`node`, `name`, `len`) (locals): leaves the address of the
/// key's entry in `e` and pushes whether the entry holds that key. The table (address in
/// `t`) is allocated from the heap at the first lookup of an object.
fn probe(f: &mut F, alloc: u32, [node, name, len]: [u32; 3], t: u32, e: u32) {
    f.i()
        .global_get(G_FIELD_CACHE)
        .local_tee(t)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(16 << CACHE_BITS)
        .call(alloc)
        .local_tee(t)
        .global_set(G_FIELD_CACHE)
        .end()
        // e = t + 16 * hash(node, name)
        .local_get(node)
        .local_get(name)
        .i32_const(12)
        .i32_shl()
        .i32_xor()
        .i32_const(0x9E37_79B1_u32 as i32)
        .i32_mul()
        .i32_const(32 - CACHE_BITS as i32)
        .i32_shr_u()
        .i32_const(4)
        .i32_shl()
        .local_get(t)
        .i32_add()
        .local_tee(e)
        .i32_load(m(0, 2))
        .local_get(node)
        .i32_eq()
        .local_get(e)
        .i32_load(m(4, 2))
        .local_get(name)
        .i32_eq()
        .i32_and()
        .local_get(e)
        .i32_load(m(8, 2))
        .local_get(len)
        .i32_eq()
        .i32_and();
}

/// Emits the store of `v` under the key (`node`, `name`, `len`) in entry `e`.
fn store(f: &mut F, [node, name, len]: [u32; 3], e: u32, v: u32) {
    for (offset, local) in [(0, node), (4, name), (8, len), (12, v)] {
        f.i().local_get(e).local_get(local).i32_store(m(offset, 2));
    }
}

/// Emits: `v` = the value cached under `key` (locals), else the value `compute` pushes,
/// then stored under `key`. `t` and `e` are scratch locals.
fn through(
    f: &mut F,
    alloc: u32,
    key: [u32; 3],
    [t, e, v]: [u32; 3],
    compute: impl FnOnce(&mut F),
) {
    probe(f, alloc, key, t, e);
    f.i()
        .if_(EMPTY)
        .local_get(e)
        .i32_load(m(12, 2))
        .local_set(v)
        .else_();
    compute(f);
    f.i().local_set(v);
    store(f, key, e, v);
    f.i().end();
}

/// `(map, name ptr, name len, mask) -> node`: `GetField` through the cache, the value
/// checked against the tags in `mask` (as `Check`; every field read is checked).
/// The rules of a module read the same paths (`spec`, the container lists, each container's
/// `securityContext`), so most lookups of an object were already made by an earlier rule.
/// The cache is a direct-mapped table of (map, name ptr, name len, value) entries, so
/// `rampart_reset` empties it with the rest of the heap. A cached value stays right for
/// the whole object: nodes are never changed once built and the heap only grows, so an
/// address holds the same map, and a name pointer (constant data) the same bytes.
pub fn field(g: &mut Gen) -> F {
    let (alloc, gf, fail_type) = (
        g.h(Helper::Alloc),
        g.h(Helper::GetField),
        g.h(Helper::FailType),
    );
    let mut f = F::new(4);
    let (t, e, v, bit) = (f.l32(), f.l32(), f.l32(), f.l32());
    f.i()
        .local_get(0)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end();
    through(&mut f, alloc, [0, 1, 2], [t, e, v], |f| {
        f.i().local_get(0).local_get(1).local_get(2).call(gf);
    });
    push_checked(&mut f, fail_type, v, 3, bit);
    f
}

/// `(node) -> node`: the helper `which` through the cache, under the key (node, its number,
/// [`DERIVED`]). Its result depends only on the node, and is a node never changed once
/// built, so the later rules of the object share it. A helper that fails stores nothing:
/// the next call fails the same way.
pub fn cached(g: &mut Gen, which: Cached) -> F {
    let (alloc, inner) = (g.h(Helper::Alloc), g.h(which.helper()));
    let mut f = F::new(1);
    let (t, e, v, name, len) = (f.l32(), f.l32(), f.l32(), f.l32(), f.l32());
    f.i()
        .i32_const(which as i32)
        .local_set(name)
        .i32_const(DERIVED)
        .local_set(len);
    through(&mut f, alloc, [0, name, len], [t, e, v], |f| {
        f.i().local_get(0).call(inner);
    });
    f.i().local_get(v);
    f
}
