//! The standard library's fixes on real manifests (../shared/corpus/real): for every object
//! and every rule whose findings carry fixes, applying that rule's fixes (safe and review)
//! leaves no finding of the rule that has a fix, and no rule finds more than before; applying
//! every rule's fixes at once conflicts nowhere, and fixing the fixed object changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_runtime::eval::{Engine, Finding, Limits, ObjectSet, Params, Policies};
use rampart_runtime::fix;
use rampart_runtime::manifest::{self, Node};

/// The corpus of real-world manifests (../shared beside the checkout, as CI lays it out).
const CORPUS: &str = "../shared/corpus/real";

fn stdlib() -> Policies {
    let program = rampart_stdlib::compile()
        .program
        .expect("the standard library compiles");
    let wasm = rampart_compiler::backend::wasm::compile(&program).unwrap();
    Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap()
}

fn findings(p: &Policies, object: &Node) -> Vec<Finding> {
    let e = p.evaluate(
        object,
        &ObjectSet::default(),
        &Params::default(),
        &Limits::default(),
    );
    e.findings
}

/// Findings per rule.
fn counts(found: &[Finding]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for f in found {
        *out.entry(f.rule_id.clone()).or_default() += 1;
    }
    out
}

/// Applies `fixes` to `object`, asserting that every one applies.
fn fixed(object: &Node, fixes: &[fix::Fix], what: &str) -> Node {
    let mut json = object.to_json();
    let done = fix::apply(&mut json, fixes);
    assert!(
        done.conflicts.is_empty() && done.unreachable.is_empty(),
        "{what}: {done:?} for {:?}",
        fixes.iter().map(fix::Fix::describe).collect::<Vec<_>>()
    );
    Node::from_json(json)
}

fn manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            manifests(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn stdlib_fixes_stop_their_findings_on_the_real_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    assert!(root.is_dir(), "{} is missing", root.display());
    let mut files = Vec::new();
    manifests(&root, &mut files);
    files.sort();
    let p = stdlib();
    let (mut objects, mut fixed_findings) = (0, 0);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let Ok(loaded) = manifest::load_bytes(&bytes, &Default::default()) else {
            continue;
        };
        for o in &loaded.objects {
            let before = findings(&p, &o.node);
            let with_fixes: Vec<&Finding> = before.iter().filter(|f| !f.fixes.is_empty()).collect();
            if with_fixes.is_empty() {
                continue;
            }
            objects += 1;
            fixed_findings += with_fixes.len();
            let what = |rule: &str| {
                format!(
                    "{}: {} `{}`, {rule}",
                    file.display(),
                    o.kind,
                    o.name.as_deref().unwrap_or("")
                )
            };
            let count_before = counts(&before);
            let mut rules: Vec<&str> = with_fixes.iter().map(|f| f.rule_id.as_str()).collect();
            rules.dedup();
            // Each rule's fixes alone.
            for rule in &rules {
                let fixes: Vec<fix::Fix> = with_fixes
                    .iter()
                    .filter(|f| f.rule_id == *rule)
                    .flat_map(|f| f.fixes.clone())
                    .collect();
                let after = findings(&p, &fixed(&o.node, &fixes, &what(rule)));
                let left: Vec<&Finding> = after
                    .iter()
                    .filter(|f| f.rule_id == *rule && !f.fixes.is_empty())
                    .collect();
                assert!(left.is_empty(), "{}: still {left:#?}", what(rule));
                for (r, n) in counts(&after) {
                    let was = count_before.get(&r).copied().unwrap_or(0);
                    assert!(n <= was, "{}: {r} finds {n}, {was} before", what(rule));
                }
            }
            // Every rule's fixes at once, then again on the fixed object.
            let all: Vec<fix::Fix> = with_fixes.iter().flat_map(|f| f.fixes.clone()).collect();
            let once = fixed(&o.node, &all, &what("every rule"));
            let after = findings(&p, &once);
            let again: Vec<fix::Fix> = after.iter().flat_map(|f| f.fixes.clone()).collect();
            assert!(again.is_empty(), "{}: {again:#?}", what("every rule"));
            for (r, n) in counts(&after) {
                let was = count_before.get(&r).copied().unwrap_or(0);
                assert!(
                    n <= was,
                    "{}: {r} finds {n}, {was} before",
                    what("every rule")
                );
            }
        }
    }
    // The corpus exercises the fixes: many workloads break the restricted level.
    assert!(objects > 50, "only {objects} objects with fixes");
    assert!(
        fixed_findings > 200,
        "only {fixed_findings} findings with fixes"
    );
}
