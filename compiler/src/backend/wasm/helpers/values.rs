//! Value nodes: tags and type checks, boolean and string and collection nodes, structural
//! equality and ordering.

use wasm_encoder::{BlockType, ValType};

use super::super::abi::*;
use super::super::gen::{m, Gen, Helper, F};

const F64: ValType = ValType::F64;
const EMPTY: BlockType = BlockType::Empty;
const RI32: BlockType = BlockType::Result(ValType::I32);

/// Pushes the tag of the node in local `node`: 0 for absent and null. The type checks below
/// run at almost every step of a rule, so they read the tag inline instead of calling
/// [`tag`]: a call costs more than the load.
pub(super) fn push_tag(f: &mut F, node: u32) {
    f.i()
        .local_get(node)
        .if_(RI32)
        .local_get(node)
        .i32_load(m(0, 2))
        .else_()
        .i32_const(0)
        .end();
}

/// `(node) -> tag`: 0 for absent and null.
pub fn tag() -> F {
    let mut f = F::new(1);
    push_tag(&mut f, 0);
    f
}

/// `(node) -> node`: 0 for null, the node otherwise.
pub fn norm() -> F {
    let mut f = F::new(1);
    push_tag(&mut f, 0);
    f.i().if_(RI32).local_get(0).else_().i32_const(0).end();
    f
}

/// `(node, mask) -> node`: absent (0) for absent and null, the node when its tag is in
/// `mask`, else a type error.
pub fn check(g: &mut Gen) -> F {
    let fail_type = g.h(Helper::FailType);
    let mut f = F::new(2);
    let bit = f.l32();
    push_checked(&mut f, fail_type, 0, 1, bit);
    f
}

/// Pushes the node in local `node` checked against the tags in local `mask` (as [`check`]),
/// using local `bit` as scratch.
pub(super) fn push_checked(f: &mut F, fail_type: u32, node: u32, mask: u32, bit: u32) {
    f.i()
        .local_get(node)
        .if_(RI32)
        // bit = 1 << tag: 1 for null, which is absent and always allowed
        .i32_const(1)
        .local_get(node)
        .i32_load(m(0, 2))
        .i32_shl()
        .local_tee(bit)
        .local_get(mask)
        .i32_const(1)
        .i32_or()
        .i32_and()
        .i32_eqz()
        .if_(EMPTY)
        .local_get(node)
        .local_get(mask)
        .call(fail_type)
        .end()
        .local_get(node)
        .i32_const(0)
        .local_get(bit)
        .i32_const(1)
        .i32_ne()
        .select()
        .else_()
        .i32_const(0)
        .end();
}

/// Pushes nothing; a type error unless the node in local `node` has tag `tag` (pushed by
/// `push_expected`).
fn expect_inline(f: &mut F, fail: u32, node: u32, push_expected: impl Fn(&mut F)) {
    push_tag(f, node);
    push_expected(f);
    f.i().i32_ne().if_(EMPTY).local_get(node).i32_const(1);
    push_expected(f);
    f.i().i32_shl().call(fail).end();
}

/// `(node, tag)`: a type error unless the node has that tag.
pub fn expect(g: &mut Gen) -> F {
    let fail = g.h(Helper::FailType);
    let mut f = F::new(2);
    expect_inline(&mut f, fail, 0, |f| {
        f.i().local_get(1);
    });
    f
}

/// `local.get a; local.get b` checked to both carry `tag`.
pub fn expect2(f: &mut F, expect: u32, tag: i32) {
    f.i()
        .local_get(0)
        .i32_const(tag)
        .call(expect)
        .local_get(1)
        .i32_const(tag)
        .call(expect);
}

/// `(node) -> bool`: the value of a boolean node, else a type error.
pub fn as_bool(g: &mut Gen) -> F {
    let fail = g.h(Helper::FailType);
    let mut f = F::new(1);
    expect_inline(&mut f, fail, 0, |f| {
        f.i().i32_const(TAG_BOOL);
    });
    f.i().local_get(0).i32_load(m(4, 2));
    f
}

/// `(bool) -> node`: the constant `true` or `false` node.
pub fn bool_node() -> F {
    let mut f = F::new(1);
    f.i()
        .i32_const(TRUE_NODE)
        .i32_const(FALSE_NODE)
        .local_get(0)
        .select();
    f
}

/// `(ptr, len) -> node`: a new string node over those bytes.
pub fn new_str(g: &mut Gen) -> F {
    let alloc = g.h(Helper::Alloc);
    let mut f = F::new(2);
    let n = f.l32();
    f.i()
        .i32_const(NODE_SIZE)
        .call(alloc)
        .local_tee(n)
        .i32_const(TAG_STRING)
        .i32_store(m(0, 2))
        .local_get(n)
        .local_get(1)
        .i32_store(m(4, 2))
        .local_get(n)
        .local_get(0)
        .i32_store(m(8, 2))
        .local_get(n);
    f
}

/// `(n) -> node`: a new list (or map) node with room for `n` items (or entries).
pub fn new_coll(g: &mut Gen, list: bool) -> F {
    let alloc = g.h(Helper::Alloc);
    let mut f = F::new(1);
    let n = f.l32();
    let (tag, stride) = if list { (TAG_LIST, 4) } else { (TAG_MAP, 8) };
    f.i()
        .i32_const(NODE_SIZE)
        .call(alloc)
        .local_tee(n)
        .i32_const(tag)
        .i32_store(m(0, 2))
        .local_get(n)
        .local_get(0)
        .i32_store(m(4, 2))
        .local_get(n)
        .local_get(0)
        .i32_const(stride)
        .i32_mul()
        .call(alloc)
        .i32_store(m(8, 2))
        .local_get(n);
    f
}

/// Structural equality; absent equals only absent; ints and numbers compare by value.
pub fn eq(g: &mut Gen) -> F {
    let (tag, streq, me) = (g.h(Helper::Tag), g.h(Helper::StrEq), g.h(Helper::Eq));
    let as_num = g.h(Helper::AsNum);
    let mut f = F::new(2);
    let ta = f.l32();
    let tb = f.l32();
    let i = f.l32();
    let n = f.l32();
    let pa = f.l32();
    let pb = f.l32();
    f.i()
        .local_get(0)
        .call(tag)
        .local_set(ta)
        .local_get(1)
        .call(tag)
        .local_set(tb)
        // Absent (or null) on either side: equal only when both are.
        .local_get(ta)
        .i32_eqz()
        .local_get(tb)
        .i32_eqz()
        .i32_or()
        .if_(EMPTY)
        .local_get(ta)
        .local_get(tb)
        .i32_eq()
        .return_()
        .end()
        // Mixed int and number compare as numbers.
        .local_get(ta)
        .local_get(tb)
        .i32_ne()
        .local_get(ta)
        .i32_const(TAG_INT)
        .i32_eq()
        .local_get(ta)
        .i32_const(TAG_FLOAT)
        .i32_eq()
        .i32_or()
        .i32_and()
        .local_get(tb)
        .i32_const(TAG_INT)
        .i32_eq()
        .local_get(tb)
        .i32_const(TAG_FLOAT)
        .i32_eq()
        .i32_or()
        .i32_and()
        .if_(EMPTY)
        .local_get(0)
        .call(as_num)
        .local_get(1)
        .call(as_num)
        .f64_eq()
        .return_()
        .end()
        .local_get(ta)
        .local_get(tb)
        .i32_ne()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end();
    // Same tag from here on.
    f.i()
        .local_get(ta)
        .i32_const(TAG_BOOL)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i32_load(m(4, 2))
        .local_get(1)
        .i32_load(m(4, 2))
        .i32_eq()
        .return_()
        .end()
        .local_get(ta)
        .i32_const(TAG_INT)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i64_load(m(8, 3))
        .local_get(1)
        .i64_load(m(8, 3))
        .i64_eq()
        .return_()
        .end()
        .local_get(ta)
        .i32_const(TAG_FLOAT)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .f64_load(m(8, 3))
        .local_get(1)
        .f64_load(m(8, 3))
        .f64_eq()
        .return_()
        .end()
        .local_get(ta)
        .i32_const(TAG_QUANTITY)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i32_load(m(4, 2))
        .local_get(1)
        .i32_load(m(4, 2))
        .i32_eq()
        .local_get(0)
        .i64_load(m(8, 3))
        .local_get(1)
        .i64_load(m(8, 3))
        .i64_eq()
        .i32_and()
        .return_()
        .end()
        .local_get(ta)
        .i32_const(TAG_STRING)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_get(0)
        .i32_load(m(4, 2))
        .local_get(1)
        .i32_load(m(8, 2))
        .local_get(1)
        .i32_load(m(4, 2))
        .call(streq)
        .return_()
        .end()
        // Lists and maps: same length, then element by element.
        .local_get(0)
        .i32_load(m(4, 2))
        .local_tee(n)
        .local_get(1)
        .i32_load(m(4, 2))
        .i32_ne()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .local_get(0)
        .i32_load(m(8, 2))
        .local_set(pa)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_set(pb)
        .local_get(ta)
        .i32_const(TAG_MAP)
        .i32_eq()
        .if_(EMPTY)
        // Map entries are (key, value) pairs: compare 2n words.
        .local_get(n)
        .i32_const(2)
        .i32_mul()
        .local_set(n)
        .end()
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(n)
        .i32_ge_u()
        .br_if(1)
        .local_get(pa)
        .local_get(i)
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .i32_load(m(0, 2))
        .local_get(pb)
        .local_get(i)
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .i32_load(m(0, 2))
        .call(me)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .local_get(i)
        .i32_const(1)
        .i32_add()
        .local_set(i)
        .br(0)
        .end()
        .end()
        .i32_const(1);
    f
}

/// Ordering of two ints, numbers or strings: -1, 0 or 1; other types are a type error.
pub fn cmp(g: &mut Gen) -> F {
    let (tag, fail_type, as_num, sc) = (
        g.h(Helper::Tag),
        g.h(Helper::FailType),
        g.h(Helper::AsNum),
        g.h(Helper::StrCmp),
    );
    let mut f = F::new(2);
    let ta = f.l32();
    let tb = f.l32();
    let x = f.local(F64);
    let y = f.local(F64);
    f.i()
        .local_get(0)
        .call(tag)
        .local_set(ta)
        .local_get(1)
        .call(tag)
        .local_set(tb)
        .local_get(ta)
        .i32_const(TAG_INT)
        .i32_eq()
        .local_get(tb)
        .i32_const(TAG_INT)
        .i32_eq()
        .i32_and()
        .if_(EMPTY)
        .local_get(0)
        .i64_load(m(8, 3))
        .local_get(1)
        .i64_load(m(8, 3))
        .i64_gt_s()
        .local_get(0)
        .i64_load(m(8, 3))
        .local_get(1)
        .i64_load(m(8, 3))
        .i64_lt_s()
        .i32_sub()
        .return_()
        .end()
        .local_get(ta)
        .i32_const(TAG_STRING)
        .i32_eq()
        .if_(EMPTY)
        .local_get(0)
        .local_get(1)
        .call(sc)
        .return_()
        .end()
        .local_get(ta)
        .i32_const(TAG_STRING)
        .i32_eq()
        .local_get(tb)
        .i32_const(TAG_STRING)
        .i32_eq()
        .i32_or()
        .if_(EMPTY)
        .local_get(1)
        .i32_const((1 << TAG_INT) | (1 << TAG_FLOAT))
        .call(fail_type)
        .end()
        .local_get(0)
        .call(as_num)
        .local_set(x)
        .local_get(1)
        .call(as_num)
        .local_set(y)
        .local_get(x)
        .local_get(y)
        .f64_gt()
        .local_get(x)
        .local_get(y)
        .f64_lt()
        .i32_sub();
    f
}
