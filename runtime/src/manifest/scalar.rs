//! Resolution of YAML scalars to typed values (see the parent module's doc for the rules).

use std::borrow::Cow;

use saphyr_parser::{ScalarStyle, Tag};

use super::Value;

/// The handle saphyr gives to `!!` tags (the YAML core schema).
const CORE_HANDLE: &str = "tag:yaml.org,2002:";

/// Turns a scalar's text into a value, honouring its style and tag.
pub(super) fn resolve(
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
    Ok(resolve_plain(text))
}

/// Resolves a plain (unquoted, untagged) scalar.
pub(super) fn resolve_plain(text: Cow<'_, str>) -> Value {
    let Some(&first) = text.as_bytes().first() else {
        return Value::Null;
    };
    match first {
        b'~' | b'n' | b'N' if is_null(&text) => Value::Null,
        b't' | b'T' | b'f' | b'F' => match parse_bool(&text) {
            Some(b) => Value::Bool(b),
            None => Value::String(text.into_owned()),
        },
        b'0'..=b'9' | b'-' | b'+' | b'.' => {
            if let Some(i) = parse_int(&text) {
                Value::Int(i)
            } else if let Some(f) = parse_float(&text) {
                Value::Float(f)
            } else {
                Value::String(text.into_owned())
            }
        }
        _ => Value::String(text.into_owned()),
    }
}

fn resolve_core_tag(text: Cow<'_, str>, suffix: &str) -> Result<Value, String> {
    let bad = |text: &str| format!("`{text}` is not a valid `!!{suffix}` value");
    match suffix {
        "int" => parse_int(&text).map(Value::Int).ok_or_else(|| bad(&text)),
        "float" => parse_int(&text)
            .map(|i| i as f64)
            .or_else(|| parse_float(&text))
            .map(Value::Float)
            .ok_or_else(|| bad(&text)),
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

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Parses `[-+]` followed by decimal digits, `0x` hex, `0o` octal, `0b` binary, or a
/// go-yaml style octal with a leading zero (`0644`).
pub(super) fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(rest) = digits.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = digits.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = digits.strip_prefix("0b") {
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

/// Parses the YAML 1.2 core schema float forms, including `.inf` and `.nan`.
pub(super) fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match unsigned {
        ".inf" | ".Inf" | ".INF" => {
            let inf = f64::INFINITY;
            return Some(if text.starts_with('-') { -inf } else { inf });
        }
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    // `[0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)?` with at least one mantissa digit.
    let bytes = unsigned.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            i += 1;
        }
        let exponent_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == exponent_start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Value {
        resolve_plain(Cow::Borrowed(text))
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        assert_eq!(plain(""), Value::Null);
        assert_eq!(plain("~"), Value::Null);
        assert_eq!(plain("NULL"), Value::Null);
        assert_eq!(plain("True"), Value::Bool(true));
        assert_eq!(plain("FALSE"), Value::Bool(false));
        assert_eq!(plain("42"), Value::Int(42));
        assert_eq!(plain("-17"), Value::Int(-17));
        assert_eq!(plain("0x1F"), Value::Int(31));
        assert_eq!(plain("0o17"), Value::Int(15));
        assert_eq!(plain("0644"), Value::Int(0o644));
        assert_eq!(plain("0"), Value::Int(0));
        assert_eq!(plain("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(plain("1.5"), Value::Float(1.5));
        assert_eq!(plain("-.5e3"), Value::Float(-500.0));
        assert_eq!(plain("1e3"), Value::Float(1000.0));
        assert_eq!(plain("-.inf"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(plain(".NaN"), Value::Float(f) if f.is_nan()));
        assert_eq!(plain("99999999999999999999"), Value::Float(1e20));
    }

    #[test]
    fn yaml_1_1_forms_and_near_misses_stay_strings() {
        for text in [
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "1_000",
            "0x",
            "1.2.3",
            "1e",
            "--1",
            "12:30",
            "2024-01-01",
            ".",
            "-",
            "+",
            "0xZZ",
            "nan",
            "inf",
            "tRue",
        ] {
            assert_eq!(plain(text), Value::String(text.to_owned()), "{text}");
        }
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
            resolve("2".into(), plain_style, Some(&tag("float"))),
            Ok(Value::Float(2.0))
        );
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
