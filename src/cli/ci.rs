//! The flags of `rampart test` that CI pipelines use: what fails the run (a severity
//! threshold, a baseline), refusing to pass on empty input, naming stdin, running the
//! standard library with one's own policies, and GitHub's job summary.

use std::io::Write;
use std::path::PathBuf;

use rampart_runtime::report::github;
use rampart_runtime::runner::{self, baseline::Baseline, gate, inputs::Input, Report, RunError};

/// CI flags of `rampart test`.
#[derive(clap::Args, Debug, Default)]
pub struct CiArgs {
    /// Run the embedded standard library too, with the policies given by `-p`.
    #[arg(long = "stdlib")]
    pub stdlib: bool,
    /// Only findings of this severity or higher fail the run (the others are reported).
    #[arg(long = "fail-on-severity", value_name = "LEVEL", value_parser = gate::SEVERITIES)]
    pub fail_on_severity: Option<String>,
    /// A previous `-o json` report: findings it holds are reported but do not fail the run.
    #[arg(long = "baseline", value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// Exit 2 when no Kubernetes object is found, or no rule is selected.
    #[arg(long = "fail-on-empty")]
    pub fail_on_empty: bool,
    /// The name stdin (`-`) has in reports.
    #[arg(long = "stdin-name", value_name = "NAME")]
    pub stdin_name: Option<String>,
}

/// Reads `--baseline`, before anything is evaluated.
pub fn load_baseline(args: &CiArgs) -> Result<Option<Baseline>, String> {
    let Some(path) = &args.baseline else {
        return Ok(None);
    };
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the baseline `{name}`: {e}"))?;
    Baseline::parse(&name, &text).map(Some)
}

/// With `--fail-on-empty`, an empty rule selection is an error.
pub fn check_rules(args: &CiArgs, selected: &[String]) -> Result<(), String> {
    if args.fail_on_empty && selected.is_empty() {
        return Err(
            "no rule selected (--fail-on-empty): --rule and --exclude-rule leave nothing to run"
                .into(),
        );
    }
    Ok(())
}

/// Gives stdin its `--stdin-name` in the inputs and the listing errors.
pub fn name_stdin(args: &CiArgs, inputs: &mut [Input], errors: &mut [RunError]) {
    let Some(name) = &args.stdin_name else {
        return;
    };
    for input in inputs.iter_mut().filter(|i| i.name == "-") {
        input.name.clone_from(name);
    }
    for error in errors.iter_mut().filter(|e| e.file == "-") {
        error.file.clone_from(name);
    }
}

/// What fails the run (`--fail-on-warn`, `--fail-on-severity`, `--baseline`), applied to
/// each object's findings as the run goes.
pub fn gate(args: &CiArgs, fail_on_warn: bool, baseline: Option<Baseline>) -> gate::Gate {
    gate::Gate::new(fail_on_warn, args.fail_on_severity.as_deref(), baseline)
}

/// With `--fail-on-empty`, a run that found no Kubernetes object gets an error naming its
/// inputs.
pub fn finish(args: &CiArgs, paths: &[String], report: &mut Report) {
    if args.fail_on_empty && report.summary.resources == 0 {
        let given: Vec<String> = paths.iter().map(|p| format!("`{p}`")).collect();
        report.errors.push(runner::RunError::file(
            &paths.join(" "),
            format!(
                "no Kubernetes object found in {} (--fail-on-empty)",
                given.join(", ")
            ),
        ));
        report.summary.errors = report.errors.len();
    }
}

/// Whether GitHub's job summary is to be written (`$GITHUB_STEP_SUMMARY` is set).
pub fn step_summary_wanted() -> bool {
    std::env::var_os("GITHUB_STEP_SUMMARY").is_some_and(|p| !p.is_empty())
}

/// For `-o github` in a GitHub Actions job: appends the Markdown summary to the file named
/// by `$GITHUB_STEP_SUMMARY`, which GitHub shows on the run's page.
pub fn write_step_summary(report: &Report) -> Result<(), String> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(github::step_summary(report).as_bytes()));
    written.map_err(|e| format!("cannot write the step summary `{}`: {e}", path.display()))
}
