//! The subcommands beyond `check`: `test`, `rules`, `explain`, `build` and `rbac`.

pub mod admission;
pub mod build;
pub mod ci;
pub mod config;
pub mod fix;
pub mod fix_generated;
pub mod fix_summary;
pub mod fmt;
pub mod library;
pub mod module_cache;
pub mod policies;
pub mod profiles;
pub mod rbac;
pub mod rules;
pub mod schema;
pub mod test;
pub mod webhook;

use std::process::ExitCode;

/// Exit code for usage errors, policy errors and unreadable or malformed input.
pub const EXIT_ERROR: u8 = 2;

/// `rampart lsp`: the language server over standard input and output.
pub fn lsp() -> ExitCode {
    match rampart_lsp::run_stdio() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("language server: {e}")),
    }
}

/// Prints `error: MESSAGE` on stderr and returns exit code 2.
pub fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_ERROR)
}
