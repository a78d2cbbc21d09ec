//! Finding the manifests to check: files, folders walked recursively, and stdin.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::RunError;

/// Where one input's bytes come from.
#[derive(Debug)]
pub enum Source {
    /// A file on disk, read when its turn comes so memory does not grow with the file count.
    File(PathBuf),
    /// Standard input, read up front (it can only be read once).
    Bytes(Vec<u8>),
}

/// One manifest input: its name as reported (the path as given, joined with the walked
/// relative path, or `-` for stdin) and where to read it.
#[derive(Debug)]
pub struct Input {
    /// The name used in every report.
    pub name: String,
    /// Where the bytes come from.
    pub source: Source,
}

/// File name endings that a folder walk picks up.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// The `--ignore` globs, matched against a walked path relative to the folder walked, the
/// path as reported (the folder as given joined with it), and the file or folder name; it
/// records which globs matched, so that one that never does can be reported.
pub struct Ignore {
    globs: Vec<String>,
    set: GlobSet,
    used: Vec<Cell<bool>>,
}

impl Ignore {
    /// Builds the matcher; a bad glob is a usage error. A leading `./` and a trailing `/`
    /// are dropped, since paths are matched without them.
    pub fn new(globs: &[String]) -> Result<Ignore, String> {
        let mut builder = GlobSetBuilder::new();
        for g in globs {
            let pattern = g.strip_prefix("./").unwrap_or(g);
            let pattern = pattern.strip_suffix('/').unwrap_or(pattern);
            let glob =
                Glob::new(pattern).map_err(|e| format!("invalid --ignore glob `{g}`: {e}"))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| format!("invalid --ignore globs: {e}"))?;
        Ok(Ignore {
            globs: globs.to_vec(),
            set,
            used: globs.iter().map(|_| Cell::new(false)).collect(),
        })
    }

    /// Whether `path`, found under `root`, is ignored.
    fn matches(&self, root: &Path, path: &Path) -> bool {
        let relative = path.strip_prefix(root).unwrap_or(path);
        let given = path.strip_prefix(".").unwrap_or(path);
        let mut hit = false;
        let names = [Some(relative), Some(given), path.file_name().map(Path::new)];
        for name in names.into_iter().flatten() {
            for i in self.set.matches(name) {
                self.used[i].set(true);
                hit = true;
            }
        }
        hit
    }

    /// The globs that matched no walked path, as warnings about the run.
    pub fn unused(&self) -> Vec<RunError> {
        self.globs
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !used.get())
            .map(|(g, _)| {
                RunError::file(
                    "--ignore",
                    format!("pattern `{g}` matched no file or folder under the walked folders"),
                )
            })
            .collect()
    }
}

/// Lists the inputs named by `paths` (`-` is stdin), in order, folders walked in sorted order.
/// Paths that cannot be listed become errors; the others are still returned.
pub fn collect(paths: &[String], ignore: &Ignore, max_bytes: usize) -> (Vec<Input>, Vec<RunError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut stdin_read = false;
    for given in paths {
        if given == "-" {
            if stdin_read {
                continue;
            }
            stdin_read = true;
            match read_limited(std::io::stdin().lock(), 0, max_bytes) {
                Ok(bytes) => inputs.push(Input {
                    name: "-".into(),
                    source: Source::Bytes(bytes),
                }),
                Err(e) => errors.push(RunError::file("-", format!("cannot read stdin: {e}"))),
            }
            continue;
        }
        let path = Path::new(given);
        match std::fs::metadata(path) {
            Err(e) => errors.push(RunError::file(given, io_message(&e))),
            Ok(meta) if meta.is_dir() => walk(path, ignore, &mut inputs, &mut errors),
            // A file named explicitly is read whatever its extension.
            Ok(_) => inputs.push(Input {
                name: given.clone(),
                source: Source::File(path.to_path_buf()),
            }),
        }
    }
    (inputs, errors)
}

fn walk(root: &Path, ignore: &Ignore, inputs: &mut Vec<Input>, errors: &mut Vec<RunError>) {
    let ignored = |path: &Path| ignore.matches(root, path);
    // Following links finds manifests behind symlinks; walkdir detects loops and reports
    // them as errors instead of recursing forever.
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !ignored(e.path()));
    for entry in walker {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                let wanted = entry.file_type().is_file()
                    && path
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
                if wanted {
                    inputs.push(Input {
                        name: path.display().to_string(),
                        source: Source::File(path.to_path_buf()),
                    });
                }
            }
            Err(e) => {
                let name = e.path().unwrap_or(root).display().to_string();
                let message = match (e.loop_ancestor(), e.io_error()) {
                    (Some(ancestor), _) => format!(
                        "symlink loop: `{name}` points back to `{}`",
                        ancestor.display()
                    ),
                    (None, Some(io)) => io_message(io),
                    (None, None) => e.to_string(),
                };
                errors.push(RunError::file(&name, message));
            }
        }
    }
}

/// Reads one input, refusing more than `max_bytes` without reading them all.
pub fn read(input: &Input, max_bytes: usize) -> Result<Vec<u8>, String> {
    match &input.source {
        Source::Bytes(bytes) => Ok(bytes.clone()),
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| io_message(&e))?;
            let mut size = 0;
            if let Ok(meta) = file.metadata() {
                if meta.is_dir() {
                    return Err("is a directory".into());
                }
                if meta.len() > max_bytes as u64 {
                    return Err(too_large(meta.len(), max_bytes));
                }
                size = meta.len() as usize;
            }
            read_limited(file, size, max_bytes)
        }
    }
}

/// Reads at most `max_bytes`; more is an error (a FIFO or device has no length up front).
/// `size` is the length expected (0 when unknown): with room for it and one byte more, a
/// file is read in one call and its end found by a second.
fn read_limited(reader: impl Read, size: usize, max_bytes: usize) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(size.saturating_add(1));
    reader
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_message(&e))?;
    if bytes.len() > max_bytes {
        return Err(format!(
            "input is larger than the limit of {max_bytes} bytes"
        ));
    }
    Ok(bytes)
}

fn too_large(len: u64, max_bytes: usize) -> String {
    format!("file is {len} bytes, more than the limit of {max_bytes} bytes")
}

/// An I/O error as a lowercase, one-line message.
fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            // "Is a directory (os error 21)" → "is a directory (os error 21)"
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}
