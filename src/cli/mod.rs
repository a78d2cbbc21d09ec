//! The subcommands beyond `check`: `test`, `rules`, `explain`, `build` and `rbac`.

pub mod admission;
pub mod build;
pub mod ci;
pub mod config;
pub mod policies;
pub mod rbac;
pub mod rules;
pub mod schema;
pub mod test;
pub mod webhook;

use std::process::ExitCode;

/// Exit code for usage errors, policy errors and unreadable or malformed input.
pub const EXIT_ERROR: u8 = 2;

/// Prints `error: MESSAGE` on stderr and returns exit code 2.
pub fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_ERROR)
}
