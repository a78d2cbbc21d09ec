//! Resolution of YAML scalars to typed values (see the parent module's doc for the rules).

use std::borrow::Cow;

use saphyr_parser::{ScalarStyle, Tag};

use super::Value;

/// The handle saphyr gives to `!!` tags (the YAML core schema).
const CORE_HANDLE: &str = "tag:yaml.org,2002:";

/// Turns a scalar's text into a value, honouring its style and tag.
pub(crate) fn resolve(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle == CORE_HANDLE {
            return resolve_core_tag(text, &tag.suffix);
        }
        // `! value`: the non-specific tag forces a string.
        if tag.handle.is_empty() && tag.suffix == "!" {
            return Ok(Value::String(text.into_owned()));
        }
        // Unknown tags carry no meaning here: resolve the value as if untagged.
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.into_owned()));
    }
    not_json(&text)?;
    Ok(resolve_plain(text))
}

/// sigs.k8s.io/yaml writes JSON with encoding/json, which refuses infinities and NaN:
/// kubectl stops there, before the API server sees the manifest.
fn not_json(text: &str) -> Result<(), String> {
    match special_float(text) {
        Some(_) => Err(format!(
            "`{text}` is not a JSON number, so kubectl cannot send it to the API server"
        )),
        None => Ok(()),
    }
}

/// Resolves a plain (unquoted, untagged) scalar as go-yaml v2 does, then as
/// sigs.k8s.io/yaml turns the result into JSON (spec/language.md "Reading manifests").
pub(crate) fn resolve_plain(text: Cow<'_, str>) -> Value {
    let Some(&first) = text.as_bytes().first() else {
        return Value::Null;
    };
    // go-yaml looks a scalar up only when its first byte may start a non-string value.
    match first {
        b'~' | b'n' | b'N' if is_null(&text) => Value::Null,
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' => {
            match parse_bool(&text) {
                Some(b) => Value::Bool(b),
                None => Value::String(text.into_owned()),
            }
        }
        b'.' => match special_float(&text).or_else(|| dot_float(&text)) {
            Some(f) => number(f),
            None => Value::String(text.into_owned()),
        },
        b'0'..=b'9' | b'-' | b'+' => {
            if let Some(f) = special_float(&text) {
                return Value::Float(f);
            }
            // go-yaml drops every `_` before reading a number.
            let plain = text.replace('_', "");
            if let Some(i) = parse_int(&plain) {
                Value::Int(i)
            } else if let Some(f) = parse_float(&plain) {
                number(f)
            } else {
                Value::String(text.into_owned())
            }
        }
        _ => Value::String(text.into_owned()),
    }
}

/// A float as the API server receives it: encoding/json writes a float with an integral
/// value below 1e21 without a fraction (`1e3` is sent as `1000`), so it is an integer.
pub(super) fn number(f: f64) -> Value {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

/// The text of a mapping key as sigs.k8s.io/yaml writes it into JSON: go-yaml resolves a
/// plain key like a value, and booleans and integers become their JSON text (`on:` is the
/// key `"true"`, `0x1F:` the key `"31"`). Other keys keep their text.
pub(crate) fn key_text(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> String {
    if style != ScalarStyle::Plain || tag.is_some() {
        return text.into_owned();
    }
    match resolve_plain(Cow::Borrowed(&text)) {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        _ => text.into_owned(),
    }
}

fn resolve_core_tag(text: Cow<'_, str>, suffix: &str) -> Result<Value, String> {
    let bad = |text: &str| format!("`{text}` is not a valid `!!{suffix}` value");
    match suffix {
        "int" => parse_int(&text).map(Value::Int).ok_or_else(|| bad(&text)),
        // A float is sent as JSON, so an integral one arrives as an integer (see `number`).
        "float" => not_json(&text).and_then(|()| {
            parse_int(&text)
                .map(|i| i as f64)
                .or_else(|| parse_float(&text))
                .map(number)
                .ok_or_else(|| bad(&text))
        }),
        "bool" => parse_bool(&text).map(Value::Bool).ok_or_else(|| bad(&text)),
        "null" if text.is_empty() || is_null(&text) => Ok(Value::Null),
        "null" => Err(bad(&text)),
        // `!!str`, `!!binary`, `!!timestamp` and the rest keep the text.
        _ => Ok(Value::String(text.into_owned())),
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "~" | "null" | "Null" | "NULL")
}

/// go-yaml v2's booleans: YAML 1.1's `y`, `yes`, `on` and their opposites, in the three
/// spellings lower, capitalised and upper case (`yEs` is a string).
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// `.inf`, `+.inf`, `-.inf` and `.nan` in go-yaml's three spellings.
fn special_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match unsigned {
        ".inf" | ".Inf" | ".INF" if text.starts_with('-') => Some(f64::NEG_INFINITY),
        ".inf" | ".Inf" | ".INF" => Some(f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => Some(f64::NAN),
        _ => None,
    }
}

/// A scalar starting with `.`: go-yaml hands it to Go's `strconv.ParseFloat` as is, which
/// reads `.5` and `.5e3` (and no `_`).
fn dot_float(text: &str) -> Option<f64> {
    if text.contains('_') {
        return None;
    }
    parse_float(text)
}

/// Parses Go's `strconv.ParseInt(s, 0, 64)`: `[-+]` followed by decimal digits, `0x`/`0X`
/// hex, `0o`/`0O` octal, `0b`/`0B` binary, or octal with a leading zero (`0644`).
pub(super) fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let prefixed = |p: &str| {
        digits
            .get(..2)
            .filter(|d| d.eq_ignore_ascii_case(p))
            .map(|_| &digits[2..])
    };
    let (radix, digits) = if let Some(rest) = prefixed("0x") {
        (16, rest)
    } else if let Some(rest) = prefixed("0o") {
        (8, rest)
    } else if let Some(rest) = prefixed("0b") {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    // `from_str_radix` accepts a sign of its own, which must not appear after ours.
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// go-yaml's float syntax `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`; a value
/// out of range (`1e400`) is not a float (Go's `ParseFloat` fails), so it stays a string.
pub(super) fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let bytes = unsigned.as_bytes();
    let digits = |mut i: usize| {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        (i, i - start)
    };
    let (mut i, whole) = digits(0);
    if i < bytes.len() && bytes[i] == b'.' {
        let (end, fraction) = digits(i + 1);
        // `.` needs digits after it when none come before it; `1.` is a float.
        if whole == 0 && fraction == 0 {
            return None;
        }
        i = end;
    } else if whole == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            i += 1;
        }
        let (end, exponent) = digits(i);
        if exponent == 0 {
            return None;
        }
        i = end;
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the table in spec/language.md §4.10: each plain scalar of the first
    /// column resolves to the value of the second.
    #[test]
    fn plain_scalars_resolve_as_the_spec_table_says() {
        let spec = include_str!("../../../spec/language.md");
        let table = spec
            .split("<!-- scalar-table:start -->")
            .nth(1)
            .and_then(|t| t.split("<!-- scalar-table:end -->").next())
            .expect("spec/language.md has the scalar table");
        let mut rows = 0;
        for line in table.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split(" | ").collect();
            let (texts, want) = (
                cells[0].trim_start_matches("| "),
                cells[1].trim_end_matches(" |"),
            );
            let texts: Vec<&str> = texts.split('`').skip(1).step_by(2).collect();
            assert!(!texts.is_empty(), "{line}");
            for text in texts {
                let got = resolve(Cow::Borrowed(text), ScalarStyle::Plain, None);
                let expected = match want {
                    "error" => {
                        assert!(got.is_err(), "`{text}`: {got:?}");
                        continue;
                    }
                    "null" => Value::Null,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "string" => Value::String(text.to_owned()),
                    n => match n.parse::<i64>() {
                        Ok(i) => Value::Int(i),
                        Err(_) => Value::Float(n.split(' ').next().unwrap().parse().unwrap()),
                    },
                };
                assert_eq!(got, Ok(expected), "`{text}` (row `{line}`)");
            }
            rows += 1;
        }
        assert!(rows >= 20, "only {rows} rows read");
    }

    #[test]
    fn plain_keys_become_the_json_text_of_their_value() {
        let key = |text: &str| key_text(Cow::Borrowed(text), ScalarStyle::Plain, None);
        assert_eq!(key("on"), "true");
        assert_eq!(key("No"), "false");
        assert_eq!(key("0x1F"), "31");
        assert_eq!(key("1_000"), "1000");
        assert_eq!(key("name"), "name");
        assert_eq!(key("1.5"), "1.5");
        assert_eq!(key("~"), "~");
        let quoted = key_text(Cow::Borrowed("on"), ScalarStyle::DoubleQuoted, None);
        assert_eq!(quoted, "on");
    }

    #[test]
    fn core_tags_are_honoured() {
        let tag = |suffix: &str| Tag {
            handle: CORE_HANDLE.to_owned(),
            suffix: suffix.to_owned(),
        };
        let plain_style = ScalarStyle::Plain;
        assert_eq!(
            resolve("1".into(), plain_style, Some(&tag("str"))),
            Ok(Value::String("1".into()))
        );
        assert_eq!(
            resolve("1".into(), ScalarStyle::DoubleQuoted, Some(&tag("int"))),
            Ok(Value::Int(1))
        );
        assert_eq!(
            resolve("2.5".into(), plain_style, Some(&tag("float"))),
            Ok(Value::Float(2.5))
        );
        // An integral float is sent as a JSON integer.
        assert_eq!(
            resolve("2".into(), plain_style, Some(&tag("float"))),
            Ok(Value::Int(2))
        );
        assert!(resolve(".inf".into(), plain_style, Some(&tag("float"))).is_err());
        assert!(resolve("x".into(), plain_style, Some(&tag("int"))).is_err());
        let unknown = Tag {
            handle: "!".to_owned(),
            suffix: "custom".to_owned(),
        };
        assert_eq!(
            resolve("3".into(), plain_style, Some(&unknown)),
            Ok(Value::Int(3))
        );
    }
}
