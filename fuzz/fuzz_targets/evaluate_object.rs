//! The Wasm evaluator on arbitrary JSON objects against the standard library: findings or an
//! error for the object, never a crash. Each object is also evaluated as a Pod, a Deployment
//! and a CronJob, so that mutations reach the rules instead of stopping at kind selection.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rampart_runtime::eval::{Engine, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, load, Node};

fn policies() -> &'static Policies {
    static POLICIES: OnceLock<Policies> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let compilation = rampart_stdlib::compile();
        let program = compilation.program.expect("the standard library compiles");
        let wasm = rampart_compiler::backend::wasm::compile(&program).expect("it compiles to Wasm");
        let engine = Engine::new().expect("the engine starts");
        Policies::load(&engine, &wasm, None).expect("the module loads")
    })
}

/// The object as the loader reads it (JSON is YAML), when it has a string `apiVersion` and
/// `kind`.
fn node(object: &serde_json::Map<String, serde_json::Value>) -> Option<Node> {
    let text = serde_json::to_string(object).ok()?;
    let loaded = load(&text, &manifest::Limits::default()).ok()?;
    loaded.objects.into_iter().next().map(|o| o.node)
}

const KINDS: [(&str, &str); 3] = [
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "CronJob"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice(data) else {
        return;
    };
    let policies = policies();
    let limits = Limits {
        deadline: Duration::from_secs(2),
        ..Limits::default()
    };
    let set = ObjectSet::default();
    let params = Params::default();
    // Errors are fine (they are reported for the object); panics and aborts are not.
    if let Some(node) = node(&object) {
        let _ = policies.evaluate(&node, &set, &params, &limits);
    }
    for (api_version, kind) in KINDS {
        object.insert("apiVersion".into(), api_version.into());
        object.insert("kind".into(), kind.into());
        if let Some(node) = node(&object) {
            let _ = policies.evaluate(&node, &set, &params, &limits);
        }
    }
});
