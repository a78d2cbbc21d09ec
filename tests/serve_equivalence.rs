//! The webhook gives the verdict `rampart test` gives: every object of the real-world corpus
//! and of the Pod Security Admission fixtures (../shared/corpus) is sent to `rampart serve`
//! as an AdmissionReview, and its allowed/denied answer and rule ids are compared with the
//! JSON report of `rampart test` on the same files (schema validation left out: in a
//! cluster the API server validates objects before any webhook sees them; and the rules that
//! read other objects of the run, which only CI runs).

mod common;

#[path = "common/webhook.rs"]
mod webhook;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rampart_runtime::manifest;
use serde_json::Value;
use webhook::{answer_rules, review, Server};

/// What one object got: deny rule ids, warn rule ids, whether a rule failed.
#[derive(Debug, PartialEq, Eq, Default)]
struct Outcome {
    denied: BTreeSet<String>,
    warned: BTreeSet<String>,
    error: bool,
}

/// The rules that read other objects of the run (`objects(Kind)`, `who_can`): the webhook
/// does not run them (spec/admission.md), since a review carries one object.
fn whole_run_rules() -> Vec<String> {
    let program = rampart_stdlib::compile()
        .program
        .expect("the standard library compiles");
    let ids: Vec<String> = program
        .rules
        .iter()
        .filter(|r| r.reads_other_objects())
        .map(|r| r.id.clone())
        .collect();
    assert!(!ids.is_empty(), "the library has set rules");
    ids
}

/// `rampart test -o json` on `dir` (schema validation and the rules that read other objects
/// left out): per (file, document, line), the outcome.
fn test_report(dir: &str) -> BTreeMap<(String, u64, u64), Outcome> {
    let mut args = vec!["test", "-o", "json", "--exclude-rule", "schema.*"];
    let whole_run = whole_run_rules();
    for id in &whole_run {
        args.extend(["--exclude-rule", id.as_str()]);
    }
    args.push(dir);
    let out = common::run(&args);
    let (_, report) = common::report(&out);
    let mut outcomes = BTreeMap::new();
    for r in report["results"].as_array().unwrap() {
        let mut o = Outcome {
            error: !r["error"].is_null(),
            ..Outcome::default()
        };
        for v in r["violations"].as_array().unwrap() {
            let rule = v["rule"].as_str().unwrap().to_string();
            match v["action"].as_str().unwrap() {
                "deny" => o.denied.insert(rule),
                _ => o.warned.insert(rule),
            };
        }
        let key = (
            r["file"].as_str().unwrap().to_string(),
            r["document"].as_u64().unwrap(),
            r["line"].as_u64().unwrap(),
        );
        outcomes.insert(key, o);
    }
    outcomes
}

#[test]
fn webhook_verdicts_equal_rampart_test_on_the_corpus_and_psa_fixtures() {
    let server = Server::start(
        &PathBuf::from(env!("CARGO_BIN_EXE_rampart")),
        &common::scratch("serve-equivalence"),
        &["--log-decisions=false"],
    );
    let mut client = server.client().unwrap();
    let mut compared = 0;
    let mut denied = 0;
    let mut mismatches = Vec::new();
    for dir in ["../shared/corpus/real", "../shared/corpus/psa"] {
        let expected = test_report(dir);
        assert!(expected.len() > 50, "{dir}: the report holds the corpus");
        let files: BTreeSet<&String> = expected.keys().map(|(f, _, _)| f).collect();
        for file in files {
            let bytes = std::fs::read(common::root().join(file)).unwrap();
            let loaded = manifest::load_bytes(&bytes, &manifest::Limits::default()).unwrap();
            for object in &loaded.objects {
                let key = (
                    file.clone(),
                    object.doc_index as u64,
                    u64::from(object.node.line),
                );
                let Some(want) = expected.get(&key) else {
                    mismatches.push(format!("{key:?}: not in the report"));
                    continue;
                };
                let json = object.node.to_json();
                let uid = format!("{file}#{}:{}", object.doc_index, object.node.line);
                let (status, answer) = client
                    .review(&review(&uid, "CREATE", Some(&json), None))
                    .unwrap();
                assert_eq!(status, 200, "{key:?}");
                assert_eq!(answer["response"]["uid"], Value::from(uid.as_str()));
                let got = Outcome {
                    denied: answer_rules(&answer, "denied-rules").into_iter().collect(),
                    warned: answer_rules(&answer, "warned-rules").into_iter().collect(),
                    error: !answer_rules(&answer, "error-rules").is_empty(),
                };
                let allowed = answer["response"]["allowed"].as_bool().unwrap();
                let should_allow = want.denied.is_empty() && !want.error;
                if got != *want || allowed != should_allow {
                    mismatches.push(format!(
                        "{key:?}: webhook allowed={allowed} {got:?}, rampart test {want:?}"
                    ));
                }
                compared += 1;
                denied += usize::from(!allowed);
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // The corpus has 697 objects, the fixtures 91 pods; many are denied.
    assert!(compared >= 697 + 91, "{compared} objects compared");
    assert!(denied > 100, "{denied} denied");
}

/// What the webhook reads from a compiled module (which may come without its source, as a
/// bundle) says which rules read other objects as the compiler does.
#[test]
fn the_module_records_which_rules_read_other_objects() {
    let program = rampart_stdlib::compile()
        .program
        .expect("the standard library compiles");
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("it compiles to Wasm");
    let meta = rampart_runtime::eval::read_metadata(&wasm).unwrap();
    assert_eq!(meta.rules.len(), program.rules.len());
    for rule in &program.rules {
        let info = meta.rules.iter().find(|i| i.id == rule.id).unwrap();
        assert_eq!(
            info.reads_other_objects(),
            rule.reads_other_objects(),
            "{}",
            rule.id
        );
    }
    assert!(whole_run_rules().len() < program.rules.len());
}
