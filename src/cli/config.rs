//! The configuration of a `rampart test` run (`--params`, `--param`, `--exceptions`), read and
//! checked before anything is evaluated: one mistake in it stops the run with exit code 2 and
//! every error on stderr, since a configuration read half-way could waive real findings.

use std::path::PathBuf;
use std::process::ExitCode;

use rampart_runtime::eval::Params;
use rampart_runtime::runner::exceptions::{self, Date, Exception};
use rampart_runtime::runner::{params, RunError};

use super::policies::ModuleSet;
use super::EXIT_ERROR;

/// What the configuration flags asked for.
pub struct Flags<'a> {
    /// `--param RULE.NAME=VALUE`, in command-line order.
    pub params: &'a [String],
    /// `--params FILE`.
    pub params_file: Option<&'a PathBuf>,
    /// `--exceptions FILE` (repeatable).
    pub exceptions: &'a [PathBuf],
    /// `--require-owner-and-expiry`.
    pub require_owner_and_expiry: bool,
}

/// The checked configuration of a run.
pub struct Config {
    /// Parameter overrides of the selected rules.
    pub params: Params,
    /// The exceptions of every `--exceptions` file, in file order.
    pub exceptions: Vec<Exception>,
    /// Warnings for the report (expired exceptions).
    pub notices: Vec<RunError>,
}

/// Reads and checks every configuration file and flag. The errors come in a stable order:
/// the params file (by line), the `--param` flags, then each exceptions file (by line).
pub fn read(flags: &Flags, module: &ModuleSet, today: Date) -> Result<Config, Vec<RunError>> {
    let mut errors = Vec::new();
    let params_file = flags.params_file.map(|path| {
        let name = path.display().to_string();
        let bytes = std::fs::read(path);
        (name, bytes)
    });
    let mut file = None;
    if let Some((name, bytes)) = &params_file {
        match bytes {
            Ok(b) => file = Some((name.as_str(), b.as_slice())),
            Err(e) => errors.push(RunError::file(
                name,
                format!("cannot read the params file: {e}"),
            )),
        }
    }
    let sources = params::Sources {
        file,
        flags: flags.params,
    };
    let params = params::read(&sources, &module.declared, &module.selected).unwrap_or_else(|e| {
        errors.extend(e);
        Params::default()
    });
    let checks = exceptions::Checks {
        known: &module.all_rules,
        today,
        require_owner_and_expiry: flags.require_owner_and_expiry,
    };
    let mut config = Config {
        params,
        exceptions: Vec::new(),
        notices: Vec::new(),
    };
    for path in flags.exceptions {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let loaded = exceptions::load_file(&name, &bytes, checks);
                config.exceptions.extend(loaded.exceptions);
                errors.extend(loaded.errors);
                config.notices.extend(loaded.notices);
            }
            Err(e) => errors.push(RunError::file(
                &name,
                format!("cannot read the exceptions file: {e}"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// Prints configuration errors on stderr, `error: FILE:LINE:COL: MESSAGE` each, and returns
/// exit code 2.
pub fn fail(errors: &[RunError]) -> ExitCode {
    for e in errors {
        match (e.line, e.col) {
            (Some(line), Some(col)) => eprintln!("error: {}:{line}:{col}: {}", e.file, e.message),
            _ => eprintln!("error: {}: {}", e.file, e.message),
        }
    }
    eprintln!(
        "error: nothing was evaluated: {} configuration error(s)",
        errors.len()
    );
    ExitCode::from(EXIT_ERROR)
}
