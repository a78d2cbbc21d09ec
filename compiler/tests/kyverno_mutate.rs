//! The Kyverno ClusterPolicy mutate rules of `fix` clauses, verified without Kyverno
//! (spec/fix.md §7.3): for every object, the fixes the Wasm evaluator reports for the
//! exported rules are applied with `runtime::fix::apply` (the intended object), and the
//! policies are run on the same object by a model of Kyverno's mutate engine written from
//! its documentation; the results must be equal, and a second run must change nothing.
//!
//! The model: rules in order, each on the object the earlier ones left; `match` kinds
//! (`Kind` or `group/version/Kind`) and namespaces (wildcards `*` and `?`), `exclude`;
//! `preconditions` (`all`, operator `Equals`) whose keys are `{{ JMESPath }}` variables,
//! run by the `jmespath` crate with Kyverno's `to_upper` and `to_lower`, over a context of
//! `request.object` (and, in a `foreach`, `element` and `elementIndex`, also numbered by
//! nesting: `element0`, `elementIndex1`, …); a `foreach` list evaluated once, visited in
//! ascending or `Descending` order, nested `foreach` run per element; variables substituted in
//! the `patchesJson6902` text, which is then read as YAML and applied with the `json-patch`
//! crate. Objects are seen as the API server hands them over (no null fields).

use jmespath::Runtime;
use rampart_compiler::backend::cel::kyverno::mutate;
use rampart_compiler::ir::Program;
use rampart_runtime::manifest::Node;
use serde::Deserialize;
use serde_json::{json, Value as Json};

mod common;
#[path = "common/kyverno.rs"]
mod kyverno;
use common::{compile_source, corpus, crd_schema, load_objects, stdlib, validate};
use kyverno::{any_selects, preconditions, runtime, search, substitute};

const FIXES: &str = include_str!("fixes/fixes.rp");
const OBJECTS: &str = include_str!("fixes/objects.yaml");

/// The patch text with its variables substituted, applied to `object`.
fn apply(rt: &Runtime, text: &str, context: &Json, object: &mut Json) -> Result<(), String> {
    let text = match substitute(rt, text, context)? {
        Json::String(s) => s,
        other => return Err(format!("a patch text of value {other}")),
    };
    let ops: Json = serde_yaml_ng::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    let ops: json_patch::Patch =
        serde_json::from_value(ops).map_err(|e| format!("not a JSON patch: {e}: {text}"))?;
    json_patch::patch(object, &ops).map_err(|e| format!("the patch does not apply: {e}: {text}"))
}

/// One mutate rule on `object`.
fn run_rule(rt: &Runtime, rule: &Json, object: &mut Json) -> Result<(), String> {
    if !any_selects(&rule["match"], object) || any_selects(&rule["exclude"], object) {
        return Ok(());
    }
    let context = |object: &Json| json!({"request": {"object": object}});
    if !preconditions(rt, &rule["preconditions"], &context(object))? {
        return Ok(());
    }
    let mutate = &rule["mutate"];
    if let Some(text) = mutate["patchesJson6902"].as_str() {
        let ctx = context(object);
        apply(rt, text, &ctx, object)?;
    }
    if let Some(entries) = mutate["foreach"].as_array() {
        run_foreach(rt, entries, &json!({}), 0, object)?;
    }
    Ok(())
}

/// `foreach` entries at `nesting` (0 at the top): each list evaluated on the object as the
/// earlier entries left it, each element bound as `element` and `element<nesting>`, its index
/// as `elementIndex` and `elementIndex<nesting>`, beside the outer elements' (`outer`); an
/// entry patches, or runs its nested entries.
fn run_foreach(
    rt: &Runtime,
    entries: &[Json],
    outer: &Json,
    nesting: usize,
    object: &mut Json,
) -> Result<(), String> {
    let context = |object: &Json, vars: &Json| {
        let mut ctx = vars.clone();
        ctx["request"] = json!({"object": object});
        ctx
    };
    for each in entries {
        let list = search(
            rt,
            each["list"].as_str().expect("a list"),
            &context(object, outer),
        )?;
        let items = list.as_array().cloned().unwrap_or_default();
        let mut order: Vec<usize> = (0..items.len()).collect();
        if each["order"] == "Descending" {
            order.reverse();
        }
        for i in order {
            let mut vars = outer.clone();
            for (name, value) in [("element", items[i].clone()), ("elementIndex", json!(i))] {
                vars[name] = value.clone();
                vars[format!("{name}{nesting}")] = value;
            }
            if !preconditions(rt, &each["preconditions"], &context(object, &vars))? {
                continue;
            }
            if let Some(text) = each["patchesJson6902"].as_str() {
                let ctx = context(object, &vars);
                apply(rt, text, &ctx, object)?;
            }
            if let Some(nested) = each["foreach"].as_array() {
                run_foreach(rt, nested, &vars, nesting + 1, object)?;
            }
        }
    }
    Ok(())
}

/// Every policy's rules, in order, on `object`.
fn run(rt: &Runtime, policies: &[Json], object: &Json) -> Result<Json, String> {
    let mut current = object.clone();
    for p in policies {
        for rule in p["spec"]["rules"].as_array().into_iter().flatten() {
            run_rule(rt, rule, &mut current)
                .map_err(|e| format!("{} {}: {e}", p["metadata"]["name"], rule["name"]))?;
        }
    }
    Ok(current)
}

/// The mutate ClusterPolicies of `program`.
fn policies(program: &Program, review: bool) -> Vec<Json> {
    let (files, _) = mutate::export_all(program, review);
    files
        .iter()
        .flat_map(|f| serde_yaml_ng::Deserializer::from_str(&f.contents))
        .map(|d| Json::deserialize(d).expect("YAML"))
        .collect()
}

/// Per object: the intended object, the policies' result and a second run's; the
/// differences found and the number of objects changed.
fn differential(
    program: &Program,
    policies: &[Json],
    objects: &[(String, Node)],
    review: bool,
) -> (usize, Vec<String>) {
    let rt = runtime();
    let exported = policies
        .iter()
        .filter_map(|p| p["metadata"]["annotations"]["rampart.dev/rule"].as_str());
    common::exported_differential(program, objects, review, exported, &|object| {
        run(&rt, policies, object)
    })
}

fn check(what: &str, objects: &[(String, Node)], minimum: &[(&str, bool, usize)]) {
    common::check_fix_export(what, objects, minimum, &|program, review| {
        differential(program, &policies(program, review), objects, review)
    });
}

#[test]
fn mutate_rules_agree_with_fix_apply_on_fixtures() {
    let objects = load_objects("objects.yaml", OBJECTS.as_bytes());
    check(
        "fixtures",
        &objects,
        &[
            ("fixes.rp", false, 5),
            ("fixes.rp", true, 6),
            ("gatekeeper.rp", false, 5),
            ("stdlib", false, 8),
            ("stdlib", true, 8),
        ],
    );
}

#[test]
fn mutate_rules_agree_with_fix_apply_on_real_corpus() {
    let objects = corpus("real");
    assert!(objects.len() > 100, "the real corpus is there");
    check(
        "real corpus",
        &objects,
        &[
            ("fixes.rp", false, 60),
            ("fixes.rp", true, 60),
            ("gatekeeper.rp", false, 110),
            ("stdlib", false, 80),
            ("stdlib", true, 170),
        ],
    );
}

/// Every policy passes the ClusterPolicy CRD schema.
#[test]
fn mutate_policies_validate_against_the_crd() {
    let schema = crd_schema("kyverno", "kyverno.io_clusterpolicies.yaml", "v1");
    let mut errors = Vec::new();
    let mut count = 0;
    for (name, program) in common::fix_programs() {
        for doc in policies(&program, true) {
            validate(
                &schema,
                &doc,
                &format!("{name} {}", doc["metadata"]["name"]),
                &mut errors,
            );
            count += 1;
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(count > 10, "{count} policies");
    // The check can fail: a misspelt field is reported.
    let mut bad = policies(&compile_source(FIXES), false).remove(0);
    bad["spec"]["rules"][0]["mutate"]["patchesJson6903"] = "[]".into();
    validate(&schema, &bad, "bad", &mut errors);
    assert!(!errors.is_empty());
}

#[test]
fn review_fixes_are_exported_only_when_asked() {
    let program = compile_source(FIXES);
    let id = "fixtures.fixes.read_only_root";
    let (safe, _) = mutate::export_all(&program, false);
    assert!(safe.iter().all(|f| !f.contents.contains(id)));
    let (all, _) = mutate::export_all(&program, true);
    assert!(all.iter().any(|f| f.contents.contains(id)));
    assert_eq!(all.len(), safe.len() + 1);
}

/// Fixes that mutate rules cannot express are a warning at their rule, which is left out.
#[test]
fn inexpressible_fixes_are_reported_per_rule() {
    let program = compile_source(FIXES);
    let (files, gaps) = mutate::export_all(&program, true);
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(files.len(), 8);
    // Two nested `for`s: the standard library's writable host path mounts, whose `when`
    // reads the pod's volumes inside a quantifier over the mount.
    let (files, gaps) = mutate::export_all(&stdlib(), true);
    let rules: Vec<&str> = gaps.iter().map(|g| g.rule.as_str()).collect();
    assert_eq!(rules, ["hardening.no_writable_host_path"], "{gaps:?}");
    let message = gaps[0].to_string();
    assert!(
        message.contains("cannot be exported to Kyverno mutate rules: the fix `set m.readOnly`"),
        "{message}"
    );
    assert!(message.contains("inside a quantifier"), "{message}");
    assert!(files.iter().all(|f| !f.contents.contains(&gaps[0].rule)));
}

/// The comparison can fail: without their preconditions the rules change objects the
/// outcomes do not fire on.
#[test]
fn the_comparison_finds_a_wrong_rule() {
    let objects = load_objects("objects.yaml", OBJECTS.as_bytes());
    let program = compile_source(FIXES);
    let mut ps = policies(&program, false);
    let (_, differences) = differential(&program, &ps, &objects, false);
    assert!(differences.is_empty(), "{differences:?}");
    for p in &mut ps {
        for rule in p["spec"]["rules"].as_array_mut().unwrap() {
            for each in rule["mutate"]["foreach"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                let all = each["preconditions"]["all"].as_array_mut();
                // Keep the guard of the fix itself, drop the outcome's `when`.
                all.map(|a| a.remove(0));
            }
        }
    }
    let (_, differences) = differential(&program, &ps, &objects, false);
    assert!(
        !differences.is_empty(),
        "dropping the outcomes' conditions went unnoticed"
    );
}

/// The mutate rules of two fixture rules, reviewed as snapshots.
#[test]
fn mutate_rule_snapshots() {
    let (files, _) = mutate::export_all(&compile_source(FIXES), true);
    for f in files.iter().filter(|f| {
        ["privileged", "no-host-path", "no-net-raw"]
            .iter()
            .any(|r| f.path.contains(r))
    }) {
        insta::assert_snapshot!(format!("kyverno-mutate-{}", f.path), f.contents);
    }
    let (files, _) = mutate::export_all(&stdlib(), false);
    let f = files
        .iter()
        .find(|f| f.path.contains("restricted-seccomp"))
        .expect("the restricted seccomp rule is exported");
    insta::assert_snapshot!(format!("kyverno-mutate-{}", f.path), f.contents);
}

/// A `when` that JMESPath cannot say is a warning at its rule: an image reference, and a
/// quantifier whose body reads outside its element (a filter sees only its element).
#[test]
fn untranslatable_conditions_are_reported_per_rule() {
    let source = r#"
module fixtures.untranslatable

rule latest_pull {
  title "Latest images are always pulled"
  match Pod
  deny for c in object.spec.containers
    when image(c.image ?? "").tag == "latest" and c.imagePullPolicy != "Always"
    at c.imagePullPolicy
    message "container `{c.name}` may run a stale image"
    fix set c.imagePullPolicy = "Always"
}

rule mounted_read_only {
  title "Mounted volumes are read-only"
  match Pod
  deny for c in object.spec.containers
    when any m in c.volumeMounts: m.name == c.name
    at c.securityContext.readOnlyRootFilesystem
    message "container `{c.name}` mounts a volume of its own name"
    fix set c.securityContext.readOnlyRootFilesystem = true
}
"#;
    let program = compile_source(source);
    let (files, gaps) = mutate::export_all(&program, true);
    assert!(files.is_empty(), "{files:?}");
    let messages: Vec<String> = gaps.iter().map(|g| g.to_string()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("`image(…)`"), "{}", messages[0]);
    assert!(
        messages[1].contains("outside the element inside a quantifier"),
        "{}",
        messages[1]
    );
}
