//! `rampart rules` (the rules of the selected policies) and `rampart explain RULE`.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use rampart_runtime::eval::{self, Action, Gvk, RuleInfo};
use rampart_runtime::schema_check;
use serde_json::json;

use super::fail;
use super::policies::{self, Selection};
use super::profiles::{Profiles, Tags};

/// `Kind` for the core group, `group/Kind` otherwise.
fn kind_name(gvk: &Gvk) -> String {
    if gvk.group.is_empty() {
        gvk.kind.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.kind)
    }
}

/// The kinds a rule applies to (autogen's pod controllers included).
fn kinds(rule: &RuleInfo) -> Vec<String> {
    let mut out: Vec<String> = rule
        .matcher
        .targets
        .iter()
        .map(|t| kind_name(&t.gvk))
        .collect();
    out.dedup();
    out
}

/// `deny`, `warn` or `deny, warn`.
fn actions(rule: &RuleInfo) -> Vec<&'static str> {
    let mut out = Vec::new();
    if rule.outcomes.iter().any(|o| o.action == Action::Deny) {
        out.push("deny");
    }
    if rule.outcomes.iter().any(|o| o.action == Action::Warn) {
        out.push("warn");
    }
    out
}

fn rules_of(
    paths: &[PathBuf],
    selection: &Selection,
) -> Result<(Vec<RuleInfo>, policies::Module), String> {
    let module = policies::module(paths, selection)?;
    let meta = eval::read_metadata(&module.wasm).map_err(|e| e.to_string())?;
    let mut rules: Vec<RuleInfo> = meta
        .rules
        .into_iter()
        .chain(schema_check::rules::infos())
        .filter(|r| module.selected.contains(&r.id))
        .collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((rules, module))
}

/// The selected rules and the opt-in ones the selection left out (compiled separately:
/// unselected rules are not in the module).
fn listed_rules(
    paths: &[PathBuf],
    selection: &Selection,
) -> Result<(Vec<RuleInfo>, Vec<String>), String> {
    let (mut rules, module) = rules_of(paths, selection)?;
    if !module.opt_in.is_empty() {
        let opt_in = Selection {
            include: module.opt_in.clone(),
            ..Selection::default()
        };
        let (extra, _) = rules_of(paths, &opt_in)?;
        rules.extend(extra);
        rules.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok((rules, module.opt_in))
}

fn tags(r: &RuleInfo) -> Tags<'_> {
    Tags {
        id: &r.id,
        category: &r.category,
        controls: &r.controls,
    }
}

/// Runs `rampart rules`.
pub fn list(paths: &[PathBuf], selection: &Selection, json_output: bool) -> ExitCode {
    let (rules, opt_in) = match listed_rules(paths, selection) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let profiles = Profiles::embedded();
    let mut text = String::new();
    if json_output {
        let list: Vec<_> = rules
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "title": r.title,
                    "severity": r.severity,
                    "actions": actions(r),
                    "category": r.category,
                    "controls": r.controls,
                    "kinds": kinds(r),
                    "description": r.description,
                    "rationale": r.rationale,
                    "remediation": r.remediation,
                    "params": r.params.iter().map(|p| json!({
                        "name": p.name, "type": eval::show_type(&p.ty), "default": p.default,
                    })).collect::<Vec<_>>(),
                    "opt_in": opt_in.contains(&r.id),
                    "profiles": profiles.holding(&tags(r)),
                })
            })
            .collect();
        text = serde_json::to_string_pretty(&list).unwrap_or_default();
        text.push('\n');
    } else {
        let width = rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
        for r in &rules {
            let marker = if opt_in.contains(&r.id) {
                "  (opt-in: not run by default)"
            } else {
                ""
            };
            let _ = writeln!(
                text,
                "{:width$}  {:8}  {:9}  {}{marker}",
                r.id,
                r.severity,
                actions(r).join(","),
                r.title
            );
        }
        let _ = writeln!(text, "{} rules", rules.len());
        if !opt_in.is_empty() {
            let _ = writeln!(
                text,
                "{} opt-in: run them with --rule ID or a --profile that holds them",
                opt_in.len()
            );
        }
        // The profiles are the library's: listed with the library's rules.
        if paths.is_empty() && selection.profiles.is_empty() {
            let _ = writeln!(text, "\nprofiles (--profile NAME):");
            for p in &profiles.profiles {
                let n = rules.iter().filter(|r| p.selects(&tags(r))).count();
                let _ = writeln!(text, "  {:16} {n:3} rules  {}", p.name, p.description);
            }
        }
    }
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// The source text of rule `name` in module `module`, when the sources are known.
fn definition(sources: &[(String, String)], module: &str, name: &str) -> Option<String> {
    let header = format!("rule {name} ");
    for (_, text) in sources {
        let declares = text.lines().any(|l| l.trim() == format!("module {module}"));
        if !declares {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.iter().position(|l| l.starts_with(&header))?;
        // Rules are written with their closing brace alone at the start of a line.
        let end = lines[start..].iter().position(|l| l.starts_with('}'))? + start;
        return Some(lines[start..=end].join("\n"));
    }
    None
}

/// Runs `rampart explain RULE`.
pub fn explain(paths: &[PathBuf], id: &str) -> ExitCode {
    // Every rule, the opt-in ones included.
    let every = Selection {
        include: vec!["*".to_string()],
        ..Selection::default()
    };
    let (rules, module) = match rules_of(paths, &every) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let Some(r) = rules.iter().find(|r| r.id == id) else {
        let near =
            rampart_compiler::diagnostics::did_you_mean(id, rules.iter().map(|r| r.id.as_str()));
        let hint = near
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        return fail(&format!("unknown rule `{id}`{hint}"));
    };
    let mut text = String::new();
    let _ = writeln!(text, "{}: {}\n", r.id, r.title);
    let _ = writeln!(
        text,
        "severity: {}    action: {}    category: {}",
        r.severity,
        actions(r).join(", "),
        if r.category.is_empty() {
            "-"
        } else {
            &r.category
        }
    );
    let applies = if schema_check::rules::is_schema_rule(&r.id) {
        "every object whose kind has a schema (built-in kinds, imported and --crd CRDs)".into()
    } else {
        kinds(r).join(", ")
    };
    let _ = writeln!(text, "applies to: {applies}");
    if !r.controls.is_empty() {
        let _ = writeln!(text, "controls: {}", r.controls.join(", "));
    }
    for (title, body) in [
        ("Description", &r.description),
        ("Rationale", &r.rationale),
        ("Remediation", &r.remediation),
    ] {
        if !body.is_empty() {
            let _ = writeln!(text, "\n{title}\n  {body}");
        }
    }
    if !r.params.is_empty() {
        let _ = writeln!(text, "\nParameters");
        for p in &r.params {
            let _ = writeln!(
                text,
                "  {} ({}) = {}    override: --param {}.{}=VALUE",
                p.name,
                eval::show_type(&p.ty),
                p.default,
                r.id,
                p.name
            );
        }
    }
    if let Some(def) = definition(&module.sources, &r.module, &r.name) {
        let _ = writeln!(text, "\nDefinition\n{def}");
    }
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}
