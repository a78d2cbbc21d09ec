//! Runtime helpers written as wasm functions. Only the helpers a program needs are emitted:
//! [`Gen::h`] registers a helper on first use and [`Gen::flush_helpers`] writes its body.

use wasm_encoder::{BlockType, Ieee64, ValType};

use super::abi::*;
use super::gen::{m, Gen, F, G_ERROR, G_ERROR_EXPECTED, G_ERROR_NODE, G_HEAD, G_HEAP, G_TAIL};

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;
const F64: ValType = ValType::F64;
const EMPTY: BlockType = BlockType::Empty;
const RI32: BlockType = BlockType::Result(ValType::I32);

/// A helper function of the generated module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Helper {
    /// `(code)`: records the error code and traps.
    Fail,
    /// `(end)`: grows memory so that addresses below `end` exist.
    Ensure,
    /// `(size) -> ptr`: bump allocation, 8-byte aligned.
    Alloc,
    /// `(node) -> tag`: 0 for absent and null.
    Tag,
    /// `(node) -> node`: 0 for null, the node otherwise.
    Norm,
    /// `(node, mask) -> node`: absent or a node whose tag is in `mask`, else a type error.
    Check,
    /// `(node, tag)`: a type error unless the node has that tag.
    Expect,
    AsBool,
    AsInt,
    AsNum,
    NewInt,
    NewFloat,
    NewStr,
    NewList,
    NewMap,
    BoolNode,
    /// `(node, expected tags)`: records the node and the expected tags, then fails with
    /// [`ERR_TYPE`].
    FailType,
    BytesCmp,
    StrEq,
    StrCmp,
    GetField,
    Index,
    CollLen,
    CollItem,
    CollKey,
    Eq,
    Cmp,
    AddInt,
    SubInt,
    NegInt,
    Concat,
    ListConcat,
    In,
    Len,
    StartsWith,
    EndsWith,
    Contains,
    Lower,
    Upper,
    Glob,
    DfaMatch,
    ToQty,
    QNorm,
    QParse,
    QCmp,
    FindFirst,
    FindLast,
    Image,
    WByte,
    WBytes,
    WInt,
    WFloat,
    /// `(quantity node)`: `<mantissa>` or `<mantissa>e<exponent>`.
    WQty,
    WJsonStr,
    Json,
    Text,
    Emit,
    AllContainers,
    Keys,
    /// `(s, sep) -> list`: `split` (spec §4.4).
    Split,
    /// `(list, sep) -> string`: `join` (spec §4.4).
    Join,
}

impl Helper {
    /// Parameter and result types.
    pub fn signature(self) -> (Vec<ValType>, Vec<ValType>) {
        use Helper::*;
        let (p, r): (&[ValType], &[ValType]) = match self {
            Fail | Ensure | WByte | Json => (&[I32], &[]),
            Alloc | Tag | Norm | AsBool | NewList | NewMap | BoolNode | CollLen | Len | Lower
            | Upper | ToQty | Image | Text | AllContainers | Keys => (&[I32], &[I32]),
            Check | Index | CollItem | CollKey | Eq | Cmp | Concat | ListConcat | In
            | StartsWith | EndsWith | Contains | Glob | DfaMatch | StrCmp | QCmp | NewStr
            | Split | Join => (&[I32, I32], &[I32]),
            Expect | WBytes | FailType => (&[I32, I32], &[]),
            AsInt => (&[I32], &[I64]),
            AsNum => (&[I32], &[F64]),
            NewInt => (&[I64], &[I32]),
            NewFloat => (&[F64], &[I32]),
            BytesCmp | StrEq => (&[I32, I32, I32, I32], &[I32]),
            GetField => (&[I32, I32, I32], &[I32]),
            AddInt | SubInt => (&[I64, I64], &[I64]),
            NegInt => (&[I64], &[I64]),
            QNorm => (&[I64, I32], &[I32]),
            QParse => (&[I32, I32], &[I32]),
            FindFirst | FindLast => (&[I32, I32, I32, I32], &[I32]),
            WInt => (&[I64], &[]),
            WFloat => (&[F64], &[]),
            WJsonStr => (&[I32, I32], &[]),
            Emit => (&[I32, I32, I32, I32], &[]),
            WQty => (&[I32], &[]),
        };
        (p.to_vec(), r.to_vec())
    }

    /// Writes the body.
    pub fn build(self, g: &mut Gen) -> F {
        use Helper::*;
        match self {
            Fail => {
                let mut f = F::new(1);
                f.i().local_get(0).global_set(G_ERROR).unreachable();
                f
            }
            FailType => {
                let fail = g.h(Fail);
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
            Ensure => ensure(g),
            Alloc => alloc(g),
            Tag => {
                let mut f = F::new(1);
                f.i()
                    .local_get(0)
                    .if_(RI32)
                    .local_get(0)
                    .i32_load(m(0, 2))
                    .else_()
                    .i32_const(0)
                    .end();
                f
            }
            Norm => {
                let tag = g.h(Tag);
                let mut f = F::new(1);
                f.i()
                    .local_get(0)
                    .call(tag)
                    .if_(RI32)
                    .local_get(0)
                    .else_()
                    .i32_const(0)
                    .end();
                f
            }
            Check => check(g),
            Expect => {
                let (tag, fail) = (g.h(Tag), g.h(FailType));
                let mut f = F::new(2);
                f.i()
                    .local_get(0)
                    .call(tag)
                    .local_get(1)
                    .i32_ne()
                    .if_(EMPTY)
                    .local_get(0)
                    .i32_const(1)
                    .local_get(1)
                    .i32_shl()
                    .call(fail)
                    .end();
                f
            }
            AsBool => {
                let ex = g.h(Expect);
                let mut f = F::new(1);
                f.i()
                    .local_get(0)
                    .i32_const(TAG_BOOL)
                    .call(ex)
                    .local_get(0)
                    .i32_load(m(4, 2));
                f
            }
            AsInt => {
                let ex = g.h(Expect);
                let mut f = F::new(1);
                f.i()
                    .local_get(0)
                    .i32_const(TAG_INT)
                    .call(ex)
                    .local_get(0)
                    .i64_load(m(8, 3));
                f
            }
            AsNum => as_num(g),
            NewInt | NewFloat => {
                let alloc = g.h(Alloc);
                let mut f = F::new(1);
                let n = f.l32();
                f.i()
                    .i32_const(NODE_SIZE)
                    .call(alloc)
                    .local_tee(n)
                    .i32_const(if self == NewInt { TAG_INT } else { TAG_FLOAT })
                    .i32_store(m(0, 2))
                    .local_get(n)
                    .local_get(0);
                if self == NewInt {
                    f.i().i64_store(m(8, 3));
                } else {
                    f.i().f64_store(m(8, 3));
                }
                f.i().local_get(n);
                f
            }
            NewStr => {
                let alloc = g.h(Alloc);
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
            NewList | NewMap => {
                let alloc = g.h(Alloc);
                let mut f = F::new(1);
                let n = f.l32();
                let (tag, stride) = if self == NewList {
                    (TAG_LIST, 4)
                } else {
                    (TAG_MAP, 8)
                };
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
            BoolNode => {
                let mut f = F::new(1);
                f.i()
                    .i32_const(TRUE_NODE)
                    .i32_const(FALSE_NODE)
                    .local_get(0)
                    .select();
                f
            }
            BytesCmp => bytes_cmp(),
            StrEq => {
                let bc = g.h(BytesCmp);
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
            StrCmp => {
                let (ex, bc) = (g.h(Expect), g.h(BytesCmp));
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
            GetField => get_field(g),
            Index => index(g),
            CollLen => coll_len(g),
            CollItem | CollKey => coll_item(g, self == CollKey),
            Eq => eq(g),
            Cmp => cmp(g),
            AddInt | SubInt => add_sub(g, self == SubInt),
            NegInt => {
                let fail = g.h(Fail);
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
            Concat => concat(g),
            ListConcat => list_concat(g),
            In => in_coll(g),
            Len => len(g),
            StartsWith | EndsWith => starts_ends(g, self == EndsWith),
            Contains => contains(g),
            Lower | Upper => case(g, self == Upper),
            Glob => glob(g),
            DfaMatch => dfa_match(g),
            ToQty => to_qty(g),
            QNorm => qnorm(g),
            QParse => super::quantity::qparse(g),
            QCmp => super::quantity::qcmp(g),
            FindFirst | FindLast => find(self == FindLast),
            Image => super::image::image(g),
            WByte => {
                let ens = g.h(Ensure);
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
            WBytes => {
                let ens = g.h(Ensure);
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
            WInt => super::text::w_int(g),
            WFloat => super::text::w_float(g),
            WQty => super::text::w_qty(g),
            WJsonStr => super::text::w_json_str(g),
            Json => super::text::json(g),
            Text => super::text::text(g),
            Emit => emit(g),
            AllContainers => all_containers(g),
            Keys => keys(g),
            Split => super::split_join::split(g),
            Join => super::split_join::join(g),
        }
    }
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

/// `(end)`: grows the memory so that `end` is in bounds, or fails with a memory error.
fn ensure(g: &mut Gen) -> F {
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

fn alloc(g: &mut Gen) -> F {
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

fn check(g: &mut Gen) -> F {
    let (norm, fail_type) = (g.h(Helper::Norm), g.h(Helper::FailType));
    let mut f = F::new(2);
    f.i()
        .local_get(0)
        .call(norm)
        .local_tee(0)
        .i32_eqz()
        .if_(EMPTY)
        .i32_const(0)
        .return_()
        .end()
        .i32_const(1)
        .local_get(0)
        .i32_load(m(0, 2))
        .i32_shl()
        .local_get(1)
        .i32_and()
        .i32_eqz()
        .if_(EMPTY)
        .local_get(0)
        .local_get(1)
        .call(fail_type)
        .end()
        .local_get(0);
    f
}

fn as_num(g: &mut Gen) -> F {
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

/// `(p1, l1, p2, l2) -> -1 | 0 | 1`: byte-wise comparison, shorter first on a common prefix.
fn bytes_cmp() -> F {
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

/// The value of field (name pointer, name length) of a map, or 0 when absent. It runs about
/// a thousand times per object, so the key comparison is inline: a key of another length is
/// skipped at once, an equal-length key is compared eight bytes at a time.
fn get_field(g: &mut Gen) -> F {
    let (tag, fail_type, norm) = (g.h(Helper::Tag), g.h(Helper::FailType), g.h(Helper::Norm));
    let mut f = F::new(3);
    let t = f.l32();
    let i = f.l32();
    let e = f.l32();
    let key = f.l32();
    let kp = f.l32();
    let j = f.l32();
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

fn index(g: &mut Gen) -> F {
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

fn coll_len(g: &mut Gen) -> F {
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
fn coll_item(g: &mut Gen, key: bool) -> F {
    let norm = g.h(Helper::Norm);
    let new_int = if key { g.h(Helper::NewInt) } else { 0 };
    let mut f = F::new(2);
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
    if !key {
        f.i().call(norm);
    }
    f
}

/// Structural equality; absent equals only absent; ints and numbers compare by value.
fn eq(g: &mut Gen) -> F {
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
fn cmp(g: &mut Gen) -> F {
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

fn add_sub(g: &mut Gen, sub: bool) -> F {
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

fn concat(g: &mut Gen) -> F {
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

fn list_concat(g: &mut Gen) -> F {
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
fn copy_items_at(f: &mut F, dst: u32, at: u32, src: u32, n: u32) {
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

fn in_coll(g: &mut Gen) -> F {
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

fn len(g: &mut Gen) -> F {
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

fn starts_ends(g: &mut Gen, ends: bool) -> F {
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

fn contains(g: &mut Gen) -> F {
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
fn case(g: &mut Gen, upper: bool) -> F {
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

/// `glob(s, pattern)`: `*` matches any run of bytes, `?` one byte; the whole string must match.
fn glob(g: &mut Gen) -> F {
    let ex = g.h(Helper::Expect);
    let mut f = F::new(2);
    let (sp, sl, pp, pl) = (f.l32(), f.l32(), f.l32(), f.l32());
    let (si, pi, star, mark, pc) = (f.l32(), f.l32(), f.l32(), f.l32(), f.l32());
    expect2(&mut f, ex, TAG_STRING);
    f.i()
        .local_get(0)
        .i32_load(m(8, 2))
        .local_set(sp)
        .local_get(0)
        .i32_load(m(4, 2))
        .local_set(sl)
        .local_get(1)
        .i32_load(m(8, 2))
        .local_set(pp)
        .local_get(1)
        .i32_load(m(4, 2))
        .local_set(pl)
        .i32_const(-1)
        .local_set(star)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(si)
        .local_get(sl)
        .i32_ge_u()
        .br_if(1)
        // pc = pattern byte at pi, or -1 past its end.
        .local_get(pi)
        .local_get(pl)
        .i32_lt_u()
        .if_(RI32)
        .local_get(pp)
        .local_get(pi)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .else_()
        .i32_const(-1)
        .end()
        .local_set(pc)
        .local_get(pc)
        .i32_const(b'*' as i32)
        .i32_eq()
        .if_(EMPTY)
        .local_get(pi)
        .local_set(star)
        .local_get(si)
        .local_set(mark)
        .local_get(pi)
        .i32_const(1)
        .i32_add()
        .local_set(pi)
        .br(1)
        .end()
        .local_get(pc)
        .i32_const(b'?' as i32)
        .i32_eq()
        .local_get(pc)
        .local_get(sp)
        .local_get(si)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .i32_eq()
        .i32_or()
        .if_(EMPTY)
        .local_get(si)
        .i32_const(1)
        .i32_add()
        .local_set(si)
        .local_get(pi)
        .i32_const(1)
        .i32_add()
        .local_set(pi)
        .br(1)
        .end()
        .local_get(star)
        .i32_const(0)
        .i32_ge_s()
        .if_(EMPTY)
        .local_get(star)
        .i32_const(1)
        .i32_add()
        .local_set(pi)
        .local_get(mark)
        .i32_const(1)
        .i32_add()
        .local_tee(mark)
        .local_set(si)
        .br(1)
        .end()
        .i32_const(0)
        .return_()
        .end()
        .end()
        // Trailing stars match the empty rest.
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(pi)
        .local_get(pl)
        .i32_ge_u()
        .br_if(1)
        .local_get(pp)
        .local_get(pi)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .i32_const(b'*' as i32)
        .i32_ne()
        .br_if(1)
        .local_get(pi)
        .i32_const(1)
        .i32_add()
        .local_set(pi)
        .br(0)
        .end()
        .end()
        .local_get(pi)
        .local_get(pl)
        .i32_eq();
    f
}

/// `(string, table) -> bool`: runs a DFA table built by `regex.rs` over the string.
fn dfa_match(g: &mut Gen) -> F {
    let ex = g.h(Helper::Expect);
    let mut f = F::new(2);
    let (st, i, width, trans, accept, p, l) = (
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
        f.l32(),
    );
    f.i()
        .local_get(0)
        .i32_const(TAG_STRING)
        .call(ex)
        .local_get(0)
        .i32_load(m(8, 2))
        .local_set(p)
        .local_get(0)
        .i32_load(m(4, 2))
        .local_set(l)
        .local_get(1)
        .i32_load(m(0, 2))
        .local_set(st)
        .local_get(1)
        .i32_load(m(4, 2))
        .local_set(width)
        .local_get(1)
        .i32_load(m(12, 2))
        .local_get(1)
        .i32_add()
        .local_set(accept)
        .local_get(1)
        .i32_load(m(16, 2))
        .local_get(1)
        .i32_add()
        .local_set(trans)
        .block(EMPTY)
        .loop_(EMPTY)
        .local_get(i)
        .local_get(l)
        .i32_ge_u()
        .br_if(1)
        .local_get(trans)
        .local_get(st)
        .local_get(width)
        .i32_mul()
        .local_get(1)
        .local_get(p)
        .local_get(i)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .i32_add()
        .i32_load8_u(m(24, 0))
        .i32_add()
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .i32_load(m(0, 2))
        .local_tee(st)
        .local_get(accept)
        .i32_add()
        .i32_load8_u(m(0, 0))
        .if_(EMPTY)
        .i32_const(1)
        .return_()
        .end()
        .local_get(st)
        .local_get(1)
        .i32_load(m(20, 2))
        .i32_eq()
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
        // End of input: one more transition on the end-of-input column.
        .local_get(trans)
        .local_get(st)
        .local_get(width)
        .i32_mul()
        .local_get(1)
        .i32_load(m(8, 2))
        .i32_add()
        .i32_const(4)
        .i32_mul()
        .i32_add()
        .i32_load(m(0, 2))
        .local_get(accept)
        .i32_add()
        .i32_load8_u(m(0, 0));
    f
}

fn to_qty(g: &mut Gen) -> F {
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
fn qnorm(g: &mut Gen) -> F {
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

/// `(p, from, to, byte) -> index`: first (or last) index of `byte` in `p[from..to]`, or -1.
fn find(last: bool) -> F {
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

/// `(rule, outcome, root, message)`: appends a finding record to the list.
fn emit(g: &mut Gen) -> F {
    let alloc = g.h(Helper::Alloc);
    let mut f = F::new(4);
    let r = f.l32();
    f.i()
        .i32_const(FINDING_SIZE)
        .call(alloc)
        .local_tee(r)
        .i32_const(0)
        .i32_store(m(0, 2));
    for k in 0..4u32 {
        f.i()
            .local_get(r)
            .local_get(k)
            .i32_store(m(4 + 4 * k as u64, 2));
    }
    f.i()
        .global_get(G_TAIL)
        .if_(EMPTY)
        .global_get(G_TAIL)
        .local_get(r)
        .i32_store(m(0, 2))
        .else_()
        .local_get(r)
        .global_set(G_HEAD)
        .end()
        .local_get(r)
        .global_set(G_TAIL);
    f
}

/// `spec.initContainers`, `spec.containers`, `spec.ephemeralContainers` as one list whose
/// items are the original nodes (so findings keep their paths).
fn all_containers(g: &mut Gen) -> F {
    let (gf, ck, cl, nl) = (
        g.h(Helper::GetField),
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
        .call(gf)
        .i32_const(1 << TAG_MAP)
        .call(ck)
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
            .call(gf)
            .i32_const(1 << TAG_LIST)
            .call(ck)
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

fn keys(g: &mut Gen) -> F {
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
