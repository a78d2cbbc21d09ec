//! Rule parameters from a `--params` file and `--param RULE.NAME=VALUE` flags, checked
//! strictly against the rules' declarations before anything is evaluated (spec/config.md).
//!
//! ```yaml
//! apiVersion: rampart.dev/v1alpha1
//! kind: Params
//! params:
//!   pss.restricted.image_tag:
//!     banned: ["latest", "main"]
//! ```
//!
//! A flag overrides the file, whatever their order on the command line.

use std::collections::BTreeMap;

use super::config::{suggestion, ConfigFile};
use super::RunError;
use crate::eval::{fits, show_type, ParamInfo, Params};
use crate::manifest::Node;
use rampart_compiler::ir::Type;

/// The parameters every rule of the policies declares (selected or not), by rule id.
pub type Declared = BTreeMap<String, Vec<ParamInfo>>;

/// The keys of a `kind: Params` document.
const DOCUMENT_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "params"];

/// Where the values come from.
pub struct Sources<'a> {
    /// The `--params` file: its name and bytes.
    pub file: Option<(&'a str, &'a [u8])>,
    /// The `--param` flags, in command-line order.
    pub flags: &'a [String],
}

/// Reads the parameter values and checks each against its rule's declaration. Values for
/// rules outside `selected` are checked and then dropped. Every error is returned: the
/// file's in line order, then the flags' in command-line order.
pub fn read(
    sources: &Sources,
    declared: &Declared,
    selected: &[String],
) -> Result<Params, Vec<RunError>> {
    let mut values: BTreeMap<(String, String), serde_json::Value> = BTreeMap::new();
    let mut errors = Vec::new();
    if let Some((name, bytes)) = sources.file {
        let (mut file, documents) = ConfigFile::documents(name, bytes, "Params", DOCUMENT_KEYS);
        for doc in &documents {
            read_document(&mut file, doc, declared, &mut values);
        }
        errors.extend(file.into_errors());
    }
    for flag in sources.flags {
        match read_flag(flag, declared) {
            Ok((key, value)) => {
                values.insert(key, value);
            }
            Err(message) => errors.push(RunError::file(&format!("--param {flag}"), message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut params = Params::default();
    for ((rule, name), value) in values {
        if selected.contains(&rule) {
            params.set(&rule, &name, value);
        }
    }
    Ok(params)
}

/// Reads the `params` mapping of one document.
fn read_document(
    file: &mut ConfigFile,
    doc: &Node,
    declared: &Declared,
    values: &mut BTreeMap<(String, String), serde_json::Value>,
) {
    let Some(params) = doc.get("params") else {
        file.error(
            doc,
            "a `kind: Params` document needs a `params` mapping".into(),
        );
        return;
    };
    let Some(rules) = params.as_map() else {
        file.error(
            params,
            "`params` must map rule ids to their parameters".into(),
        );
        return;
    };
    for (rule, by_name) in rules {
        let Some(declared_params) = declared.get(rule) else {
            let hint = suggestion(rule, declared.keys().map(String::as_str));
            file.error_at_key(rule, by_name, format!("unknown rule `{rule}`{hint}"));
            continue;
        };
        let Some(by_name) = by_name.as_map() else {
            file.error(
                by_name,
                format!("the parameters of `{rule}` must be a mapping of names to values"),
            );
            continue;
        };
        for (name, value) in by_name {
            let json = value.to_json();
            match check(rule, name, &json, declared_params) {
                Ok(()) => {
                    values.insert((rule.clone(), name.clone()), json);
                }
                Err(Problem::UnknownName(message)) => file.error_at_key(name, value, message),
                Err(Problem::WrongType(message)) => file.error(value, message),
            }
        }
    }
}

/// What is wrong with one value.
enum Problem {
    UnknownName(String),
    WrongType(String),
}

/// Checks that rule `rule` declares parameter `name` and that `value` fits its type.
fn check(
    rule: &str,
    name: &str,
    value: &serde_json::Value,
    declared: &[ParamInfo],
) -> Result<(), Problem> {
    let Some(p) = declared.iter().find(|p| p.name == name) else {
        let message = if declared.is_empty() {
            format!("rule `{rule}` has no parameters")
        } else {
            let hint = suggestion(name, declared.iter().map(|p| p.name.as_str()));
            format!("rule `{rule}` has no parameter `{name}`{hint}")
        };
        return Err(Problem::UnknownName(message));
    };
    if fits(&p.ty, value) {
        Ok(())
    } else {
        Err(Problem::WrongType(format!(
            "parameter `{rule}.{name}` expects `{}`, got `{value}`",
            show_type(&p.ty)
        )))
    }
}

/// Reads one `--param RULE.NAME=VALUE`. VALUE is JSON, or else a string; a `string`
/// parameter always takes the text as it is.
fn read_flag(
    flag: &str,
    declared: &Declared,
) -> Result<((String, String), serde_json::Value), String> {
    let usage = || "must be written RULE.NAME=VALUE".to_string();
    let (key, text) = flag.split_once('=').ok_or_else(usage)?;
    let (rule, name) = key.rsplit_once('.').ok_or_else(usage)?;
    let Some(declared_params) = declared.get(rule) else {
        let hint = suggestion(rule, declared.keys().map(String::as_str));
        return Err(format!("unknown rule `{rule}`{hint}"));
    };
    let ty = declared_params
        .iter()
        .find(|p| p.name == name)
        .map(|p| &p.ty);
    let string = serde_json::Value::String(text.to_string());
    let value = if ty == Some(&Type::String) {
        string
    } else {
        serde_json::from_str(text).unwrap_or(string)
    };
    match check(rule, name, &value, declared_params) {
        Ok(()) => Ok(((rule.to_string(), name.to_string()), value)),
        Err(Problem::UnknownName(m) | Problem::WrongType(m)) => Err(m),
    }
}
