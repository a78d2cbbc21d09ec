//! Helpers for the tests that run exported CEL with the `cel` crate (a dev-dependency of
//! this crate only: the root crate's tests include `common/mod.rs` without it).
#![allow(dead_code)]

use serde_json::Value as Json;

/// CEL → JSON, undoing the escape of reserved words in property names.
pub fn cel_json(v: &cel::Value) -> Json {
    match v {
        cel::Value::Null => Json::Null,
        cel::Value::Bool(b) => Json::Bool(*b),
        cel::Value::Int(i) => Json::from(*i),
        cel::Value::UInt(i) => Json::from(*i),
        cel::Value::Float(f) => Json::from(*f),
        cel::Value::String(s) => Json::String(s.to_string()),
        cel::Value::List(items) => Json::Array(items.iter().map(cel_json).collect()),
        cel::Value::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m.map.iter() {
                let cel::objects::Key::String(k) = k else {
                    panic!("a non-string key {k:?}");
                };
                let key = rampart_compiler::backend::cel::RESERVED
                    .iter()
                    .find(|w| **k == format!("__{w}__"))
                    .map(|w| w.to_string())
                    .unwrap_or_else(|| k.to_string());
                out.insert(key, cel_json(x));
            }
            Json::Object(out)
        }
        other => panic!("a CEL value with no JSON form: {other:?}"),
    }
}
