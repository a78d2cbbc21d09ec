//! `split(s, sep)` and `join(xs, sep)` (spec §4.4), with Go's `strings.Split` and
//! `strings.Join` meaning, as Rego's `split`/`concat` and CEL's `split`/`join` have it.

use wasm_encoder::BlockType;

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F, G_HEAP};
use super::values::expect2;

const EMPTY: BlockType = BlockType::Empty;

/// `(s, sep) -> list`: the pieces of `s` between the occurrences of `sep`, left to right; an
/// empty `sep` gives each UTF-8 sequence (none for an empty `s`). Each piece is a string node
/// over the bytes of `s` (no copy). The list is made with room for `len(s) + 1` pieces, the
/// most there can be, and its length set to the number written.
pub fn split(g: &mut Gen) -> F {
    let (ex, bc) = (g.h(Helper::Expect), g.h(Helper::BytesCmp));
    let (nl, ns) = (g.h(Helper::NewList), g.h(Helper::NewStr));
    let mut f = F::new(2);
    let (ls, lp, sp) = (f.l32(), f.l32(), f.l32());
    let (out, k, i, start) = (f.l32(), f.l32(), f.l32(), f.l32());
    expect2(&mut f, ex, TAG_STRING);
    f.i()
        .local_get(0)
        .i32_load(m(4, 2))
        .local_tee(ls)
        .i32_const(1)
        .i32_add()
        .call(nl)
        .local_set(out)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_set(sp)
        .local_get(1)
        .i32_load(m(4, 2))
        .local_set(lp);
    // out.items[k++] = NewStr(sp + start, i - start), with `i` the piece's end.
    let push = |f: &mut F| {
        f.i()
            .local_get(out)
            .i32_load(m(8, 2))
            .local_get(k)
            .i32_const(4)
            .i32_mul()
            .i32_add()
            .local_get(sp)
            .local_get(start)
            .i32_add()
            .local_get(i)
            .local_get(start)
            .i32_sub()
            .call(ns)
            .i32_store(m(0, 2))
            .local_get(k)
            .i32_const(1)
            .i32_add()
            .local_set(k);
    };
    f.i().local_get(lp).i32_eqz().if_(EMPTY);
    // An empty separator: a piece ends before each byte that starts a UTF-8 sequence (not
    // a continuation byte 0b10xxxxxx).
    f.i()
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(ls)
        .i32_ge_u()
        .br_if(1)
        .local_get(i)
        .local_set(start)
        .loop_(EMPTY)
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_tee(i)
        .local_get(ls)
        .i32_lt_u()
        .if_(EMPTY)
        .local_get(sp)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .i32_const(0xC0)
        .i32_and()
        .i32_const(0x80)
        .i32_eq()
        .br_if(1)
        .end()
        .end();
    push(&mut f);
    f.i().br(0).end().end().else_();
    // A separator: scan for its occurrences, never overlapping.
    f.i()
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(lp)
        .i32_add()
        .local_get(ls)
        .i32_gt_u()
        .br_if(1)
        .local_get(sp)
        .local_get(i)
        .i32_add()
        .local_get(lp)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(lp)
        .call(bc)
        .i32_eqz()
        .if_(EMPTY);
    push(&mut f);
    f.i()
        .local_get(i)
        .local_get(lp)
        .i32_add()
        .local_tee(i)
        .local_set(start)
        .else_()
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .end()
        .br(0)
        .end()
        .end()
        // The last piece runs to the end of `s`.
        .local_get(ls)
        .local_set(i);
    push(&mut f);
    f.i()
        .end()
        .local_get(out)
        .local_get(k)
        .i32_store(m(4, 2))
        .local_get(out);
    f
}

/// `(xs, sep) -> string`: the strings of the list `xs` (absent is empty) written at the heap
/// top with `sep` between each, then wrapped in a string node. Nothing else allocates while
/// the bytes are written, so they are contiguous.
pub fn join(g: &mut Gen) -> F {
    let (ex, cl, ci) = (
        g.h(Helper::Expect),
        g.h(Helper::CollLen),
        g.h(Helper::CollItem),
    );
    let (wbs, ns) = (g.h(Helper::WBytes), g.h(Helper::NewStr));
    let mut f = F::new(2);
    let (n, i, item, start) = (f.l32(), f.l32(), f.l32(), f.l32());
    f.i()
        .local_get(1)
        .i32_const(TAG_STRING)
        .call(ex)
        .local_get(0)
        .call(cl)
        .local_set(n)
        .global_get(G_HEAP)
        .local_set(start)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(n)
        .i32_ge_u()
        .br_if(1)
        .local_get(0)
        .local_get(i)
        .call(ci)
        .local_tee(item)
        .i32_const(TAG_STRING)
        .call(ex)
        .local_get(i)
        .if_(EMPTY)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(1)
        .i32_load(m(4, 2))
        .call(wbs)
        .end()
        .local_get(item)
        .i32_load(m(8, 2))
        .local_get(item)
        .i32_load(m(4, 2))
        .call(wbs)
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end()
        .local_get(start)
        .global_get(G_HEAP)
        .local_get(start)
        .i32_sub()
        .call(ns);
    f
}
