//! `rampart test --operation`, `--old`: the admission request objects are evaluated under
//! (spec/language.md §4.11).

use std::path::PathBuf;

use rampart_runtime::eval::Operation;
use rampart_runtime::manifest;
use rampart_runtime::runner::admission::Admission;

/// The request's flags.
#[derive(clap::Args, Debug)]
pub struct AdmissionArgs {
    /// The admission operation rules see as `request.operation`: CREATE, UPDATE, DELETE or
    /// CONNECT.
    #[arg(long = "operation", value_name = "OP", default_value = "CREATE", value_parser = parse_operation)]
    pub operation: Operation,
    /// The objects before an UPDATE or DELETE (`oldObject`): each checked object is paired
    /// with the one of the same apiVersion, kind, namespace and name in this file.
    #[arg(long = "old", value_name = "FILE")]
    pub old: Option<PathBuf>,
}

fn parse_operation(s: &str) -> Result<Operation, String> {
    s.parse()
}

/// The request of a run: `None` for a plain CREATE; an error for `--old` without UPDATE or
/// DELETE, or an unreadable `--old` file.
pub fn read(args: &AdmissionArgs, limits: &manifest::Limits) -> Result<Option<Admission>, String> {
    let needs_old = matches!(args.operation, Operation::Update | Operation::Delete);
    let Some(path) = &args.old else {
        return Ok((args.operation != Operation::Create).then(|| Admission {
            operation: args.operation,
            old_objects: Vec::new(),
            ..Admission::default()
        }));
    };
    if !needs_old {
        return Err(format!(
            "`--old` needs `--operation UPDATE` or `--operation DELETE` (the request is a {})",
            args.operation
        ));
    }
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let loaded = manifest::load_bytes(&bytes, limits)
        .map_err(|e| format!("{shown}:{}:{}: {}", e.line, e.col, e.message))?;
    Ok(Some(Admission {
        operation: args.operation,
        old_objects: loaded.objects,
        ..Admission::default()
    }))
}
