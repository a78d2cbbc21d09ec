//! The `rampart` command-line tool.
use clap::Parser;

#[derive(Parser)]
#[command(name = "rampart", version, about = "Policy-as-code compiler for Kubernetes security")]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
