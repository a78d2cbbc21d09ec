//! YAML text for the values a fix writes: scalars in the style of the one they replace when
//! the value allows it, new entries and items as block lines or inside a flow collection.

use std::borrow::Cow;

use saphyr_parser::ScalarStyle;
use serde_json::Value;

use crate::manifest::scalar;

/// A scalar value as text; `style` is the style of the scalar it replaces, kept for a string
/// when the string allows it. `None` for a list or a mapping.
pub(super) fn scalar(value: &Value, style: ScalarStyle, flow: bool) -> Option<String> {
    Some(match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, style, flow),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// A string: single-quoted or double-quoted as asked, else plain when it reads back as this
/// same string, else double-quoted (JSON string syntax is valid YAML).
fn string(s: &str, style: ScalarStyle, flow: bool) -> String {
    let printable = !s.chars().any(char::is_control);
    match style {
        ScalarStyle::SingleQuoted if printable => format!("'{}'", s.replace('\'', "''")),
        ScalarStyle::DoubleQuoted => Value::from(s).to_string(),
        _ if plain_ok(s, flow) => s.to_owned(),
        _ => Value::from(s).to_string(),
    }
}

/// Whether `s` written plain reads back as the string `s` (in a flow collection too).
fn plain_ok(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s
        || s.chars().any(char::is_control)
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || (flow && s.contains([',', '[', ']', '{', '}']))
    {
        return false;
    }
    matches!(scalar::resolve_plain(Cow::Borrowed(s)), crate::manifest::Value::String(ref r) if r == s)
}

/// A mapping key.
pub(super) fn key(k: &str, flow: bool) -> String {
    string(k, ScalarStyle::Plain, flow)
}

/// A value on one line in flow style: `{a: 1, b: [x, y]}`.
pub(super) fn flow(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", key(k, true), flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        _ => scalar(value, ScalarStyle::Plain, true).unwrap_or_default(),
    }
}

/// `key: value` as block lines at `indent` spaces, each ending with `nl`.
pub(super) fn block_entry(k: &str, value: &Value, indent: usize, nl: &str, out: &mut String) {
    out.push_str(&" ".repeat(indent));
    out.push_str(&key(k, false));
    out.push(':');
    block_value(value, indent, nl, out);
}

/// `- value` as block lines at `indent` spaces.
pub(super) fn block_item(value: &Value, indent: usize, nl: &str, out: &mut String) {
    out.push_str(&" ".repeat(indent));
    out.push('-');
    match value {
        Value::Object(map) if !map.is_empty() => {
            // The first entry on the dash's line, the others under it.
            for (i, (k, v)) in map.iter().enumerate() {
                if i == 0 {
                    out.push(' ');
                    out.push_str(&key(k, false));
                    out.push(':');
                    block_value(v, indent + 2, nl, out);
                } else {
                    block_entry(k, v, indent + 2, nl, out);
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str(nl);
            for item in items {
                block_item(item, indent + 2, nl, out);
            }
        }
        _ => {
            out.push(' ');
            out.push_str(&flow(value));
            out.push_str(nl);
        }
    }
}

/// What follows `key:` for a value whose key is at `indent`: ` scalar` on the same line, or
/// nested lines two spaces deeper.
pub(super) fn block_value(value: &Value, indent: usize, nl: &str, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str(nl);
            for (k, v) in map {
                block_entry(k, v, indent + 2, nl, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str(nl);
            for item in items {
                block_item(item, indent + 2, nl, out);
            }
        }
        _ => {
            out.push(' ');
            out.push_str(&flow(value));
            out.push_str(nl);
        }
    }
}
