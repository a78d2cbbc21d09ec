//! Evaluator tests with hand-written modules (a loop and a memory hog the compiler can never
//! produce, built by `support`) and the on-disk cache.

use std::time::{Duration, Instant};

use rampart_runtime::eval::{Engine, EvalError, Limits, ObjectSet, Params, Policies};
use wasm_encoder::{BlockType, Function};

mod support;
use support::object;

/// Rule 0 (Pod) loops forever, rule 1 (Secret) grows memory forever, rule 2 (ConfigMap)
/// returns at once.
fn raw_module(tag: &str) -> Vec<u8> {
    let mut eval = Function::new([]);
    eval.instructions()
        .local_get(0)
        .i32_eqz()
        .if_(BlockType::Empty)
        .loop_(BlockType::Empty)
        .br(0)
        .end()
        .end()
        .local_get(0)
        .i32_const(1)
        .i32_eq()
        .if_(BlockType::Empty)
        .loop_(BlockType::Empty)
        .i32_const(16)
        .memory_grow(0)
        .drop()
        .br(0)
        .end()
        .end()
        .i32_const(0)
        .end();
    let rules = ["loop", "grow", "ok"]
        .iter()
        .zip(["Pod", "Secret", "ConfigMap"])
        .map(|(id, kind)| support::rule_meta("raw", id, kind))
        .collect();
    support::module(&eval, None, tag, rules)
}

fn engine() -> Engine {
    Engine::new().unwrap()
}

#[test]
fn eval_deadline_stops_a_loop_and_the_next_object_runs() {
    let p = Policies::load(&engine(), &raw_module("a"), None).unwrap();
    let limits = Limits {
        deadline: Duration::from_millis(200),
        ..Limits::default()
    };
    let none = (ObjectSet::default(), Params::default());
    let start = Instant::now();
    let e = p
        .evaluate(&object("Pod"), &none.0, &none.1, &limits)
        .into_result()
        .unwrap_err();
    assert_eq!(e.error, EvalError::Deadline(Duration::from_millis(200)));
    assert_eq!(
        e.error.to_string(),
        "evaluation exceeded its 200ms deadline"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        p.evaluate(&object("ConfigMap"), &none.0, &none.1, &limits)
            .into_result(),
        Ok(vec![])
    );
    assert_eq!(
        EvalError::Deadline(Duration::from_secs(1)).to_string(),
        "evaluation exceeded its 1s deadline"
    );
}

#[test]
fn eval_memory_cap_stops_a_hog_and_the_next_object_runs() {
    let p = Policies::load(&engine(), &raw_module("b"), None).unwrap();
    let limits = Limits::default();
    let none = (ObjectSet::default(), Params::default());
    let e = p
        .evaluate(&object("Secret"), &none.0, &none.1, &limits)
        .into_result()
        .unwrap_err();
    assert_eq!(e.error, EvalError::Memory(64 << 20));
    assert_eq!(
        e.error.to_string(),
        "evaluation exceeded its 64 MiB memory limit"
    );
    assert_eq!(
        p.evaluate(&object("ConfigMap"), &none.0, &none.1, &limits)
            .into_result(),
        Ok(vec![])
    );
    // Objects no rule applies to never reach the module.
    assert_eq!(
        p.evaluate(&object("Service"), &none.0, &none.1, &limits)
            .into_result(),
        Ok(vec![])
    );
}

#[test]
fn eval_cache_is_written_then_used_and_keyed_by_module() {
    let dir = std::env::temp_dir().join(format!("rampart-eval-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let engine = engine();
    let first = Policies::load(&engine, &raw_module("c"), Some(&dir)).unwrap();
    assert!(!first.loaded_from_cache);
    assert!(dir.join(format!("{}.cwasm", first.cache_key)).exists());
    let second = Policies::load(&engine, &raw_module("c"), Some(&dir)).unwrap();
    assert!(second.loaded_from_cache);
    assert_eq!(first.cache_key, second.cache_key);
    let limits = Limits::default();
    let none = (ObjectSet::default(), Params::default());
    assert_eq!(
        second
            .evaluate(&object("ConfigMap"), &none.0, &none.1, &limits)
            .into_result(),
        Ok(vec![])
    );
    let other = Policies::load(&engine, &raw_module("d"), Some(&dir)).unwrap();
    assert!(!other.loaded_from_cache);
    assert_ne!(other.cache_key, first.cache_key);
    // A corrupt entry is recompiled, not trusted.
    // (Replaced, not truncated: the old file is still mapped by `second`.)
    let entry = dir.join(format!("{}.cwasm", first.cache_key));
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, b"junk").unwrap();
    let again = Policies::load(&engine, &raw_module("c"), Some(&dir)).unwrap();
    assert!(!again.loaded_from_cache);
    // ... and rewritten whole, so the next run uses it again.
    let rebuilt = Policies::load(&engine, &raw_module("c"), Some(&dir)).unwrap();
    assert!(rebuilt.loaded_from_cache);
    // A damaged entry of the same length (one byte of the code changed) is refused by its
    // digest, and so is another module's entry put under this one's name.
    let mut damaged = std::fs::read(&entry).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x01;
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, &damaged).unwrap();
    assert!(
        !Policies::load(&engine, &raw_module("c"), Some(&dir))
            .unwrap()
            .loaded_from_cache
    );
    let foreign = std::fs::read(dir.join(format!("{}.cwasm", other.cache_key))).unwrap();
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, &foreign).unwrap();
    assert!(
        !Policies::load(&engine, &raw_module("c"), Some(&dir))
            .unwrap()
            .loaded_from_cache
    );
    assert!(
        Policies::load(&engine, &raw_module("c"), Some(&dir))
            .unwrap()
            .loaded_from_cache,
        "the entry is rebuilt"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_rejects_modules_without_metadata() {
    let e = Policies::load(&engine(), b"\0asm\x01\0\0\0", None)
        .err()
        .unwrap();
    assert_eq!(e.0, "not a Rampart module: no `rampart.meta` section");
}
