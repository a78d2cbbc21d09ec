//! A rule that fails (deadline, memory cap, trap) is an error of that rule only: the rules
//! before and after it on the same object still report their findings (spec/abi.md
//! "Errors"). The module is written by hand: the compiler never produces these faults.

use std::time::Duration;

use rampart_runtime::eval::{Engine, EvalError, Limits, ObjectSet, Params, Policies};
use serde_json::json;
use wasm_encoder::{BlockType, Function, MemArg};

mod support;
use support::object;

const RECORD: i32 = 60_000;

fn at(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 2,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    }
}

/// Pod rules: 0 and 4 report one finding on the subject, 1 loops, 2 grows memory forever,
/// 3 traps. ConfigMap rules: 5 and 6 each grow the memory by 40 MiB, which fits the cap alone
/// but not together.
fn module() -> Vec<u8> {
    let mut f = Function::new([]);
    let mut i = f.instructions();
    // rule 1: loop forever
    i.local_get(0).i32_const(1).i32_eq().if_(BlockType::Empty);
    i.loop_(BlockType::Empty).br(0).end();
    i.end();
    // rule 2: grow until the limiter refuses
    i.local_get(0).i32_const(2).i32_eq().if_(BlockType::Empty);
    i.loop_(BlockType::Empty)
        .i32_const(16)
        .memory_grow(0)
        .drop()
        .br(0)
        .end();
    i.end();
    // rule 3: trap
    i.local_get(0).i32_const(3).i32_eq().if_(BlockType::Empty);
    i.unreachable();
    i.end();
    // rules 5 and 6: 640 pages (40 MiB) each
    i.local_get(0).i32_const(5).i32_ge_s().if_(BlockType::Empty);
    i.i32_const(640)
        .memory_grow(0)
        .drop()
        .i32_const(0)
        .return_();
    i.end();
    // rules 0 and 4: one finding record {next 0, rule, outcome 0, subject, message "ok"}
    i.i32_const(RECORD).i32_const(0).i32_store(at(0));
    i.i32_const(RECORD).local_get(0).i32_store(at(4));
    i.i32_const(RECORD).i32_const(0).i32_store(at(8));
    i.i32_const(RECORD).local_get(1).i32_store(at(12));
    i.i32_const(RECORD).i32_const(RECORD + 32).i32_store(at(16));
    i.i32_const(RECORD).i32_const(4).i32_store(at(32));
    i.i32_const(RECORD).i32_const(2).i32_store(at(36));
    i.i32_const(RECORD).i32_const(RECORD + 48).i32_store(at(40));
    i.i32_const(RECORD)
        .i32_const(i32::from_le_bytes(*b"ok\0\0"))
        .i32_store(at(48));
    i.i32_const(RECORD).global_set(1);
    i.i32_const(0).end();
    let deny = json!([{"action": "deny", "at": {"root": "subject", "steps": []}}]);
    let rules = [
        ("a_finding", "Pod"),
        ("b_loop", "Pod"),
        ("c_grow", "Pod"),
        ("d_trap", "Pod"),
        ("e_finding", "Pod"),
        ("f_half", "ConfigMap"),
        ("g_half", "ConfigMap"),
    ]
    .iter()
    .map(|(id, kind)| {
        let mut meta = support::rule_meta("faults", id, kind);
        if id.ends_with("finding") {
            meta["outcomes"] = deny.clone();
        }
        meta
    })
    .collect();
    support::module(&f, None, "rule-errors", rules)
}

#[test]
fn deadline_memory_and_trap_are_errors_of_their_rule_only() {
    let p = Policies::load(&Engine::new().unwrap(), &module(), None).unwrap();
    let limits = Limits {
        deadline: Duration::from_millis(200),
        ..Limits::default()
    };
    let none = (ObjectSet::default(), Params::default());
    let got = p.evaluate(&object("Pod"), &none.0, &none.1, &limits);
    let findings: Vec<(&str, &str)> = got
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(findings, [("a_finding", "ok"), ("e_finding", "ok")]);
    let errors: Vec<(Option<&str>, &EvalError)> = got
        .errors
        .iter()
        .map(|e| (e.rule_id.as_deref(), &e.error))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        errors[0],
        (
            Some("b_loop"),
            &EvalError::Deadline(Duration::from_millis(200))
        )
    );
    assert_eq!(errors[1], (Some("c_grow"), &EvalError::Memory(64 << 20)));
    assert_eq!(errors[2].0, Some("d_trap"));
    assert!(
        matches!(errors[2].1, EvalError::Trap(m) if m.contains("unreachable")),
        "{:?}",
        errors[2].1
    );
    // No path for these: the error is located at the object.
    assert!(got.errors.iter().all(|e| e.path.is_none() && e.line == 1));
    assert_eq!(
        got.errors[0].to_string(),
        "rule `b_loop`: evaluation exceeded its 200ms deadline"
    );
}

#[test]
fn the_memory_cap_holds_per_rule_not_per_object() {
    let p = Policies::load(&Engine::new().unwrap(), &module(), None).unwrap();
    let none = (ObjectSet::default(), Params::default());
    // 40 MiB each: together above the 64 MiB cap, each alone below it.
    let got = p.evaluate(&object("ConfigMap"), &none.0, &none.1, &Limits::default());
    assert_eq!(got.errors, vec![]);
    let tight = Limits {
        memory: 32 << 20,
        ..Limits::default()
    };
    let got = p.evaluate(&object("ConfigMap"), &none.0, &none.1, &tight);
    let failed: Vec<_> = got.errors.iter().map(|e| e.rule_id.as_deref()).collect();
    assert_eq!(failed, [Some("f_half"), Some("g_half")]);
}
