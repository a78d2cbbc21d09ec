//! Properties of `rampart fix` over every file of ../shared/corpus/real (copied to a scratch
//! folder first) and over generated manifests in block and flow styles: the fixed files read
//! back as the objects `fix::apply` intends (every other value unchanged), no fixable
//! finding is left and no new finding appears, every comment line is kept, and a second
//! run changes nothing.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use rampart_compiler::schema::Schema;
use rampart_compiler::{compile, Source};
use rampart_runtime::eval::{Engine, Finding, ObjectSet, Params, Policies};
use rampart_runtime::fix::{self, edit};
use rampart_runtime::manifest::{self, format_path, Limits};

/// The fixture policies with a fix of every form (tests/fix/policies).
fn fixing() -> &'static Policies {
    static POLICIES: OnceLock<Policies> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let path = common::root().join("tests/fix/policies/fixes.rp");
        let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap();
        let compiled = compile(
            vec![Source {
                name: "fixes.rp".into(),
                text: Ok(fs::read_to_string(path).unwrap()),
            }],
            &schema,
        );
        load(&compiled.program.expect("the fixture policies compile"))
    })
}

/// The standard library (whatever fixes it has).
fn stdlib() -> &'static Policies {
    static POLICIES: OnceLock<Policies> = OnceLock::new();
    POLICIES.get_or_init(|| load(&rampart_stdlib::compile().program.expect("stdlib compiles")))
}

fn load(program: &rampart_compiler::ir::Program) -> Policies {
    let wasm = rampart_compiler::backend::wasm::compile(program).unwrap();
    Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap()
}

fn findings(p: &Policies, node: &manifest::Node) -> Vec<Finding> {
    p.evaluate(
        node,
        &ObjectSet::default(),
        &Params::default(),
        &Default::default(),
    )
    .findings
}

/// Each object's JSON with every fix of its findings applied (review ones too).
fn intended(p: &Policies, text: &str) -> Vec<serde_json::Value> {
    let loaded = manifest::load(text, &Limits::default()).unwrap();
    loaded
        .objects
        .iter()
        .map(|o| {
            let fixes: Vec<fix::Fix> = findings(p, &o.node)
                .into_iter()
                .flat_map(|f| f.fixes)
                .collect();
            let mut json = o.node.to_json();
            fix::apply(&mut json, &fixes);
            json
        })
        .collect()
}

/// (object index, rule, path) of each finding; and whether any finding carries a fix.
fn finding_keys(p: &Policies, text: &str) -> (BTreeSet<(usize, String, String)>, bool) {
    let loaded = manifest::load(text, &Limits::default()).unwrap();
    let mut keys = BTreeSet::new();
    let mut fixable = false;
    for (i, o) in loaded.objects.iter().enumerate() {
        for f in findings(p, &o.node) {
            fixable |= !f.fixes.is_empty();
            keys.insert((i, f.rule_id, format_path(&f.path)));
        }
    }
    (keys, fixable)
}

fn comment_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect()
}

/// The properties of one file fixed by `rampart fix` (or left alone).
fn check_file(p: &Policies, name: &str, before: &str, after: &str, left_alone: bool) {
    if left_alone {
        assert_eq!(before, after, "{name}: a file left alone is unchanged");
        return;
    }
    let reread: Vec<serde_json::Value> = manifest::load(after, &Limits::default())
        .unwrap_or_else(|e| panic!("{name}: the fixed file loads: {e}"))
        .objects
        .iter()
        .map(|o| o.node.to_json())
        .collect();
    assert!(
        reread == intended(p, before),
        "{name}: the fixed objects are the intended ones"
    );
    let (old, _) = finding_keys(p, before);
    let (new, fixable) = finding_keys(p, after);
    assert!(!fixable, "{name}: a finding with a fix is left");
    let appeared: Vec<_> = new.difference(&old).collect();
    assert!(appeared.is_empty(), "{name}: new findings {appeared:?}");
    assert_eq!(
        comment_lines(before),
        comment_lines(after),
        "{name}: comment lines"
    );
    // Lines the edits took out are never comments.
    let diff = similar::TextDiff::from_lines(before, after);
    for change in diff.iter_all_changes() {
        if change.tag() == similar::ChangeTag::Delete {
            assert!(
                !change.value().trim_start().starts_with('#'),
                "{name}: comment removed: {}",
                change.value()
            );
        }
    }
}

/// Every manifest file under `dir`, relative to it.
fn files(dir: &Path, under: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, under, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path.strip_prefix(under).unwrap().to_path_buf());
        }
    }
}

fn corpus_properties(test: &str, policy_args: &[&str], p: &Policies) {
    let corpus = common::root().join("../shared/corpus/real");
    let mut names = Vec::new();
    files(&corpus, &corpus, &mut names);
    assert!(names.len() > 20, "the corpus is there");
    let dir = common::scratch(test);
    for name in &names {
        let to = dir.join(name);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(corpus.join(name), to).unwrap();
    }
    let run_fix = || {
        let mut args = vec!["fix", "--unsafe"];
        args.extend_from_slice(policy_args);
        args.push(dir.to_str().unwrap());
        common::run(&args)
    };
    let out = run_fix();
    let summary = common::stderr(&out);
    assert_ne!(out.status.code(), Some(2), "{summary}");
    let left_alone: Vec<&str> = summary
        .split("files left untouched:\n")
        .nth(1)
        .unwrap_or("")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .collect();
    let mut fixed_files = 0;
    for name in &names {
        let before = fs::read_to_string(corpus.join(name)).unwrap();
        let after = fs::read_to_string(dir.join(name)).unwrap();
        let shown = dir.join(name).display().to_string();
        let alone = left_alone
            .iter()
            .any(|l| l.trim_start().starts_with(&format!("{shown}:")));
        if manifest::load(&before, &Limits::default()).is_err() {
            assert_eq!(before, after, "{shown}: an unreadable file is unchanged");
            continue;
        }
        fixed_files += usize::from(before != after);
        check_file(p, &shown, &before, &after, alone);
    }
    let snapshot: Vec<String> = names
        .iter()
        .map(|n| fs::read_to_string(dir.join(n)).unwrap())
        .collect();
    let second = run_fix();
    assert!(
        common::stderr(&second).contains("0 findings in 0 files"),
        "{}",
        common::stderr(&second)
    );
    for (name, was) in names.iter().zip(&snapshot) {
        assert_eq!(
            &fs::read_to_string(dir.join(name)).unwrap(),
            was,
            "{}: the second run changed it",
            name.display()
        );
    }
    // Both the fixture policies and the standard library fix something in many files; only
    // a few are left alone.
    assert!(fixed_files >= 25, "{fixed_files} files fixed\n{summary}");
    assert!(left_alone.len() <= 3, "{left_alone:?}");
}

#[test]
fn the_real_corpus_is_fixed_with_every_property() {
    corpus_properties("fix-corpus", &["-p", "tests/fix/policies"], fixing());
}

#[test]
fn the_real_corpus_keeps_every_property_under_the_standard_library() {
    corpus_properties("fix-corpus-stdlib", &[], stdlib());
}

/// A generated container in block style or on one flow line.
#[derive(Clone, Debug)]
struct Container {
    privileged: Option<bool>,
    escalation: Option<bool>,
    add: Option<&'static str>,
    drop: Option<&'static str>,
    flow: bool,
    comment: bool,
}

fn container() -> impl Strategy<Value = Container> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop_oneof![Just("NET_RAW"), Just("SYS_TIME")]),
        proptest::option::of(prop_oneof![Just("ALL"), Just("NET_ADMIN")]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(privileged, escalation, add, drop, flow, comment)| Container {
                privileged,
                escalation,
                add,
                drop,
                flow,
                comment,
            },
        )
}

fn render(kind_deployment: bool, host_pid: Option<bool>, containers: &[Container]) -> String {
    let (head, pad) = if kind_deployment {
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gen # generated\nspec:\n  template:\n    spec:\n",
            "      ",
        )
    } else {
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: gen # generated\nspec:\n",
            "  ",
        )
    };
    let mut out = String::from(head);
    if let Some(b) = host_pid {
        out.push_str(&format!("{pad}hostPID: {b}\n"));
    }
    out.push_str(&format!("{pad}containers:\n"));
    for (i, c) in containers.iter().enumerate() {
        if c.comment {
            out.push_str(&format!("{pad}# container {i}\n"));
        }
        out.push_str(&format!("{pad}- name: c{i}\n{pad}  image: nginx\n"));
        let mut fields = Vec::new();
        if let Some(b) = c.privileged {
            fields.push(("privileged".to_string(), b.to_string()));
        }
        if let Some(b) = c.escalation {
            fields.push(("allowPrivilegeEscalation".to_string(), b.to_string()));
        }
        let mut caps = Vec::new();
        if let Some(a) = c.add {
            caps.push(format!("add: [{a}]"));
        }
        if let Some(d) = c.drop {
            caps.push(format!("drop: [{d}]"));
        }
        if c.flow {
            let mut parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if !caps.is_empty() {
                parts.push(format!("capabilities: {{{}}}", caps.join(", ")));
            }
            out.push_str(&format!(
                "{pad}  securityContext: {{{}}}\n",
                parts.join(", ")
            ));
        } else if !fields.is_empty() || !caps.is_empty() {
            out.push_str(&format!("{pad}  securityContext:\n"));
            for (k, v) in &fields {
                out.push_str(&format!("{pad}    {k}: {v} # set\n"));
            }
            if !caps.is_empty() {
                out.push_str(&format!("{pad}    capabilities:\n"));
                for c in &caps {
                    out.push_str(&format!("{pad}      {c}\n"));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_manifests_are_fixed_in_block_and_flow_styles(
        deployment in any::<bool>(),
        host_pid in proptest::option::of(any::<bool>()),
        containers in proptest::collection::vec(container(), 1..4),
    ) {
        let text = render(deployment, host_pid, &containers);
        let p = fixing();
        let loaded = manifest::load(&text, &Limits::default()).unwrap();
        let fixes: Vec<fix::Fix> = findings(p, &loaded.objects[0].node)
            .into_iter()
            .flat_map(|f| f.fixes)
            .collect();
        let target = edit::Target { doc_index: 0, item_index: None, fixes };
        let edited = edit::edit(&text, &[target], &Limits::default())
            .unwrap_or_else(|r| panic!("refused: {r}\n{text}"));
        check_file(p, "generated", &text, &edited.text, false);
        // Nothing is left to fix: a second edit changes nothing.
        let again = manifest::load(&edited.text, &Limits::default()).unwrap();
        let fixes: Vec<fix::Fix> = findings(p, &again.objects[0].node)
            .into_iter()
            .flat_map(|f| f.fixes)
            .collect();
        prop_assert!(fixes.is_empty(), "{:?}\n{}", fixes, edited.text);
    }
}
