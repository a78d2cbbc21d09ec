//! `rampart fmt`: rewrites `.rp` files in the canonical style (spec/style.md).

use rampart_compiler::diagnostics::{self, Diagnostic, Files};
use rampart_compiler::format::format_source;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `fmt` does with a file that is not formatted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rewrite it.
    Write,
    /// List it and exit 1.
    Check,
    /// Print a unified diff and exit 1.
    Diff,
}

/// Formats `paths` (files, folders of `.rp` files, or `-` for standard input to standard
/// output). Exit code: 2 when a file cannot be read or parsed (left untouched), else 1 when
/// `--check`/`--diff` found unformatted files, else 0.
pub fn run(paths: &[PathBuf], mode: Mode) -> ExitCode {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    let mut failed = false;
    let mut unformatted = 0;
    for path in &paths {
        if path.as_os_str() == "-" {
            match stdin(mode) {
                Ok(changed) => unformatted += usize::from(changed),
                Err(()) => failed = true,
            }
            continue;
        }
        if !path.exists() {
            eprintln!("error: `{}` does not exist", path.display());
            failed = true;
            continue;
        }
        for source in rampart_compiler::read_sources(std::slice::from_ref(path)) {
            let text = match source.text {
                Ok(t) => t,
                Err(reason) => {
                    eprintln!("error: {reason}");
                    failed = true;
                    continue;
                }
            };
            match file(Path::new(&source.name), &text, mode) {
                Ok(changed) => unformatted += usize::from(changed),
                Err(()) => failed = true,
            }
        }
    }
    if mode == Mode::Check && unformatted > 0 {
        eprintln!("{unformatted} file(s) would be reformatted by `rampart fmt`");
    }
    if failed {
        ExitCode::from(super::EXIT_ERROR)
    } else if mode != Mode::Write && unformatted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Formats one file; `Ok(true)` when it was not formatted.
fn file(path: &Path, text: &str, mode: Mode) -> Result<bool, ()> {
    let name = path.display().to_string();
    let formatted = formatted(&name, text)?;
    if formatted == text {
        return Ok(false);
    }
    match mode {
        Mode::Check => println!("{name}"),
        Mode::Diff => print!("{}", diff(&name, text, &formatted)),
        Mode::Write => {
            if let Err(e) = rampart_runtime::output_file::write(path, formatted.as_bytes()) {
                eprintln!("error: cannot write `{name}`: {e}");
                return Err(());
            }
        }
    }
    Ok(true)
}

/// Standard input to standard output (`--check` and `--diff` print what they print for files).
fn stdin(mode: Mode) -> Result<bool, ()> {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: cannot read standard input: {e}");
        return Err(());
    }
    let formatted = formatted("<stdin>", &text)?;
    let changed = formatted != text;
    match mode {
        Mode::Write => {
            let _ = std::io::stdout().write_all(formatted.as_bytes());
        }
        Mode::Check if changed => println!("<stdin>"),
        Mode::Diff if changed => print!("{}", diff("<stdin>", &text, &formatted)),
        _ => {}
    }
    Ok(changed)
}

/// The formatted text, or the syntax diagnostics printed on stderr.
fn formatted(name: &str, text: &str) -> Result<String, ()> {
    format_source(text).map_err(|errors| {
        let mut files = Files::default();
        let id = files.add(name, text);
        let diags: Vec<Diagnostic> = errors
            .into_iter()
            .map(|e| {
                let d = Diagnostic::error("syntax", id, e.span, e.message).with_label("here");
                match e.help {
                    Some(h) => d.with_help(h),
                    None => d,
                }
            })
            .collect();
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!("{}", diagnostics::render(&files, &diags, color));
        eprintln!("error: `{name}` was not formatted: it has syntax errors");
    })
}

fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, name)
        .to_string()
}
