//! The mutation exports of `fix` clauses, verified without the engines (spec/fix.md §7):
//! for every object, the fixes the Wasm evaluator reports are applied with
//! `runtime::fix::apply` (the intended object), and each export is run on the same object
//! by a model of its engine; the results must be equal, and running an export a second time
//! must change nothing.
//!
//! MutatingAdmissionPolicy: match constraints (kind), match conditions and variables as the
//! API server evaluates them, then each mutation's JSON patch expression run by the `cel`
//! crate on the object the previous mutations left, its patches applied with the
//! `json-patch` crate.

use std::collections::HashMap;
use std::sync::Arc;

use cel::{Context, Env, Value as CV};
use rampart_compiler::backend::cel::patch::{compile_fixes, CelPatches};
use rampart_compiler::backend::cel::{mutating, Dialect};
use rampart_compiler::ir::{Program, Rule};
use rampart_runtime::manifest::Node;
use rampart_runtime::verify::engines::cel::{
    add_quantity_functions, kubernetes_env, request, to_cel,
};
use serde_json::Value as Json;

mod common;
#[path = "common/cel.rs"]
mod common_cel;
use common::{assert_agree, compile_source, corpus, crd_schema, load_objects, validate};
use common_cel::cel_json;

const FIXES: &str = include_str!("fixes/fixes.rp");
const OBJECTS: &str = include_str!("fixes/objects.yaml");

/// `list.indexOf(x)` of Kubernetes' list library: the first index of an equal element.
fn index_of(cel::extractors::This(list): cel::extractors::This<Arc<Vec<CV>>>, x: CV) -> i64 {
    list.iter()
        .position(|v| *v == x)
        .map(|i| i as i64)
        .unwrap_or(-1)
}

fn context(env: &Arc<Env>) -> Context<'static, 'static> {
    let mut ctx = Context::with_env(env.clone());
    add_quantity_functions(&mut ctx).expect("quantity functions");
    ctx.add_function("listIndexOf", index_of)
        .expect("listIndexOf registers");
    ctx
}

/// The `cel` crate has no typed message construction: `JSONPatch{op: …}` is read as a map;
/// its `indexOf` is the strings extension's, so the list one is registered as `listIndexOf`.
fn untyped(expr: &str) -> String {
    expr.replace("JSONPatch{op: ", "{'op': ")
        .replace(".indexOf(", ".listIndexOf(")
        .replace(", path: ", ", 'path': ")
        .replace(", value: ", ", 'value': ")
}

fn eval(env: &Arc<Env>, ctx: &Context, expr: &str) -> Result<CV, String> {
    let program = env
        .compile(&untyped(expr))
        .map_err(|e| format!("parse `{expr}`: {e:?}"))?;
    program.execute(ctx).map_err(|e| format!("`{expr}`: {e:?}"))
}

/// Whether the policy's `matchConstraints` select the object: its group and kind.
fn selects(rule: &Rule, object: &Json) -> bool {
    let kind = object["kind"].as_str().unwrap_or("");
    let api = object["apiVersion"].as_str().unwrap_or("");
    let group = api.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    rule.matcher
        .targets
        .iter()
        .any(|t| t.gvk.kind == kind && t.gvk.group == group)
}

/// Which engine runs the patches: the API server binds typed objects (reserved words
/// escaped), Kyverno untyped maps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    ApiServer,
    Kyverno,
}

/// The mutating policies of `rules` run on `object` in order, as `engine` would.
fn run_map(
    env: &Arc<Env>,
    engine: Engine,
    rules: &[(Rule, CelPatches)],
    object: &Json,
) -> Result<Json, String> {
    let escape = engine == Engine::ApiServer;
    let mut current = object.clone();
    for (rule, c) in rules {
        if !selects(rule, &current) {
            continue;
        }
        let bind = |obj: &Json, variables: Option<HashMap<String, CV>>| {
            let mut ctx = context(env);
            ctx.add_variable_from_value("object", to_cel(obj, escape));
            ctx.add_variable_from_value("request", request(obj, None));
            ctx.add_variable_from_value("oldObject", CV::Null);
            if let Some(v) = variables {
                ctx.add_variable_from_value("variables", CV::from(v));
            }
            ctx
        };
        let ctx = bind(&current, None);
        let mut matched = true;
        for m in &c.match_conditions {
            match eval(env, &ctx, &m.expression)? {
                CV::Bool(b) => matched &= b,
                other => return Err(format!("match condition {}: {other:?}", m.name)),
            }
        }
        if !matched {
            continue;
        }
        for patch in &c.patches {
            let mut variables = HashMap::new();
            for v in &c.variables {
                let ctx = bind(&current, Some(variables.clone()));
                variables.insert(v.name.clone(), eval(env, &ctx, &v.expression)?);
            }
            let ctx = bind(&current, Some(variables));
            let ops = cel_json(&eval(env, &ctx, patch)?);
            let ops: json_patch::Patch = serde_json::from_value(ops.clone())
                .map_err(|e| format!("not a JSON patch: {e}: {ops}"))?;
            json_patch::patch(&mut current, &ops)
                .map_err(|e| format!("{}: the patch does not apply: {e}", rule.id))?;
        }
    }
    Ok(current)
}

fn map_rules(program: &Program, engine: Engine, review: bool) -> Vec<(Rule, CelPatches)> {
    program
        .rules
        .iter()
        .filter_map(|r| {
            match engine {
                Engine::ApiServer => compile_fixes(r, Dialect::Vap, "map", review),
                Engine::Kyverno => mutating::kyverno_patches(r, review),
            }
            .expect("the fixes export")
            .map(|c| (r.clone(), c))
        })
        .collect()
}

/// Per object: the intended object, the mutating policies' result on `engine`, and a
/// second run's; the differences found and the number of objects changed.
fn map_differential(
    program: &Program,
    objects: &[(String, Node)],
    engine: Engine,
    review: bool,
) -> (usize, Vec<String>) {
    let env = Arc::new(kubernetes_env());
    let rules = map_rules(program, engine, review);
    common::differential(program, objects, review, false, &|_| true, &|object| {
        run_map(&env, engine, &rules, object)
    })
}

#[test]
fn mutating_patches_agree_with_fix_apply_on_fixtures() {
    let program = compile_source(FIXES);
    let objects = load_objects("objects.yaml", OBJECTS.as_bytes());
    for engine in [Engine::ApiServer, Engine::Kyverno] {
        let what = format!("{engine:?} fixtures");
        assert_agree(
            &what,
            map_differential(&program, &objects, engine, false),
            5,
        );
        let what = format!("{engine:?} fixtures --unsafe");
        assert_agree(&what, map_differential(&program, &objects, engine, true), 6);
    }
}

#[test]
fn mutating_patches_agree_with_fix_apply_on_real_corpus() {
    let program = compile_source(FIXES);
    let objects = corpus("real");
    assert!(objects.len() > 100, "the real corpus is there");
    for engine in [Engine::ApiServer, Engine::Kyverno] {
        let what = format!("{engine:?} real corpus");
        assert_agree(
            &what,
            map_differential(&program, &objects, engine, true),
            50,
        );
    }
}

#[test]
fn review_fixes_are_exported_only_when_asked() {
    let program = compile_source(FIXES);
    let id = "fixtures.fixes.read_only_root";
    let (safe, errors) = mutating::export_all(&program, false);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(safe.iter().all(|f| !f.contents.contains(id)));
    let (all, _) = mutating::export_all(&program, true);
    assert!(all.iter().any(|f| f.contents.contains(id)));
    assert_eq!(all.len(), safe.len() + 1);
}

#[test]
fn map_snapshots() {
    let program = compile_source(FIXES);
    let (files, errors) = mutating::export_all(&program, true);
    assert!(errors.is_empty(), "{errors:?}");
    for f in files {
        insta::assert_snapshot!(format!("map-{}", f.path), f.contents);
    }
    let (files, errors) = mutating::export_kyverno_all(&program, true);
    assert!(errors.is_empty(), "{errors:?}");
    for f in files {
        insta::assert_snapshot!(format!("kyverno-{}", f.path), f.contents);
    }
}

/// Kyverno MutatingPolicies pass the policies.kyverno.io CRD schema.
#[test]
fn kyverno_mutating_policies_validate_against_the_crd() {
    let program = compile_source(FIXES);
    let schema = crd_schema("kyverno", "policies.kyverno.io_mutatingpolicies.yaml", "v1");
    let (files, _) = mutating::export_kyverno_all(&program, true);
    assert!(!files.is_empty());
    let mut errors = Vec::new();
    for f in &files {
        let doc: Json = serde_yaml_ng::from_str(&f.contents).expect("YAML");
        validate(&schema, &doc, &f.path, &mut errors);
    }
    assert!(errors.is_empty(), "{errors:#?}");
    // The check can fail: a misspelt field is reported.
    let mut bad: Json = serde_yaml_ng::from_str(&files[0].contents).unwrap();
    bad["spec"]["mutatons"] = Json::Array(Vec::new());
    validate(&schema, &bad, "bad", &mut errors);
    assert!(!errors.is_empty());
}

/// A fix the patches cannot express is an error of that rule alone; the others are written.
#[test]
fn inexpressible_fixes_are_reported_per_rule() {
    let source = format!(
        "{FIXES}
rule first_container {{
  title \"The first container is not privileged\"
  match Pod
  deny when object.spec.containers[0].securityContext.privileged ?? false
    at object.spec.containers[0].securityContext.privileged
    message \"privileged\"
    fix set object.spec.containers[0].securityContext.privileged = false
}}
"
    );
    let program = compile_source(&source);
    for (files, errors) in [
        mutating::export_all(&program, false),
        mutating::export_kyverno_all(&program, false),
    ] {
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].rule, "fixtures.fixes.first_container");
        assert!(errors[0].construct.contains("list index"), "{}", errors[0]);
        assert_eq!(files.len(), 7);
    }
}
