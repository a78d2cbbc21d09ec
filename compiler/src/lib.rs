//! The Rampart policy language: source → tokens → syntax tree → typed IR → backends.
//!
//! [`compile`] is the front end's one entry point: it parses every source, loads the CRD
//! schemas they import, type-checks against the Kubernetes schema and returns the IR with
//! every diagnostic.

pub mod backend;
pub mod check;
pub mod diagnostics;
pub mod export;
pub mod format;
pub mod ir;
pub mod names;
pub mod schema;
pub mod set_reads;
pub mod syntax;
pub mod views;

use diagnostics::{Diagnostic, Files};
use schema::Schema;
use std::path::{Path, PathBuf};
use syntax::ast::Item;

/// The largest policy file accepted (spec §2).
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

/// One policy source: its name (a path for files) and its text, or why it could not be read.
pub struct Source {
    pub name: String,
    pub text: Result<String, String>,
}

/// The result of compiling a policy set.
pub struct Compilation {
    pub files: Files,
    /// `None` when there are errors.
    pub program: Option<ir::Program>,
    pub diagnostics: Vec<Diagnostic>,
    /// The text of each CRD file loaded by `import "file.yaml"`, so that the runner can
    /// validate objects of those kinds too.
    pub imported_crds: Vec<String>,
}

impl Compilation {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads policy sources from files and folders (folders: every `*.rp` below, sorted).
pub fn read_sources(paths: &[PathBuf]) -> Vec<Source> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found);
            found.sort();
            out.extend(found.iter().map(|f| read_source(f)));
        } else {
            out.push(read_source(p));
        }
    }
    out
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // file_type does not follow symlinks, so a symlink loop cannot recurse forever.
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, found),
            Ok(_) if path.extension().is_some_and(|e| e == "rp") => found.push(path),
            _ => {}
        }
    }
}

/// Reads one file, refusing unreadable, oversized and non-UTF-8 files with a clear reason.
pub fn read_source(path: &Path) -> Source {
    let name = path.display().to_string();
    let text = match std::fs::read(path) {
        Err(e) => Err(format!("cannot read `{name}`: {e}")),
        Ok(bytes) if bytes.len() > MAX_SOURCE_BYTES => Err(format!(
            "`{name}` is {} bytes, more than the limit of {MAX_SOURCE_BYTES} for a policy file",
            bytes.len()
        )),
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            format!(
                "`{name}` is not valid UTF-8 (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            )
        }),
    };
    Source { name, text }
}

/// Compiles a policy set against `schema` (extended with the CRDs the sources import,
/// read from the file system).
pub fn compile(sources: Vec<Source>, schema: &Schema) -> Compilation {
    compile_with(sources, schema, &|path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
    })
}

/// Reads a file named by `import "file.yaml"` (the embedded standard library has no files).
pub type FileReader<'a> = dyn Fn(&Path) -> Result<String, String> + 'a;

/// Compiles a policy set, reading imported CRD files through `read`.
pub fn compile_with(sources: Vec<Source>, schema: &Schema, read: &FileReader) -> Compilation {
    compile_typed(sources, schema, read, false).0
}

/// [`compile_with`], also returning the type of every checked expression when `record` is
/// set (for editors: hover and completion).
pub fn compile_typed(
    sources: Vec<Source>,
    schema: &Schema,
    read: &FileReader,
    record: bool,
) -> (Compilation, Vec<check::TypeAt>) {
    let mut files = Files::default();
    let mut diagnostics = Vec::new();
    let mut parsed = Vec::new();
    let mut digest = Fnv::new();
    for source in sources {
        match source.text {
            Err(reason) => diagnostics.push(Diagnostic::file_error("unreadable", reason)),
            Ok(text) => {
                digest.write(source.name.as_bytes());
                digest.write(&[0]);
                digest.write(text.as_bytes());
                let (ast, errors) = syntax::parse_file(&text);
                let id = files.add(source.name.clone(), text);
                if errors.is_empty() {
                    diagnostics.extend(check::no_rules(id, &ast));
                }
                for e in errors {
                    let mut d =
                        Diagnostic::error("syntax", id, e.span, e.message).with_label("here");
                    if let Some(h) = e.help {
                        d = d.with_help(h);
                    }
                    diagnostics.push(d);
                }
                parsed.push((id, ast, source.name));
            }
        }
    }
    // CRD schemas named by `import "file.yaml"`, relative to the importing file.
    let mut schema = schema.clone();
    views::add_types(&mut schema);
    let mut imported_crds = Vec::new();
    for (id, ast, name) in &parsed {
        for item in &ast.items {
            let Item::SchemaImport { path, span } = item else {
                continue;
            };
            let full = Path::new(name)
                .parent()
                .unwrap_or(Path::new("."))
                .join(path);
            let result = read(&normalize(&full)).and_then(|text| {
                schema.add_crd_yaml(&text)?;
                imported_crds.push(text);
                Ok(())
            });
            if let Err(e) = result {
                diagnostics.push(Diagnostic::error(
                    "bad-crd",
                    *id,
                    *span,
                    format!("cannot load CRD schema: {e}"),
                ));
            }
        }
    }
    let refs: Vec<_> = parsed.iter().map(|(id, ast, _)| (*id, ast)).collect();
    let (mut program, more, types) =
        check::check_program_typed(&schema, &refs, format!("{:016x}", digest.finish()), record);
    // A checker error on the very token a syntax error names is a consequence of it.
    let syntax: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.code == "syntax")
        .map(|d| (d.file, d.span))
        .collect();
    diagnostics.extend(
        more.into_iter()
            .filter(|d| !syntax.contains(&(d.file, d.span))),
    );
    if diagnostics.iter().any(Diagnostic::is_error) {
        program = None;
    }
    let compilation = Compilation {
        files,
        program,
        diagnostics,
        imported_crds,
    };
    (compilation, types)
}

/// Removes `.` and `dir/..` components, so `policies/x/../crds/a.yaml` names `policies/crds/a.yaml`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// FNV-1a, 64 bits: a stable digest of the sources (not for security).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
