//! The embedded wasmtime evaluator: runs modules produced by the compiler's Wasm backend
//! against manifest objects (the ABI is described in spec/abi.md).
//!
//! One [`Engine`] per process (epoch interruption driven by a ticker thread); one
//! [`Policies`] per module, compiled once and cached on disk; an instance per object that is
//! reset before the next one, so nothing of one object is visible to the next ([`instance`]),
//! and a fresh one after a rule fails, so that one rule's error never hides the other rules'
//! findings ([`Evaluation`]).

mod context;
mod encode;
mod instance;
mod projection;
pub mod select;
pub mod set;

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Duration;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::{InstancePre, Linker, Module, ResourceLimiter, Store, Trap};

use instance::{IdleBudget, Pool, Slot};

use crate::manifest::{Node, PathSegment, Value};
pub use context::{AdmissionContext, Operation, UserInfo};
use encode::{size, Encoded};
pub use projection::{project, project_object};
use rampart_compiler::ir::Type;
pub use rampart_compiler::set_reads::Projection;
pub use select::{Gvk, Matcher, Target};

/// The largest linear memory any evaluation may be given ([`Limits::memory`] is capped here).
const MAX_MEMORY: usize = 1 << 30;

/// How often the ticker advances the engine's epoch; deadlines are counted in ticks.
const TICK: Duration = Duration::from_millis(5);

/// The ABI version of the modules this evaluator runs (spec/abi.md).
const ABI_VERSION: u32 = 3;

/// Error codes of the `rampart_error` global (spec/abi.md).
const ERR_TYPE: i32 = 1;
const ERR_QUANTITY: i32 = 3;
const ERR_IMAGE: i32 = 4;
const ERR_MEMORY: i32 = 5;

/// The text of an error code that needs no detail (spec/abi.md).
fn error_text(code: i32) -> &'static str {
    match code {
        1 => "a value has the wrong JSON type",
        2 => "integer overflow",
        3 => "invalid quantity",
        4 => "invalid image reference",
        5 => "out of memory",
        6 => "unknown rule index",
        _ => "unknown error",
    }
}

/// The process-wide wasmtime engine with its epoch ticker.
#[derive(Clone)]
pub struct Engine {
    inner: wasmtime::Engine,
    /// How many instances the modules of this engine may keep idle for reuse.
    idle: IdleBudget,
}

impl Engine {
    /// Creates the engine and starts the ticker thread (which stops with the engine).
    pub fn new() -> Result<Engine, LoadError> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        // Instances come from a pool of pre-reserved slots whose memory is reset copy-on-write
        // from the module's image: a fresh instance (the first for a thread, or after a
        // failure) then costs microseconds, not the mmap/munmap of a new 4 GiB reservation.
        // One slot per evaluating thread is needed; the pool has room for many more (the
        // slots are only address space).
        let slots = 4 * std::thread::available_parallelism().map_or(4, |n| n.get()) as u32 + 16;
        // Half of the slots may hold instances kept for reuse; the rest is for the ones
        // being created (after a failure, or by modules that have no idle instance).
        let idle = IdleBudget::new(slots as usize / 2);
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_core_instances(slots)
            .total_memories(slots)
            .total_tables(slots)
            .max_memory_size(MAX_MEMORY)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(1 << 12);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        // Where the address space is limited (`ulimit -v`, valgrind) the pool cannot be
        // reserved: instances are then allocated one by one, slower but the same.
        let inner = wasmtime::Engine::new(&config)
            .or_else(|_| {
                config.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
                wasmtime::Engine::new(&config)
            })
            .map_err(LoadError::from_wasmtime)?;
        let weak = inner.weak();
        std::thread::Builder::new()
            .name("rampart-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            })
            .map_err(|e| LoadError(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Engine { inner, idle })
    }
}

/// Why a module could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError(pub String);

impl LoadError {
    fn from_wasmtime(e: wasmtime::Error) -> LoadError {
        LoadError(format!("{e:#}"))
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Resource limits of one object's evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Wall-clock time for all rules of one object.
    pub deadline: Duration,
    /// Linear memory of the module instance, in bytes.
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(1),
            memory: 64 << 20,
        }
    }
}

/// Why a rule (or a whole object) could not be evaluated; it is reported as an error, never
/// as passing.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    /// The rule ran past its deadline.
    Deadline(Duration),
    /// The rule needed more memory than allowed.
    Memory(usize),
    /// The rule failed on a value (wrong JSON type, overflow, invalid quantity, …); the
    /// message says what was wrong and, when known, where.
    Failed(String),
    /// The module trapped for another reason, or the host could not run it.
    Trap(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Deadline(d) if d.subsec_millis() == 0 => {
                write!(f, "evaluation exceeded its {}s deadline", d.as_secs())
            }
            EvalError::Deadline(d) => {
                write!(f, "evaluation exceeded its {}ms deadline", d.as_millis())
            }
            EvalError::Memory(n) if n % (1 << 20) == 0 => {
                write!(f, "evaluation exceeded its {} MiB memory limit", n >> 20)
            }
            EvalError::Memory(n) => write!(f, "evaluation exceeded its {n} bytes memory limit"),
            EvalError::Failed(message) => f.write_str(message),
            EvalError::Trap(message) => write!(f, "evaluation failed: {message}"),
        }
    }
}

impl std::error::Error for EvalError {}

/// An evaluation error of one rule on one object (or of the whole object when `rule_id` is
/// `None`: the module could not be instantiated). The other rules' findings are kept.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleError {
    /// The rule that failed.
    pub rule_id: Option<String>,
    /// What went wrong.
    pub error: EvalError,
    /// The field whose value made the rule fail, when the module recorded it.
    pub path: Option<Vec<PathSegment>>,
    /// Position of that field, else of the object.
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rule) = &self.rule_id {
            write!(f, "rule `{rule}`: ")?;
        }
        if let Some(path) = &self.path {
            write!(f, "`{}`: ", crate::manifest::format_path(path))?;
        }
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for RuleError {}

/// The result of evaluating the selected rules on one object: the findings of every rule
/// that ran to the end, and one error per rule that did not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub errors: Vec<RuleError>,
}

impl Evaluation {
    /// The findings, or the first error when a rule failed.
    pub fn into_result(self) -> Result<Vec<Finding>, RuleError> {
        match self.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.findings),
        }
    }

    fn failed(object: &Node, error: EvalError) -> Evaluation {
        Evaluation {
            findings: Vec::new(),
            errors: vec![RuleError {
                rule_id: None,
                error,
                path: None,
                line: object.line,
                col: object.col,
            }],
        }
    }
}

/// `deny` or `warn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deny,
    Warn,
}

/// One finding of one rule on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: String,
    pub action: Action,
    pub message: String,
    /// The field the finding is about, with list indexes filled in.
    pub path: Vec<PathSegment>,
    /// Position of the deepest existing node on `path`.
    pub line: u32,
    pub col: u32,
    /// The outcome's fixes made concrete for this finding (spec/abi.md "Fixes").
    pub fixes: Vec<crate::fix::Fix>,
    /// The object the outcome's `generate` makes for this finding (spec/abi.md "Generated
    /// objects").
    pub generated: Option<serde_json::Value>,
}

/// A parameter declared by a rule.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ParamInfo {
    pub name: String,
    /// The declared type (printed in `.rp` syntax by [`show_type`]).
    #[serde(rename = "type")]
    pub ty: Type,
    pub default: serde_json::Value,
}

/// One step of an outcome's `at` path.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Field(String),
    Index(i64),
    Key(String),
}

/// Where an outcome's findings point: the root node reported by the module, then these steps.
#[derive(Clone, Debug, Deserialize)]
pub struct At {
    /// `subject` or `binder`.
    pub root: String,
    pub steps: Vec<Step>,
}

/// One outcome of a rule.
#[derive(Clone, Debug, Deserialize)]
pub struct OutcomeInfo {
    pub action: Action,
    pub at: At,
    /// Absent in modules compiled before fixes existed.
    #[serde(default)]
    pub fixes: Vec<crate::fix::FixInfo>,
    /// The `generate` template; absent in modules compiled before generated objects existed.
    #[serde(default)]
    pub generate: Option<rampart_compiler::ir::Template>,
}

/// A rule as described by the module's metadata.
#[derive(Clone, Debug, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub module: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub rationale: String,
    pub category: String,
    pub remediation: String,
    pub severity: String,
    pub controls: Vec<String>,
    pub matcher: Matcher,
    pub params: Vec<ParamInfo>,
    pub reads_kinds: Vec<Gvk>,
    pub outcomes: Vec<OutcomeInfo>,
}

impl RuleInfo {
    /// Whether the rule reads objects other than the one it judges: the module's record of
    /// [`rampart_compiler::ir::Rule::reads_other_objects`], for modules loaded without their
    /// source (a `policies.wasm` bundle).
    pub fn reads_other_objects(&self) -> bool {
        !self.reads_kinds.is_empty()
    }
}

/// The `rampart.meta` section.
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    pub abi: u32,
    pub compiler_version: String,
    pub source_digest: String,
    /// The kinds the host passes to `objects(Kind)`, one list each, in this order.
    pub set_kinds: Vec<Gvk>,
    /// What the rules read of the objects of each set kind, in the order of `set_kinds`;
    /// empty for modules that do not say (every object is then kept whole).
    #[serde(default)]
    pub set_reads: Vec<Projection>,
    pub rules: Vec<RuleInfo>,
}

/// Parameter overrides (`--param rule.id.name=value`).
#[derive(Clone, Debug, Default)]
pub struct Params {
    values: HashMap<(String, String), serde_json::Value>,
}

impl Params {
    /// Overrides parameter `name` of rule `rule_id`.
    pub fn set(&mut self, rule_id: &str, name: &str, value: serde_json::Value) {
        self.values
            .insert((rule_id.to_string(), name.to_string()), value);
    }
}

/// The objects checked together, for `objects(Kind)`.
#[derive(Clone, Debug, Default)]
pub struct ObjectSet<'a> {
    pub objects: Vec<&'a Node>,
}

/// A type as `.rp` source writes it: `list<string>`, `int`, `Container?`.
pub fn show_type(ty: &Type) -> String {
    rampart_compiler::check::types::show(ty)
}

/// Whether a JSON value fits a parameter's declared type.
pub fn fits(ty: &Type, v: &serde_json::Value) -> bool {
    match ty {
        Type::Bool => v.is_boolean(),
        Type::Int => v.is_i64(),
        Type::Number => v.is_number(),
        Type::String => v.is_string(),
        Type::Quantity | Type::IntOrString => v.is_string() || v.is_number(),
        Type::Null => v.is_null(),
        Type::Optional(t) => v.is_null() || fits(t, v),
        Type::List(t) => v.as_array().is_some_and(|a| a.iter().all(|x| fits(t, x))),
        Type::Map(t) => v
            .as_object()
            .is_some_and(|m| m.values().all(|x| fits(t, x))),
        Type::Object(_) => v.is_object(),
        Type::Image | Type::Any => true,
    }
}

pub(crate) fn json_node(v: &serde_json::Value) -> Node {
    use serde_json::Value as J;
    let value = match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::List(a.iter().map(json_node).collect()),
        J::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), json_node(v))).collect()),
    };
    Node::new(value, 0, 0)
}

/// Reads the `rampart.meta` custom section of a module.
pub fn read_metadata(wasm: &[u8]) -> Result<Metadata, LoadError> {
    fn leb(b: &[u8], at: &mut usize) -> Option<usize> {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let byte = *b.get(*at)?;
            *at += 1;
            v |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
            if shift > 35 {
                return None;
            }
        }
    }
    let bad = || LoadError("not a Rampart module: no `rampart.meta` section".into());
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(LoadError("not a wasm module".into()));
    }
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let len = leb(wasm, &mut at).ok_or_else(bad)?;
        let end = at
            .checked_add(len)
            .filter(|&e| e <= wasm.len())
            .ok_or_else(bad)?;
        if id == 0 {
            let mut p = at;
            let nlen = leb(wasm, &mut p).ok_or_else(bad)?;
            if wasm.get(p..p + nlen) == Some(b"rampart.meta".as_slice()) {
                let meta: Metadata = serde_json::from_slice(&wasm[p + nlen..end])
                    .map_err(|e| LoadError(format!("invalid `rampart.meta` section: {e}")))?;
                if meta.abi != ABI_VERSION {
                    return Err(LoadError(format!(
                        "unsupported module ABI version `{}`",
                        meta.abi
                    )));
                }
                return Ok(meta);
            }
        }
        at = end;
    }
    Err(bad())
}

/// Per-store state: the memory limit and whether it was hit.
struct State {
    /// What one object's evaluation may use.
    memory_limit: usize,
    /// Bytes the host placed for the whole run (parameters and object set), allowed on top
    /// of `memory_limit`: a large object set must not leave the objects no room.
    run_data: usize,
    memory_exceeded: bool,
}

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit.saturating_add(self.run_data) {
            self.memory_exceeded = true;
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// Parameter values and the object set, prepared once per run ([`Policies::prepare`]) and
/// reused for every object.
pub struct Prepared {
    /// A list holding, per rule, the list of its parameter values.
    params: Node,
    /// The encoding of `params` at the address it was last placed at, with each rule's
    /// address: a reset instance places it at the same address every time, so it is encoded
    /// once ([`Prepared::place_params`]).
    params_encoded: std::sync::Mutex<Option<std::sync::Arc<ParamsBlock>>>,
    /// One list of objects per set kind.
    set: Node,
    /// The encoding of `set` at the address it was last placed at: placed right after the
    /// parameters, a reset instance puts it at the same address every time, so it is encoded
    /// once ([`Prepared::place_set`]).
    set_encoded: std::sync::Mutex<Option<std::sync::Arc<(u32, Vec<u8>)>>>,
    /// The encoded sizes of `params` and `set`, in bytes.
    sizes: (usize, usize),
    /// Distinct for every preparation of the process, so that an instance knows whose
    /// parameters and set it keeps.
    id: u64,
}

/// The next [`Prepared::id`].
static NEXT_PREPARED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Prepared {
    /// The value of parameter `index` of rule `rule`, as JSON.
    fn param(&self, rule: usize, index: usize) -> Option<serde_json::Value> {
        let rules = self.params.as_list()?;
        Some(rules.get(rule)?.as_list()?.get(index)?.to_json())
    }
}

/// Appends an `at` or fix path's steps to a path.
fn push_steps(path: &mut Vec<PathSegment>, steps: &[Step]) {
    for step in steps {
        path.push(match step {
            Step::Field(f) => PathSegment::Field(f.clone()),
            Step::Key(k) => PathSegment::Key(k.clone()),
            Step::Index(i) => PathSegment::Index((*i).max(0) as usize),
        });
    }
}

/// The parameters of every rule, encoded for one address.
struct ParamsBlock {
    base: u32,
    bytes: Vec<u8>,
    /// Per rule: the address of its list of parameter values.
    rules: Vec<u32>,
}

impl Prepared {
    /// Allocates room for every rule's parameters in the instance and writes them there,
    /// reusing the encoding made for the same address before.
    fn place_params(
        &self,
        store: &mut Store<State>,
        alloc: &wasmtime::TypedFunc<i32, i32>,
        memory: wasmtime::Memory,
    ) -> Result<std::sync::Arc<ParamsBlock>, wasmtime::Error> {
        let base = alloc.call(&mut *store, self.sizes.0 as i32)? as u32;
        let cached = self
            .params_encoded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|b| b.base == base);
        let block = match cached {
            Some(block) => block,
            None => {
                let (enc, bytes) = Encoded::new(&self.params, base, true);
                // The rules' lists are the children of the root, in rule order.
                let rules = enc
                    .nodes
                    .iter()
                    .filter(|p| p.parent == 0)
                    .map(|p| p.addr)
                    .collect();
                let block = std::sync::Arc::new(ParamsBlock { base, bytes, rules });
                *self
                    .params_encoded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(block.clone());
                block
            }
        };
        memory.write(&mut *store, base as usize, &block.bytes)?;
        Ok(block)
    }

    /// Allocates room for the object set in the instance and writes it there, reusing the
    /// encoding made for the same address before; returns its address.
    fn place_set(
        &self,
        store: &mut Store<State>,
        alloc: &wasmtime::TypedFunc<i32, i32>,
        memory: wasmtime::Memory,
    ) -> Result<u32, wasmtime::Error> {
        let base = alloc.call(&mut *store, self.sizes.1 as i32)? as u32;
        let lock = || self.set_encoded.lock().unwrap_or_else(|e| e.into_inner());
        let cached = lock().clone().filter(|b| b.0 == base);
        let block = match cached {
            Some(block) => block,
            None => {
                let (_, bytes) = Encoded::new(&self.set, base, false);
                let block = std::sync::Arc::new((base, bytes));
                *lock() = Some(block.clone());
                block
            }
        };
        memory.write(&mut *store, base as usize, &block.1)?;
        Ok(base)
    }
}

/// A loaded policy module.
pub struct Policies {
    engine: Engine,
    pre: InstancePre<State>,
    meta: Metadata,
    /// The rules by the kinds they match.
    index: select::Index,
    /// Instances kept for the next objects.
    pool: Pool,
    /// True when the compiled code came from the on-disk cache.
    pub loaded_from_cache: bool,
    /// The cache key of the module (hex).
    pub cache_key: String,
}

/// Cache key: a digest of the module bytes and of everything that makes compiled code
/// incompatible (wasmtime version, target, engine configuration).
fn cache_key(engine: &wasmtime::Engine, wasm: &[u8]) -> String {
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let mut h = Sha256::new();
    h.update(b"rampart-wasm-cache-2\0");
    h.update(compat.finish().to_le_bytes());
    h.update(wasm);
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Policies {
    /// Compiles a module (or loads its compiled code from `cache_dir`).
    pub fn load(
        engine: &Engine,
        wasm: &[u8],
        cache_dir: Option<&Path>,
    ) -> Result<Policies, LoadError> {
        let meta = read_metadata(wasm)?;
        let key = cache_key(&engine.inner, wasm);
        let cached = cache_dir.map(|d| d.join(format!("{key}.cwasm")));
        let from_cache = cached
            .as_deref()
            .and_then(|path| read_cached(&engine.inner, path, &key));
        let loaded_from_cache = from_cache.is_some();
        let module = match from_cache {
            Some(m) => m,
            None => {
                let m = Module::new(&engine.inner, wasm).map_err(LoadError::from_wasmtime)?;
                if let Some(path) = &cached {
                    // A cache that cannot be written only costs time on the next run.
                    let _ = write_cached(path, &key, &m);
                }
                m
            }
        };
        let linker: Linker<State> = Linker::new(&engine.inner);
        let pre = linker
            .instantiate_pre(&module)
            .map_err(LoadError::from_wasmtime)?;
        Ok(Policies {
            engine: engine.clone(),
            pre,
            index: select::Index::new(meta.rules.iter().map(|r| &r.matcher)),
            meta,
            pool: Pool::default(),
            loaded_from_cache,
            cache_key: key,
        })
    }

    /// How many module instances this module has made so far: one per evaluating thread when
    /// instances are reused, more after failures (spec/abi.md "Instance reuse").
    pub fn instances_made(&self) -> usize {
        self.pool.made.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The module's metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// The rules, in evaluation (id) order.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.meta.rules
    }

    /// Checks parameter overrides against the declared types.
    pub fn check_params(&self, params: &Params) -> Result<(), String> {
        for ((rule, name), value) in &params.values {
            let r = self
                .meta
                .rules
                .iter()
                .find(|r| &r.id == rule)
                .ok_or_else(|| format!("unknown rule `{rule}`"))?;
            let p = r
                .params
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| format!("rule `{rule}` has no parameter `{name}`"))?;
            if !fits(&p.ty, value) {
                return Err(format!(
                    "parameter `{rule}.{name}` expects `{}`, got `{value}`",
                    show_type(&p.ty)
                ));
            }
        }
        Ok(())
    }

    /// Checks the parameter overrides and gathers, per set kind, the objects of `set` that
    /// `objects(Kind)` reads.
    pub fn prepare(&self, set: &ObjectSet, params: &Params) -> Result<Prepared, EvalError> {
        self.check_params(params).map_err(EvalError::Trap)?;
        let params = self
            .meta
            .rules
            .iter()
            .map(|r| {
                let values = r
                    .params
                    .iter()
                    .map(|p| {
                        let v = params
                            .values
                            .get(&(r.id.clone(), p.name.clone()))
                            .unwrap_or(&p.default);
                        json_node(v)
                    })
                    .collect();
                Node::new(Value::List(values), 0, 0)
            })
            .collect();
        // Built on the first view a module reads (spec/rbac.md §11).
        let mut rbac = None;
        let lists = self
            .meta
            .set_kinds
            .iter()
            .map(|gvk| {
                if let Some((verb, resource)) =
                    rampart_compiler::views::who_can_question(&gvk.group, &gvk.kind)
                {
                    let policy =
                        rbac.get_or_insert_with(|| crate::rbac::view::policy(&set.objects));
                    let records = crate::rbac::view::who_can_records(policy, verb, resource);
                    return Node::new(Value::List(records.iter().map(json_node).collect()), 0, 0);
                }
                let items = set
                    .objects
                    .iter()
                    .filter(|o| {
                        let s = |k: &str| o.get(k).and_then(Node::as_str).unwrap_or("");
                        gvk.matches(s("apiVersion"), s("kind"))
                    })
                    .map(|o| (*o).clone())
                    .collect();
                Node::new(Value::List(items), 0, 0)
            })
            .collect();
        let (params, set) = (
            Node::new(Value::List(params), 0, 0),
            Node::new(Value::List(lists), 0, 0),
        );
        Ok(Prepared {
            id: NEXT_PREPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            sizes: (size(&params), size(&set)),
            params,
            params_encoded: Default::default(),
            set,
            set_encoded: Default::default(),
        })
    }

    /// Evaluates every applicable rule on one object.
    pub fn evaluate(
        &self,
        object: &Node,
        set: &ObjectSet,
        params: &Params,
        limits: &Limits,
    ) -> Evaluation {
        self.evaluate_admission(object, &AdmissionContext::create(), set, params, limits)
    }

    /// Evaluates every applicable rule on one object under an admission request: what the
    /// rules read as `request` and `oldObject` (spec/language.md §4.11).
    pub fn evaluate_admission(
        &self,
        object: &Node,
        context: &AdmissionContext,
        set: &ObjectSet,
        params: &Params,
        limits: &Limits,
    ) -> Evaluation {
        match self.prepare(set, params) {
            Ok(prepared) => self.evaluate_prepared(object, context, &prepared, limits),
            Err(e) => Evaluation::failed(object, e),
        }
    }

    /// Evaluates many objects in parallel; results are in the order of `objects`.
    pub fn evaluate_all(
        &self,
        objects: &[&Node],
        set: &ObjectSet,
        params: &Params,
        limits: &Limits,
    ) -> Vec<Evaluation> {
        self.evaluate_all_prepared(objects, &self.prepare(set, params), limits)
    }

    /// [`Policies::evaluate_all`] with the parameters and object set already prepared; when
    /// preparing failed, every object gets that error.
    pub fn evaluate_all_prepared(
        &self,
        objects: &[&Node],
        prepared: &Result<Prepared, EvalError>,
        limits: &Limits,
    ) -> Vec<Evaluation> {
        match prepared {
            Ok(prepared) => {
                let create = AdmissionContext::create();
                objects
                    .par_iter()
                    .map(|o| self.evaluate_prepared(o, &create, prepared, limits))
                    .collect()
            }
            Err(e) => objects
                .iter()
                .map(|o| Evaluation::failed(o, e.clone()))
                .collect(),
        }
    }

    /// [`Policies::evaluate_all_prepared`] with an admission context per object.
    pub fn evaluate_all_admission(
        &self,
        objects: &[(&Node, &AdmissionContext)],
        prepared: &Result<Prepared, EvalError>,
        limits: &Limits,
    ) -> Vec<Evaluation> {
        match prepared {
            Ok(prepared) => objects
                .par_iter()
                .map(|(o, c)| self.evaluate_prepared(o, c, prepared, limits))
                .collect(),
            Err(e) => objects
                .iter()
                .map(|(o, _)| Evaluation::failed(o, e.clone()))
                .collect(),
        }
    }

    /// Runs the selected rules in one instance; after a rule fails (the instance is then
    /// unusable) the rules after it run in a fresh one, so one rule's error never hides the
    /// other rules' findings (spec/abi.md "Errors").
    fn evaluate_prepared(
        &self,
        object: &Node,
        context: &AdmissionContext,
        prepared: &Prepared,
        limits: &Limits,
    ) -> Evaluation {
        let selected = self.index.subjects(|r| &self.meta.rules[r].matcher, object);
        let mut out = Evaluation::default();
        let mut rest = &selected[..];
        while !rest.is_empty() {
            let run = match self.run_rules(object, context, prepared, limits, rest) {
                Ok(run) => run,
                Err(e) => return Evaluation::failed(object, e),
            };
            out.findings.extend(run.findings);
            let Some((k, error)) = run.failed else { break };
            // The module never frees memory: a rule that hits the cap after other rules used
            // the same instance runs again alone, so only a rule that needs more than the cap
            // by itself fails on memory.
            if matches!(error.error, EvalError::Memory(_)) && k > 0 {
                rest = &rest[k..];
                continue;
            }
            out.errors.push(error);
            rest = &rest[k + 1..];
        }
        out
    }

    /// An instance for one object: an idle one kept from an earlier object, else a fresh one.
    fn slot(&self, limits: &Limits) -> Result<Slot, EvalError> {
        if let Some(slot) = self.pool.take(&self.engine.idle, limits.memory) {
            return Ok(slot);
        }
        self.pool
            .made
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fresh = || Slot::new(&self.engine.inner, &self.pre, limits.memory);
        // The engine's pool of slots may be full of this module's idle instances (made with
        // another memory limit): drop them and try again.
        let made = fresh().or_else(|_| {
            self.pool.clear(&self.engine.idle);
            fresh()
        });
        made.map_err(|e| {
            if e.memory_exceeded {
                EvalError::Memory(limits.memory)
            } else {
                EvalError::Trap(format!("{:#}", e.error))
            }
        })
    }

    /// Runs `rules` (rule index, subject) in order in one instance until one fails.
    /// `Err` means no rule could run (the instance or the object's encoding failed).
    fn run_rules(
        &self,
        object: &Node,
        context: &AdmissionContext,
        prepared: &Prepared,
        limits: &Limits,
        rules: &[(usize, &Node)],
    ) -> Result<Run, EvalError> {
        let mut slot = self.slot(limits)?;
        // An instance keeping another preparation's parameters and set lets them go first.
        if slot
            .kept
            .as_ref()
            .is_some_and(|k| k.prepared != prepared.id)
            && !slot.forget()
        {
            slot = self.slot(limits)?;
        }
        let ticks = limits.deadline.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1;
        slot.store.set_epoch_deadline(ticks);
        let host_error = |store: &Store<State>, e: wasmtime::Error| {
            if store.data().memory_exceeded {
                EvalError::Memory(limits.memory)
            } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                EvalError::Deadline(limits.deadline)
            } else {
                EvalError::Trap(format!("{e:#}"))
            }
        };
        let (alloc, memory, eval) = (slot.alloc.clone(), slot.memory, slot.eval.clone());
        let place = |store: &mut Store<State>, node, track| {
            let len = size(node);
            let base = alloc.call(&mut *store, len as i32)? as usize;
            // Written in place: memory the module just allocated is zero.
            let out = &mut memory.data_mut(&mut *store)[base..base + len];
            Ok::<_, wasmtime::Error>(Encoded::write(node, base as u32, track, out))
        };
        let needs_set = rules
            .iter()
            .any(|(r, _)| !self.meta.rules[*r].reads_kinds.is_empty());
        // The parameters and the set, kept in the instance from an earlier object of the
        // same preparation, or placed now (and kept, when the module can).
        let (params, set) = match &slot.kept {
            Some(kept) => (kept.params.clone(), kept.set),
            None => {
                let keep = slot.can_keep();
                let store = &mut slot.store;
                store.data_mut().run_data = prepared.sizes.0 + prepared.sizes.1;
                let params = prepared
                    .place_params(store, &alloc, memory)
                    .map_err(|e| host_error(store, e))?;
                // The set before the object, so that it lands at the same address every time.
                let set = if needs_set || (keep && !self.meta.set_kinds.is_empty()) {
                    prepared
                        .place_set(store, &alloc, memory)
                        .map_err(|e| host_error(store, e))?
                } else {
                    0
                };
                let kept = instance::Kept {
                    prepared: prepared.id,
                    params: params.clone(),
                    set,
                };
                slot.keep(kept).map_err(|e| host_error(&slot.store, e))?;
                (params, set)
            }
        };
        let set_addr = if needs_set { set as i32 } else { 0 };
        let store = &mut slot.store;
        let encoded = place(store, object, true).map_err(|e| host_error(store, e))?;
        let request = context::request_node(context, object);
        let request_addr = place(store, &request, false)
            .map_err(|e| host_error(store, e))?
            .base as i32;
        let old = match &context.old_object {
            Some(old) => Some(place(store, old, true).map_err(|e| host_error(store, e))?),
            None => None,
        };
        // (rule, subject address), in rule order.
        let mut subjects = Vec::with_capacity(rules.len());
        let mut failed = None;
        // Most rules share their subject (the object, or the pod template under autogen):
        // its address is looked up once, not by a scan of the nodes per rule.
        let mut last_subject: Option<(&Node, u32)> = None;
        for (k, &(rule, subject)) in rules.iter().enumerate() {
            let s = match last_subject {
                Some((n, s)) if std::ptr::eq(n, subject) => s,
                _ => {
                    let s = encoded
                        .addr_of(subject)
                        .expect("the subject is part of the object");
                    last_subject = Some((subject, s));
                    s
                }
            };
            subjects.push((rule, s));
            // The deadline is per rule: each call gets the whole of it.
            store.set_epoch_deadline(ticks);
            let old_subject = old
                .as_ref()
                .zip(context.old_object.as_ref())
                .and_then(|(enc, old)| {
                    select::old_subject(&self.meta.rules[rule].matcher, object, old)
                        .and_then(|n| enc.addr_of(n))
                })
                .unwrap_or(0);
            // `controller`: the object itself when the subject is its pod template.
            let controller = if std::ptr::eq(subject, object) {
                0
            } else {
                encoded.addr_of(object).unwrap_or(0) as i32
            };
            let called = eval.call(
                &mut *store,
                (
                    rule as i32,
                    s as i32,
                    params.rules[rule] as i32,
                    set_addr,
                    request_addr,
                    old_subject as i32,
                    controller,
                ),
            );
            let e = match called {
                Ok(0) => continue,
                Ok(status) => wasmtime::Error::msg(format!("status {status}")),
                Err(e) => e,
            };
            let error = self.classify(e, store, &slot.instance, &encoded, object, rule, limits);
            failed = Some((k, error));
            break;
        }
        let failed_rule = failed.as_ref().map(|(k, _)| rules[*k].0);
        let findings = self
            .read_findings(&mut slot, &encoded, object, &subjects, prepared)
            .into_iter()
            // A failed rule reports its error, not the findings it made before failing.
            .filter(|(rule, _)| Some(*rule) != failed_rule)
            .map(|(_, f)| f)
            .collect();
        // Only an instance in which nothing failed is reset and reused; after a failure it is
        // dropped and the next object gets a fresh one.
        if failed.is_none() {
            self.pool.put_back(&self.engine.idle, slot);
        }
        Ok(Run { findings, failed })
    }

    /// The finding records linked from `rampart_findings`, with their rule index.
    fn read_findings(
        &self,
        slot: &mut Slot,
        encoded: &Encoded,
        object: &Node,
        subjects: &[(usize, u32)],
        prepared: &Prepared,
    ) -> Vec<(usize, Finding)> {
        let head = slot
            .findings
            .and_then(|g| g.get(&mut slot.store).i32())
            .unwrap_or(0);
        let data = slot.memory.data(&slot.store);
        let word = |addr: usize| -> u32 {
            data.get(addr..addr + 4)
                .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()))
        };
        let mut findings = Vec::new();
        let mut at = head as usize;
        while at != 0 {
            let (rule, outcome, root, msg) = (
                word(at + 4) as usize,
                word(at + 8) as usize,
                word(at + 12),
                word(at + 16) as usize,
            );
            let (len, ptr) = (word(msg + 4) as usize, word(msg + 8) as usize);
            let message = data
                .get(ptr..ptr + len)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let info = &self.meta.rules[rule];
            let o = &info.outcomes[outcome];
            // The root is a node of the object unless the rule built it (a list literal,
            // an element of `objects(Kind)`): then the finding points at the subject.
            let root_path = encoded.path_of(root);
            let subject_path = subjects
                .binary_search_by_key(&rule, |&(r, _)| r)
                .ok()
                .and_then(|i| encoded.path_of(subjects[i].1));
            let mut path = root_path
                .clone()
                .or_else(|| subject_path.clone())
                .unwrap_or_default();
            push_steps(&mut path, &o.at.steps);
            let fixes = o
                .fixes
                .iter()
                .filter_map(|f| {
                    // A binder bound to a value the rule built has no place in the object.
                    let mut path = match f.path.root.as_str() {
                        "binder" if o.at.root == "binder" => root_path.clone()?,
                        _ => subject_path.clone()?,
                    };
                    push_steps(&mut path, &f.path.steps);
                    let value = match (f.param, &f.value) {
                        (Some(i), _) => Some(prepared.param(rule, i)?),
                        (None, v) => v.clone(),
                    };
                    Some(crate::fix::Fix {
                        review: f.review,
                        op: f.op,
                        path,
                        value,
                    })
                })
                .collect();
            let generated = o
                .generate
                .as_ref()
                .and_then(|t| crate::fix::generate::fill(t, object, subject_path.as_deref()?));
            let (mut node, matched) = object.locate(&path);
            // A top-level field that is absent: the nearest ancestor is the object,
            // which is shown by its `kind` line rather than by its first field.
            if matched == 0 && !path.is_empty() {
                node = object.get("kind").unwrap_or(node);
            }
            findings.push((
                rule,
                Finding {
                    rule_id: info.id.clone(),
                    action: o.action,
                    message,
                    path,
                    line: node.line,
                    col: node.col,
                    fixes,
                    generated,
                },
            ));
            at = word(at) as usize;
        }
        findings
    }

    /// Turns a failed call of `rule` into its error, located at the value the module
    /// recorded in `rampart_error_node` when it is a node of the object.
    #[allow(clippy::too_many_arguments)]
    fn classify(
        &self,
        e: wasmtime::Error,
        store: &mut Store<State>,
        instance: &wasmtime::Instance,
        encoded: &Encoded,
        object: &Node,
        rule: usize,
        limits: &Limits,
    ) -> RuleError {
        let global = |store: &mut Store<State>, name: &str| {
            instance
                .get_global(&mut *store, name)
                .and_then(|g| g.get(&mut *store).i32())
                .unwrap_or(0)
        };
        let code = global(store, "rampart_error");
        let mut path = None;
        let error = if store.data().memory_exceeded || code == ERR_MEMORY {
            EvalError::Memory(limits.memory)
        } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            EvalError::Deadline(limits.deadline)
        } else if matches!(code, ERR_TYPE | ERR_QUANTITY | ERR_IMAGE) {
            let addr = global(store, "rampart_error_node") as u32;
            path = encoded.path_of(addr);
            // A value the rule built itself has no path: only its tag is known.
            let found = match &path {
                Some(p) => describe(object.locate(p).0),
                None => describe_built(instance, store, addr),
            };
            EvalError::Failed(match code {
                ERR_TYPE => {
                    let expected = global(store, "rampart_error_expected") as u32;
                    format!("expected {}, found {found}", describe_tags(expected))
                }
                ERR_QUANTITY => format!("invalid quantity: {found}"),
                _ => format!("invalid image reference: {found}"),
            })
        } else if code != 0 {
            EvalError::Failed(error_text(code).to_string())
        } else {
            EvalError::Trap(format!("{e:#}"))
        };
        let at = path.as_deref().map_or(object, |p| object.locate(p).0);
        RuleError {
            rule_id: Some(self.meta.rules[rule].id.clone()),
            error,
            line: at.line,
            col: at.col,
            path,
        }
    }
}

impl Drop for Policies {
    fn drop(&mut self) {
        self.pool.release(&self.engine.idle);
    }
}

/// What one instance did: the findings of the rules that finished and, if a rule failed,
/// its position in the run and its error.
struct Run {
    findings: Vec<Finding>,
    failed: Option<(usize, RuleError)>,
}

/// A value the module built (not a node of the object), for messages: a string with its
/// text, anything else by its tag.
fn describe_built(instance: &wasmtime::Instance, store: &mut Store<State>, addr: u32) -> String {
    let Some(memory) = instance.get_memory(&mut *store, "memory") else {
        return describe_tag(0);
    };
    let data = memory.data(&*store);
    let word = |at: usize| {
        data.get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let addr = addr as usize;
    let tag = if addr == 0 { 0 } else { word(addr) };
    if tag == 4 {
        let (len, ptr) = (word(addr + 4) as usize, word(addr + 8) as usize);
        if let Some(bytes) = data.get(ptr..ptr + len) {
            let text = String::from_utf8_lossy(bytes);
            return describe(&Node::new(Value::String(text.into_owned()), 0, 0));
        }
    }
    describe_tag(tag)
}

/// A value of the object, for messages: `the string "true"`, `the integer 3`, `a map`.
fn describe(node: &Node) -> String {
    match &node.value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Int(i) => format!("the integer {i}"),
        Value::Float(x) => format!("the number {x}"),
        Value::String(s) if s.chars().count() > 60 => {
            let head: String = s.chars().take(60).collect();
            format!("the string {:?}", head + "…")
        }
        Value::String(s) => format!("the string {s:?}"),
        Value::List(_) => "a list".into(),
        Value::Map(_) => "a map".into(),
    }
}

/// A node tag (spec/abi.md), for messages.
fn describe_tag(tag: u32) -> String {
    match tag {
        1 => "a boolean",
        2 => "an integer",
        3 => "a number",
        4 => "a string",
        5 => "a list",
        6 => "a map",
        7 => "a quantity",
        _ => "nothing",
    }
    .into()
}

/// A set of tags (`1 << tag` bits), for messages: `a list or a map`.
fn describe_tags(mask: u32) -> String {
    // An integer is also a number: say "a number" once.
    let mask = if mask & (1 << 3) != 0 {
        mask & !(1 << 2)
    } else {
        mask
    };
    let names: Vec<String> = (1..=6)
        .filter(|t| mask & (1 << t) != 0)
        .map(describe_tag)
        .collect();
    match names.len() {
        0 => "a value".into(),
        _ => names.join(" or "),
    }
}

/// The first bytes of a cached compiled module, before its key, a line break and the SHA-256
/// of the code that follows.
const CACHE_MAGIC: &[u8] = b"rampart-cwasm-1\n";

/// Writes a compiled module to the cache (atomically: see [`crate::output_file`]).
fn write_cached(path: &Path, key: &str, module: &Module) -> std::io::Result<()> {
    let code = module
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut bytes = Vec::with_capacity(CACHE_MAGIC.len() + key.len() + 33 + code.len());
    bytes.extend_from_slice(CACHE_MAGIC);
    bytes.extend_from_slice(key.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(&Sha256::digest(&code));
    bytes.extend_from_slice(&code);
    crate::output_file::write(path, &bytes)
}

/// The compiled module cached at `path` under `key`, if the file is one this cache wrote
/// whole: its header names the key and the SHA-256 of the code matches. Anything else (a
/// damaged, truncated or foreign file) is ignored, and the module is compiled again and
/// the entry rewritten.
fn read_cached(engine: &wasmtime::Engine, path: &Path, key: &str) -> Option<Module> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(CACHE_MAGIC)?;
    let rest = rest.strip_prefix(key.as_bytes())?.strip_prefix(b"\n")?;
    let (digest, code) = rest.split_at_checked(32)?;
    if Sha256::digest(code).as_slice() != digest {
        return None;
    }
    // SAFETY: `Module::deserialize` runs the machine code it is given. These bytes are the
    // output of `Module::serialize` that `write_cached` wrote: the header names the key
    // (a digest of the Wasm and of the engine's compatibility hash) and the digest of the
    // code matches, so the file is whole and ours, not another version's or a damaged one;
    // wasmtime checks its own header (version, target, configuration) again. The cache
    // folder is the user's own: whoever can write there can already run code as the user.
    unsafe { Module::deserialize(engine, code) }.ok()
}
