//! `rampart verify`: policy unit tests written in `*.test.yaml` files (spec/testing.md).
//!
//! A run has two phases. First every test file is read and checked against the rules of its
//! policies (unknown rules, missing files, expectations a rule's kinds make impossible, bad
//! regexes); any error stops the run before a single case is evaluated. Then every
//! expectation becomes one row, evaluated on each selected backend.

mod backend;
#[cfg(feature = "engines")]
pub mod engines;
mod fixed;
mod parse;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::eval::{Action, Engine, Finding, RuleInfo};
use crate::manifest::format_path;
pub use backend::{Backend, Details, Got, WasmBackend};
#[cfg(feature = "engines")]
pub use engines::{CelBackend, RegoBackend};
pub use parse::Case;
use parse::{Errors, Expectation, Outcome, PolicySet};

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Junit,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "junit" => Ok(Format::Junit),
            _ => Err(format!(
                "unknown output format `{s}` (expected table, json or junit)"
            )),
        }
    }
}

/// An engine the cases run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BackendKind {
    Wasm,
    Rego,
    Cel,
}

impl BackendKind {
    /// The name used in `--backend` and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Wasm => "wasm",
            BackendKind::Rego => "rego",
            BackendKind::Cel => "cel",
        }
    }

    /// Parses `wasm`, `rego`, `cel` or `all`.
    pub fn parse_list(s: &str) -> Result<Vec<BackendKind>, String> {
        match s {
            "wasm" => Ok(vec![BackendKind::Wasm]),
            "rego" => Ok(vec![BackendKind::Rego]),
            "cel" => Ok(vec![BackendKind::Cel]),
            "all" => Ok(vec![BackendKind::Wasm, BackendKind::Rego, BackendKind::Cel]),
            _ => Err(format!(
                "unknown backend `{s}` (expected wasm, rego, cel or all)"
            )),
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub backends: Vec<BackendKind>,
    /// Report the rules that have no passing or no failing case.
    pub coverage: bool,
    /// `-p/--policy`: the policies tested by the files that name none (`policies`), instead
    /// of the embedded standard library.
    pub policies: Vec<PathBuf>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            backends: vec![BackendKind::Wasm],
            coverage: false,
            policies: Vec::new(),
        }
    }
}

/// One expectation's result.
#[derive(Clone, Debug)]
pub struct Row {
    /// The test file.
    pub file: String,
    /// Line of the expectation in the test file.
    pub line: u32,
    pub case: String,
    pub rule: String,
    /// The expected outcome, as written (`deny`, …).
    pub expected: String,
    /// What each backend gave, in `--backend` order: (backend, outcome), the outcome being
    /// `n/a` where the backend's target cannot express the rule.
    pub got: Vec<(String, String)>,
    /// No backend disagrees with the expectation, and at least one could run the rule.
    pub passed: bool,
    /// No selected backend can express the rule (every one gave `n/a`): neither passed
    /// nor failed.
    pub not_applicable: bool,
    /// The backends whose result does not meet the expectation.
    pub failed_on: Vec<String>,
    /// Why it failed, one line per backend that disagrees with the expectation.
    pub reasons: Vec<String>,
    /// Why a backend gave `n/a`, or how its result was read, one line each.
    pub notes: Vec<String>,
}

impl Row {
    /// The outcome shown in the `got` column: one word when every backend agrees, else
    /// `backend=outcome` for each. A backend that reports no finding count (`deny`) agrees
    /// with one that does (`deny (2)`), and the counted form is shown. Backends that give
    /// the same word but not the same verdict (one message matches, another does not) are
    /// shown one by one too.
    pub fn got_summary(&self) -> String {
        let word = |g: &str| g.split(" (").next().unwrap_or("").to_string();
        let first = self.got.first().map(|(_, g)| word(g)).unwrap_or_default();
        let counted: Vec<&str> = self
            .got
            .iter()
            .map(|(_, g)| g.as_str())
            .filter(|g| g.contains(" ("))
            .collect();
        let ran = self.got.iter().filter(|(_, g)| g != "n/a").count();
        let agree = self.got.iter().all(|(_, g)| word(g) == first)
            && counted.iter().all(|g| *g == counted[0])
            && (self.failed_on.is_empty() || self.failed_on.len() == ran);
        if agree {
            counted.first().map_or(first, |g| g.to_string())
        } else {
            self.got
                .iter()
                .map(|(b, g)| format!("{b}={g}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

/// Which rules lack a passing or a failing case.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Every rule of the tested policies.
    pub rules: Vec<String>,
    /// Rules no case expects `deny` or `warn` from.
    pub no_failing_case: Vec<String>,
    /// Rules no case expects `pass` from.
    pub no_passing_case: Vec<String>,
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Errors found before running (`file:line: message`); when any, no case ran.
    pub errors: Vec<String>,
    pub rows: Vec<Row>,
    /// Present when asked for with `--coverage`.
    pub coverage: Option<Coverage>,
    pub backends: Vec<String>,
}

impl VerifyReport {
    /// Rows that passed.
    pub fn passed(&self) -> usize {
        self.rows.iter().filter(|r| r.passed).count()
    }

    /// Rows that failed.
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| !r.passed && !r.not_applicable)
            .count()
    }

    /// Rows no selected backend could run (every one gave `n/a`).
    pub fn not_applicable(&self) -> usize {
        self.rows.iter().filter(|r| r.not_applicable).count()
    }

    /// 0 when every expectation holds, 1 when one fails, 2 on errors.
    pub fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() {
            2
        } else if self.failed() > 0 {
            1
        } else {
            0
        }
    }

    /// The report in the given format (what goes to standard output).
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => render::table(self),
            Format::Json => render::json(self),
            Format::Junit => render::junit(self),
        }
    }
}

/// The command-line arguments of `rampart verify`, as plain values.
#[derive(Clone, Debug, Default)]
pub struct VerifyArgs {
    /// Test files or folders; the current folder when empty.
    pub paths: Vec<PathBuf>,
    /// `table`, `json` or `junit`.
    pub output: String,
    /// `wasm`, `rego`, `cel` or `all`.
    pub backend: String,
    pub coverage: bool,
    /// `-p/--policy` paths (see [`VerifyOptions::policies`]).
    pub policies: Vec<PathBuf>,
}

/// Runs `rampart verify`: prints the report to stdout, errors to stderr; returns the exit code.
pub fn main_entry(args: VerifyArgs) -> i32 {
    let format = match args.output.parse::<Format>() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let backends = match BackendKind::parse_list(&args.backend) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let options = VerifyOptions {
        backends,
        coverage: args.coverage,
        policies: args.policies,
    };
    let report = run(&paths, &options);
    if format == Format::Table {
        for e in &report.errors {
            eprintln!("error: {e}");
        }
    }
    print!("{}", report.render(format));
    report.exit_code()
}

/// A test file after the checks.
struct Suite {
    file: String,
    policies: PolicySet,
    cases: Vec<Case>,
}

/// Finds, checks and runs every test under `paths`.
pub fn run(paths: &[PathBuf], options: &VerifyOptions) -> VerifyReport {
    let mut report = VerifyReport {
        backends: options
            .backends
            .iter()
            .map(|b| b.as_str().to_string())
            .collect(),
        ..VerifyReport::default()
    };
    let mut errors = Vec::new();
    let files = find_test_files(paths, &mut errors);
    if files.is_empty() && errors.is_empty() {
        errors.push(format!(
            "no `*.test.yaml` files in {}",
            paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for p in &options.policies {
        if !p.exists() {
            errors.push(format!("policy path `{}` does not exist", p.display()));
        }
    }
    for kind in &options.backends {
        if *kind != BackendKind::Wasm && !cfg!(feature = "engines") {
            errors.push(format!(
                "backend `{}` is not available in this build",
                kind.as_str()
            ));
        }
    }
    if !errors.is_empty() {
        report.errors = errors;
        return report;
    }
    let engine = match Engine::new() {
        Ok(e) => e,
        Err(e) => {
            report
                .errors
                .push(format!("cannot start the evaluator: {e}"));
            return report;
        }
    };
    // Phase 1: read every file and compile each distinct policy set once.
    let mut compiled: BTreeMap<PolicySet, Result<Compiled, String>> = BTreeMap::new();
    let mut suites = Vec::new();
    for path in &files {
        let file = path.display().to_string();
        let mut errs = Errors {
            file: &file,
            list: &mut errors,
        };
        let Some(mut header) = parse::read_header(path, &mut errs) else {
            continue;
        };
        if header.policies == PolicySet::Stdlib && !options.policies.is_empty() {
            header.policies = PolicySet::Paths(options.policies.clone());
        }
        let backend = &*compiled
            .entry(header.policies.clone())
            .or_insert_with(|| compile(&header.policies, &engine, &options.backends));
        let rules = match backend {
            Ok(b) => b.wasm.rules(),
            Err(e) => {
                errs.list.push(format!(
                    "{file}:{}: the policies do not compile:\n{e}",
                    header.at
                ));
                continue;
            }
        };
        let cases = parse::read_cases(path, &header, rules, &mut errs);
        // Parameter values are type-checked like the rest of the file, before running.
        if let Ok(backend) = backend {
            for case in &cases {
                for (rule, name, value, line) in &case.param_lines {
                    let mut one = crate::eval::Params::default();
                    one.set(rule, name, value.clone());
                    if let Err(e) = backend.wasm.check_params(&one) {
                        errs.list
                            .push(format!("{file}:{line}: case `{}`: {e}", case.name));
                    }
                }
            }
        }
        suites.push(Suite {
            file,
            policies: header.policies,
            cases,
        });
    }
    if !errors.is_empty() {
        report.errors = errors;
        return report;
    }
    // Phase 2: run.
    for suite in &suites {
        let Some(Ok(backend)) = compiled.get(&suite.policies) else {
            continue;
        };
        let backends = backend.selected(&options.backends);
        let rules: BTreeMap<&str, &RuleInfo> = backend
            .wasm
            .rules()
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        for case in &suite.cases {
            for e in &case.expects {
                let rule = rules[e.rule.as_str()];
                report
                    .rows
                    .push(run_one(&suite.file, case, e, rule, &backends));
                report.rows.extend(fixed::run_fixed(
                    &suite.file,
                    case,
                    e,
                    rule,
                    &backend.wasm,
                    &backends,
                ));
            }
        }
    }
    if options.coverage {
        report.coverage = Some(coverage(&suites, &compiled));
    }
    report
}

/// Every `*.test.yaml` below the given folders, plus the files given by name, sorted.
fn find_test_files(paths: &[PathBuf], errors: &mut Vec<String>) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // file_type does not follow symlinks, so a symlink loop cannot recurse forever.
            match entry.file_type() {
                Ok(t) if t.is_dir() => walk(&path, out),
                Ok(_) if path.to_string_lossy().ends_with(".test.yaml") => out.push(path),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found);
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            errors.push(format!("`{}` does not exist", p.display()));
        }
    }
    out
}

/// A policy set compiled for every selected backend.
struct Compiled {
    wasm: WasmBackend,
    #[cfg(feature = "engines")]
    rego: Option<RegoBackend>,
    #[cfg(feature = "engines")]
    cel: Option<CelBackend>,
}

impl Compiled {
    /// The backends to run, in `--backend` order.
    fn selected(&self, kinds: &[BackendKind]) -> Vec<&dyn Backend> {
        let mut out: Vec<&dyn Backend> = Vec::new();
        for kind in kinds {
            match kind {
                BackendKind::Wasm => out.push(&self.wasm),
                #[cfg(feature = "engines")]
                BackendKind::Rego => out.extend(self.rego.as_ref().map(|b| b as &dyn Backend)),
                #[cfg(feature = "engines")]
                BackendKind::Cel => out.extend(self.cel.as_ref().map(|b| b as &dyn Backend)),
                // Refused before anything runs in a build without the engines.
                #[cfg(not(feature = "engines"))]
                BackendKind::Rego | BackendKind::Cel => {}
            }
        }
        out
    }
}

/// Compiles a policy set to a loaded Wasm module, plus the exported Rego and CEL when
/// selected; the error is the rendered diagnostics.
fn compile(
    policies: &PolicySet,
    engine: &Engine,
    kinds: &[BackendKind],
) -> Result<Compiled, String> {
    let compilation = match policies {
        PolicySet::Stdlib => rampart_stdlib::compile(),
        PolicySet::Paths(paths) => {
            let schema =
                rampart_compiler::schema::Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA)
                    .map_err(|e| format!("the embedded Kubernetes schema is invalid: {e}"))?;
            let sources = rampart_compiler::read_sources(paths);
            if sources.is_empty() {
                return Err("no `.rp` files found".to_string());
            }
            rampart_compiler::compile(sources, &schema)
        }
    };
    let Some(program) = compilation.program.as_ref() else {
        let errors: Vec<_> = compilation
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        return Err(rampart_compiler::diagnostics::render(
            &compilation.files,
            &errors,
            false,
        ));
    };
    let wasm = rampart_compiler::backend::wasm::compile(program).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    // Without the engines, only the Wasm module is built.
    #[cfg(not(feature = "engines"))]
    let _ = kinds;
    Ok(Compiled {
        wasm: WasmBackend::new(engine, &wasm)?,
        #[cfg(feature = "engines")]
        rego: kinds
            .contains(&BackendKind::Rego)
            .then(|| RegoBackend::new(program)),
        #[cfg(feature = "engines")]
        cel: kinds
            .contains(&BackendKind::Cel)
            .then(|| CelBackend::new(program)),
    })
}

/// Evaluates one expectation on every backend.
fn run_one(
    file: &str,
    case: &Case,
    e: &Expectation,
    rule: &RuleInfo,
    backends: &[&dyn Backend],
) -> Row {
    let mut row = Row {
        file: file.to_string(),
        line: e.at,
        case: case.name.clone(),
        rule: e.rule.clone(),
        expected: e.outcome.as_str().to_string(),
        got: Vec::new(),
        passed: true,
        not_applicable: false,
        failed_on: Vec::new(),
        reasons: Vec::new(),
        notes: Vec::new(),
    };
    let results: Vec<(&dyn Backend, Result<Got, String>)> = backends
        .iter()
        .map(|b| (*b, b.outcomes(rule, case)))
        .collect();
    // The findings of the first backend that reports every offending element, to check the
    // message of a backend that reports only the first one against.
    let reference = results.iter().find_map(|(b, got)| match got {
        Ok(Got::Findings(f)) if b.details().count => Some((b.name(), f.as_slice())),
        _ => None,
    });
    let mut applicable = 0;
    for (backend, got) in &results {
        let details = backend.details();
        row.got
            .push((backend.name().to_string(), describe(got, details.count)));
        if let Ok(Got::NotApplicable(why)) = got {
            row.notes.push(format!("{}: n/a: {why}", backend.name()));
            continue;
        }
        applicable += 1;
        let verdict = if details.count {
            check(e, got, details).map(|()| None)
        } else {
            check_first_only(e, got, details, reference)
        };
        if let Ok(Some(note)) = &verdict {
            row.notes.push(format!("{}: {note}", backend.name()));
        }
        if let Err(reason) = verdict {
            row.passed = false;
            row.failed_on.push(backend.name().to_string());
            row.reasons.push(if backends.len() > 1 {
                format!("{}: {reason}", backend.name())
            } else {
                reason
            });
        }
    }
    if applicable == 0 && !backends.is_empty() {
        row.passed = false;
        row.not_applicable = true;
    }
    row
}

/// The word shown for what a backend gave: `skip`, `pass`, `deny`, `warn` (with the number
/// of findings when more than one and the backend counts them), `n/a` or `error`.
fn describe(got: &Result<Got, String>, counts: bool) -> String {
    match got {
        Err(_) => "error".to_string(),
        Ok(Got::Skip) => "skip".to_string(),
        Ok(Got::NotApplicable(_)) => "n/a".to_string(),
        Ok(Got::Findings(f)) if f.is_empty() => "pass".to_string(),
        Ok(Got::Findings(f)) => {
            let action = if f.iter().any(|f| f.action == Action::Deny) {
                Action::Deny
            } else {
                Action::Warn
            };
            let n = f.iter().filter(|f| f.action == action).count();
            let word = if action == Action::Deny {
                "deny"
            } else {
                "warn"
            };
            if n == 1 || !counts {
                word.to_string()
            } else {
                format!("{word} ({n})")
            }
        }
    }
}

/// Whether what a backend gave meets the expectation; the error says why not.
fn check(e: &Expectation, got: &Result<Got, String>, details: Details) -> Result<(), String> {
    let findings = match got {
        Err(message) => return Err(format!("evaluation error: {message}")),
        Ok(Got::NotApplicable(why)) => return Err(format!("not applicable: {why}")),
        Ok(Got::Skip) if e.outcome == Outcome::Skip => return Ok(()),
        Ok(Got::Skip) => {
            return Err(format!(
                "expected {}, but the rule does not apply to the object",
                e.outcome.as_str()
            ))
        }
        Ok(Got::Findings(f)) => f,
    };
    let denies: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.action == Action::Deny)
        .collect();
    let warns: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.action == Action::Warn)
        .collect();
    let show = |f: &Finding| {
        if details.path {
            format!("`{}` at `{}`", f.message, format_path(&f.path))
        } else {
            format!("`{}`", f.message)
        }
    };
    let first = |list: &[&Finding]| {
        list.first()
            .map(|f| format!(": {}", show(f)))
            .unwrap_or_default()
    };
    let relevant = match e.outcome {
        Outcome::Skip => return Err("expected skip, but the rule applies to the object".into()),
        Outcome::Pass if findings.is_empty() => return Ok(()),
        Outcome::Pass if !denies.is_empty() => {
            return Err(format!("expected pass, got deny{}", first(&denies)))
        }
        Outcome::Pass => return Err(format!("expected pass, got warn{}", first(&warns))),
        Outcome::Deny if denies.is_empty() && warns.is_empty() => {
            return Err("expected deny, got no finding".into())
        }
        Outcome::Deny if denies.is_empty() => {
            return Err(format!("expected deny, got warn{}", first(&warns)))
        }
        Outcome::Deny => denies,
        Outcome::Warn if !denies.is_empty() => {
            return Err(format!("expected warn, got deny{}", first(&denies)))
        }
        Outcome::Warn if warns.is_empty() => return Err("expected warn, got no finding".into()),
        Outcome::Warn => warns,
    };
    let word = e.outcome.as_str();
    if let Some(n) = e.count.filter(|_| details.count) {
        if relevant.len() != n {
            return Err(format!(
                "expected {n} {word} finding(s), got {}",
                relevant.len()
            ));
        }
    }
    // Details a backend does not report are not checked on it.
    let path = e.path.as_ref().filter(|_| details.path);
    let line = e.line.filter(|_| details.line);
    let fits = |f: &&Finding| {
        e.message.as_ref().is_none_or(|re| re.is_match(&f.message))
            && path.is_none_or(|p| *p == format_path(&f.path))
            && line.is_none_or(|l| l == f.line)
    };
    if relevant.iter().any(fits) {
        return Ok(());
    }
    let mut wanted = Vec::new();
    if let Some(re) = &e.message {
        wanted.push(format!("message matching `{re}`"));
    }
    if let Some(p) = path {
        wanted.push(format!("path `{p}`"));
    }
    if let Some(l) = line {
        wanted.push(format!("line {l}"));
    }
    let seen = relevant
        .iter()
        .map(|f| {
            if details.line {
                format!("{} (line {})", show(f), f.line)
            } else {
                show(f)
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(format!(
        "no {word} finding with {}; got {seen}",
        wanted.join(", ")
    ))
}

/// Checks a backend that reports one finding per outcome, from its first offending element
/// (CEL: a validation has one message). The outcome is checked as usual. A `message` regex
/// that its message does not match still holds when that message is also one of the
/// `reference` backend's findings and one of those matches the regex: the expectation names
/// another offending element than the first. The note says so.
fn check_first_only(
    e: &Expectation,
    got: &Result<Got, String>,
    details: Details,
    reference: Option<(&str, &[Finding])>,
) -> Result<Option<String>, String> {
    let Some(re) = &e.message else {
        return check(e, got, details).map(|()| None);
    };
    let outcome_only = Expectation {
        message: None,
        ..e.clone()
    };
    check(&outcome_only, got, details)?;
    let reason = match check(e, got, details) {
        Ok(()) => return Ok(None),
        Err(reason) => reason,
    };
    let (Ok(Got::Findings(found)), Some((name, reference))) = (got, reference) else {
        return Err(reason);
    };
    let action = if e.outcome == Outcome::Warn {
        Action::Warn
    } else {
        Action::Deny
    };
    let reported: Vec<&Finding> = found.iter().filter(|f| f.action == action).collect();
    let known = reported.iter().all(|f| {
        reference
            .iter()
            .any(|r| r.action == action && r.message == f.message)
    });
    let named = reference
        .iter()
        .any(|r| r.action == action && re.is_match(&r.message));
    if !(known && named) {
        return Err(reason);
    }
    let messages: Vec<String> = reported
        .iter()
        .map(|f| format!("`{}`", f.message))
        .collect();
    Ok(Some(format!(
        "reports only the first offending element's message ({}), which {name} reports too",
        messages.join(", ")
    )))
}

/// Which rules of the tested policies no case expects to pass, or to fail.
fn coverage(
    suites: &[Suite],
    compiled: &BTreeMap<PolicySet, Result<Compiled, String>>,
) -> Coverage {
    let mut rules = BTreeSet::new();
    for suite in suites {
        if let Some(Ok(b)) = compiled.get(&suite.policies) {
            rules.extend(b.wasm.rules().iter().map(|r| r.id.clone()));
        }
    }
    let (mut passing, mut failing) = (BTreeSet::new(), BTreeSet::new());
    for e in suites
        .iter()
        .flat_map(|s| &s.cases)
        .flat_map(|c| &c.expects)
    {
        match e.outcome {
            Outcome::Pass => {
                passing.insert(e.rule.clone());
            }
            Outcome::Deny | Outcome::Warn => {
                failing.insert(e.rule.clone());
            }
            Outcome::Skip => {}
        }
    }
    Coverage {
        no_failing_case: rules
            .iter()
            .filter(|r| !failing.contains(*r))
            .cloned()
            .collect(),
        no_passing_case: rules
            .iter()
            .filter(|r| !passing.contains(*r))
            .cloned()
            .collect(),
        rules: rules.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Params;
    use crate::manifest::{Node, Value};

    /// A backend that always gives the same answer, to stand in for a second engine.
    struct Fixed(&'static str, Got);

    impl Backend for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn outcomes(&self, _: &RuleInfo, _: &Case) -> Result<Got, String> {
            Ok(self.1.clone())
        }
    }

    /// Like [`Fixed`], for an engine that reports one finding per outcome (CEL).
    struct FirstOnly(&'static str, Got);

    impl Backend for FirstOnly {
        fn name(&self) -> &'static str {
            self.0
        }
        fn details(&self) -> Details {
            Details {
                count: false,
                path: false,
                line: false,
            }
        }
        fn outcomes(&self, _: &RuleInfo, _: &Case) -> Result<Got, String> {
            Ok(self.1.clone())
        }
    }

    fn finding(action: Action) -> Finding {
        named(action, "app")
    }

    fn named(action: Action, container: &str) -> Finding {
        Finding {
            rule_id: "demo.rule".into(),
            action,
            message: format!("container `{container}` is privileged"),
            path: vec![],
            line: 3,
            col: 1,
            fixes: Vec::new(),
            generated: None,
        }
    }

    fn demo_rule() -> RuleInfo {
        serde_json::from_value(serde_json::json!({
            "id": "demo.rule", "module": "demo", "name": "rule", "title": "t",
            "description": "", "rationale": "", "category": "", "remediation": "",
            "severity": "high", "controls": [], "matcher": {"targets": []},
            "params": [], "reads_kinds": [], "outcomes": []
        }))
        .unwrap()
    }

    fn demo_case() -> Case {
        let object = Node::new(Value::Null, 1, 1);
        Case {
            name: "privileged".into(),
            object: object.clone(),
            set: vec![object],
            params: Params::default(),
            param_lines: vec![],
            expects: vec![],
            context: crate::eval::AdmissionContext::create(),
        }
    }

    fn expect_deny(message: Option<&str>) -> Expectation {
        Expectation {
            rule: "demo.rule".into(),
            outcome: Outcome::Deny,
            count: None,
            message: message.map(|m| regex::Regex::new(m).unwrap()),
            path: None,
            line: None,
            at: 7,
            fixed: None,
            fixed_object: None,
        }
    }

    #[test]
    fn a_backend_that_cannot_express_the_rule_is_not_applicable() {
        let (rule, case, e) = (demo_rule(), demo_case(), expect_deny(None));
        let wasm = Fixed("wasm", Got::Findings(vec![finding(Action::Deny)]));
        let cel = Fixed("cel", Got::NotApplicable("set rule".into()));
        let row = run_one("t.test.yaml", &case, &e, &rule, &[&wasm, &cel]);
        assert!(row.passed && !row.not_applicable, "{row:?}");
        assert_eq!(row.got_summary(), "wasm=deny cel=n/a");
        assert_eq!(row.notes, ["cel: n/a: set rule"]);
        // Alone, it neither passes nor fails.
        let row = run_one("t.test.yaml", &case, &e, &rule, &[&cel]);
        assert!(!row.passed && row.not_applicable);
        let report = VerifyReport {
            rows: vec![row],
            ..VerifyReport::default()
        };
        assert_eq!((report.passed(), report.failed()), (0, 0));
        assert_eq!(report.exit_code(), 0);
        let table = report.render(Format::Table);
        assert!(table.starts_with("     RULE"), "{table}");
        assert!(table.contains("\nn/a  demo.rule"), "{table}");
        assert!(
            table.ends_with(
                "\nnotes:\n  cel: n/a: set rule\n\n0 passed, 0 failed, 1 not applicable\n"
            ),
            "{table}"
        );
        let xml = report.render(Format::Junit);
        assert!(
            xml.contains("<skipped message=\"not applicable\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn a_first_element_message_is_read_against_the_full_findings() {
        let (rule, case) = (demo_rule(), demo_case());
        let e = expect_deny(Some("sidecar"));
        let wasm = Fixed(
            "wasm",
            Got::Findings(vec![
                named(Action::Deny, "app"),
                named(Action::Deny, "sidecar"),
            ]),
        );
        let cel = FirstOnly("cel", Got::Findings(vec![named(Action::Deny, "app")]));
        let row = run_one("t.test.yaml", &case, &e, &rule, &[&wasm, &cel]);
        assert!(row.passed, "{row:?}");
        assert_eq!(row.got_summary(), "deny (2)");
        assert_eq!(
            row.notes,
            ["cel: reports only the first offending element's message (`container `app` is privileged`), which wasm reports too"]
        );
        // Without a backend that reports every finding, the message does not match.
        let row = run_one("t.test.yaml", &case, &e, &rule, &[&cel]);
        assert!(!row.passed);
        assert_eq!(
            row.reasons,
            ["no deny finding with message matching `sidecar`; got `container `app` is privileged`"]
        );
        // A message no other backend reports is a disagreement.
        let odd = FirstOnly("cel", Got::Findings(vec![named(Action::Deny, "ghost")]));
        let row = run_one("t.test.yaml", &case, &e, &rule, &[&wasm, &odd]);
        assert!(!row.passed);
        assert_eq!(row.failed_on, ["cel"]);
        assert_eq!(row.got_summary(), "wasm=deny (2) cel=deny");
    }

    #[test]
    fn backends_that_disagree_fail_the_row_and_say_which() {
        let (rule, case, expectation) = (demo_rule(), demo_case(), expect_deny(None));
        let wasm = Fixed("wasm", Got::Findings(vec![finding(Action::Deny)]));
        let rego = Fixed("rego", Got::Skip);
        let cel = Fixed("cel", Got::Findings(vec![finding(Action::Deny)]));
        let row = run_one(
            "t.test.yaml",
            &case,
            &expectation,
            &rule,
            &[&wasm, &rego, &cel],
        );
        assert!(!row.passed);
        assert_eq!(row.got_summary(), "wasm=deny rego=skip cel=deny");
        assert_eq!(
            row.reasons,
            ["rego: expected deny, but the rule does not apply to the object"]
        );
        let row = run_one("t.test.yaml", &case, &expectation, &rule, &[&wasm, &cel]);
        assert!(row.passed);
        assert_eq!(row.got_summary(), "deny");
    }
}
