//! Schema validation of manifests: what the API server would refuse before any policy runs.
//!
//! Every object whose `apiVersion` and `kind` name a kind of the schema (the embedded
//! Kubernetes schema, CRDs given with `--crd` and CRDs the policies import) is checked
//! against that kind's type, as the API server's strict decoding and validation would: fields
//! the type does not declare, values of the wrong JSON type, required fields left out, and
//! values outside an `enum`. Problems become findings of the `schema.*` rules
//! ([`rules`]), so every report format, rule selection and exception applies to them.
//! Objects of kinds without a schema are not checked; the runner counts them.
//!
//! What the model cannot see is not checked: formats and patterns other than quantities,
//! Go validation written in code (name syntax, ranges), and CEL validation rules of CRDs.

pub mod rules;

use std::collections::HashMap;

use rampart_compiler::diagnostics::did_you_mean;
use rampart_compiler::schema::{short_name, ObjectType, Schema, SchemaType};

use crate::manifest::{format_path, Node, PathSegment, Value};

/// One thing the API server would refuse in an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// The `schema.*` rule id.
    pub rule: &'static str,
    /// One lowercase line, user input in backticks.
    pub message: String,
    /// The field the issue is about (for a missing field: the field that is missing).
    pub path: Vec<PathSegment>,
    /// 1-based line of the field's key (or of the nearest existing ancestor).
    pub line: u32,
    /// 1-based column of that position.
    pub col: u32,
}

/// Checks objects against the types of the kinds in a schema.
pub struct Validator {
    schema: Schema,
    /// `(apiVersion, kind)` → the kind's type name.
    kinds: HashMap<(String, String), String>,
}

impl Validator {
    /// A validator for the kinds of `schema`.
    pub fn new(schema: Schema) -> Validator {
        let mut validator = Validator {
            schema,
            kinds: HashMap::new(),
        };
        validator.index_kinds();
        validator
    }

    fn index_kinds(&mut self) {
        self.kinds = self
            .schema
            .kinds
            .iter()
            .map(|k| ((k.api_version(), k.kind.clone()), k.type_name.clone()))
            .collect();
    }

    /// Adds the CustomResourceDefinitions of a YAML file; returns how many kinds it added.
    pub fn add_crd_yaml(&mut self, text: &str) -> Result<usize, String> {
        let added = self.schema.add_crd_yaml(text)?;
        self.index_kinds();
        Ok(added.len())
    }

    /// Whether objects of this `apiVersion` and `kind` have a schema to be checked against.
    pub fn knows(&self, api_version: &str, kind: &str) -> bool {
        self.kinds
            .contains_key(&(api_version.to_string(), kind.to_string()))
    }

    /// Checks one object; `None` when its kind has no schema. `line_text` gives the text of
    /// a 1-based line of the object's file, used to point at the key of a field.
    pub fn check(
        &self,
        node: &Node,
        api_version: &str,
        kind: &str,
        line_text: &dyn Fn(u32) -> String,
    ) -> Option<Vec<Issue>> {
        let type_name = self
            .kinds
            .get(&(api_version.to_string(), kind.to_string()))?;
        let mut walk = Walk {
            schema: &self.schema,
            line_text,
            path: Vec::new(),
            issues: Vec::new(),
        };
        walk.value(node, &SchemaType::Object(type_name.clone()), None);
        Some(walk.issues)
    }
}

/// The state of one object's check.
struct Walk<'a> {
    schema: &'a Schema,
    line_text: &'a dyn Fn(u32) -> String,
    /// Path of the value being checked, borrowed from the object (made owned only for an
    /// issue, so that a clean object allocates nothing for it).
    path: Vec<Step<'a>>,
    issues: Vec<Issue>,
}

/// A [`PathSegment`] that borrows its key.
#[derive(Clone, Copy)]
enum Step<'a> {
    Field(&'a str),
    Index(usize),
    Key(&'a str),
}

impl<'a> Walk<'a> {
    /// The path of the value being checked, owned.
    fn path(&self) -> Vec<PathSegment> {
        self.path
            .iter()
            .map(|step| match *step {
                Step::Field(k) => PathSegment::Field(k.to_owned()),
                Step::Index(i) => PathSegment::Index(i),
                Step::Key(k) => PathSegment::Key(k.to_owned()),
            })
            .collect()
    }

    /// Checks `node` against `ty`; `key` is the mapping key `node` is the value of, if any.
    fn value(&mut self, node: &'a Node, ty: &SchemaType, key: Option<&str>) {
        // The API server reads null as "not set" for every field.
        if node.value == Value::Null {
            return;
        }
        match (ty, &node.value) {
            (SchemaType::Any, _) => {}
            (SchemaType::Object(name), Value::Map(entries)) => {
                self.object(node, name, entries, key);
            }
            (SchemaType::List(item), Value::List(items)) => {
                for (i, child) in items.iter().enumerate() {
                    self.path.push(Step::Index(i));
                    self.value(child, item, None);
                    self.path.pop();
                }
            }
            (SchemaType::Map(value), Value::Map(entries)) => {
                for (k, child) in entries {
                    self.path.push(Step::Key(k));
                    self.value(child, value, Some(k));
                    self.path.pop();
                }
            }
            _ => {
                if let Some(problem) = scalar_problem(ty, &node.value) {
                    let message = format!("`{}` {problem}", format_path(&self.path()));
                    self.issue(rules::WRONG_TYPE, message, node, key);
                }
            }
        }
    }

    fn object(
        &mut self,
        node: &'a Node,
        type_name: &str,
        entries: &'a [(String, Node)],
        key: Option<&str>,
    ) {
        let Some(object) = self.schema.object(type_name) else {
            return;
        };
        for (k, child) in entries {
            self.path.push(Step::Field(k));
            match object.fields.get(k) {
                Some(field) => {
                    if !field.enum_values.is_empty()
                        && child.value != Value::Null
                        && !field.enum_values.contains(&child.to_json())
                    {
                        let message = format!(
                            "`{}` must be one of {}, found `{}`",
                            format_path(&self.path()),
                            allowed(&field.enum_values),
                            child.to_json()
                        );
                        self.issue(rules::ENUM, message, child, Some(k));
                    }
                    self.value(child, &field.ty, Some(k));
                }
                None if object.open => {}
                None => {
                    let message = unknown_field(object, type_name, &self.path(), k);
                    self.issue(rules::UNKNOWN_FIELD, message, child, Some(k));
                }
            }
            self.path.pop();
        }
        for (name, field) in &object.fields {
            if !field.required {
                continue;
            }
            let present = entries
                .iter()
                .any(|(k, v)| k == name && v.value != Value::Null);
            if !present && !defaults_to_empty(type_name, name) {
                let (line, col) = self.key_position(node, key);
                self.path.push(Step::Field(name));
                let message = match type_label(type_name) {
                    Some(label) => format!(
                        "`{}` is required in `{label}` but is missing",
                        format_path(&self.path())
                    ),
                    None => format!("`{}` is required but is missing", format_path(&self.path())),
                };
                self.issues.push(Issue {
                    rule: rules::REQUIRED,
                    message,
                    path: self.path(),
                    line,
                    col,
                });
                self.path.pop();
            }
        }
    }

    fn issue(&mut self, rule: &'static str, message: String, node: &Node, key: Option<&str>) {
        let (line, col) = self.key_position(node, key);
        self.issues.push(Issue {
            rule,
            message,
            path: self.path(),
            line,
            col,
        });
    }

    /// The position of `key`, the mapping key whose value is `node`; the node's own
    /// position when there is no key or it cannot be found.
    fn key_position(&self, node: &Node, key: Option<&str>) -> (u32, u32) {
        key.and_then(|k| find_key(self.line_text, k, node.line, node.col))
            .unwrap_or((node.line, node.col))
    }
}

/// Required fields that the API server accepts missing: Kubernetes documents the `name` of
/// these references as "effectively required, but due to backwards compatibility allowed
/// to be empty" (it defaults to `""`), while the OpenAPI schema lists it as required.
const EMPTY_NAME_ALLOWED: [&str; 8] = [
    "io.k8s.api.core.v1.ConfigMapEnvSource",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.ConfigMapProjection",
    "io.k8s.api.core.v1.ConfigMapVolumeSource",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.SecretEnvSource",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretProjection",
];

/// Whether a required field of a type may be left out all the same.
fn defaults_to_empty(type_name: &str, field: &str) -> bool {
    field == "name" && EMPTY_NAME_ALLOWED.contains(&type_name)
}

/// Lines searched above a value for its key: a block value starts below its key, after
/// at most a few comment or blank lines.
const KEY_SEARCH_LINES: u32 = 8;

/// Finds `key:` (plain or quoted) at or before the value at `line`:`col`: on the value's line
/// before the value, else the last occurrence on the lines above.
fn find_key(
    line_text: &dyn Fn(u32) -> String,
    key: &str,
    line: u32,
    col: u32,
) -> Option<(u32, u32)> {
    // A block mapping or list is placed at its own key (spec §4.5): the key starts there.
    let here: String = line_text(line)
        .chars()
        .skip(col.saturating_sub(1) as usize)
        .collect();
    if last_key_at(&here, key) == Some(0) {
        return Some((line, col));
    }
    let first = line.saturating_sub(KEY_SEARCH_LINES).max(1);
    for at in (first..=line).rev() {
        let text = line_text(at);
        let chars: Vec<char> = text.chars().collect();
        let end = if at == line {
            (col.saturating_sub(1) as usize).min(chars.len())
        } else {
            chars.len()
        };
        let before: String = chars[..end].iter().collect();
        if let Some(byte) = last_key_at(&before, key) {
            let col = before[..byte].chars().count() + 1;
            return Some((at, u32::try_from(col).unwrap_or(u32::MAX)));
        }
    }
    None
}

/// Byte offset of the last `key` in `text` that is written as a mapping key: preceded by
/// the start, a space, `-`, `{` or `,`, optionally quoted, and followed by `:`.
fn last_key_at(text: &str, key: &str) -> Option<usize> {
    for quote in ["", "\"", "'"] {
        let written = format!("{quote}{key}{quote}");
        let mut found = None;
        for (at, _) in text.match_indices(&written) {
            let starts = text[..at]
                .chars()
                .next_back()
                .is_none_or(|c| matches!(c, ' ' | '\t' | '-' | '{' | ','));
            let ends = text[at + written.len()..].trim_start().starts_with(':');
            if starts && ends {
                found = Some(at);
            }
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The message for a field that `object` does not declare.
fn unknown_field(object: &ObjectType, type_name: &str, path: &[PathSegment], key: &str) -> String {
    let hint = did_you_mean(key, object.fields.keys().map(String::as_str))
        .map(|near| format!(": did you mean `{near}`?"))
        .unwrap_or_default();
    let parent = format_path(&path[..path.len() - 1]);
    let owner = match (parent.is_empty(), type_label(type_name)) {
        (true, Some(label)) => format!("`{label}`"),
        (false, Some(label)) => format!("`{parent}` (`{label}`)"),
        (_, None) => format!("`{parent}`"),
    };
    format!("unknown field `{key}`: {owner} has no such field{hint}")
}

/// The name of a type for messages: `Container` for `io.k8s.api.core.v1.Container`, the kind
/// for a CRD version's root type (`example.com/v1/Widget`), and none for the anonymous types
/// nested in a CRD schema (`example.com/v1/Widget.spec`), which the path already names.
fn type_label(type_name: &str) -> Option<&str> {
    match type_name.rsplit_once('/') {
        Some((_, kind)) if kind.contains('.') => None,
        Some((_, kind)) => Some(kind),
        None => Some(short_name(type_name)),
    }
}

/// The allowed values of an enum, for messages: `` `A`, `B` or `C` ``.
fn allowed(values: &[serde_json::Value]) -> String {
    let shown: Vec<String> = values.iter().map(|v| format!("`{}`", plain(v))).collect();
    match shown.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => shown.join(""),
    }
}

/// A JSON value as written in YAML: strings without their quotes.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What is wrong with a scalar (or a collection where a scalar is expected, and the other
/// way round) for type `ty`, completing "`path` …"; `None` when it fits.
fn scalar_problem(ty: &SchemaType, value: &Value) -> Option<String> {
    // Described only when the value does not fit: most values fit.
    let found = || describe(value);
    let expected = match ty {
        SchemaType::String => match value {
            Value::String(_) => return None,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                return Some(format!(
                    "must be a string, found {}: quote it to keep it a string",
                    found()
                ))
            }
            _ => "a string",
        },
        SchemaType::Integer => match value {
            Value::Int(_) => return None,
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => return None,
            Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                return Some(format!(
                    "must be an integer, found {}: remove the quotes",
                    found()
                ))
            }
            _ => "an integer",
        },
        SchemaType::Number => match value {
            Value::Int(_) | Value::Float(_) => return None,
            Value::String(s) if s.trim().parse::<f64>().is_ok() => {
                return Some(format!(
                    "must be a number, found {}: remove the quotes",
                    found()
                ))
            }
            _ => "a number",
        },
        SchemaType::Boolean => match value {
            Value::Bool(_) => return None,
            Value::String(s) if s == "true" || s == "false" => {
                return Some(format!(
                    "must be a boolean, found {}: remove the quotes",
                    found()
                ))
            }
            _ => "a boolean",
        },
        SchemaType::Quantity => match value {
            Value::Int(_) | Value::Float(_) => return None,
            Value::String(s) if rampart_compiler::check::is_quantity(s) => return None,
            Value::String(s) => {
                return Some(format!(
                    "must be a quantity such as `500m` or `1Gi`, found `{s}`"
                ))
            }
            _ => "a quantity",
        },
        SchemaType::IntOrString => match value {
            Value::Int(_) | Value::String(_) => return None,
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => return None,
            Value::Bool(_) => {
                return Some(format!(
                    "must be an integer or a string, found {}: quote it to make it a string",
                    found()
                ))
            }
            _ => "an integer or a string",
        },
        SchemaType::List(_) => "a list",
        SchemaType::Map(_) => "a mapping",
        SchemaType::Object(name) => {
            return Some(match type_label(name) {
                Some(label) => format!("must be a mapping (`{label}`), found {}", found()),
                None => format!("must be a mapping, found {}", found()),
            })
        }
        SchemaType::Any => return None,
    };
    Some(format!("must be {expected}, found {}", found()))
}

/// A value's JSON type and, for scalars, the value: "the boolean `true`".
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Int(i) => format!("the integer `{i}`"),
        Value::Float(f) => format!("the number `{f}`"),
        Value::String(s) => format!("the string `{}`", serde_json::Value::from(s.as_str())),
        Value::List(_) => "a list".to_string(),
        Value::Map(_) => "a mapping".to_string(),
    }
}

#[cfg(test)]
mod tests;
