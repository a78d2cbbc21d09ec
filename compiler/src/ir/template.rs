//! The object a set rule's finding generates (spec/language.md §4.14): a template of
//! constants, lists, maps and strings made of literal text and paths of the subject, which
//! the host fills from the subject of each finding (spec/abi.md "Generated objects").
//!
//! This type is the contract between the checker, the module metadata (its serde form), the
//! runtime and the exporters: keep it small and stable.

use serde::{Deserialize, Serialize};

use super::PathStep;

/// A `generate` template. Its root is a [`Template::Map`] holding constant `apiVersion` and
/// `kind` strings (the checker guarantees both).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// A constant: null, a boolean, a number or a string without interpolation.
    Const(serde_json::Value),
    /// A string of literal text and subject paths, printed and joined in order.
    Str(Vec<TemplatePart>),
    /// A list, element by element.
    List(Vec<Template>),
    /// A mapping, entries in source order.
    Map(Vec<(String, Template)>),
}

/// A piece of a [`Template::Str`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// The scalar at these steps from the subject (`object`), printed as messages print it.
    Subject(Vec<PathStep>),
}

impl Template {
    /// The entry `key` of a map template.
    pub fn entry(&self, key: &str) -> Option<&Template> {
        match self {
            Template::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a constant string template (`apiVersion`, `kind`).
    pub fn const_str(&self) -> Option<&str> {
        match self {
            Template::Const(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The template as JSON, each subject path replaced by the text `read` gives for it;
    /// `None` when `read` gives none for some path (an absent value).
    pub fn fill(
        &self,
        read: &mut dyn FnMut(&[PathStep]) -> Option<String>,
    ) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match self {
            Template::Const(v) => v.clone(),
            Template::Str(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        TemplatePart::Text(t) => out.push_str(t),
                        TemplatePart::Subject(steps) => out.push_str(&read(steps)?),
                    }
                }
                J::String(out)
            }
            Template::List(items) => J::Array(
                items
                    .iter()
                    .map(|t| t.fill(read))
                    .collect::<Option<Vec<_>>>()?,
            ),
            Template::Map(entries) => {
                let mut m = serde_json::Map::new();
                for (k, t) in entries {
                    m.insert(k.clone(), t.fill(read)?);
                }
                J::Object(m)
            }
        })
    }
}
