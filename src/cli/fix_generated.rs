//! The objects `rampart fix` generates (spec/language.md §4.13 "Generated objects"): those
//! of the set rules' findings, written to `<file>.generated.yaml` next to the file of the
//! object that caused them, or printed on stdout with `--generated -`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use rampart_runtime::manifest::{load_bytes, Limits};
use rampart_runtime::runner::{inputs, Report};
use serde_json::Value;

/// An object's identity: apiVersion, kind, namespace and name.
type Identity = (String, String, Option<String>, Option<String>);

fn identity(v: &Value) -> Identity {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let meta = v.get("metadata");
    (
        text(v.get("apiVersion")).unwrap_or_default(),
        text(v.get("kind")).unwrap_or_default(),
        text(meta.and_then(|m| m.get("namespace"))),
        text(meta.and_then(|m| m.get("name"))),
    )
}

/// The generated objects of one input file.
pub struct ForFile {
    /// The input's name as reported.
    pub input: String,
    /// New objects, in finding order.
    pub objects: Vec<Value>,
}

/// The objects the non-exempted findings generate, per input, each once, leaving out those
/// whose identity is already among the checked objects.
pub fn collect(report: &Report) -> Vec<ForFile> {
    let mut seen: BTreeSet<Identity> = report
        .results
        .iter()
        .map(|r| {
            (
                r.api_version.clone(),
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
            )
        })
        .collect();
    let mut out: Vec<ForFile> = Vec::new();
    for r in &report.results {
        let generated = r
            .violations
            .iter()
            .filter(|v| v.exemption.is_none())
            .filter_map(|v| v.generated.as_ref());
        for object in generated {
            if !seen.insert(identity(object)) {
                continue;
            }
            match out.iter_mut().find(|f| f.input == r.file) {
                Some(f) => f.objects.push(object.clone()),
                None => out.push(ForFile {
                    input: r.file.clone(),
                    objects: vec![object.clone()],
                }),
            }
        }
    }
    out
}

/// `deploy/ns.yaml` → `deploy/ns.generated.yaml`.
pub fn file_for(input: &Path) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    input.with_file_name(format!("{stem}.generated.yaml"))
}

/// YAML documents, `---` before each but the first.
pub fn documents(objects: &[Value]) -> Result<String, String> {
    super::webhook::yaml(objects)
}

/// What writing one file of generated objects gives: its path, the text before and after.
pub struct Written {
    pub path: PathBuf,
    pub before: String,
    pub after: String,
    /// How many objects it adds.
    pub added: usize,
}

/// The new text of the generated file of `input`: its current text (when it exists) with
/// the objects it does not hold yet appended (none when it holds them all).
pub fn extend(input: &Path, objects: &[Value], limits: &Limits) -> Result<Written, String> {
    let path = file_for(input);
    let before = match std::fs::read(&path) {
        Ok(bytes) => {
            String::from_utf8(bytes).map_err(|_| format!("`{}` is not UTF-8", path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let present: BTreeSet<Identity> = load_bytes(before.as_bytes(), limits)
        .map_err(|e| format!("`{}`: {}", path.display(), e.message))?
        .objects
        .iter()
        .map(|o| identity(&o.node.to_json()))
        .collect();
    let new: Vec<Value> = objects
        .iter()
        .filter(|o| !present.contains(&identity(o)))
        .cloned()
        .collect();
    let mut after = before.clone();
    if new.is_empty() {
        return Ok(Written {
            path,
            before,
            after,
            added: 0,
        });
    }
    if !after.trim().is_empty() {
        if !after.ends_with('\n') {
            after.push('\n');
        }
        after.push_str("---\n");
    }
    after.push_str(&documents(&new)?);
    Ok(Written {
        path,
        before,
        after,
        added: new.len(),
    })
}

/// Prints `text` as a unified diff from `before` under the name `path`.
pub fn print_diff(path: &Path, before: &str, after: &str) {
    let name = path.display().to_string();
    let diff = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string();
    let _ = std::io::stdout().lock().write_all(diff.as_bytes());
}

/// The input the next evaluation reads for a generated file.
pub fn as_input(path: &Path, text: &str) -> inputs::Input {
    inputs::Input {
        name: path.display().to_string(),
        source: inputs::Source::Bytes(text.as_bytes().to_vec()),
    }
}
