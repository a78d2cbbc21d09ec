//! The `rampart` command-line tool.
//!
//! Exit codes: 0 success, 1 policy violations found, 2 errors (bad policy, bad input,
//! bad usage).

mod cli;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use rampart_compiler::diagnostics::{self, Diagnostic};
use rampart_compiler::export::Target;
use rampart_compiler::schema::Schema;
use rampart_compiler::{Compilation, Source};
use rampart_runtime::report::Format;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: the webhook's connection threads and the
/// runner's workers allocate from many threads at once, where glibc's malloc contends
/// (BENCHMARKS.md §6).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Policy-as-code compiler for Kubernetes security",
    long_about = "Rampart type-checks security rules written in the .rp language against the \
                  Kubernetes schema, evaluates them, and exports them to admission engines.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit codes, shown by `--help`.
const EXIT_CODES: &str = "Exit codes:
  0  no finding fails the run
  1  findings fail the run: deny violations (and warnings, with `test --fail-on-warn`), at or \
above `--fail-on-severity`, not in the `--baseline` report
  2  usage errors, policy compile errors, unreadable or malformed input (the other inputs are \
still evaluated and reported), nothing to check with `--fail-on-empty`
  130  interrupted by Ctrl-C (`test` writes no report)";

// Parsed once per run: the size of the `test` variant's flags costs nothing worth boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Parse and type-check policy files or folders (the standard library when none is given).
    Check {
        /// `.rp` files or folders holding them (as `-p`).
        paths: Vec<PathBuf>,
        #[command(flatten)]
        policies: cli::policies::PolicyArgs,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = CheckFormat::Human)]
        output: CheckFormat,
        /// Also report, per rule, what this export target cannot express and the exported
        /// names that clash (the diagnostics `build --target` gives), without writing files.
        #[arg(long, value_enum, value_name = "TARGET")]
        target: Option<ExportTarget>,
        /// With `--target gatekeeper` or `gatekeeper-cel`: check the rules that read other
        /// objects as referential constraints too (as `build --referential` exports them).
        #[arg(long, requires = "target")]
        referential: bool,
    },
    /// Rewrite `.rp` files in the canonical style (spec/style.md).
    Fmt {
        /// `.rp` files or folders holding them (`-`: standard input to standard output).
        paths: Vec<PathBuf>,
        /// Change nothing; list the files that are not formatted and exit 1 if any.
        #[arg(long, conflicts_with = "diff")]
        check: bool,
        /// Change nothing; print a unified diff of the changes and exit 1 if any.
        #[arg(long)]
        diff: bool,
    },
    /// Run the language server on standard input and output (for editors).
    Lsp,
    /// Evaluate Kubernetes manifests against the policies (the embedded standard library by
    /// default) and report every violation with its file, line and field.
    #[command(after_help = EXIT_CODES)]
    Test {
        /// Manifest files, folders (walked for *.yaml, *.yml, *.json) or `-` for stdin.
        paths: Vec<String>,
        #[command(flatten)]
        policies: cli::policies::PolicyArgs,
        /// Only run the rules whose id matches this glob (repeatable).
        #[arg(long = "rule", value_name = "GLOB")]
        rule: Vec<String>,
        /// Do not run the rules whose id matches this glob (repeatable).
        #[arg(long = "exclude-rule", value_name = "GLOB")]
        exclude_rule: Vec<String>,
        /// Set a rule parameter: RULE.NAME=VALUE (VALUE is JSON, or else a string).
        #[arg(long = "param", value_name = "RULE.NAME=VALUE")]
        param: Vec<String>,
        /// A `kind: Params` file setting rule parameters (`--param` flags override it).
        #[arg(long = "params", value_name = "FILE")]
        params: Option<PathBuf>,
        /// A `kind: Exceptions` file of time-bound exceptions (repeatable).
        #[arg(long = "exceptions", value_name = "FILE")]
        exceptions: Vec<PathBuf>,
        /// Make exceptions (files and annotations) without an owner or an expiry date errors.
        #[arg(long = "require-owner-and-expiry")]
        require_owner_and_expiry: bool,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = TestFormat::Human)]
        output: TestFormat,
        /// Write the report to this file instead of stdout (a regular file is replaced whole,
        /// a symlink's target too; a device or a FIFO is written to).
        #[arg(long = "output-file", value_name = "FILE")]
        output_file: Option<PathBuf>,
        /// Exit 1 on warnings too.
        #[arg(long = "fail-on-warn")]
        fail_on_warn: bool,
        /// Skip walked files and folders matching this glob (repeatable).
        #[arg(long = "ignore", value_name = "GLOB")]
        ignore: Vec<String>,
        /// Number of worker threads (default: one per CPU).
        #[arg(long = "threads", value_name = "N")]
        threads: Option<usize>,
        #[command(flatten)]
        limits: cli::test::LimitArgs,
        #[command(flatten)]
        ci: cli::ci::CiArgs,
        #[command(flatten)]
        schema: cli::schema::SchemaArgs,
        #[command(flatten)]
        library: cli::library::LibraryArgs,
        #[command(flatten)]
        admission: cli::admission::AdmissionArgs,
    },
    /// Apply the fixes of the findings `test` reports to the manifest files, in place and
    /// with minimal text edits (comments and layout kept); then report what is left.
    #[command(after_help = EXIT_CODES)]
    Fix {
        /// Manifest files, folders (walked for *.yaml, *.yml, *.json) or `-` (stdin, the
        /// fixed text printed on stdout).
        paths: Vec<String>,
        #[command(flatten)]
        policies: cli::policies::PolicyArgs,
        /// Only run (and fix) the rules whose id matches this glob (repeatable).
        #[arg(long = "rule", value_name = "GLOB")]
        rule: Vec<String>,
        /// Do not run the rules whose id matches this glob (repeatable).
        #[arg(long = "exclude-rule", value_name = "GLOB")]
        exclude_rule: Vec<String>,
        /// Print a unified diff of each file's changes.
        #[arg(long)]
        diff: bool,
        /// Change no file (with `--diff`, show what would change).
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// Apply the fixes marked `review` too (they may change what a workload does).
        #[arg(long = "unsafe")]
        unsafe_fixes: bool,
        /// `-`: print the objects set rules generate on stdout instead of writing them to
        /// `<file>.generated.yaml` next to the file that caused them.
        #[arg(long = "generated", value_name = "-")]
        generated: Option<String>,
        /// Set a rule parameter: RULE.NAME=VALUE (VALUE is JSON, or else a string).
        #[arg(long = "param", value_name = "RULE.NAME=VALUE")]
        param: Vec<String>,
        /// A `kind: Params` file setting rule parameters (`--param` flags override it).
        #[arg(long = "params", value_name = "FILE")]
        params: Option<PathBuf>,
        /// A `kind: Exceptions` file: exempted findings are not fixed (repeatable).
        #[arg(long = "exceptions", value_name = "FILE")]
        exceptions: Vec<PathBuf>,
        /// Exit 1 when warnings remain too.
        #[arg(long = "fail-on-warn")]
        fail_on_warn: bool,
        /// Skip walked files and folders matching this glob (repeatable).
        #[arg(long = "ignore", value_name = "GLOB")]
        ignore: Vec<String>,
        #[command(flatten)]
        limits: cli::test::LimitArgs,
        #[command(flatten)]
        ci: cli::ci::CiArgs,
        #[command(flatten)]
        schema: cli::schema::SchemaArgs,
        #[command(flatten)]
        library: cli::library::LibraryArgs,
    },
    /// List the rules of the policies (the embedded standard library by default).
    Rules {
        #[command(flatten)]
        policies: cli::policies::PolicyArgs,
        /// Only list the rules whose id matches this glob (repeatable).
        #[arg(long = "rule", value_name = "GLOB")]
        rule: Vec<String>,
        /// Only list the rules of this profile (repeatable).
        #[arg(long = "profile", value_name = "NAME")]
        profile: Vec<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = CheckFormat::Human)]
        output: CheckFormat,
    },
    /// Explain a rule: description, rationale, controls, remediation and its definition.
    Explain {
        /// The rule id, e.g. `pss.baseline.privileged`.
        rule: String,
        #[command(flatten)]
        policies: cli::policies::PolicyArgs,
    },
    /// Run policy unit tests (`*.test.yaml`, see spec/testing.md).
    Verify {
        /// Test files or folders holding them (the current folder when none is given).
        paths: Vec<PathBuf>,
        // The policies of the test files that name none (`policies:`).
        #[command(flatten)]
        policies: cli::policies::PolicyArgs,
        /// Output format.
        #[arg(short, long, default_value = "table", value_parser = ["table", "json", "junit"])]
        output: String,
        /// The engines the cases run on: the Wasm evaluator, the exported Rego (regorus),
        /// the exported CEL (cel), or all three (rego and cel need the `engines` feature).
        #[arg(long, default_value = "wasm", value_parser = ["wasm", "rego", "cel", "all"])]
        backend: String,
        /// List the rules that have no passing or no failing case.
        #[arg(long)]
        coverage: bool,
    },
    /// Compile policies (the embedded standard library by default) for a target.
    Build {
        /// What to produce: `wasm` writes DIR/policies.wasm, which `test -p` accepts; the
        /// others write the YAML that admission engine applies.
        #[arg(long, value_enum)]
        target: BuildTarget,
        /// Output folder.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// With `--target kyverno`: `pattern` also writes DIR/pattern/, classic
        /// `validate.pattern` ClusterPolicies for Kyverno versions without CEL.
        #[arg(long, value_enum, default_value = "cel")]
        kyverno_style: KyvernoStyle,
        /// With `--target gatekeeper` or `gatekeeper-cel`: also export the rules that read
        /// other objects, as referential constraints with a SyncSet (their verdict then
        /// depends on what Gatekeeper has synced; README: Gatekeeper output).
        #[arg(long)]
        referential: bool,
        /// With `--target map`, `kyverno-vpol`, `gatekeeper` or `gatekeeper-cel`: also export the
        /// fixes marked `review`, which may break the application (spec/fix.md §3).
        #[arg(long = "unsafe")]
        unsafe_fixes: bool,
        /// Policy `.rp` files or folders (as `-p`).
        paths: Vec<PathBuf>,
        #[command(flatten)]
        policies: cli::policies::PolicyArgs,
        /// Export only the rules whose id matches this glob (repeatable), as `test --rule`.
        #[arg(long = "rule", value_name = "GLOB")]
        rule: Vec<String>,
        /// Leave out the rules whose id matches this glob (repeatable).
        #[arg(long = "exclude-rule", value_name = "GLOB")]
        exclude_rule: Vec<String>,
        /// Export the rules of this standard library profile (repeatable; `rampart rules`
        /// lists them).
        #[arg(long = "profile", value_name = "NAME")]
        profile: Vec<String>,
        #[command(flatten)]
        webhook: cli::webhook::BuildArgs,
    },
    /// Serve the policies as a validating admission webhook over HTTPS (spec/admission.md).
    Serve(serve::ServeArgs),
    /// Effective RBAC permissions of manifests: can, who-can, list, risks, diff (spec/rbac.md).
    Rbac {
        #[command(subcommand)]
        command: cli::rbac::Command,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KyvernoStyle {
    /// CEL rules only (Kyverno 1.17 and later).
    Cel,
    /// CEL rules, and pattern rules where a rule is expressible that way.
    Pattern,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TestFormat {
    Human,
    Json,
    Junit,
    Sarif,
    Github,
    Tap,
    /// wgpolicyk8s.io PolicyReport/ClusterPolicyReport objects (a `v1` List, JSON).
    Policyreport,
    /// One self-contained HTML page: summaries per control and severity, findings per file.
    Html,
}

/// The export targets `check --target` knows.
#[derive(Clone, Copy, ValueEnum)]
enum ExportTarget {
    /// OPA Gatekeeper ConstraintTemplates and Constraints (Rego).
    Gatekeeper,
    /// Gatekeeper ConstraintTemplates with both engines: CEL (K8sNativeValidation) and Rego.
    GatekeeperCel,
    /// Kyverno ClusterPolicies (CEL expressions).
    Kyverno,
    /// Kyverno ValidatingPolicies (`policies.kyverno.io/v1`).
    KyvernoVpol,
    /// Kubernetes ValidatingAdmissionPolicies and their bindings.
    Vap,
    /// Kubernetes MutatingAdmissionPolicies and their bindings: the rules' fixes.
    Map,
}

impl ExportTarget {
    fn target(self, kyverno_pattern: bool, referential: bool, review: bool) -> Target {
        match self {
            ExportTarget::Gatekeeper => Target::Gatekeeper {
                referential,
                review,
            },
            ExportTarget::GatekeeperCel => Target::GatekeeperCel {
                referential,
                review,
            },
            ExportTarget::Kyverno => Target::Kyverno {
                pattern: kyverno_pattern,
                review,
            },
            ExportTarget::KyvernoVpol => Target::KyvernoVpol { review },
            ExportTarget::Vap => Target::Vap,
            ExportTarget::Map => Target::Map { review },
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum BuildTarget {
    /// DIR/policies.wasm, which `test -p` runs.
    Wasm,
    /// OPA Gatekeeper ConstraintTemplates and Constraints (Rego).
    Gatekeeper,
    /// Gatekeeper ConstraintTemplates with both engines: CEL (K8sNativeValidation) and Rego.
    GatekeeperCel,
    /// Kyverno ClusterPolicies (CEL expressions).
    Kyverno,
    /// Kyverno ValidatingPolicies (`policies.kyverno.io/v1`).
    KyvernoVpol,
    /// Kubernetes ValidatingAdmissionPolicies and their bindings.
    Vap,
    /// Kubernetes MutatingAdmissionPolicies and their bindings: the rules' fixes.
    Map,
    /// The manifests that deploy `rampart serve` as a validating admission webhook.
    Webhook,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            mut paths,
            policies,
            output,
            target,
            referential,
        } => {
            paths.extend(policies.policy);
            check(
                &paths,
                output,
                target.map(|t| t.target(false, referential, false)),
            )
        }
        Command::Test {
            paths,
            policies,
            rule,
            exclude_rule,
            param,
            params,
            exceptions,
            require_owner_and_expiry,
            output,
            output_file,
            fail_on_warn,
            ignore,
            threads,
            limits,
            ci,
            schema,
            library,
            admission,
        } => cli::test::run(cli::test::Args {
            paths,
            policies: policies.policy,
            selection: cli::policies::Selection {
                include: rule,
                exclude: exclude_rule,
                profiles: library.profile.clone(),
            },
            params: param,
            params_file: params,
            exceptions,
            require_owner_and_expiry,
            format: match output {
                TestFormat::Human => Format::Human,
                TestFormat::Json => Format::Json,
                TestFormat::Junit => Format::Junit,
                TestFormat::Sarif => Format::Sarif,
                TestFormat::Github => Format::Github,
                TestFormat::Tap => Format::Tap,
                TestFormat::Policyreport => Format::PolicyReport,
                TestFormat::Html => Format::Html,
            },
            output_file,
            fail_on_warn,
            ignore,
            threads,
            limits,
            ci,
            schema,
            library,
            admission,
        }),
        Command::Fix {
            paths,
            policies,
            rule,
            exclude_rule,
            diff,
            dry_run,
            unsafe_fixes,
            generated,
            param,
            params,
            exceptions,
            fail_on_warn,
            ignore,
            limits,
            ci,
            schema,
            library,
        } => cli::fix::run(cli::fix::Args {
            paths,
            policies: policies.policy,
            selection: cli::policies::Selection {
                include: rule,
                exclude: exclude_rule,
                profiles: library.profile.clone(),
            },
            params: param,
            params_file: params,
            exceptions,
            ignore,
            diff,
            dry_run,
            unsafe_fixes,
            generated,
            fail_on_warn,
            limits,
            ci,
            schema,
            library,
        }),
        Command::Rules {
            policies,
            rule,
            profile,
            output,
        } => {
            let selection = cli::policies::Selection {
                include: rule,
                exclude: Vec::new(),
                profiles: profile,
            };
            cli::rules::list(&policies.policy, &selection, output == CheckFormat::Json)
        }
        Command::Explain { rule, policies } => cli::rules::explain(&policies.policy, &rule),
        Command::Build {
            target,
            output,
            kyverno_style,
            referential,
            unsafe_fixes,
            mut paths,
            policies,
            rule,
            exclude_rule,
            profile,
            webhook,
        } => {
            let selection = cli::policies::Selection {
                include: rule,
                exclude: exclude_rule,
                profiles: profile,
            };
            paths.extend(policies.policy);
            let pattern = kyverno_style == KyvernoStyle::Pattern;
            let export = match target {
                BuildTarget::Wasm => return cli::build::wasm(&paths, &selection, &output),
                BuildTarget::Webhook => {
                    return cli::webhook::build(&cli::webhook::Args {
                        paths: &paths,
                        out_dir: &output,
                        image: webhook.image.as_deref(),
                        namespace: &webhook.namespace,
                        cert_manager: webhook.cert_manager,
                    })
                }
                BuildTarget::Gatekeeper => ExportTarget::Gatekeeper,
                BuildTarget::GatekeeperCel => ExportTarget::GatekeeperCel,
                BuildTarget::Kyverno => ExportTarget::Kyverno,
                BuildTarget::KyvernoVpol => ExportTarget::KyvernoVpol,
                BuildTarget::Vap => ExportTarget::Vap,
                BuildTarget::Map => ExportTarget::Map,
            };
            cli::build::export(
                export.target(pattern, referential, unsafe_fixes),
                &paths,
                &selection,
                &output,
            )
        }
        Command::Verify {
            paths,
            policies,
            output,
            backend,
            coverage,
        } => {
            let args = rampart_runtime::verify::VerifyArgs {
                paths,
                output,
                backend,
                coverage,
                policies: policies.policy,
            };
            ExitCode::from(rampart_runtime::verify::main_entry(args) as u8)
        }
        Command::Rbac { command } => cli::rbac::run(command),
        Command::Fmt { paths, check, diff } => {
            let mode = match (check, diff) {
                (true, _) => cli::fmt::Mode::Check,
                (_, true) => cli::fmt::Mode::Diff,
                _ => cli::fmt::Mode::Write,
            };
            cli::fmt::run(&paths, mode)
        }
        Command::Lsp => cli::lsp(),
        Command::Serve(args) => serve::run(args),
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
    print_export_diagnostics(&c.files, &c.diagnostics);
}

/// Prints diagnostics located in `files` on stderr in the human form.
fn print_export_diagnostics(files: &diagnostics::Files, diags: &[Diagnostic]) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", diagnostics::render(files, diags, color));
}

fn summary(diags: &[Diagnostic]) -> (usize, usize) {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    (errors, diags.len() - errors)
}

fn check(paths: &[PathBuf], output: CheckFormat, target: Option<Target>) -> ExitCode {
    let sources = sources(paths);
    let files = sources.len();
    // The standard library imports CRD schemas that are embedded, not on disk.
    let mut compilation = if paths.is_empty() {
        rampart_stdlib::compile()
    } else {
        rampart_compiler::compile(sources, &kubernetes_schema())
    };
    if let (Some(target), Some(program)) = (target, &compilation.program) {
        let export = rampart_compiler::export::export(program, target, &compilation.files);
        compilation.diagnostics.extend(export.diagnostics);
    }
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
            match compilation.program.as_ref().filter(|_| errors == 0) {
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
