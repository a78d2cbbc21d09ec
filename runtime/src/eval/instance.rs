//! Module instances reused across objects (spec/abi.md "Instance reuse").
//!
//! Creating a store and an instance per object costs more host work than many rules do. An
//! instance whose evaluation finished without a failure is reset by the module's own
//! `rampart_reset` export (heap pointer and globals back to their initial values, the bytes the
//! object used zeroed) and kept for the next object. An instance in which anything failed (a
//! trap, a deadline, the memory limit, a host error) is dropped, never reset, so a failure in
//! one object cannot reach the next. Modules without `rampart_reset` get a fresh instance per
//! object, as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wasmtime::{Global, InstancePre, Memory, ResourceLimiter, Store, TypedFunc};

use super::State;

/// One instance with its store and the exports the host calls.
pub(super) struct Slot {
    pub store: Store<State>,
    pub instance: wasmtime::Instance,
    pub memory: Memory,
    pub alloc: TypedFunc<i32, i32>,
    pub eval: TypedFunc<(i32, i32, i32, i32, i32, i32, i32), i32>,
    pub findings: Option<Global>,
    reset: Option<TypedFunc<(), ()>>,
    /// `rampart_keep` and `rampart_base` with its initial value, when the module has them.
    keep: Option<(TypedFunc<(), ()>, Global, i32)>,
    /// What the host placed and kept in this instance for later objects.
    pub kept: Option<Kept>,
}

/// A run's data kept in an instance (spec/abi.md "Instance reuse"): the parameters and the
/// object set of one preparation, below the reset point.
pub(super) struct Kept {
    /// [`super::Prepared::id`] of the preparation they belong to.
    pub prepared: u64,
    pub params: Arc<super::ParamsBlock>,
    /// Address of the object set (0 when the module reads none).
    pub set: u32,
}

/// Why an instance could not be made: a wasmtime error, and whether the memory limit was the
/// cause.
pub(super) struct SlotError {
    pub error: wasmtime::Error,
    pub memory_exceeded: bool,
}

impl Slot {
    /// A fresh store and instance limited to `memory_limit` bytes of linear memory.
    pub fn new(
        engine: &wasmtime::Engine,
        pre: &InstancePre<State>,
        memory_limit: usize,
    ) -> Result<Slot, SlotError> {
        let mut store = Store::new(
            engine,
            State {
                memory_limit,
                run_data: 0,
                memory_exceeded: false,
            },
        );
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        store.epoch_deadline_trap();
        let fail = |store: &Store<State>, error: wasmtime::Error| SlotError {
            error,
            memory_exceeded: store.data().memory_exceeded,
        };
        let instance = pre.instantiate(&mut store).map_err(|e| fail(&store, e))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| fail(&store, wasmtime::Error::msg("module exports no memory")))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "rampart_alloc")
            .map_err(|e| fail(&store, e))?;
        let eval = instance
            .get_typed_func::<(i32, i32, i32, i32, i32, i32, i32), i32>(
                &mut store,
                "rampart_evaluate",
            )
            .map_err(|e| fail(&store, e))?;
        let findings = instance.get_global(&mut store, "rampart_findings");
        let reset = instance
            .get_typed_func::<(), ()>(&mut store, "rampart_reset")
            .ok();
        let keep = instance
            .get_typed_func::<(), ()>(&mut store, "rampart_keep")
            .ok()
            .zip(instance.get_global(&mut store, "rampart_base"))
            .and_then(|(keep, base)| Some((keep, base, base.get(&mut store).i32()?)));
        Ok(Slot {
            store,
            instance,
            memory,
            alloc,
            eval,
            findings,
            reset,
            keep,
            kept: None,
        })
    }

    /// Whether the module can keep a run's data across objects (`rampart_keep`).
    pub fn can_keep(&self) -> bool {
        self.keep.is_some()
    }

    /// Makes what was placed so far stay for every later object (`rampart_keep`).
    pub fn keep(&mut self, kept: Kept) -> Result<(), wasmtime::Error> {
        if let Some((keep, _, _)) = self.keep.clone() {
            keep.call(&mut self.store, ())?;
            self.kept = Some(kept);
        }
        Ok(())
    }

    /// Drops the data kept for another preparation: the reset point goes back to the heap
    /// start and the instance is reset. `false` when that fails (drop the slot).
    pub fn forget(&mut self) -> bool {
        let Some((_, base, heap_start)) = self.keep.clone() else {
            return true;
        };
        self.kept = None;
        self.store.data_mut().run_data = 0;
        base.set(&mut self.store, wasmtime::Val::I32(heap_start))
            .is_ok()
            && self.reset()
    }

    /// The memory limit the slot was made with.
    fn memory_limit(&self) -> usize {
        self.store.data().memory_limit
    }

    /// Puts the instance back in its initial state; `false` when it cannot be (no
    /// `rampart_reset` export, or the reset failed): the slot must then be dropped.
    fn reset(&mut self) -> bool {
        let Some(reset) = self.reset.clone() else {
            return false;
        };
        // The reset is bounded by the bytes the object used, but it runs under a deadline
        // like every call.
        self.store.set_epoch_deadline(u64::MAX / 2);
        reset.call(&mut self.store, ()).is_ok() && !self.store.data().memory_exceeded
    }
}

/// The idle instances of one module.
#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<Vec<Slot>>,
    /// How many instances were made (for tests and diagnostics).
    pub made: AtomicUsize,
}

/// How many idle instances the modules of one engine may keep together. The engine's pool of
/// instance slots is finite: instances kept idle by modules that are not being evaluated
/// (`rampart verify` loads many) must leave room for the ones that are.
#[derive(Clone)]
pub(super) struct IdleBudget {
    left: Arc<AtomicUsize>,
}

impl IdleBudget {
    pub fn new(slots: usize) -> IdleBudget {
        IdleBudget {
            left: Arc::new(AtomicUsize::new(slots)),
        }
    }

    fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.left.fetch_add(n, Ordering::AcqRel);
    }
}

impl Pool {
    /// An idle instance made with `memory_limit`, if there is one.
    pub fn take(&self, budget: &IdleBudget, memory_limit: usize) -> Option<Slot> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let at = idle
            .iter()
            .rposition(|s| s.memory_limit() == memory_limit)?;
        budget.give(1);
        Some(idle.swap_remove(at))
    }

    /// Resets a slot whose evaluation finished without a failure and keeps it for the next
    /// object; drops it when it cannot be reset or the budget is spent.
    pub fn put_back(&self, budget: &IdleBudget, mut slot: Slot) {
        if !slot.reset() || !budget.take() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.push(slot);
    }

    /// Drops every idle instance (when the engine's pool has no free slot left).
    pub fn clear(&self, budget: &IdleBudget) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        budget.give(idle.len());
        idle.clear();
    }

    /// Returns the budget of the idle instances when the module is dropped.
    pub fn release(&self, budget: &IdleBudget) {
        self.clear(budget);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, Limits, ObjectSet, Params, Policies};
    use super::Slot;
    use crate::manifest;

    /// After objects were evaluated in it and it was reset, an instance's memory is byte for
    /// byte that of a fresh instance (beyond a fresh instance's size: zeros) except for the
    /// run's parameters the host kept below the reset point, and its findings and error
    /// globals are back to 0; once it forgets the kept data, it is a fresh instance.
    #[test]
    fn a_reset_instance_is_a_fresh_one() {
        let program = rampart_stdlib::compile().program.unwrap();
        let wasm = rampart_compiler::backend::wasm::compile(&program).unwrap();
        let policies = Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap();
        let limits = Limits::default();
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {a: b}\nspec:\n  hostNetwork: true\n  containers:\n    - name: c\n      image: nginx:latest\n      securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}}\n";
        let loaded = manifest::load(text, &manifest::Limits::default()).unwrap();
        let object = &loaded.objects[0].node;
        let prepared = policies.prepare(&ObjectSet::default(), &Params::default());
        for _ in 0..3 {
            let e = policies.evaluate_all_prepared(&[object], &prepared, &limits);
            let e = &e[0];
            assert!(e.errors.is_empty() && !e.findings.is_empty(), "{e:?}");
        }
        assert_eq!(policies.instances_made(), 1);
        let mut reused = policies
            .pool
            .take(&policies.engine.idle, limits.memory)
            .expect("the instance was kept");
        let mut fresh = Slot::new(&policies.engine.inner, &policies.pre, limits.memory)
            .ok()
            .unwrap();
        let kept = reused.kept.as_ref().expect("the parameters were kept");
        let (start, end) = (
            kept.params.base as usize,
            kept.params.base as usize + kept.params.bytes.len(),
        );
        let params = kept.params.bytes.clone();
        // The reset point: the end of the kept parameters and object set.
        let base = reused
            .instance
            .get_global(&mut reused.store, "rampart_base")
            .unwrap();
        let base = base.get(&mut reused.store).i32().unwrap() as usize;
        assert!(base >= end);
        let (a, b) = (
            reused.memory.data(&reused.store),
            fresh.memory.data(&fresh.store),
        );
        assert!(a.len() >= b.len());
        assert_eq!(a[start..end], params[..], "the kept parameters are intact");
        assert!(
            a[..start] == b[..start],
            "memory below the kept data differs"
        );
        assert!(
            a[base..b.len()] == b[base..],
            "memory above the kept data differs"
        );
        assert!(a[b.len()..].iter().all(|&x| x == 0));
        globals_are_zero(&mut reused);
        // Forgetting the kept data makes it a fresh instance, byte for byte.
        assert!(reused.forget());
        let (a, b) = (
            reused.memory.data(&reused.store),
            fresh.memory.data(&fresh.store),
        );
        assert!(a[..b.len()] == *b, "memory differs from a fresh instance's");
        assert!(a[b.len()..].iter().all(|&x| x == 0));
        // The heap pointer (not exported) is back at the heap start: both allocate there.
        for slot in [&mut reused, &mut fresh] {
            slot.store.set_epoch_deadline(1000);
        }
        let (x, y) = (
            reused.alloc.call(&mut reused.store, 8).unwrap(),
            fresh.alloc.call(&mut fresh.store, 8).unwrap(),
        );
        assert_eq!(x, y);
        globals_are_zero(&mut reused);
        globals_are_zero(&mut fresh);
    }

    fn globals_are_zero(slot: &mut Slot) {
        for name in [
            "rampart_findings",
            "rampart_error",
            "rampart_error_node",
            "rampart_error_expected",
        ] {
            let g = slot.instance.get_global(&mut slot.store, name).unwrap();
            assert_eq!(g.get(&mut slot.store).i32(), Some(0), "{name}");
        }
    }
}
