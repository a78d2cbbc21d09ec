//! Objects from JSON that is already decoded, such as the `object` of an AdmissionReview:
//! the tree the loader builds from the same JSON text, without writing the text out and
//! parsing it again. There is no text, so every node is at line 0, column 0.

use super::{scalar, Loaded, Node, Value};

impl Node {
    /// The node of a JSON value, as the loader reads the value's JSON text: a number with an
    /// integral value that fits in `i64` is an integer (`1.0` and `1e3` are sent as `1` and
    /// `1000`), other numbers are floats; map entries keep their order.
    pub fn from_json(value: serde_json::Value) -> Node {
        use serde_json::Value as J;
        let value = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                // A `u64` beyond `i64`, or a float.
                None => scalar::number(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s),
            J::Array(items) => Value::List(items.into_iter().map(Node::from_json).collect()),
            J::Object(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, Node::from_json(v)))
                    .collect(),
            ),
        };
        Node::new(value, 0, 0)
    }
}

/// The objects of one JSON document, as [`super::load_bytes`] finds them in its text: an
/// object with string `apiVersion` and `kind`, the items of a `*List`, or nothing (counted
/// in [`Loaded::skipped`]); `null` is an empty document. (A top-level array, which the
/// loader reads as a stream of documents, is one document here.)
pub fn load_json(value: serde_json::Value) -> Loaded {
    let mut loaded = Loaded::default();
    if !value.is_null() {
        loaded.document(Node::from_json(value), 0);
    }
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{load_bytes, Limits};

    /// The node without its positions, for comparing trees built from different texts.
    fn unplaced(node: &Node) -> Node {
        let value = match &node.value {
            Value::List(items) => Value::List(items.iter().map(unplaced).collect()),
            Value::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), unplaced(v)))
                    .collect(),
            ),
            v => v.clone(),
        };
        Node::new(value, 0, 0)
    }

    /// `load_json` gives what the loader gives on the value's JSON text.
    fn same_as_text(json: serde_json::Value) {
        let text = serde_json::to_vec(&json).unwrap();
        let mut want = load_bytes(&text, &Limits::default()).unwrap();
        for o in &mut want.objects {
            o.node = unplaced(&o.node);
        }
        assert_eq!(load_json(json.clone()), want, "{json}");
    }

    #[test]
    fn numbers_strings_and_nesting_read_as_from_text() {
        same_as_text(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "n", "labels": {"b": "1", "a": "true"}},
            "spec": {
                "ints": [0, -1, 9223372036854775807_i64, -9223372036854775808_i64],
                "floats": [1.0, 1e3, -0.0, 0.5, 1e300, 18446744073709551615_u64, 1.5e-7],
                "other": [true, false, null, "", "yes", "0755", {"": []}],
            },
        }));
    }

    #[test]
    fn lists_are_flattened_and_non_objects_skipped() {
        same_as_text(serde_json::json!({
            "apiVersion": "v1", "kind": "List",
            "items": [{"apiVersion": "v1", "kind": "Pod"}, {"kind": "Pod"}, 3],
        }));
        same_as_text(serde_json::json!({"kind": "Pod"}));
        assert_eq!(load_json(serde_json::Value::Null), Loaded::default());
    }
}
