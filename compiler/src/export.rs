//! One entry for every export target, shared by `rampart build` and `rampart check
//! --target`: the files a target gets, and diagnostics located at the rules: a warning for
//! each rule the target cannot express (the other rules are still exported) and an error
//! for each pair of rules whose exported names clash (nothing may then be written).

use crate::backend::cel::{self, kyverno, mutating, vap};
use crate::backend::rego::{gatekeeper, mutators};
use crate::diagnostics::{Diagnostic, Files};
use crate::ir::{Program, Rule};

/// An export target other than `wasm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Gatekeeper ConstraintTemplates (Rego) and Constraints; with `referential`, also the
    /// rules that read other objects (through a SyncSet and `data.inventory`); and the
    /// rules' fixes as mutators, with `review` also the fixes marked `review`.
    Gatekeeper { referential: bool, review: bool },
    /// Gatekeeper templates with both the CEL and the Rego engine (and the mutators).
    GatekeeperCel { referential: bool, review: bool },
    /// Kyverno ClusterPolicies; with `pattern`, also the pattern-style ones; and the rules'
    /// fixes as mutate ClusterPolicies, with `review` also the fixes marked `review`.
    Kyverno { pattern: bool, review: bool },
    /// Kyverno ValidatingPolicies, MutatingPolicies for the rules' fixes (with `review`,
    /// also the fixes marked `review`) and GeneratingPolicies for their `generate`s.
    KyvernoVpol { review: bool },
    /// ValidatingAdmissionPolicies and their bindings.
    Vap,
    /// MutatingAdmissionPolicies and their bindings: the rules' fixes; with `review`, also
    /// the fixes marked `review`.
    Map { review: bool },
}

impl Target {
    /// The name of the target on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::Gatekeeper { .. } => gatekeeper::TARGET,
            Target::GatekeeperCel { .. } => gatekeeper::TARGET_CEL,
            Target::Kyverno { .. } => "kyverno",
            Target::KyvernoVpol { .. } => "kyverno-vpol",
            Target::Vap => "vap",
            Target::Map { .. } => mutating::TARGET,
        }
    }
}

/// What an export produced.
pub struct Export {
    /// Paths relative to the output folder, and contents; sorted by path.
    pub files: Vec<(String, String)>,
    /// Warnings for rules the target cannot express, errors for name clashes and rules
    /// that make the whole export fail.
    pub diagnostics: Vec<Diagnostic>,
}

impl Export {
    /// True when the files must not be written.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// A problem of one rule, before it is located.
struct Problem {
    rule: String,
    /// The other rule of a name clash.
    other: Option<String>,
    message: String,
    error: bool,
}

/// The annotations the exports write on the objects they make: the rule an object carries
/// and that rule's metadata. `rampart test` over exported files knows them, so that they are
/// not taken for misspelt exemption annotations (spec/config.md §3).
pub const ANNOTATIONS: &[&str] = &[
    "rampart.dev/rule",
    "rampart.dev/rules",
    "rampart.dev/title",
    "rampart.dev/severity",
    "rampart.dev/category",
    "rampart.dev/controls",
    "rampart.dev/remediation",
];

/// Exports `program` to `target`; `files` locates the rules in the diagnostics.
pub fn export(program: &Program, target: Target, files: &Files) -> Export {
    let mut problems = Vec::new();
    let mut out: Vec<(String, String)> = Vec::new();
    let from_cel = |e: cel::ExportError| Problem {
        message: e.to_string(),
        error: e.other.is_some(),
        rule: e.rule,
        other: e.other,
    };
    match target {
        Target::Gatekeeper {
            referential,
            review,
        }
        | Target::GatekeeperCel {
            referential,
            review,
        } => {
            let engines = if matches!(target, Target::GatekeeperCel { .. }) {
                gatekeeper::Engines::RegoAndCel
            } else {
                gatekeeper::Engines::Rego
            };
            let problem = |e: gatekeeper::ExportError, error: bool| Problem {
                message: e.to_string(),
                error,
                rule: e.rule,
                other: e.other,
            };
            match gatekeeper::export_engines(program, engines, referential) {
                Ok(exported) => {
                    out.extend(exported.files.into_iter().map(|f| (f.path, f.contents)));
                    problems.extend(exported.gaps.into_iter().map(|e| problem(e, false)));
                    problems.extend(exported.rego_only.into_iter().map(|e| Problem {
                        message: format!("{e}; its template has the Rego engine only"),
                        ..from_cel(e)
                    }));
                    let (fixes, gaps) = mutators::export_all(program, review);
                    out.extend(fixes.into_iter().map(|f| (f.path, f.contents)));
                    problems.extend(gaps.into_iter().map(|e| problem(e, false)));
                }
                Err(errors) => problems.extend(errors.into_iter().map(|e| problem(e, true))),
            }
        }
        Target::Kyverno { .. } | Target::KyvernoVpol { .. } | Target::Vap | Target::Map { .. } => {
            let (mut written, mut errors) = match target {
                Target::Kyverno { review, .. } => {
                    let (mut files, mut errors) = kyverno::export_cluster_policies_all(program);
                    let (fixes, gaps) = kyverno::mutate::export_all(program, review);
                    files.extend(fixes);
                    errors.extend(gaps);
                    let (generated, gaps) = kyverno::generate::export_all(program);
                    files.extend(generated);
                    errors.extend(gaps);
                    (files, errors)
                }
                Target::KyvernoVpol { review } => {
                    let (mut files, mut errors) = kyverno::export_validating_policies_all(program);
                    let (fixes, gaps) = mutating::export_kyverno_all(program, review);
                    files.extend(fixes);
                    errors.extend(gaps);
                    let (generated, gaps) = kyverno::generating_policy::export_all(program);
                    files.extend(generated);
                    errors.extend(gaps);
                    (files, errors)
                }
                Target::Map { review } => mutating::export_all(program, review),
                _ => vap::export_all(program),
            };
            if let Target::Kyverno { pattern: true, .. } = target {
                let (more, skipped) = kyverno::export_pattern_policies_all(program);
                written.extend(more);
                errors.extend(skipped);
            }
            out.extend(written.into_iter().map(|f| (f.path, f.contents)));
            problems.extend(errors.into_iter().map(from_cel));
        }
    }
    out.sort();
    let diagnostics = problems
        .into_iter()
        .map(|p| locate(program, files, p))
        .collect();
    Export {
        files: out,
        diagnostics,
    }
}

fn rule<'a>(program: &'a Program, id: &str) -> Option<&'a Rule> {
    program.rules.iter().find(|r| r.id == id)
}

/// The diagnostic of a problem, at the rule's name (and, for a clash, the other rule's).
fn locate(program: &Program, files: &Files, p: Problem) -> Diagnostic {
    let (code, label) = match (p.error, p.other.is_some()) {
        (_, true) => ("export-name", "this rule"),
        (true, false) => ("export", "not exported"),
        (false, false) => ("export-gap", "not exported"),
    };
    let Some(r) = rule(program, &p.rule) else {
        let d = Diagnostic::file_error(code, p.message);
        return if p.error { d } else { warning(d) };
    };
    let at = r.origin;
    let mut d = if p.error {
        Diagnostic::error(code, at.file, at.span, p.message)
    } else {
        Diagnostic::warning(code, at.file, at.span, p.message)
    }
    .with_label(label);
    if let Some(other) = p.other.as_deref().and_then(|id| rule(program, id)) {
        let o = other.origin;
        if o.file == at.file {
            d = d.with_secondary(o.span, format!("`{}` is defined here", other.id));
        } else {
            let (line, col) = files.line_col(o.file, o.span.start);
            d = d.with_note(format!(
                "rule `{}` is defined at {}:{line}:{col}",
                other.id,
                files.name(o.file)
            ));
        }
        d = d.with_help(
            "rename one of the rules: exported names are lowercase, with `-` for `.` and `_`",
        );
    }
    d
}

fn warning(mut d: Diagnostic) -> Diagnostic {
    d.level = crate::diagnostics::Level::Warning;
    d
}
