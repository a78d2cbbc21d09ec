//! The `rampart test` runner: reads manifests, evaluates the policies on every object,
//! applies exceptions, and hands each file's results on in input order ([`run_streaming`])
//! or keeps them in the [`Report`] ([`run`]) that the formats in [`crate::report`] print.
//!
//! Files are processed in parallel and one at a time each: a file's objects are dropped once
//! evaluated, and its results are handed on as soon as the files before it are done, so
//! memory does not grow with the input. Set rules (`objects(Kind)`) need the objects of
//! their kinds from every file, so when the policies have any, a first pass collects those
//! objects (only those: the objects of the kinds the set rules read, and the RBAC objects
//! when a rule asks `who_can`).

pub mod admission;
pub mod baseline;
pub mod checker;
pub mod config;
pub mod exceptions;
pub mod gate;
pub mod inputs;
pub mod params;
mod set;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use crate::eval::set::PolicySet;
use crate::eval::{
    self, Action, EvalError, Evaluation, Finding, ObjectSet, Params, Policies, Prepared, RuleInfo,
};
use crate::manifest::{self, format_path, Node, Object};
use crate::schema_check::{self, Validator};
use exceptions::{Date, Exception};
use gate::Gate;
pub use inputs::{Input, Source};

/// A problem with a file or an object, with its position when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunError {
    /// The input's name.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub col: Option<u32>,
    /// What is wrong, lowercase, one line.
    pub message: String,
    /// The text of `line`, for snippets.
    pub source_line: Option<String>,
    /// For an evaluation error: the rule that failed.
    pub rule: Option<String>,
    /// For an evaluation error: the dotted path of the field whose value made it fail.
    pub path: Option<String>,
}

impl RunError {
    /// An error about a whole file.
    pub fn file(file: &str, message: String) -> RunError {
        RunError {
            file: file.to_string(),
            line: None,
            col: None,
            message,
            source_line: None,
            rule: None,
            path: None,
        }
    }

    /// An error at a position.
    pub fn at(file: &str, line: u32, col: u32, message: String) -> RunError {
        RunError {
            file: file.to_string(),
            line: Some(line),
            col: Some(col),
            message,
            source_line: None,
            rule: None,
            path: None,
        }
    }
}

/// Why a finding does not count: the exception that covers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exemption {
    /// The exception's reason.
    pub reason: String,
    /// Who owns the exception, if said.
    pub owner: Option<String>,
    /// The last day it applies, if said.
    pub until: Option<String>,
    /// `annotation` or `FILE:LINE` of the exceptions file.
    pub origin: String,
}

/// One finding, ready to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule id (shared by every finding of the rule).
    pub rule: Arc<str>,
    /// `deny` or `warn`.
    pub action: Action,
    /// The rule's severity.
    pub severity: Arc<str>,
    /// The rule's message.
    pub message: String,
    /// Dotted path of the field the finding is about.
    pub path: String,
    /// Line of that field (or of its nearest existing ancestor).
    pub line: u32,
    /// Column of that field.
    pub col: u32,
    /// The text of `line`, for snippets.
    pub source_line: String,
    /// Set when an exception covers the finding.
    pub exemption: Option<Exemption>,
    /// Whether its action and severity reach the run's failure threshold (`deny`, unless
    /// [`gate`] says otherwise).
    pub at_threshold: bool,
    /// Whether the `--baseline` report already holds it.
    pub baselined: bool,
    /// The fixes of the finding's outcome, made concrete (`rampart fix` applies them).
    pub fixes: Vec<crate::fix::Fix>,
    /// The object the finding's outcome generates (`generate`; `rampart fix` writes it).
    pub generated: Option<serde_json::Value>,
}

impl Violation {
    /// Whether this finding fails the run: at the threshold, not exempted, not in the baseline.
    pub fn fails(&self) -> bool {
        self.at_threshold && self.exemption.is_none() && !self.baselined
    }
}

/// Everything found about one Kubernetes object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectResult {
    /// The input's name.
    pub file: String,
    /// 0-based index of the document in the file.
    pub document: usize,
    /// Index in the `items` of a List, if the object came from one.
    pub item: Option<usize>,
    /// Line of the object's first character.
    pub line: u32,
    /// The object's `apiVersion`.
    pub api_version: String,
    /// The object's `kind`.
    pub kind: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: Option<String>,
    /// Findings, exempted ones included (see [`Violation::exemption`]).
    pub violations: Vec<Violation>,
    /// Set when a rule could not be evaluated on the object (its errors, joined with `; `):
    /// the object then never counts as passing; the other rules' findings are kept.
    pub error: Option<String>,
    /// The rules that could not be evaluated on the object.
    pub failed_rules: Vec<String>,
    /// The selected rules that apply to the object, when [`Options::applicable_rules`] is
    /// set (else empty).
    pub applicable: Vec<Arc<str>>,
    /// How the selected rules fared on the object ([`ObjectResult::rule_counts`]), set when
    /// the result is delivered.
    pub rules: RuleCounts,
}

impl ObjectResult {
    /// `Kind namespace/name`, for human-readable output.
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().unwrap_or("<unnamed>");
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{name}", self.kind),
            None => format!("{} {name}", self.kind),
        }
    }

    /// Findings not covered by an exception.
    pub fn active(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.exemption.is_none())
    }

    /// How the `selected` rules of the run fared on the object: applied (passed or not) or
    /// not applied. Needs [`Options::applicable_rules`].
    pub fn rule_counts(&self, selected: usize) -> RuleCounts {
        let found: std::collections::BTreeSet<&str> = self
            .active()
            .map(|v| v.rule.as_ref())
            .chain(self.failed_rules.iter().map(String::as_str))
            .collect();
        let passed = self
            .applicable
            .iter()
            .filter(|id| !found.contains(id.as_ref()))
            .count();
        // A rule with a finding applied, whether or not the matcher listed it.
        let applied = passed + found.len();
        RuleCounts {
            applied,
            passed,
            not_applied: selected.saturating_sub(applied),
        }
    }
}

/// The rules of a run on one object ([`ObjectResult::rule_counts`]), or summed over objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Rules that apply to the object (kind, namespace and labels match).
    pub applied: usize,
    /// Rules that applied and found nothing (exempted findings aside), without error.
    pub passed: usize,
    /// Selected rules that do not apply to the object.
    pub not_applied: usize,
}

/// Counts over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Inputs read (or attempted).
    pub files: usize,
    /// Kubernetes objects found.
    pub resources: usize,
    /// `deny` findings not exempted.
    pub violations: usize,
    /// `warn` findings not exempted.
    pub warnings: usize,
    /// Findings covered by an exception.
    pub exempted: usize,
    /// Findings not exempted that the `--baseline` report holds.
    pub baselined: usize,
    /// Findings that fail the run (see [`Violation::fails`]).
    pub failing: usize,
    /// Documents without `apiVersion` and `kind`.
    pub skipped: usize,
    /// Errors (inputs, evaluation, exceptions).
    pub errors: usize,
    /// Objects not checked against a schema: their kind has none.
    pub unvalidated: usize,
    /// Over every object: (object, rule) pairs where the rule applied and passed, and where
    /// it did not apply.
    pub rules_passed: usize,
    pub rules_not_applied: usize,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per Kubernetes object, sorted by file, then document, then list item.
    pub results: Vec<ObjectResult>,
    /// Unreadable or malformed inputs, evaluation errors, malformed exceptions.
    pub errors: Vec<RunError>,
    /// Warnings about the run itself (expired or unused exceptions…).
    pub notices: Vec<RunError>,
    /// The selected rules, in id order.
    pub rules: Vec<RuleInfo>,
    /// Kinds without a schema, as (`apiVersion`, `kind`) → number of objects; sorted.
    pub unvalidated: BTreeMap<(String, String), usize>,
    /// Counts.
    pub summary: Summary,
    /// True when [`Options::stop`] was set: the results are incomplete and must not be
    /// reported as a verdict.
    pub interrupted: bool,
    /// Inputs read without error that hold documents that are not Kubernetes objects, or
    /// nothing at all: named so that nothing passes by emptiness.
    pub skipped_files: Vec<SkippedFile>,
    /// What decides failure, when more than the default (`deny` findings fail).
    pub gate: gate::Settings,
}

/// An input with documents that are not Kubernetes objects (no `apiVersion` and `kind`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedFile {
    /// The input's name.
    pub file: String,
    /// How many of its documents were skipped (0: the input holds no document at all).
    pub documents: usize,
    /// Whether it holds no Kubernetes object at all.
    pub no_object: bool,
}

impl Report {
    /// True when some finding fails the run (see [`Violation::fails`]).
    pub fn failed(&self) -> bool {
        self.summary.failing > 0
    }

    /// Recounts [`Report::summary`]'s finding counts from the results.
    pub fn count_findings(&mut self) {
        let s = &mut self.summary;
        (s.violations, s.warnings, s.exempted, s.baselined, s.failing) = (0, 0, 0, 0, 0);
        for r in &self.results {
            s.count(r);
        }
    }
}

impl Summary {
    /// Adds the findings of one object to the finding counts.
    pub fn count(&mut self, r: &ObjectResult) {
        for v in &r.violations {
            match (&v.exemption, v.action) {
                (Some(_), _) => self.exempted += 1,
                (None, Action::Deny) => self.violations += 1,
                (None, Action::Warn) => self.warnings += 1,
            }
            if v.exemption.is_none() && v.baselined {
                self.baselined += 1;
            }
            if v.fails() {
                self.failing += 1;
            }
        }
    }
}

/// How to run.
pub struct Options {
    /// Limits of the manifest loader.
    pub load_limits: manifest::Limits,
    /// Limits of one object's evaluation.
    pub eval_limits: eval::Limits,
    /// Parameter overrides.
    pub params: Params,
    /// The rule ids to report (`None`: all of the module's rules).
    pub rules: Option<Vec<String>>,
    /// Exceptions from `--exceptions` files.
    pub exceptions: Vec<Exception>,
    /// The day against which expiry dates are checked.
    pub today: Date,
    /// `--require-owner-and-expiry`: an exemption annotation without an owner or an expiry
    /// date is an error (and exempts nothing).
    pub require_owner_and_expiry: bool,
    /// Called after each file with the number of files and objects done so far.
    pub progress: Option<Box<dyn Fn(usize, usize) + Send + Sync>>,
    /// Set (by a Ctrl-C handler) to stop the run: no new file or batch of objects starts.
    pub stop: Arc<AtomicBool>,
    /// Keep the source line of each finding and error (`source_line`), for the formats that
    /// print it; without it those fields are empty, which saves time and memory.
    pub source_lines: bool,
    /// Checks objects against the schema of their kind (the `schema.*` rules); `None`: no
    /// schema validation.
    pub schema: Option<Validator>,
    /// Objects of kinds without a schema are errors rather than only counted.
    pub strict_kinds: bool,
    /// Record, per object, the rules that apply to it ([`ObjectResult::applicable`]), for
    /// the formats that report passing rules.
    pub applicable_rules: bool,
    /// The admission request objects are evaluated under (`--operation`, `--old`); `None`
    /// is a `CREATE`.
    pub admission: Option<admission::Admission>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            load_limits: manifest::Limits::default(),
            eval_limits: eval::Limits::default(),
            params: Params::default(),
            rules: None,
            exceptions: Vec::new(),
            today: Date::today(),
            require_owner_and_expiry: false,
            progress: None,
            stop: Arc::new(AtomicBool::new(false)),
            source_lines: true,
            schema: None,
            strict_kinds: false,
            applicable_rules: false,
            admission: None,
        }
    }
}

/// What one file produced.
#[derive(Default)]
struct FileOutcome {
    results: Vec<ObjectResult>,
    errors: Vec<RunError>,
    notices: Vec<RunError>,
    skipped: usize,
    /// (`apiVersion`, `kind`) of each object whose kind has no schema.
    unvalidated: Vec<(String, String)>,
}

/// The rules a run reports, worked out once from the policies and the options.
struct Selection {
    /// Rule id → its id and severity as shared strings, for the selected rules only: a run
    /// can hold hundreds of thousands of findings, which share them.
    selected: HashMap<String, (Arc<str>, Arc<str>)>,
    /// Every rule id of the policies, for "names no existing rule" warnings.
    known: Vec<String>,
    /// The `schema.*` rules, when the run validates schemas.
    schema_rules: Vec<RuleInfo>,
}

impl Selection {
    fn new(policies: &PolicySet, options: &Options) -> Selection {
        let schema_rules = if options.schema.is_some() {
            schema_check::rules::infos()
        } else {
            Vec::new()
        };
        let selected = policies
            .rules()
            .iter()
            .chain(&schema_rules)
            .filter(|r| options.rules.as_ref().is_none_or(|ids| ids.contains(&r.id)))
            .map(|r| {
                (
                    r.id.clone(),
                    (Arc::from(r.id.as_str()), Arc::from(r.severity.as_str())),
                )
            })
            .collect();
        let known = policies
            .rules()
            .iter()
            .chain(&schema_rules)
            .map(|r| r.id.clone())
            .collect();
        Selection {
            selected,
            known,
            schema_rules,
        }
    }
}

/// Shared, read-only state of a run (plus the counters of exception use).
struct Context<'a> {
    policies: &'a PolicySet<'a>,
    options: &'a Options,
    selection: &'a Selection,
    /// Per `--exceptions` entry: whether it exempted anything.
    used: &'a [AtomicBool],
    files_done: AtomicUsize,
    objects_done: AtomicUsize,
    /// Set when the results can no longer be handed on (the sink failed): stops the run.
    aborted: AtomicBool,
}

impl Context<'_> {
    /// Whether the run is to stop: interrupted, or the results cannot be written.
    fn stopped(&self) -> bool {
        self.options.stop.load(Ordering::Relaxed) || self.aborted.load(Ordering::Relaxed)
    }
}

/// Runs the policies over the inputs and returns every result in the report. `errors` are
/// problems found while listing the inputs; they are reported with the rest.
pub fn run(
    policies: &Policies,
    inputs: &[Input],
    errors: Vec<RunError>,
    options: &Options,
) -> Report {
    run_set(&PolicySet::one(policies), inputs, errors, options)
}

/// [`run`] with the rules of several modules.
pub fn run_set(
    policies: &PolicySet,
    inputs: &[Input],
    errors: Vec<RunError>,
    options: &Options,
) -> Report {
    let mut results = Vec::new();
    let mut keep = |file: Vec<ObjectResult>| {
        results.extend(file);
        Ok(())
    };
    let streamed = run_streaming(
        policies,
        inputs,
        errors,
        options,
        Gate::default(),
        &mut keep,
    );
    let mut report = streamed.expect("keeping results in memory does not fail");
    report.results = results;
    report
}

/// Files checked at most before their results are handed on: the results held while the
/// files before them are still being checked are those of one window of files.
const WINDOW: usize = 256;

/// Where each file's results go, in input order, as soon as the files before it are done.
pub type Sink<'s> = dyn FnMut(Vec<ObjectResult>) -> std::io::Result<()> + Send + 's;

/// Runs the policies over the inputs and hands each file's results to `sink`, in input order
/// (inputs sorted by name, stably) as soon as the files before it are done, after `gate` has
/// judged them; the report returned holds everything but the results (its
/// [`Report::results`] is empty) and its counts include them. Files are checked in parallel,
/// at most [`WINDOW`] ahead of the first one not yet handed on, so the results held do not
/// grow with the input. An error of `sink` stops the run and is returned.
pub fn run_streaming(
    policies: &PolicySet,
    inputs: &[Input],
    errors: Vec<RunError>,
    options: &Options,
    gate: Gate,
    sink: &mut Sink<'_>,
) -> std::io::Result<Report> {
    let selection = Selection::new(policies, options);
    let used: Vec<AtomicBool> = options
        .exceptions
        .iter()
        .map(|_| AtomicBool::new(false))
        .collect();
    let ctx = Context {
        policies,
        options,
        selection: &selection,
        used: &used,
        files_done: AtomicUsize::new(0),
        objects_done: AtomicUsize::new(0),
        aborted: AtomicBool::new(false),
    };

    let set_nodes = if policies.set_kinds().is_empty() {
        Vec::new()
    } else {
        set::collect_set(policies, &selection, inputs, options)
    };
    let set = ObjectSet {
        objects: set_nodes.iter().collect(),
    };
    let prepared = policies.prepare(&set, &options.params);

    let mut rules: Vec<RuleInfo> = policies
        .rules()
        .iter()
        .chain(&selection.schema_rules)
        .filter(|r| selection.selected.contains_key(r.id.as_str()))
        .cloned()
        .collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    let mut report = Report {
        errors,
        rules,
        ..Report::default()
    };
    report.summary.files = inputs.len();

    // Results are reported by file name: sorting the inputs (stably) first lets each file's
    // results go out as soon as the files before it are done.
    let mut order: Vec<&Input> = inputs.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let mut delivery = Delivery {
        next: 0,
        pending: BTreeMap::new(),
        gate,
        report: &mut report,
        sink,
        failure: None,
    };
    for (w, window) in order.chunks(WINDOW).enumerate() {
        if ctx.stopped() {
            break;
        }
        let delivery = std::sync::Mutex::new(&mut delivery);
        window.par_iter().enumerate().for_each(|(i, &input)| {
            let outcome = check_input(&ctx, input, &prepared);
            // A poisoned lock means a sink panicked; the panic is propagated by rayon.
            if let Ok(mut d) = delivery.lock() {
                d.add(&ctx, w * WINDOW + i, input, outcome);
            }
        });
    }
    let Delivery { gate, failure, .. } = delivery;
    if let Some(e) = failure {
        return Err(e);
    }
    for (ex, used) in options.exceptions.iter().zip(ctx.used) {
        if !used.load(Ordering::Relaxed) && !ex.expired(options.today) {
            report.notices.push(RunError::at(
                &ex.file,
                ex.line,
                ex.col,
                "exception matched no finding in this run".into(),
            ));
        }
    }
    gate.finish(&mut report);
    report
        .errors
        .sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    report.summary.errors = report.errors.len();
    report.interrupted = options.stop.load(Ordering::Relaxed);
    Ok(report)
}

/// The files checked but not yet handed on, and what the handing on adds up.
struct Delivery<'r, 's> {
    /// Position, in the sorted inputs, of the first file not yet handed on.
    next: usize,
    /// Files done whose predecessors are not all done yet.
    pending: BTreeMap<usize, (&'r Input, FileOutcome)>,
    gate: Gate,
    report: &'r mut Report,
    sink: &'r mut Sink<'s>,
    /// The first error of the sink; nothing more is handed on after it.
    failure: Option<std::io::Error>,
}

impl<'r> Delivery<'r, '_> {
    /// Records that the file at `position` is done, then hands on every file whose
    /// predecessors are all done.
    fn add(&mut self, ctx: &Context, position: usize, input: &'r Input, outcome: FileOutcome) {
        self.pending.insert(position, (input, outcome));
        while let Some((input, outcome)) = self.pending.remove(&self.next) {
            self.next += 1;
            self.hand_on(ctx, input, outcome);
        }
    }

    fn hand_on(&mut self, ctx: &Context, input: &Input, outcome: FileOutcome) {
        let report = &mut *self.report;
        let no_object = outcome.results.is_empty();
        if outcome.errors.is_empty() && (outcome.skipped > 0 || no_object) {
            report.skipped_files.push(SkippedFile {
                file: input.name.clone(),
                documents: outcome.skipped,
                no_object,
            });
        }
        report.errors.extend(outcome.errors);
        report.notices.extend(outcome.notices);
        report.summary.skipped += outcome.skipped;
        for kind in outcome.unvalidated {
            *report.unvalidated.entry(kind).or_default() += 1;
            report.summary.unvalidated += 1;
        }
        let mut results = outcome.results;
        let selected = report.rules.len();
        for r in &mut results {
            self.gate.judge(r);
            report.summary.count(r);
            // The counts need the rules that apply to each object, kept only when asked.
            if ctx.options.applicable_rules {
                r.rules = r.rule_counts(selected);
                report.summary.rules_passed += r.rules.passed;
                report.summary.rules_not_applied += r.rules.not_applied;
            }
        }
        report.summary.resources += results.len();
        if self.failure.is_none() {
            if let Err(e) = (self.sink)(results) {
                self.failure = Some(e);
                ctx.aborted.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Objects evaluated between two checks of [`Options::stop`], so that a file with many
/// thousands of objects still stops promptly.
const STOP_BATCH: usize = 256;

/// The lines of one file, indexed on first use so that each finding's line is found
/// without scanning the file from its start.
struct Lines<'a> {
    text: &'a str,
    starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        Lines {
            text,
            starts: std::cell::OnceCell::new(),
        }
    }

    /// The text of 1-based line `line`, as [`line_text`] gives it.
    fn get(&self, line: u32) -> String {
        let starts = self.starts.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', self.text.as_bytes()).map(|i| i + 1))
                .collect()
        });
        let Some(&start) = starts.get(line.saturating_sub(1) as usize) else {
            return String::new();
        };
        line_text(&self.text[start..], 1)
    }
}

/// The text of 1-based line `line` of `text`, without its line break; control characters
/// (a NUL in a binary file…) are replaced so the snippet prints cleanly.
fn line_text(text: &str, line: u32) -> String {
    text.lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

fn check_input(
    ctx: &Context,
    input: &Input,
    prepared: &[Result<Prepared, EvalError>],
) -> FileOutcome {
    let outcome = check_file(ctx, input, prepared);
    if let Some(progress) = &ctx.options.progress {
        let files = ctx.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        let objects = ctx
            .objects_done
            .fetch_add(outcome.results.len(), Ordering::Relaxed)
            + outcome.results.len();
        progress(files, objects);
    }
    outcome
}

fn check_file(
    ctx: &Context,
    input: &Input,
    prepared: &[Result<Prepared, EvalError>],
) -> FileOutcome {
    let mut out = FileOutcome::default();
    let stopped = || ctx.stopped();
    if stopped() {
        return out;
    }
    let limits = &ctx.options.load_limits;
    let bytes = match inputs::read(input, limits.max_bytes) {
        Ok(b) => b,
        Err(message) => {
            out.errors.push(RunError::file(&input.name, message));
            return out;
        }
    };
    let loaded = manifest::text_of(&bytes, limits)
        .and_then(|text| Ok((text, manifest::load(text, limits)?)));
    let (text, loaded) = match loaded {
        Ok(l) => l,
        Err(e) => {
            let mut error = RunError::at(&input.name, e.line, e.col, e.message);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                error.source_line = Some(line_text(text, e.line));
            }
            out.errors.push(error);
            return out;
        }
    };
    let admission = ctx.options.admission.as_ref();
    check_objects(
        ctx,
        &input.name,
        text,
        loaded,
        prepared,
        admission,
        &mut out,
    );
    out
}

/// Evaluates the objects loaded from the file `name` (whose text is `text`, for the lines
/// of findings) under `admission` (`None`: a `CREATE`), adding their results to `out`.
fn check_objects(
    ctx: &Context,
    name: &str,
    text: &str,
    loaded: manifest::Loaded,
    prepared: &[Result<Prepared, EvalError>],
    admission: Option<&admission::Admission>,
    out: &mut FileOutcome,
) {
    let lines = Lines::new(text);
    out.skipped += loaded.skipped;
    for batch in loaded.objects.chunks(STOP_BATCH) {
        if ctx.stopped() {
            break;
        }
        let nodes: Vec<&Node> = batch.iter().map(|o| &o.node).collect();
        let limits = &ctx.options.eval_limits;
        let evaluated = match admission {
            None => ctx.policies.evaluate_all_prepared(&nodes, prepared, limits),
            Some(a) => {
                let contexts: Vec<_> = batch.iter().map(|o| a.context_for(o)).collect();
                let pairs: Vec<_> = nodes.iter().copied().zip(&contexts).collect();
                ctx.policies
                    .evaluate_all_admission(&pairs, prepared, limits)
            }
        };
        for (object, result) in batch.iter().zip(evaluated) {
            // `None`: no schema check ran on the object (none asked, or its kind has none).
            let schema = match &ctx.options.schema {
                Some(validator) => validate(ctx, validator, name, &lines, object, out),
                None => None,
            };
            let r = object_result(ctx, name, &lines, object, result, schema, out);
            out.results.push(r);
        }
    }
}

/// The schema findings of one object; an object whose kind has no schema is counted (and
/// is an error with `strict_kinds`), and gives `None`.
fn validate(
    ctx: &Context,
    validator: &Validator,
    file: &str,
    lines: &Lines,
    object: &Object,
    out: &mut FileOutcome,
) -> Option<Vec<Finding>> {
    let line_text = |line: u32| lines.get(line);
    let Some(issues) = validator.check(&object.node, &object.api_version, &object.kind, &line_text)
    else {
        out.unvalidated
            .push((object.api_version.clone(), object.kind.clone()));
        if ctx.options.strict_kinds {
            let message = format!(
                "no schema for kind `{}` of `{}`: give its CustomResourceDefinition with --crd, \
                 or leave out --strict-kinds",
                object.kind, object.api_version
            );
            let mut error = RunError::at(file, object.node.line, object.node.col, message);
            error.source_line = Some(lines.get(object.node.line));
            out.errors.push(error);
        }
        return None;
    };
    let findings = issues
        .into_iter()
        .map(|issue| Finding {
            rule_id: issue.rule.to_string(),
            action: Action::Deny,
            message: issue.message,
            path: issue.path,
            line: issue.line,
            col: issue.col,
            fixes: Vec::new(),
            generated: None,
        })
        .collect();
    Some(findings)
}

fn object_result(
    ctx: &Context,
    file: &str,
    lines: &Lines,
    object: &Object,
    result: Evaluation,
    schema: Option<Vec<Finding>>,
    out: &mut FileOutcome,
) -> ObjectResult {
    let mut r = ObjectResult {
        file: file.to_string(),
        document: object.doc_index,
        item: object.item_index,
        line: object.node.line,
        api_version: object.api_version.clone(),
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        violations: Vec::new(),
        error: None,
        failed_rules: Vec::new(),
        applicable: Vec::new(),
        rules: RuleCounts::default(),
    };
    if ctx.options.applicable_rules {
        r.applicable = ctx
            .policies
            .applicable(&object.node)
            .into_iter()
            .filter_map(|rule| {
                ctx.selection
                    .selected
                    .get(rule.id.as_str())
                    .map(|(id, _)| id.clone())
            })
            .collect();
        // The schema rules apply to every object checked against a schema.
        if schema.is_some() {
            r.applicable.extend(
                schema_check::rules::IDS
                    .iter()
                    .filter_map(|id| ctx.selection.selected.get(*id).map(|(id, _)| id.clone())),
            );
        }
    }
    let schema = schema.unwrap_or_default();
    let mut messages = Vec::new();
    for e in &result.errors {
        if let Some(rule) = &e.rule_id {
            r.failed_rules.push(rule.clone());
        }
        messages.push(e.to_string());
        let message = format!("{}: {e}", r.describe());
        let mut error = RunError::at(file, e.line, e.col, message);
        error.source_line = Some(lines.get(e.line));
        error.rule = e.rule_id.clone();
        error.path = e.path.as_deref().map(format_path);
        out.errors.push(error);
    }
    if !messages.is_empty() {
        r.error = Some(messages.join("; "));
    }
    let mut findings = result.findings;
    // The schema findings do not depend on the evaluation: they are reported with the
    // rules' findings, in rule id order (spec §4.7).
    if !schema.is_empty() {
        findings.extend(schema);
        findings.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    }
    let checks = exceptions::Checks {
        known: &ctx.selection.known,
        today: ctx.options.today,
        require_owner_and_expiry: ctx.options.require_owner_and_expiry,
    };
    let annotated = exceptions::from_annotations(file, object, checks);
    out.errors.extend(annotated.errors);
    out.notices.extend(annotated.notices);
    let mut annotation_used = false;
    for f in findings {
        let Some((rule, severity)) = ctx.selection.selected.get(f.rule_id.as_str()) else {
            continue;
        };
        let mut exemption = None;
        for ex in &annotated.exceptions {
            if ex.covers(&f.rule_id, object) && !ex.expired(ctx.options.today) {
                annotation_used = true;
                exemption = Some(exemption_of(ex));
                break;
            }
        }
        if exemption.is_none() {
            for (i, ex) in ctx.options.exceptions.iter().enumerate() {
                if ex.covers(&f.rule_id, object) && !ex.expired(ctx.options.today) {
                    ctx.used[i].store(true, Ordering::Relaxed);
                    exemption = Some(exemption_of(ex));
                    break;
                }
            }
        }
        r.violations.push(Violation {
            rule: rule.clone(),
            action: f.action,
            severity: severity.clone(),
            message: f.message,
            path: format_path(&f.path),
            line: f.line,
            col: f.col,
            source_line: if ctx.options.source_lines {
                lines.get(f.line)
            } else {
                String::new()
            },
            exemption,
            at_threshold: f.action == Action::Deny,
            baselined: false,
            fixes: f.fixes,
            generated: f.generated,
        });
    }
    for ex in &annotated.exceptions {
        if !annotation_used && !ex.expired(ctx.options.today) {
            out.notices.push(RunError::at(
                file,
                ex.line,
                ex.col,
                format!(
                    "exemption of {} matched no finding in this run",
                    r.describe()
                ),
            ));
        }
    }
    r
}

fn exemption_of(ex: &Exception) -> Exemption {
    Exemption {
        reason: ex.reason.clone(),
        owner: ex.owner.clone(),
        until: ex.expires.map(|d| d.to_string()),
        origin: ex.origin.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_lines_are_the_lines_of_the_text() {
        let text = "a: 1\r\n\nb:\t2\n  c: \u{0}x\nlast";
        let lines = Lines::new(text);
        for line in 0..8 {
            assert_eq!(lines.get(line), line_text(text, line), "line {line}");
        }
        assert_eq!(lines.get(1), "a: 1");
        assert_eq!(lines.get(4), "  c: \u{fffd}x");
        assert_eq!(lines.get(5), "last");
        assert_eq!(lines.get(6), "");
    }
}
