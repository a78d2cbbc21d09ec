//! The YAML/JSON loader with positions on arbitrary bytes: objects or a located error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_runtime::manifest::{load_bytes, Limits, Node, Value};

fn check_positions(node: &Node) {
    assert!(node.line >= 1 && node.col >= 1, "{node:?}");
    match &node.value {
        Value::List(items) => items.iter().for_each(check_positions),
        Value::Map(entries) => entries.iter().for_each(|(_, v)| check_positions(v)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    // Small limits so that the fuzzer reaches them.
    let limits = Limits {
        max_bytes: 1 << 16,
        max_depth: 40,
        max_documents: 50,
        max_alias_expansion: 10_000,
    };
    match load_bytes(data, &limits) {
        Ok(loaded) => {
            for object in &loaded.objects {
                check_positions(&object.node);
                let _ = object.node.to_json();
            }
        }
        Err(error) => {
            assert!(error.line >= 1 && error.col >= 1, "{error:?}");
            assert!(!error.message.is_empty());
        }
    }
});
