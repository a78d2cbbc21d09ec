//! A model of Kyverno's engine, written from its documentation and its
//! pkg/engine/variables sources, shared by the tests of the Kyverno ClusterPolicy
//! exports: JMESPath (the `jmespath` crate with Kyverno's `to_upper` and `to_lower`),
//! variable substitution (nested variables first), `match`/`exclude` resources (kinds
//! `Kind` or `group/version/Kind`, namespaces with wildcards `*` and `?`) and
//! `preconditions` (`all`, operator `Equals`).
#![allow(dead_code)]

use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Rcvar, Runtime, Variable};
use serde_json::Value as Json;

/// A JMESPath runtime with the built-in functions and the Kyverno ones the export emits.
pub fn runtime() -> Runtime {
    let mut rt = Runtime::new();
    rt.register_builtin_functions();
    for (name, upper) in [("to_upper", true), ("to_lower", false)] {
        let f = move |args: &[Rcvar], _: &mut jmespath::Context<'_>| {
            let s = args[0].as_string().cloned().unwrap_or_default();
            let out = if upper {
                s.to_uppercase()
            } else {
                s.to_lowercase()
            };
            Ok(Rcvar::new(Variable::String(out)))
        };
        rt.register_function(
            name,
            Box::new(CustomFunction::new(
                Signature::new(vec![ArgumentType::String], None),
                Box::new(f),
            )),
        );
    }
    rt
}

pub fn search(rt: &Runtime, expr: &str, context: &Json) -> Result<Json, String> {
    let compiled = rt
        .compile(expr)
        .map_err(|e| format!("`{expr}` does not parse: {e}"))?;
    let data = Variable::from_json(&context.to_string()).map_err(|e| e.to_string())?;
    let out = compiled
        .search(data)
        .map_err(|e| format!("`{expr}`: {e}"))?;
    serde_json::to_value(&*out).map_err(|e| e.to_string())
}

/// The next variable of `text` from `from`, as Kyverno's `RegexVariables` finds it: `{{`
/// not after a backslash, then characters other than braces or `{…}` groups without
/// braces, then `}}`. A variable holding a variable is found once the inner one is
/// substituted. Its start and end.
fn next_variable(text: &str, from: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut i = from;
    while i + 1 < b.len() {
        if b[i] == b'{' && b[i + 1] == b'{' && (i == 0 || b[i - 1] != b'\\') {
            let mut j = i + 2;
            loop {
                match b.get(j) {
                    None => break,
                    Some(b'}') if b.get(j + 1) == Some(&b'}') => return Some((i, j + 2)),
                    Some(b'}') => break,
                    Some(b'{') => match b[j + 1..].iter().position(|c| *c == b'{' || *c == b'}') {
                        Some(k) if b[j + 1 + k] == b'}' => j += k + 2,
                        _ => break,
                    },
                    Some(_) => j += 1,
                }
            }
        }
        i += 1;
    }
    None
}

/// Kyverno's variable substitution in a string (pkg/engine/variables/vars.go): every
/// variable found is searched and, when it is the whole string, its value is the result;
/// otherwise its text replaces it (strings as they are, other values as JSON), and the
/// string is searched again, so that inner variables are substituted first. Escaped `\{{`
/// are unescaped at the end.
pub fn substitute(rt: &Runtime, text: &str, context: &Json) -> Result<Json, String> {
    let mut value = text.to_string();
    loop {
        let mut vars = Vec::new();
        let mut from = 0;
        while let Some((s, e)) = next_variable(&value, from) {
            vars.push(value[s..e].to_string());
            from = e;
        }
        if vars.is_empty() {
            break;
        }
        let original = value.clone();
        for v in vars {
            let found = search(rt, v[2..v.len() - 2].trim(), context)?;
            if original == v {
                return Ok(found);
            }
            let shown = match found {
                Json::String(s) => s,
                Json::Null => return Err(format!("a variable of `{text}` does not resolve")),
                other => other.to_string(),
            };
            value = value.replacen(&v, &shown, 1);
        }
    }
    Ok(Json::String(value.replace("\\{{", "{{")))
}

/// Kyverno's wildcards: `*` any run of characters, `?` one.
pub fn wildcard(glob: &[char], name: &[char]) -> bool {
    match (glob.first(), name.first()) {
        (None, _) => name.is_empty(),
        (Some('*'), _) => {
            wildcard(&glob[1..], name) || (!name.is_empty() && wildcard(glob, &name[1..]))
        }
        (Some('?'), Some(_)) => wildcard(&glob[1..], &name[1..]),
        (Some(g), Some(n)) if g == n => wildcard(&glob[1..], &name[1..]),
        _ => false,
    }
}

pub fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether one `resources` block of `match` or `exclude` selects the object.
pub fn selects(resources: &Json, object: &Json) -> bool {
    let api = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let kind = object["kind"].as_str().unwrap_or("");
    let kinds = strings(&resources["kinds"]);
    let kind_ok = kinds.is_empty()
        || kinds
            .iter()
            .any(|k| match k.split('/').collect::<Vec<_>>()[..] {
                [k] => k == kind,
                [g, v, k] => g == group && (v == "*" || v == version) && k == kind,
                _ => panic!("a kind Kyverno does not take: {k}"),
            });
    let namespace: Vec<char> = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .chars()
        .collect();
    let namespaces = strings(&resources["namespaces"]);
    let ns_ok = namespaces.is_empty()
        || (!namespace.is_empty()
            && namespaces
                .iter()
                .any(|g| wildcard(&g.chars().collect::<Vec<_>>(), &namespace)));
    kind_ok && ns_ok
}

pub fn any_selects(block: &Json, object: &Json) -> bool {
    block["any"]
        .as_array()
        .is_some_and(|a| a.iter().any(|r| selects(&r["resources"], object)))
}

/// `preconditions`: every condition of `all` holds (the export writes `Equals` only).
pub fn preconditions(rt: &Runtime, pre: &Json, context: &Json) -> Result<bool, String> {
    for c in pre["all"].as_array().into_iter().flatten() {
        assert_eq!(c["operator"], "Equals", "the model knows Equals only");
        let key = substitute(rt, c["key"].as_str().expect("a string key"), context)?;
        if key != c["value"] {
            return Ok(false);
        }
    }
    Ok(true)
}
