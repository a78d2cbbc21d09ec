//! `rampart verify`: policy unit tests written in `*.test.yaml` files (spec/testing.md).
//!
//! A run has two phases. First every test file is read and checked against the rules of its
//! policies (unknown rules, missing files, expectations a rule's kinds make impossible, bad
//! regexes); any error stops the run before a single case is evaluated. Then every
//! expectation becomes one row, evaluated on each selected backend.

mod backend;
mod parse;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::eval::{Action, Engine, Finding, RuleInfo};
use crate::manifest::format_path;
pub use backend::{Backend, Got, WasmBackend};
use parse::{Case, Errors, Expectation, Outcome, PolicySet};

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
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            backends: vec![BackendKind::Wasm],
            coverage: false,
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
    /// What each backend gave, in `--backend` order: (backend, outcome).
    pub got: Vec<(String, String)>,
    pub passed: bool,
    /// Why it failed, one line per backend that disagrees with the expectation.
    pub reasons: Vec<String>,
}

impl Row {
    /// The outcome shown in the `got` column: one word when every backend agrees, else
    /// `backend=outcome` for each.
    pub fn got_summary(&self) -> String {
        let first = self.got.first().map(|(_, g)| g.as_str()).unwrap_or("");
        if self.got.iter().all(|(_, g)| g == first) {
            first.to_string()
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
        self.rows.len() - self.passed()
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
    for kind in &options.backends {
        if *kind != BackendKind::Wasm {
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
    let mut compiled: BTreeMap<PolicySet, Result<WasmBackend, String>> = BTreeMap::new();
    let mut suites = Vec::new();
    for path in &files {
        let file = path.display().to_string();
        let mut errs = Errors {
            file: &file,
            list: &mut errors,
        };
        let Some(header) = parse::read_header(path, &mut errs) else {
            continue;
        };
        let backend = &*compiled
            .entry(header.policies.clone())
            .or_insert_with(|| compile(&header.policies, &engine));
        let rules = match backend {
            Ok(b) => b.rules(),
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
                    if let Err(e) = backend.check_params(&one) {
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
        let backends: Vec<&dyn Backend> = vec![backend];
        let rules: BTreeMap<&str, &RuleInfo> =
            backend.rules().iter().map(|r| (r.id.as_str(), r)).collect();
        for case in &suite.cases {
            for e in &case.expects {
                report.rows.push(run_one(
                    &suite.file,
                    case,
                    e,
                    rules[e.rule.as_str()],
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

/// Compiles a policy set to a loaded Wasm module; the error is the rendered diagnostics.
fn compile(policies: &PolicySet, engine: &Engine) -> Result<WasmBackend, String> {
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
    let wasm = rampart_compiler::wasm::compile(program).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    WasmBackend::new(engine, &wasm)
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
        reasons: Vec::new(),
    };
    for backend in backends {
        let got = backend.outcomes(rule, &case.object, &case.set, &case.params);
        row.got.push((backend.name().to_string(), describe(&got)));
        if let Err(reason) = check(e, &got) {
            row.passed = false;
            row.reasons.push(if backends.len() > 1 {
                format!("{}: {reason}", backend.name())
            } else {
                reason
            });
        }
    }
    row
}

/// The word shown for what a backend gave: `skip`, `pass`, `deny`, `warn` (with the number
/// of findings when more than one) or `error`.
fn describe(got: &Result<Got, String>) -> String {
    match got {
        Err(_) => "error".to_string(),
        Ok(Got::Skip) => "skip".to_string(),
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
            if n == 1 {
                word.to_string()
            } else {
                format!("{word} ({n})")
            }
        }
    }
}

/// Whether what a backend gave meets the expectation; the error says why not.
fn check(e: &Expectation, got: &Result<Got, String>) -> Result<(), String> {
    let findings = match got {
        Err(message) => return Err(format!("evaluation error: {message}")),
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
    let first = |list: &[&Finding]| {
        list.first()
            .map(|f| format!(": `{}` at `{}`", f.message, format_path(&f.path)))
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
    if let Some(n) = e.count {
        if relevant.len() != n {
            return Err(format!(
                "expected {n} {word} finding(s), got {}",
                relevant.len()
            ));
        }
    }
    let fits = |f: &&Finding| {
        e.message.as_ref().is_none_or(|re| re.is_match(&f.message))
            && e.path.as_ref().is_none_or(|p| *p == format_path(&f.path))
            && e.line.is_none_or(|l| l == f.line)
    };
    if relevant.iter().any(fits) {
        return Ok(());
    }
    let mut wanted = Vec::new();
    if let Some(re) = &e.message {
        wanted.push(format!("message matching `{re}`"));
    }
    if let Some(p) = &e.path {
        wanted.push(format!("path `{p}`"));
    }
    if let Some(l) = e.line {
        wanted.push(format!("line {l}"));
    }
    let seen = relevant
        .iter()
        .map(|f| {
            format!(
                "`{}` at `{}` (line {})",
                f.message,
                format_path(&f.path),
                f.line
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(format!(
        "no {word} finding with {}; got {seen}",
        wanted.join(", ")
    ))
}

/// Which rules of the tested policies no case expects to pass, or to fail.
fn coverage(
    suites: &[Suite],
    compiled: &BTreeMap<PolicySet, Result<WasmBackend, String>>,
) -> Coverage {
    let mut rules = BTreeSet::new();
    for suite in suites {
        if let Some(Ok(b)) = compiled.get(&suite.policies) {
            rules.extend(b.rules().iter().map(|r| r.id.clone()));
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
        fn outcomes(&self, _: &RuleInfo, _: &Node, _: &[Node], _: &Params) -> Result<Got, String> {
            Ok(self.1.clone())
        }
    }

    fn finding(action: Action) -> Finding {
        Finding {
            rule_id: "demo.rule".into(),
            action,
            message: "container `app` is privileged".into(),
            path: vec![],
            line: 3,
            col: 1,
        }
    }

    #[test]
    fn backends_that_disagree_fail_the_row_and_say_which() {
        let rule: RuleInfo = serde_json::from_value(serde_json::json!({
            "id": "demo.rule", "module": "demo", "name": "rule", "title": "t",
            "description": "", "rationale": "", "category": "", "remediation": "",
            "severity": "high", "controls": [], "matcher": {"targets": []},
            "params": [], "reads_kinds": [], "outcomes": []
        }))
        .unwrap();
        let object = Node::new(Value::Null, 1, 1);
        let case = Case {
            name: "privileged".into(),
            object: object.clone(),
            set: vec![object],
            params: Params::default(),
            param_lines: vec![],
            expects: vec![],
        };
        let expectation = Expectation {
            rule: "demo.rule".into(),
            outcome: Outcome::Deny,
            count: None,
            message: None,
            path: None,
            line: None,
            at: 7,
        };
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
