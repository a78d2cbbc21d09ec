//! `image(s)`: splits an image reference into registry, repository, tag and digest
//! (spec §4.4). The result is a map node with those four string fields.

use wasm_encoder::{BlockType, ValType};

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F, G_ERROR_NODE};

const EMPTY: BlockType = BlockType::Empty;
const RI32: BlockType = BlockType::Result(ValType::I32);

/// `(string node) -> map node {digest, registry, repository, tag}`.
pub fn image(g: &mut Gen) -> F {
    let ex = g.h(Helper::Expect);
    let fail = g.h(Helper::Fail);
    let ff = g.h(Helper::FindFirst);
    let fl = g.h(Helper::FindLast);
    let ns = g.h(Helper::NewStr);
    let nm = g.h(Helper::NewMap);
    let streq = g.h(Helper::StrEq);
    let concat = g.h(Helper::Concat);
    let empty = g.string("") as i32;
    let docker = g.string("docker.io") as i32;
    let library = g.string("library/") as i32;
    let (lp, ll) = g.str_bytes("localhost");
    let (dp, dl) = g.str_bytes("docker.io");
    let keys = [
        g.string("digest") as i32,
        g.string("registry") as i32,
        g.string("repository") as i32,
        g.string("tag") as i32,
    ];
    let mut f = F::new(1);
    let (p, l, end, at, ls, colon, fs, isreg, rs) = (
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
    );
    let (digest, tag, registry, repo, r) = (f.l32(), f.l32(), f.l32(), f.l32(), f.l32());
    // An invalid reference is reported at this node.
    f.i()
        .local_get(0)
        .global_set(G_ERROR_NODE)
        .local_get(0)
        .i32_const(TAG_STRING)
        .call(ex)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_set(p)
        .local_get(0)
        .i32_load(m(4, 2))
        .local_tee(l)
        .local_set(end)
        // Digest: everything after `@`.
        .local_get(p)
        .i32_const(0)
        .local_get(l)
        .i32_const(b'@' as i32)
        .call(ff)
        .local_tee(at)
        .i32_const(0)
        .i32_ge_s()
        .if_(RI32)
        .local_get(p)
        .local_get(at)
        .i32_add()
        .i32_const(1)
        .i32_add()
        .local_get(l)
        .local_get(at)
        .i32_sub()
        .i32_const(1)
        .i32_sub()
        .call(ns)
        .local_get(at)
        .local_set(end)
        .else_()
        .i32_const(empty)
        .end()
        .local_set(digest)
        // Tag: after the last `:` that follows the last `/`.
        .local_get(p)
        .i32_const(0)
        .local_get(end)
        .i32_const(b'/' as i32)
        .call(fl)
        .local_set(ls)
        .local_get(p)
        .local_get(ls)
        .i32_const(1)
        .i32_add()
        .local_get(end)
        .i32_const(b':' as i32)
        .call(fl)
        .local_tee(colon)
        .i32_const(0)
        .i32_ge_s()
        .if_(RI32)
        .local_get(p)
        .local_get(colon)
        .i32_add()
        .i32_const(1)
        .i32_add()
        .local_get(end)
        .local_get(colon)
        .i32_sub()
        .i32_const(1)
        .i32_sub()
        .call(ns)
        .local_get(colon)
        .local_set(end)
        .else_()
        .i32_const(empty)
        .end()
        .local_set(tag)
        // Registry: the first component when it has a `.` or `:` or is `localhost`.
        .local_get(p)
        .i32_const(0)
        .local_get(end)
        .i32_const(b'/' as i32)
        .call(ff)
        .local_tee(fs)
        .i32_const(0)
        .i32_ge_s()
        .if_(EMPTY)
        .local_get(p)
        .i32_const(0)
        .local_get(fs)
        .i32_const(b'.' as i32)
        .call(ff)
        .i32_const(0)
        .i32_ge_s()
        .local_get(p)
        .i32_const(0)
        .local_get(fs)
        .i32_const(b':' as i32)
        .call(ff)
        .i32_const(0)
        .i32_ge_s()
        .i32_or()
        .local_get(p)
        .local_get(fs)
        .i32_const(lp)
        .i32_const(ll)
        .call(streq)
        .i32_or()
        .local_set(isreg)
        .end()
        .local_get(isreg)
        .if_(EMPTY)
        .local_get(p)
        .local_get(fs)
        .call(ns)
        .local_set(registry)
        .local_get(fs)
        .i32_const(1)
        .i32_add()
        .local_set(rs)
        .else_()
        .i32_const(docker)
        .local_set(registry)
        .end()
        .local_get(end)
        .local_get(rs)
        .i32_le_s()
        .if_(EMPTY)
        .i32_const(ERR_IMAGE)
        .call(fail)
        .end()
        .local_get(p)
        .local_get(rs)
        .i32_add()
        .local_get(end)
        .local_get(rs)
        .i32_sub()
        .call(ns)
        .local_set(repo)
        // Docker Hub images without a namespace live under `library/`.
        .local_get(isreg)
        .i32_eqz()
        .local_get(isreg)
        .if_(RI32)
        .local_get(p)
        .local_get(fs)
        .i32_const(dp)
        .i32_const(dl)
        .call(streq)
        .else_()
        .i32_const(0)
        .end()
        .i32_or()
        .local_get(p)
        .local_get(rs)
        .local_get(end)
        .i32_const(b'/' as i32)
        .call(ff)
        .i32_const(0)
        .i32_lt_s()
        .i32_and()
        .if_(EMPTY)
        .i32_const(library)
        .local_get(repo)
        .call(concat)
        .local_set(repo)
        .end()
        .i32_const(4)
        .call(nm)
        .local_set(r);
    for (k, (key, val)) in keys.iter().zip([digest, registry, repo, tag]).enumerate() {
        f.i()
            .local_get(r)
            .i32_load(m(8, 2))
            .i32_const(*key)
            .i32_store(m(8 * k as u64, 2))
            .local_get(r)
            .i32_load(m(8, 2))
            .local_get(val)
            .i32_store(m(8 * k as u64 + 4, 2));
    }
    f.i().local_get(r);
    f
}
