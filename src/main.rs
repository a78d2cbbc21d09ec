//! The `rampart` command-line tool.
//!
//! Exit codes: 0 success, 1 policy violations found, 2 errors (bad policy, bad input,
//! bad usage).

use clap::{Parser, Subcommand, ValueEnum};
use rampart_compiler::diagnostics::{self, Diagnostic};
use rampart_compiler::schema::Schema;
use rampart_compiler::{Compilation, Source};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Policy-as-code compiler for Kubernetes security",
    long_about = "Rampart type-checks security rules written in the .rp language against the \
                  Kubernetes schema, evaluates them, and exports them to admission engines."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and type-check policy files or folders (the standard library when none is given).
    Check {
        /// `.rp` files or folders holding them.
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = CheckFormat::Human)]
        output: CheckFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { paths, output } => check(&paths, output),
    }
}

/// The embedded Kubernetes schema.
fn kubernetes_schema() -> Schema {
    Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA)
        .expect("the embedded Kubernetes schema is valid (tested)")
}

/// Policy sources: the given paths, or the embedded standard library.
fn sources(paths: &[PathBuf]) -> Vec<Source> {
    if paths.is_empty() {
        rampart_stdlib::POLICIES
            .iter()
            .map(|(name, text)| Source {
                name: name.to_string(),
                text: Ok(text.to_string()),
            })
            .collect()
    } else {
        rampart_compiler::read_sources(paths)
    }
}

/// Prints diagnostics to stderr in the human form.
fn print_diagnostics(c: &Compilation) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = diagnostics::render(&c.files, &c.diagnostics, color);
    eprint!("{text}");
}

fn summary(diags: &[Diagnostic]) -> (usize, usize) {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    (errors, diags.len() - errors)
}

fn check(paths: &[PathBuf], output: CheckFormat) -> ExitCode {
    let sources = sources(paths);
    let files = sources.len();
    let compilation = rampart_compiler::compile(sources, &kubernetes_schema());
    let (errors, warnings) = summary(&compilation.diagnostics);
    match output {
        CheckFormat::Json => {
            let json = serde_json::json!({
                "files": files,
                "rules": compilation.program.as_ref().map_or(0, |p| p.rules.len()),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": diagnostics::to_json(&compilation.files, &compilation.diagnostics),
            });
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
        CheckFormat::Human => {
            print_diagnostics(&compilation);
            match &compilation.program {
                Some(p) => eprintln!(
                    "checked {files} file(s): {} rule(s), {warnings} warning(s)",
                    p.rules.len()
                ),
                None => {
                    eprintln!("checked {files} file(s): {errors} error(s), {warnings} warning(s)")
                }
            }
        }
    }
    if compilation.has_errors() || files == 0 {
        if files == 0 {
            eprintln!("error: no `.rp` files found in the given paths");
        }
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
