//! Prints the embedded Kubernetes schema, or writes it to the path given as first argument:
//! `cargo run -p rampart-schema-gen -- stdlib/schema/kubernetes-1.37.json`; with `--docs`,
//! the field descriptions the language server shows:
//! `cargo run -p rampart-schema-gen -- --docs stdlib/schema/kubernetes-1.37-docs.json`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // `--docs PATH`: the field descriptions instead (`stdlib/schema/kubernetes-1.37-docs.json`).
    let docs = std::env::args().nth(1).is_some_and(|a| a == "--docs");
    let json = if docs {
        rampart_schema_gen::generate_docs()
    } else {
        match rampart_schema_gen::generate() {
            Ok(schema) => schema.to_json(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    match std::env::args_os().nth(if docs { 2 } else { 1 }) {
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
