//! `rampart rbac`: effective RBAC permissions of manifests — `can`, `who-can`, `list`,
//! `risks`, `diff` — as tables or JSON, every answer with its binding → role → rule chain.

use std::io::Write;
use std::process::ExitCode;

use rampart_runtime::manifest::Limits;
use rampart_runtime::rbac::diff::{self, Change};
use rampart_runtime::rbac::load;
use rampart_runtime::rbac::model::Origin;
use rampart_runtime::rbac::policy::Policy;
use rampart_runtime::rbac::query::{self, Ask, Effective, Grant, Identity, Scope};
use rampart_runtime::rbac::risks::{self, Finding, Risk, RISKS};
use serde_json::{json, Value};

use super::{fail, EXIT_ERROR};

/// The `rampart rbac` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Whether SUBJECT may do VERB on RESOURCE, with every chain that grants it
    /// (exit 0 yes, 1 no, 2 errors).
    Can {
        /// `user:NAME`, `group:NAME` or `sa:NAMESPACE/NAME`.
        subject: String,
        #[command(flatten)]
        question: Question,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Every subject that may do VERB on RESOURCE, with the chains (without `-n`, in every
    /// namespace, each grant saying where it holds).
    WhoCan {
        #[command(flatten)]
        question: Question,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// The effective permissions of SUBJECT (like `kubectl auth can-i --list`).
    List {
        /// `user:NAME`, `group:NAME` or `sa:NAMESPACE/NAME`.
        subject: String,
        /// Only this namespace (and cluster-wide grants); without it every namespace.
        #[arg(short, long)]
        namespace: Option<String>,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Subjects holding known privilege escalation paths (exit 1 when any is found).
    Risks {
        /// Only this risk (repeatable); `rampart rbac risks --risk help` lists them.
        #[arg(long = "risk", value_name = "RISK")]
        risk: Vec<String>,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Permissions gained and lost per subject from OLD to NEW.
    Diff {
        /// The manifests before (file, folder or `-`).
        old: String,
        /// The manifests after (file, folder or `-`).
        new: String,
        /// Exit 1 when a gained permission is this risk (repeatable; `any`: any gain).
        #[arg(long = "fail-on", value_name = "RISK")]
        fail_on: Vec<String>,
        /// Add the default roles and bindings of Kubernetes 1.37 to both sides.
        #[arg(long)]
        with_defaults: bool,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
}

/// Output formats.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// One JSON document.
    Json,
}

/// The request asked by `can` and `who-can`.
#[derive(clap::Args)]
pub struct Question {
    /// The verb: get, list, watch, create, update, patch, delete, use, bind, …
    verb: String,
    /// `RESOURCE[.GROUP][/SUBRESOURCE]` (e.g. `pods/exec`, `deployments.apps`) or a
    /// non-resource URL (`/metrics`).
    resource: String,
    /// The object's name (for rules with `resourceNames`).
    #[arg(long)]
    name: Option<String>,
    /// The subresource (same as `RESOURCE/SUB`).
    #[arg(long)]
    subresource: Option<String>,
    /// The namespace. `can` without it asks cluster-wide (only ClusterRoleBindings count);
    /// `who-can` without it asks in every namespace.
    #[arg(short, long)]
    namespace: Option<String>,
}

impl Question {
    fn ask(&self) -> Ask {
        Ask {
            verb: self.verb.clone(),
            resource: self.resource.clone(),
            subresource: self.subresource.clone(),
            name: self.name.clone(),
        }
    }
}

/// Where the RBAC objects come from.
#[derive(clap::Args)]
pub struct Inputs {
    /// Manifest files, folders (walked for *.yaml, *.yml, *.json) or `-` for stdin.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
    /// Add the default ClusterRoles and bindings of Kubernetes 1.37.
    #[arg(long)]
    with_defaults: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// Runs one `rampart rbac` subcommand.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Can {
            subject,
            question,
            inputs,
        } => {
            let namespace = question.namespace.clone();
            let who = match Identity::parse(&subject) {
                Ok(w) => w,
                Err(e) => return fail(&e),
            };
            let ask = question.ask();
            with_policy(&inputs.paths, inputs.with_defaults, |policy| {
                let scope = Scope::Namespace(namespace.clone().unwrap_or_default());
                let grants = query::can(policy, &who, &ask, &scope)?;
                let place = namespace
                    .as_deref()
                    .map_or("cluster-wide".to_string(), |ns| {
                        format!("in namespace `{ns}`")
                    });
                let question = format!("{subject} {} {} {place}", ask.verb, ask.resource);
                match inputs.output {
                    Format::Json => print_json(&json!({
                        "subject": subject,
                        "verb": ask.verb,
                        "resource": ask.resource,
                        "namespace": namespace,
                        "allowed": !grants.is_empty(),
                        "chains": grants.iter().map(|g| grant_json(policy, g)).collect::<Vec<_>>(),
                        "warnings": problems_json(&policy.warnings),
                    })),
                    Format::Table => {
                        let mut out = String::new();
                        if grants.is_empty() {
                            out.push_str(&format!("no: {question}\n"));
                        } else {
                            out.push_str(&format!("yes: {question}\n"));
                            for g in &grants {
                                out.push_str(&format!(
                                    "  {}\n",
                                    chain_text(policy, g.binding, g.role, g.rule)
                                ));
                            }
                        }
                        print(&out);
                    }
                }
                Ok(if grants.is_empty() { 1 } else { 0 })
            })
        }
        Command::WhoCan { question, inputs } => {
            let namespace = question.namespace.clone();
            let ask = question.ask();
            with_policy(&inputs.paths, inputs.with_defaults, |policy| {
                let scope = namespace.clone().map_or(Scope::Any, Scope::Namespace);
                let grants = query::who_can(policy, &ask, &scope)?;
                match inputs.output {
                    Format::Json => print_json(&json!({
                        "verb": ask.verb,
                        "resource": ask.resource,
                        "namespace": namespace,
                        "grants": grants.iter().map(|g| grant_json(policy, g)).collect::<Vec<_>>(),
                        "warnings": problems_json(&policy.warnings),
                    })),
                    Format::Table => {
                        let rows: Vec<Vec<String>> = grants
                            .iter()
                            .map(|g| {
                                vec![
                                    g.subject.to_string(),
                                    place(&g.namespace),
                                    chain_text(policy, g.binding, g.role, g.rule),
                                ]
                            })
                            .collect();
                        print(&table(&["SUBJECT", "WHERE", "CHAIN"], rows));
                    }
                }
                Ok(0)
            })
        }
        Command::List {
            subject,
            namespace,
            inputs,
        } => {
            let who = match Identity::parse(&subject) {
                Ok(w) => w,
                Err(e) => return fail(&e),
            };
            with_policy(&inputs.paths, inputs.with_defaults, |policy| {
                let scope = namespace.clone().map_or(Scope::Any, Scope::Namespace);
                let rules = query::effective(policy, &who, &scope);
                match inputs.output {
                    Format::Json => print_json(&json!({
                        "subject": subject,
                        "namespace": namespace,
                        "rules": rules.iter().map(|e| effective_json(policy, e)).collect::<Vec<_>>(),
                        "warnings": problems_json(&policy.warnings),
                    })),
                    Format::Table => print(&list_table(policy, &rules)),
                }
                Ok(0)
            })
        }
        Command::Risks { risk, inputs } => {
            if risk.iter().any(|r| r == "help") {
                let rows = RISKS
                    .iter()
                    .map(|r| vec![r.id.to_string(), r.why.to_string()])
                    .collect();
                print(&table(&["RISK", "WHY"], rows));
                return ExitCode::SUCCESS;
            }
            let only = match parse_risks(&risk) {
                Ok(o) => o,
                Err(e) => return fail(&e),
            };
            with_policy(&inputs.paths, inputs.with_defaults, |policy| {
                let found = risks::risks(policy, &only);
                match inputs.output {
                    Format::Json => print_json(&json!({
                        "risks": found.iter().map(|f| finding_json(policy, f)).collect::<Vec<_>>(),
                        "warnings": problems_json(&policy.warnings),
                    })),
                    Format::Table => {
                        let rows = found
                            .iter()
                            .map(|f| {
                                vec![
                                    f.risk.id.to_string(),
                                    f.subject.to_string(),
                                    place(&f.namespace),
                                    f.actions.join(", "),
                                    chain_text(
                                        policy,
                                        f.grants[0].binding,
                                        f.grants[0].role,
                                        f.grants[0].rule,
                                    ),
                                ]
                            })
                            .collect();
                        print(&table(
                            &["RISK", "SUBJECT", "WHERE", "ACTIONS", "CHAIN"],
                            rows,
                        ));
                    }
                }
                Ok(if found.is_empty() { 0 } else { 1 })
            })
        }
        Command::Diff {
            old,
            new,
            fail_on,
            with_defaults,
            output,
        } => run_diff(&old, &new, &fail_on, with_defaults, output),
    }
}

/// Loads the policy, reports its problems on stderr, runs `answer`, and turns the result
/// into the exit code: errors in the input make it 2 even when an answer was printed.
fn with_policy(
    paths: &[String],
    with_defaults: bool,
    answer: impl FnOnce(&Policy) -> Result<u8, String>,
) -> ExitCode {
    if paths.is_empty() && !with_defaults {
        return fail(
            "no manifests given: name files, folders, or `-` for stdin (or use `--with-defaults`)",
        );
    }
    let policy = load::load(paths, with_defaults, &Limits::default());
    report_problems(&policy);
    match answer(&policy) {
        Err(e) => fail(&e),
        Ok(_) if !policy.errors.is_empty() => ExitCode::from(EXIT_ERROR),
        Ok(code) => ExitCode::from(code),
    }
}

fn report_problems(policy: &Policy) {
    for w in &policy.warnings {
        eprintln!("warning: {}: {}", w.origin, w.message);
    }
    for e in &policy.errors {
        eprintln!("error: {}: {}", e.origin, e.message);
    }
}

fn parse_risks(ids: &[String]) -> Result<Vec<&'static Risk>, String> {
    ids.iter()
        .map(|id| {
            risks::find(id).ok_or_else(|| {
                let known: Vec<&str> = RISKS.iter().map(|r| r.id).collect();
                format!("unknown risk `{id}`; the risks are: {}", known.join(", "))
            })
        })
        .collect()
}

fn run_diff(
    old: &str,
    new: &str,
    fail_on: &[String],
    with_defaults: bool,
    output: Format,
) -> ExitCode {
    let any = fail_on.iter().any(|r| r == "any");
    let named: Vec<String> = fail_on.iter().filter(|r| *r != "any").cloned().collect();
    let fail_risks = match parse_risks(&named) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if old == "-" && new == "-" {
        return fail("only one of OLD and NEW can be `-` (stdin)");
    }
    let before = load::load(&[old.to_string()], with_defaults, &Limits::default());
    let after = load::load(&[new.to_string()], with_defaults, &Limits::default());
    report_problems(&before);
    report_problems(&after);
    let changes = diff::diff(&before, &after);
    let failing = |c: &Change| {
        c.gained
            && (any
                || c.risks
                    .iter()
                    .any(|r| fail_risks.iter().any(|f| f.id == r.id)))
    };
    match output {
        Format::Json => print_json(&json!({
            "changes": changes.iter().map(|c| {
                let policy = if c.gained { &after } else { &before };
                json!({
                    "subject": c.subject.to_string(),
                    "change": if c.gained { "gained" } else { "lost" },
                    "verb": c.atom.verb,
                    "apiGroup": if c.atom.url { Value::Null } else { Value::from(c.atom.api_group.clone()) },
                    "resource": if c.atom.url { Value::Null } else { Value::from(c.atom.resource.clone()) },
                    "nonResourceURL": if c.atom.url { Value::from(c.atom.resource.clone()) } else { Value::Null },
                    "resourceName": c.atom.name,
                    "namespace": c.atom.namespace,
                    "risks": c.risks.iter().map(|r| r.id).collect::<Vec<_>>(),
                    "chain": effective_json(policy, &c.via)["chain"].clone(),
                    "fails": failing(c),
                })
            }).collect::<Vec<_>>(),
        })),
        Format::Table => {
            let rows = changes
                .iter()
                .map(|c| {
                    let policy = if c.gained { &after } else { &before };
                    vec![
                        c.subject.to_string(),
                        if c.gained { "+ gained" } else { "- lost" }.to_string(),
                        atom_text(&c.atom),
                        place(&c.atom.namespace),
                        c.risks.iter().map(|r| r.id).collect::<Vec<_>>().join(","),
                        chain_text(policy, c.via.binding, c.via.role, c.via.rule),
                    ]
                })
                .collect();
            if changes.is_empty() {
                print("no permission gained or lost\n");
            } else {
                print(&table(
                    &["SUBJECT", "CHANGE", "PERMISSION", "WHERE", "RISKS", "CHAIN"],
                    rows,
                ));
            }
        }
    }
    if !before.errors.is_empty() || !after.errors.is_empty() {
        ExitCode::from(EXIT_ERROR)
    } else if changes.iter().any(failing) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn atom_text(atom: &diff::Atom) -> String {
    if atom.url {
        return format!("{} {}", atom.verb, atom.resource);
    }
    let mut out = format!("{} {}", atom.verb, atom.resource);
    if !atom.api_group.is_empty() {
        out = format!("{} {}.{}", atom.verb, atom.resource, atom.api_group);
    }
    if let Some(name) = &atom.name {
        out.push_str(&format!(" `{name}`"));
    }
    out
}

fn place(namespace: &Option<String>) -> String {
    namespace
        .as_ref()
        .map_or("cluster-wide".to_string(), |ns| format!("namespace {ns}"))
}

fn origin_json(origin: &Origin) -> Value {
    json!({"file": origin.file, "line": origin.line})
}

/// The chain binding → role → rule as one line, each with file:line.
fn chain_text(policy: &Policy, binding: usize, role: usize, rule: usize) -> String {
    let b = &policy.bindings[binding];
    let r = &policy.roles[role];
    let rule_text = &r.rules[rule];
    let qualified = |ns: &Option<String>, name: &str| match ns {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    let from = match r.aggregated_from.get(rule).cloned().flatten() {
        Some(source) => format!(" aggregated from ClusterRole {source}"),
        None => String::new(),
    };
    format!(
        "{} {} ({}) → {} {} ({}) → rule `{}`{} ({})",
        b.kind.as_str(),
        qualified(&b.namespace, &b.name),
        b.origin,
        r.kind.as_str(),
        qualified(&r.namespace, &r.name),
        r.origin,
        rule_text.summary(),
        from,
        rule_text.origin
    )
}

fn chain_json(policy: &Policy, binding: usize, role: usize, rule: usize) -> Value {
    let b = &policy.bindings[binding];
    let r = &policy.roles[role];
    let ru = &r.rules[rule];
    json!({
        "binding": {"kind": b.kind.as_str(), "name": b.name, "namespace": b.namespace, "at": origin_json(&b.origin)},
        "role": {"kind": r.kind.as_str(), "name": r.name, "namespace": r.namespace, "at": origin_json(&r.origin)},
        "rule": {
            "index": rule,
            "verbs": ru.verbs,
            "apiGroups": ru.api_groups,
            "resources": ru.resources,
            "resourceNames": ru.resource_names,
            "nonResourceURLs": ru.non_resource_urls,
            "aggregatedFrom": r.aggregated_from.get(rule).cloned().flatten(),
            "at": origin_json(&ru.origin),
        },
    })
}

fn grant_json(policy: &Policy, g: &Grant) -> Value {
    json!({
        "subject": g.subject.to_string(),
        "namespace": g.namespace,
        "chain": chain_json(policy, g.binding, g.role, g.rule),
    })
}

fn effective_json(policy: &Policy, e: &Effective) -> Value {
    json!({
        "namespace": e.namespace,
        "chain": chain_json(policy, e.binding, e.role, e.rule),
    })
}

fn finding_json(policy: &Policy, f: &Finding) -> Value {
    json!({
        "risk": f.risk.id,
        "why": f.risk.why,
        "subject": f.subject.to_string(),
        "namespace": f.namespace,
        "actions": f.actions,
        "chains": f.grants.iter().map(|g| chain_json(policy, g.binding, g.role, g.rule)).collect::<Vec<_>>(),
    })
}

fn problems_json(problems: &[rampart_runtime::rbac::model::Problem]) -> Value {
    problems
        .iter()
        .map(|p| json!({"at": origin_json(&p.origin), "message": p.message}))
        .collect()
}

/// `list` as `kubectl auth can-i --list` shows it, plus where and through what.
fn list_table(policy: &Policy, rules: &[Effective]) -> String {
    let rows = rules
        .iter()
        .map(|e| {
            let r = &policy.roles[e.role].rules[e.rule];
            let resources: Vec<String> = r
                .resources
                .iter()
                .flat_map(|res| {
                    r.api_groups.iter().map(move |g| {
                        if g.is_empty() {
                            res.clone()
                        } else {
                            format!("{res}.{g}")
                        }
                    })
                })
                .collect();
            let b = &policy.bindings[e.binding];
            vec![
                place(&e.namespace),
                resources.join(", "),
                r.non_resource_urls.join(", "),
                r.resource_names.join(", "),
                format!("[{}]", r.verbs.join(" ")),
                format!("{} {} ({})", b.kind.as_str(), b.name, r.origin),
            ]
        })
        .collect();
    table(
        &[
            "WHERE",
            "RESOURCES",
            "NON-RESOURCE URLS",
            "RESOURCE NAMES",
            "VERBS",
            "VIA",
        ],
        rows,
    )
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push('\n');
    }
    out
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes());
}

fn print_json(value: &Value) {
    print(&format!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_default()
    ));
}
