//! The module under construction: function and type tables, the helper functions asked for
//! (by name and signature; their bodies are written by `helpers`), the constant data
//! segment, and the final assembly with wasm-encoder.

use std::collections::HashMap;

use wasm_encoder::{
    CodeSection, ConstExpr, CustomSection, DataSection, ExportKind, ExportSection, Function,
    FunctionSection, GlobalSection, GlobalType, InstructionSink, MemArg, MemorySection, MemoryType,
    Module, TypeSection, ValType,
};

use super::abi::*;
use crate::ir;

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;
const F64: ValType = ValType::F64;

/// Global holding the bump allocator's next free address.
pub const G_HEAP: u32 = 0;
/// Global holding the error code of the last trap.
pub const G_ERROR: u32 = 1;
/// Globals holding the first and last finding records.
pub const G_HEAD: u32 = 2;
pub const G_TAIL: u32 = 3;
/// Global holding the address of the value a failing helper was given (0 = none).
pub const G_ERROR_NODE: u32 = 4;
/// Global holding, for a wrong-type error, the set of tags expected (`1 << tag` bits).
pub const G_ERROR_EXPECTED: u32 = 5;
/// Global holding the address of the object's field cache (0 = not allocated yet; see
/// `helpers::cache`).
pub const G_FIELD_CACHE: u32 = 6;
/// Global holding where `rampart_reset` puts the heap pointer back: the heap start, until
/// the host calls `rampart_keep` to keep what it placed so far (a run's parameters and
/// object set) for every later object.
pub const G_BASE: u32 = 7;
/// Number of globals; every one but [`G_HEAP`] and [`G_BASE`] starts at 0.
const GLOBALS: u32 = 8;

/// A memory access at `offset` with natural alignment `align` (log2 bytes).
pub fn m(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    }
}

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
    /// `(map, name ptr, name len, mask) -> node`: `GetField` through the object's field
    /// cache, the value checked against `mask` as by `Check`.
    Field,
    Index,
    CollLen,
    CollItem,
    /// `(coll, i, mask) -> node`: `CollItem` checked against `mask` as by `Check`.
    Item,
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
    /// `(node) -> node`: a helper whose result depends only on its node, through the
    /// per-object cache (`helpers::cache`).
    Cached(Cached),
    /// `(s, sep) -> list`: `split` (spec §4.4).
    Split,
    /// `(list, sep) -> string`: `join` (spec §4.4).
    Join,
}

/// The helpers the rules call through the per-object cache; the number of each is part of
/// its cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cached {
    AllContainers = 1,
    Image = 2,
}

impl Cached {
    /// The helper that computes the value.
    pub fn helper(self) -> Helper {
        match self {
            Cached::AllContainers => Helper::AllContainers,
            Cached::Image => Helper::Image,
        }
    }
}

impl Helper {
    /// Parameter and result types.
    pub fn signature(self) -> (Vec<ValType>, Vec<ValType>) {
        use Helper::*;
        let (p, r): (&[ValType], &[ValType]) = match self {
            Fail | Ensure | WByte | Json => (&[I32], &[]),
            Alloc | Tag | Norm | AsBool | NewList | NewMap | BoolNode | CollLen | Len | Lower
            | Upper | ToQty | Image | Text | AllContainers | Keys | Cached(_) => (&[I32], &[I32]),
            Check | Index | CollItem | CollKey | Eq | Cmp | Concat | ListConcat | In
            | StartsWith | EndsWith | Contains | Glob | DfaMatch | StrCmp | QCmp | NewStr
            | Split | Join => (&[I32, I32], &[I32]),
            Expect | WBytes | FailType => (&[I32, I32], &[]),
            AsInt => (&[I32], &[I64]),
            AsNum => (&[I32], &[F64]),
            NewInt => (&[I64], &[I32]),
            NewFloat => (&[F64], &[I32]),
            BytesCmp | StrEq | Field => (&[I32, I32, I32, I32], &[I32]),
            GetField | Item => (&[I32, I32, I32], &[I32]),
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
}

/// A function body being written: its locals are known only once the body is done.
pub struct F {
    nparams: u32,
    locals: Vec<ValType>,
    code: Vec<u8>,
}

impl F {
    /// A body for a function with `nparams` parameters.
    pub fn new(nparams: u32) -> F {
        F {
            nparams,
            locals: Vec::new(),
            code: Vec::new(),
        }
    }

    /// A fresh local of type `ty`.
    pub fn local(&mut self, ty: ValType) -> u32 {
        self.locals.push(ty);
        self.nparams + self.locals.len() as u32 - 1
    }

    /// A fresh `i32` local.
    pub fn l32(&mut self) -> u32 {
        self.local(ValType::I32)
    }

    /// The instruction sink appending to the body.
    pub fn i(&mut self) -> InstructionSink<'_> {
        InstructionSink::new(&mut self.code)
    }

    fn finish(self) -> Function {
        let mut f = Function::new_with_locals_types(self.locals);
        f.raw(self.code);
        f.instructions().end();
        f
    }
}

/// The module being generated.
pub struct Gen {
    types: Vec<(Vec<ValType>, Vec<ValType>)>,
    /// Per function: its type index and, once written, its body.
    funcs: Vec<(u32, Option<Function>)>,
    helpers: HashMap<Helper, u32>,
    pending: Vec<Helper>,
    /// The constant data, starting at [`DATA_START`].
    pub data: Vec<u8>,
    strings: HashMap<String, u32>,
    exports: Vec<(String, ExportKind, u32)>,
}

impl Gen {
    /// An empty module holding only the constant `true` and `false` nodes.
    pub fn new() -> Gen {
        let mut g = Gen {
            types: Vec::new(),
            funcs: Vec::new(),
            helpers: HashMap::new(),
            pending: Vec::new(),
            data: Vec::new(),
            strings: HashMap::new(),
            exports: Vec::new(),
        };
        let t = g.node(TAG_BOOL, 1, 0);
        let f = g.node(TAG_BOOL, 0, 0);
        debug_assert_eq!((t as i32, f as i32), (TRUE_NODE, FALSE_NODE));
        g
    }

    fn type_index(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let key = (params.to_vec(), results.to_vec());
        if let Some(i) = self.types.iter().position(|t| *t == key) {
            return i as u32;
        }
        self.types.push(key);
        self.types.len() as u32 - 1
    }

    /// Reserves a function index for a function of the given signature.
    pub fn declare(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let ty = self.type_index(params, results);
        self.funcs.push((ty, None));
        self.funcs.len() as u32 - 1
    }

    /// Stores the body of a declared function.
    pub fn define(&mut self, index: u32, body: F) {
        self.funcs[index as usize].1 = Some(body.finish());
    }

    /// The index of a helper, emitting it (once) when first asked for.
    pub fn h(&mut self, helper: Helper) -> u32 {
        if let Some(&i) = self.helpers.get(&helper) {
            return i;
        }
        let (params, results) = helper.signature();
        let i = self.declare(&params, &results);
        self.helpers.insert(helper, i);
        self.pending.push(helper);
        i
    }

    /// The next helper asked for whose body is not written yet, with its function index
    /// (helpers::flush writes the bodies).
    pub fn next_pending(&mut self) -> Option<(Helper, u32)> {
        let helper = self.pending.pop()?;
        Some((helper, self.helpers[&helper]))
    }

    /// Exports a function under `name`.
    pub fn export_func(&mut self, name: &str, index: u32) {
        self.exports
            .push((name.to_string(), ExportKind::Func, index));
    }

    fn align(&mut self, to: usize) {
        while !self.data.len().is_multiple_of(to) {
            self.data.push(0);
        }
    }

    /// Appends raw bytes to the data segment; returns their address.
    pub fn bytes(&mut self, bytes: &[u8], align: usize) -> u32 {
        self.align(align);
        let at = DATA_START + self.data.len() as u32;
        self.data.extend_from_slice(bytes);
        at
    }

    /// Appends a node (tag, 32-bit word, 64-bit word); returns its address.
    pub fn node(&mut self, tag: i32, word: u32, wide: u64) -> u32 {
        let mut b = Vec::with_capacity(16);
        b.extend_from_slice(&(tag as u32).to_le_bytes());
        b.extend_from_slice(&word.to_le_bytes());
        b.extend_from_slice(&wide.to_le_bytes());
        self.bytes(&b, 8)
    }

    /// A constant string node (shared between equal strings).
    pub fn string(&mut self, s: &str) -> u32 {
        if let Some(&at) = self.strings.get(s) {
            return at;
        }
        let ptr = self.bytes(s.as_bytes(), 1);
        let at = self.node(TAG_STRING, s.len() as u32, ptr as u64);
        self.strings.insert(s.to_string(), at);
        at
    }

    /// The address and length of a constant string's bytes.
    pub fn str_bytes(&mut self, s: &str) -> (i32, i32) {
        let node = self.string(s) as usize - DATA_START as usize;
        let ptr = u32::from_le_bytes(self.data[node + 8..node + 12].try_into().unwrap());
        (ptr as i32, s.len() as i32)
    }

    /// A constant node for a literal value; absent (`null`) is address 0.
    pub fn value(&mut self, v: &ir::Value) -> u32 {
        match v {
            ir::Value::Null => 0,
            ir::Value::Bool(true) => TRUE_NODE as u32,
            ir::Value::Bool(false) => FALSE_NODE as u32,
            ir::Value::Int(i) => self.node(TAG_INT, 0, *i as u64),
            ir::Value::Number(f) => self.node(TAG_FLOAT, 0, f.to_bits()),
            ir::Value::String(s) => self.string(s),
            ir::Value::List(items) => {
                let ptrs: Vec<u32> = items.iter().map(|x| self.value(x)).collect();
                let bytes: Vec<u8> = ptrs.iter().flat_map(|p| p.to_le_bytes()).collect();
                let arr = self.bytes(&bytes, 4);
                self.node(TAG_LIST, items.len() as u32, arr as u64)
            }
            ir::Value::Map(entries) => {
                let entries = sorted_entries(entries);
                let mut bytes = Vec::new();
                for (k, v) in entries {
                    let k = self.string(k);
                    let v = self.value(v);
                    bytes.extend_from_slice(&k.to_le_bytes());
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                let n = bytes.len() as u32 / 8;
                let arr = self.bytes(&bytes, 4);
                self.node(TAG_MAP, n, arr as u64)
            }
        }
    }

    /// Assembles the module: memory, globals, functions, exports, data and metadata.
    pub fn finish(mut self, meta: &[u8]) -> Vec<u8> {
        assert!(
            self.pending.is_empty(),
            "helpers::flush writes every helper's body before the module is assembled"
        );
        let data_end = DATA_START as u64 + self.data.len() as u64;
        let heap_start = (data_end + 7) & !7;
        let reset = self.declare(&[], &[]);
        self.define(reset, reset_body());
        self.export_func(EXPORT_RESET, reset);
        let keep = self.declare(&[], &[]);
        let mut keep_body = F::new(0);
        keep_body.i().global_get(G_HEAP).global_set(G_BASE);
        self.define(keep, keep_body);
        self.export_func(EXPORT_KEEP, keep);
        let mut types = TypeSection::new();
        for (p, r) in &self.types {
            types.ty().function(p.iter().copied(), r.iter().copied());
        }
        let mut functions = FunctionSection::new();
        let mut code = CodeSection::new();
        for (ty, body) in &self.funcs {
            functions.function(*ty);
            code.function(body.as_ref().expect("every declared function is defined"));
        }
        let pages = heap_start / 65536 + 1;
        let mut memory = MemorySection::new();
        memory.memory(MemoryType {
            minimum: pages,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut globals = GlobalSection::new();
        let mutable = GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        };
        for g in 0..GLOBALS {
            let initial = if g == G_HEAP || g == G_BASE {
                heap_start as i32
            } else {
                0
            };
            globals.global(mutable, &ConstExpr::i32_const(initial));
        }
        let mut exports = ExportSection::new();
        exports.export(EXPORT_MEMORY, ExportKind::Memory, 0);
        exports.export(EXPORT_ERROR, ExportKind::Global, G_ERROR);
        exports.export(EXPORT_FINDINGS, ExportKind::Global, G_HEAD);
        exports.export(EXPORT_ERROR_NODE, ExportKind::Global, G_ERROR_NODE);
        exports.export(EXPORT_ERROR_EXPECTED, ExportKind::Global, G_ERROR_EXPECTED);
        exports.export(EXPORT_BASE, ExportKind::Global, G_BASE);
        for (name, kind, index) in &self.exports {
            exports.export(name, *kind, *index);
        }
        let mut data = DataSection::new();
        data.active(
            0,
            &ConstExpr::i32_const(DATA_START as i32),
            self.data.iter().copied(),
        );
        let mut module = Module::new();
        module.section(&types);
        module.section(&functions);
        module.section(&memory);
        module.section(&globals);
        module.section(&exports);
        module.section(&code);
        module.section(&data);
        module.section(&CustomSection {
            name: META_SECTION.into(),
            data: meta.into(),
        });
        module.finish()
    }
}

/// `rampart_reset()`: puts the instance back in the state it was in before the object
/// (spec/abi.md "Instance reuse"). The module writes only at or above the heap pointer it
/// started the object with (everything it and the host store goes through the bump
/// allocator), so zeroing the bytes from the reset point ([`G_BASE`]: the heap start, or
/// where the host kept its run's data) to the current heap pointer and setting every other
/// global to its initial value restores the whole state; pages grown beyond the heap pointer
/// were never written.
fn reset_body() -> F {
    let mut f = F::new(0);
    f.i()
        .global_get(G_BASE)
        .i32_const(0)
        .global_get(G_HEAP)
        .global_get(G_BASE)
        .i32_sub()
        .memory_fill(0)
        .global_get(G_BASE)
        .global_set(G_HEAP);
    for g in 1..GLOBALS {
        if g != G_BASE {
            f.i().i32_const(0).global_set(g);
        }
    }
    f
}

/// Map entries sorted by key bytes; of duplicate keys the last wins.
pub fn sorted_entries<T>(entries: &[(String, T)]) -> Vec<(&String, &T)> {
    let mut out: Vec<(&String, &T)> = Vec::new();
    for (k, v) in entries {
        match out.iter().position(|(k2, _)| *k2 == k) {
            Some(i) => out[i] = (k, v),
            None => out.push((k, v)),
        }
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}
