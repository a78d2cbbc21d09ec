//! Prints the embedded Kubernetes schema, or writes it to the path given as first argument:
//! `cargo run -p rampart-schema-gen -- stdlib/schema/kubernetes-1.37.json`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let json = match rampart_schema_gen::generate() {
        Ok(schema) => schema.to_json(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match std::env::args_os().nth(1) {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, json) {
                eprintln!("error: cannot write `{}`: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{json}"),
    }
    ExitCode::SUCCESS
}
