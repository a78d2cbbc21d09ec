//! `rampart fix`: applies the fixes of the findings `rampart test` reports to the manifest
//! files, with minimal text edits (spec/fix.md §4, runtime/src/fix/edit.rs), and reports
//! what it fixed and what is left.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rampart_runtime::eval::set::PolicySet;
use rampart_runtime::fix::edit::{self, Target};
use rampart_runtime::runner::{self, inputs, ObjectResult, Report};

use super::fix_generated::{self, ForFile};
use super::fix_summary::Summary;
use super::policies::{self, Selection};
use super::{ci, config, fail, library, EXIT_ERROR};

/// Everything `rampart fix` was asked to do.
pub struct Args {
    /// Manifest files, folders, or `-`.
    pub paths: Vec<String>,
    /// `-p`: policy files, folders or a bundle.
    pub policies: Vec<PathBuf>,
    /// `--rule` / `--exclude-rule`.
    pub selection: Selection,
    /// `--param RULE.NAME=VALUE`.
    pub params: Vec<String>,
    /// `--params FILE`.
    pub params_file: Option<PathBuf>,
    /// `--exceptions FILE`.
    pub exceptions: Vec<PathBuf>,
    /// `--ignore`.
    pub ignore: Vec<String>,
    /// `--diff`: print a unified diff of each change.
    pub diff: bool,
    /// `--dry-run`: write nothing.
    pub dry_run: bool,
    /// `--unsafe`: apply review fixes too.
    pub unsafe_fixes: bool,
    /// `--generated -`: print generated objects on stdout instead of writing them.
    pub generated: Option<String>,
    /// `--fail-on-warn`.
    pub fail_on_warn: bool,
    /// `--max-file-size` and the other loader limits.
    pub limits: super::test::LimitArgs,
    /// `--stdlib`, `--fail-on-severity`, `--baseline`, `--fail-on-empty`, `--stdin-name`.
    pub ci: ci::CiArgs,
    /// `--crd`, `--strict-kinds`.
    pub schema: super::schema::SchemaArgs,
    /// `--profile`, `--kube-version`.
    pub library: library::LibraryArgs,
}

/// The policies and the run options, set up as `rampart test` sets them up.
struct Setup {
    options: runner::Options,
    inputs: Vec<inputs::Input>,
    early_errors: Vec<runner::RunError>,
    notices: Vec<runner::RunError>,
}

/// Runs `rampart fix`.
pub fn run(args: Args) -> ExitCode {
    if args.paths.is_empty() {
        return fail("no manifests given: name files, folders, or `-` for stdin");
    }
    if let Some(other) = args.generated.as_deref().filter(|g| *g != "-") {
        return fail(&format!(
            "`--generated {other}`: only `-` (stdout) is accepted; without it generated objects go to `<file>.generated.yaml`"
        ));
    }
    let module = match policies::module_set(&args.policies, args.ci.stdlib, &args.selection) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let loaded = match policies::load_set(&module) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let policies = match PolicySet::new(loaded.iter().collect()) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let setup = match setup(&args, &module, &policies) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let before = evaluate(
        &args,
        &policies,
        &setup,
        &setup.inputs,
        setup.early_errors.clone(),
    );
    let mut summary = Summary::default();
    let mut fixed_inputs = Vec::with_capacity(setup.inputs.len());
    let limits = &setup.options.load_limits;
    let mut write_errors = Vec::new();
    for input in &setup.inputs {
        let results: Vec<&ObjectResult> = before
            .results
            .iter()
            .filter(|r| r.file == input.name)
            .collect();
        let fixed = fix_input(&args, input, &results, limits, &mut summary);
        match fixed {
            Some(text) => {
                if let Err(e) = write_out(&args, input, &text) {
                    write_errors.push(e);
                }
                fixed_inputs.push(inputs::Input {
                    name: input.name.clone(),
                    source: inputs::Source::Bytes(text.into_bytes()),
                });
            }
            None => {
                // Stdin is a filter: its text comes out, fixed or not.
                if let inputs::Source::Bytes(bytes) = &input.source {
                    if !args.diff {
                        let _ = std::io::stdout().lock().write_all(bytes);
                    }
                }
                fixed_inputs.push(same_input(input));
            }
        }
    }
    let generated = fix_generated::collect(&before);
    write_errors.extend(generate(
        &args,
        &setup.inputs,
        &generated,
        limits,
        &mut summary,
        &mut fixed_inputs,
    ));
    let after = evaluate(
        &args,
        &policies,
        &setup,
        &fixed_inputs,
        setup.early_errors.clone(),
    );
    for notice in &setup.notices {
        eprintln!("warning: {}", notice.message);
    }
    summary.print(&after, args.dry_run, &mut std::io::stderr().lock());
    for e in &write_errors {
        eprintln!("error: {e}");
    }
    if !after.errors.is_empty() || !write_errors.is_empty() {
        ExitCode::from(EXIT_ERROR)
    } else if after.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn setup(
    args: &Args,
    module: &policies::ModuleSet,
    policies: &PolicySet,
) -> Result<Setup, ExitCode> {
    let today = runner::exceptions::Date::today();
    let mut params = library::kube_version_params(
        args.library.kube_version.as_deref(),
        &module.declared,
        &module.selected,
    )
    .map_err(|e| fail(&e))?;
    params.extend(args.params.iter().cloned());
    let flags = config::Flags {
        params: &params,
        params_file: args.params_file.as_ref(),
        exceptions: &args.exceptions,
        require_owner_and_expiry: false,
    };
    let config = config::read(&flags, module, today).map_err(|errors| config::fail(&errors))?;
    ci::check_rules(&args.ci, &module.selected).map_err(|e| fail(&e))?;
    policies
        .check_params(&config.params)
        .map_err(|e| fail(&e))?;
    let ignore = inputs::Ignore::new(&args.ignore).map_err(|e| fail(&e))?;
    let mut options = runner::Options {
        rules: Some(module.selected.clone()),
        params: config.params,
        exceptions: config.exceptions,
        today,
        load_limits: args.limits.limits(),
        source_lines: false,
        strict_kinds: args.schema.strict_kinds,
        ..runner::Options::default()
    };
    options.schema = super::schema::validator(&args.schema, &module.selected, &module.crds)
        .map_err(|e| fail(&e))?;
    let (mut inputs, mut listing_errors) =
        inputs::collect(&args.paths, &ignore, options.load_limits.max_bytes);
    ci::name_stdin(&args.ci, &mut inputs, &mut listing_errors);
    let mut notices = config.notices;
    notices.extend(ignore.unused());
    Ok(Setup {
        options,
        inputs,
        early_errors: listing_errors,
        notices,
    })
}

/// Runs the policies as `rampart test` would, keeping every result.
fn evaluate(
    args: &Args,
    policies: &PolicySet,
    setup: &Setup,
    inputs: &[inputs::Input],
    errors: Vec<runner::RunError>,
) -> Report {
    let baseline = match ci::load_baseline(&args.ci) {
        Ok(b) => b,
        Err(e) => {
            let mut report = Report::default();
            report.errors.push(runner::RunError::file("--baseline", e));
            return report;
        }
    };
    let gate = ci::gate(&args.ci, args.fail_on_warn, baseline);
    let mut results = Vec::new();
    let mut keep = |file: Vec<ObjectResult>| {
        results.extend(file);
        Ok(())
    };
    let mut report =
        match runner::run_streaming(policies, inputs, errors, &setup.options, gate, &mut keep) {
            Ok(r) => r,
            Err(e) => {
                let mut report = Report::default();
                report
                    .errors
                    .push(runner::RunError::file("-", e.to_string()));
                return report;
            }
        };
    report.results = results;
    ci::finish(&args.ci, &args.paths, &mut report);
    report
}

/// Applies the fixes of one input's findings; the fixed text when it changed.
fn fix_input(
    args: &Args,
    input: &inputs::Input,
    results: &[&ObjectResult],
    limits: &rampart_runtime::manifest::Limits,
    summary: &mut Summary,
) -> Option<String> {
    let mut targets = Vec::new();
    // Per target, the rules whose fixes it carries (one entry per fix).
    let mut owners: Vec<Vec<(String, u32)>> = Vec::new();
    for r in results {
        let mut fixes = Vec::new();
        let mut rules = Vec::new();
        for v in &r.violations {
            if v.exemption.is_some() {
                continue;
            }
            if v.fixes.is_empty() {
                // A set rule's generated object is its repair (written after the fixes).
                if v.generated.is_none() {
                    summary.no_fix(&v.rule);
                }
                continue;
            }
            let (usable, review): (Vec<_>, Vec<_>) = v
                .fixes
                .iter()
                .cloned()
                .partition(|f| args.unsafe_fixes || !f.review);
            if !review.is_empty() {
                summary.needs_unsafe(&v.rule);
            }
            if usable.is_empty() {
                continue;
            }
            for f in usable {
                fixes.push(f);
                rules.push((v.rule.to_string(), v.line));
            }
        }
        if !fixes.is_empty() {
            targets.push(Target {
                doc_index: r.document,
                item_index: r.item,
                fixes,
            });
            owners.push(rules);
        }
    }
    if targets.is_empty() {
        return None;
    }
    let bytes = inputs::read(input, limits.max_bytes).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let edited = match edit::edit(&text, &targets, limits) {
        Ok(e) => e,
        Err(refusal) => {
            summary.left_alone(&input.name, &refusal);
            return None;
        }
    };
    for ((target, applied), rules) in targets.iter().zip(&edited.applied).zip(&owners) {
        summary.record(&input.name, target, applied, rules);
    }
    if !edited.changed {
        return None;
    }
    if args.diff {
        let diff = similar::TextDiff::from_lines(&text, &edited.text)
            .unified_diff()
            .context_radius(3)
            .header(&input.name, &input.name)
            .to_string();
        let _ = std::io::stdout().lock().write_all(diff.as_bytes());
    }
    summary.changed_file();
    Some(edited.text)
}

/// Writes the fixed text over the file (or to stdout for `-`), unless `--dry-run`.
fn write_out(args: &Args, input: &inputs::Input, text: &str) -> Result<(), String> {
    match &input.source {
        inputs::Source::Bytes(_) => {
            if !args.diff {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            Ok(())
        }
        inputs::Source::File(path) if !args.dry_run => {
            rampart_runtime::output_file::write(Path::new(path), text.as_bytes())
                .map_err(|e| format!("cannot write `{}`: {e}", input.name))
        }
        inputs::Source::File(_) => Ok(()),
    }
}

/// Writes (or prints) the generated objects of each input; each one written becomes an
/// input of the evaluation after the fixes. Returns the errors.
fn generate(
    args: &Args,
    inputs: &[inputs::Input],
    generated: &[ForFile],
    limits: &rampart_runtime::manifest::Limits,
    summary: &mut Summary,
    next: &mut Vec<inputs::Input>,
) -> Vec<String> {
    let to_stdout = args.generated.is_some();
    let mut errors = Vec::new();
    for g in generated {
        let Some(input) = inputs.iter().find(|i| i.name == g.input) else {
            continue;
        };
        match (&input.source, to_stdout) {
            (inputs::Source::File(path), false) => {
                match fix_generated::extend(path, &g.objects, limits) {
                    Ok(w) => {
                        if w.added > 0 && args.diff {
                            fix_generated::print_diff(&w.path, &w.before, &w.after);
                        }
                        if w.added > 0 && !args.dry_run {
                            let written =
                                rampart_runtime::output_file::write(&w.path, w.after.as_bytes());
                            if let Err(e) = written {
                                errors.push(format!("cannot write `{}`: {e}", w.path.display()));
                                continue;
                            }
                        }
                        summary.generated(w.added);
                        // The objects are in the file (already or now): the evaluation after
                        // the fixes reads them, replacing the file's input when it was one.
                        let name = w.path.display().to_string();
                        next.retain(|i| i.name != name);
                        next.push(fix_generated::as_input(&w.path, &w.after));
                    }
                    Err(e) => errors.push(e),
                }
            }
            // Stdin is a filter: its generated objects come out only when asked.
            (inputs::Source::Bytes(_), false) => {}
            (_, true) => match fix_generated::documents(&g.objects) {
                Ok(text) => {
                    let _ = write!(std::io::stdout().lock(), "---\n{text}");
                    summary.generated(g.objects.len());
                    let name = format!("{} (generated)", g.input);
                    next.push(fix_generated::as_input(Path::new(&name), &text));
                }
                Err(e) => errors.push(e),
            },
        }
    }
    errors
}

/// An input read again as it was.
fn same_input(input: &inputs::Input) -> inputs::Input {
    inputs::Input {
        name: input.name.clone(),
        source: match &input.source {
            inputs::Source::File(p) => inputs::Source::File(p.clone()),
            inputs::Source::Bytes(b) => inputs::Source::Bytes(b.clone()),
        },
    }
}
