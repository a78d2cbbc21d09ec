//! The policies `rampart serve` runs: compiled and loaded into an immutable snapshot, which
//! a reload replaces whole (requests in flight finish on the snapshot they started with).
//! Evaluation goes through the `rampart test` runner, so an object gets the same findings,
//! exceptions and parameters here as in CI.

use std::path::PathBuf;

use rampart_runtime::eval::set::PolicySet;
use rampart_runtime::eval::{Operation, UserInfo};
use rampart_runtime::manifest;
use rampart_runtime::runner;
use rampart_runtime::runner::admission::Admission;
use rampart_runtime::runner::checker::{Checked, Checker};
use rampart_runtime::runner::exceptions::Date;

use super::review::Review;
use crate::cli::config;
use crate::cli::policies::{self, Selection};

/// The flags that say which policies to run and how.
#[derive(clap::Args, Debug, Clone)]
pub struct PolicyArgs {
    /// Policy `.rp` files or folders, or a `policies.wasm` bundle (repeatable; the embedded
    /// standard library when none).
    #[arg(short, long = "policy", value_name = "PATH")]
    pub policy: Vec<PathBuf>,
    /// Run the embedded standard library too, with the policies of `-p`.
    #[arg(long = "stdlib")]
    pub stdlib: bool,
    /// Only run the rules whose id matches this glob (repeatable).
    #[arg(long = "rule", value_name = "GLOB")]
    pub rule: Vec<String>,
    /// Do not run the rules whose id matches this glob (repeatable).
    #[arg(long = "exclude-rule", value_name = "GLOB")]
    pub exclude_rule: Vec<String>,
    /// Run the rules of this standard library profile (repeatable; see `rampart rules`).
    #[arg(long = "profile", value_name = "NAME")]
    pub profile: Vec<String>,
    /// Set a rule parameter: RULE.NAME=VALUE (VALUE is JSON, or else a string).
    #[arg(long = "param", value_name = "RULE.NAME=VALUE")]
    pub param: Vec<String>,
    /// A `kind: Params` file setting rule parameters.
    #[arg(long = "params", value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// A `kind: Exceptions` file of time-bound exceptions (repeatable).
    #[arg(long = "exceptions", value_name = "FILE")]
    pub exceptions: Vec<PathBuf>,
}

impl PolicyArgs {
    /// Every file whose change means a reload: the policy paths, the params and exceptions.
    pub fn watched(&self) -> Vec<PathBuf> {
        let mut paths = self.policy.clone();
        paths.extend(self.params.iter().cloned());
        paths.extend(self.exceptions.iter().cloned());
        paths
    }
}

/// Loaded policies and their configuration, prepared once; never changed once built.
pub struct Snapshot {
    checker: Checker<'static>,
    /// Number of rules run (the `schema.*` rules are not: the API server validates schemas).
    pub rules: usize,
}

impl Snapshot {
    /// Compiles and loads the policies; the error is one line, the compiler's diagnostics
    /// having been printed on stderr.
    pub fn load(args: &PolicyArgs) -> Result<Snapshot, String> {
        let selection = Selection {
            include: args.rule.clone(),
            exclude: args.exclude_rule.clone(),
            profiles: args.profile.clone(),
        };
        let module = policies::module_set(&args.policy, args.stdlib, &selection)?;
        let today = Date::today();
        let flags = config::Flags {
            params: &args.param,
            params_file: args.params.as_ref(),
            exceptions: &args.exceptions,
            require_owner_and_expiry: false,
        };
        let config = config::read(&flags, &module, today).map_err(|errors| {
            errors
                .iter()
                .map(|e| match (e.line, e.col) {
                    (Some(l), Some(c)) => format!("{}:{l}:{c}: {}", e.file, e.message),
                    _ => format!("{}: {}", e.file, e.message),
                })
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let modules = policies::load_set(&module)?;
        let set = PolicySet::owned(modules)?;
        set.check_params(&config.params)?;
        // Rules that read other objects (`objects(Kind)`, `who_can`) judge the objects checked
        // together, which one admission request does not carry: they run in CI only.
        let whole_run: Vec<&str> = set
            .rules()
            .iter()
            .filter(|r| r.reads_other_objects())
            .map(|r| r.id.as_str())
            .collect();
        let selected: Vec<String> = module
            .selected
            .iter()
            .filter(|id| !whole_run.contains(&id.as_str()))
            .cloned()
            .collect();
        let rules = set
            .rules()
            .iter()
            .filter(|r| !r.reads_other_objects())
            .count();
        let options = runner::Options {
            rules: Some(selected),
            params: config.params,
            exceptions: config.exceptions,
            today,
            source_lines: false,
            schema: None,
            ..runner::Options::default()
        };
        Ok(Snapshot {
            checker: Checker::new(set, options),
            rules,
        })
    }

    /// Evaluates the object of a review as `rampart test` evaluates a manifest holding it,
    /// under the review's operation, user, dry-run flag and old object. The API server may
    /// leave `metadata.namespace` out of a new object; the request's namespace is then the
    /// object's, as the exports read it.
    pub fn evaluate(&self, review: &mut Review) -> Checked {
        let object = with_namespace(review.object.take(), review);
        let old_objects = manifest::load_json(with_namespace(review.old_object.take(), review));
        let operation = review.operation.parse().unwrap_or(Operation::Create);
        let user = &review.request["userInfo"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let admission = Admission {
            operation,
            old_objects: old_objects.objects,
            user_info: UserInfo {
                username: text(&user["username"]),
                uid: text(&user["uid"]),
                groups: user["groups"]
                    .as_array()
                    .map(|g| g.iter().map(text).collect())
                    .unwrap_or_default(),
            },
            dry_run: review.dry_run,
        };
        let checked = self.checker.check(
            "request.object",
            manifest::load_json(object),
            Some(&admission),
        );
        checked
    }
}

/// `object` with the request's namespace as `metadata.namespace` when it has none.
fn with_namespace(object: Option<serde_json::Value>, review: &Review) -> serde_json::Value {
    let mut object = object.unwrap_or_default();
    if let (Some(ns), Some(map)) = (&review.namespace, object.as_object_mut()) {
        let meta = map
            .entry("metadata")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(meta) = meta.as_object_mut() {
            if !meta.get("namespace").is_some_and(|v| v.is_string()) {
                meta.insert("namespace".into(), ns.clone().into());
            }
        }
    }
    object
}
