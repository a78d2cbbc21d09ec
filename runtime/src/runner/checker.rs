//! A run prepared once and reused for one object at a time, on the caller's thread: the
//! admission webhook checks each request's object this way. The rule selection, parameters
//! and exceptions are worked out once; an object gets the results [`run_set`](super::run_set)
//! gives for a file holding it alone.

use std::sync::atomic::{AtomicBool, AtomicUsize};

use super::admission::Admission;
use super::gate::Gate;
use super::{check_objects, Context, FileOutcome, ObjectResult, Options, RunError, Selection};
use crate::eval::set::PolicySet;
use crate::eval::{EvalError, ObjectSet, Prepared};
use crate::manifest::Loaded;

/// Policies and options, prepared for checking objects one request at a time.
pub struct Checker<'p> {
    policies: PolicySet<'p>,
    options: Options,
    selection: Selection,
    /// Per `--exceptions` entry; not reported (a webhook has no end of run).
    used: Vec<AtomicBool>,
    prepared: Vec<Result<Prepared, EvalError>>,
}

/// The results of one check.
#[derive(Debug, Default)]
pub struct Checked {
    pub results: Vec<ObjectResult>,
    pub errors: Vec<RunError>,
}

impl<'p> Checker<'p> {
    /// Prepares `policies` (parameters placed once, no objects for `objects(Kind)`: the rules
    /// that read other objects judge a whole run, and are left out with `options.rules`).
    pub fn new(policies: PolicySet<'p>, options: Options) -> Checker<'p> {
        let selection = Selection::new(&policies, &options);
        let prepared = policies.prepare(&ObjectSet::default(), &options.params);
        let used = options
            .exceptions
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Checker {
            policies,
            options,
            selection,
            used,
            prepared,
        }
    }

    /// The policies checked.
    pub fn policies(&self) -> &PolicySet<'p> {
        &self.policies
    }

    /// Checks the objects of `loaded` (named `name` in errors) under `admission` (`None`: a
    /// `CREATE`), judged as `rampart test` judges them by default (`deny` fails).
    pub fn check(&self, name: &str, loaded: Loaded, admission: Option<&Admission>) -> Checked {
        let ctx = Context {
            policies: &self.policies,
            options: &self.options,
            selection: &self.selection,
            used: &self.used,
            files_done: AtomicUsize::new(0),
            objects_done: AtomicUsize::new(0),
            aborted: AtomicBool::new(false),
        };
        let mut out = FileOutcome::default();
        check_objects(&ctx, name, "", loaded, &self.prepared, admission, &mut out);
        let mut gate = Gate::default();
        for r in &mut out.results {
            gate.judge(r);
        }
        Checked {
            results: out.results,
            errors: out.errors,
        }
    }
}
