//! The first pass of a run with set rules: the objects that `objects(Kind)` hands the rules,
//! cut down to what the rules read (spec/abi.md "Object set").
//!
//! Two things keep the set small. A set rule whose subject kinds occur in no input file
//! never runs, so the kinds only it reads are not collected (a scan of the bytes finds the
//! kind names, before anything is parsed). And each object kept is projected onto the
//! fields the rules read of its kind (`rampart_compiler::set_reads`).

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::{inputs, Input, Options, Selection};
use crate::eval::set::PolicySet;
use crate::eval::{project_object, Gvk, Projection, RuleInfo};
use crate::manifest::{self, Node};
use crate::rbac;

/// The objects of the kinds that the selected set rules with a possible subject read, each
/// projected onto what those rules read.
pub(super) fn collect_set(
    policies: &PolicySet,
    selection: &Selection,
    inputs: &[Input],
    options: &Options,
) -> Vec<Node> {
    let readers: Vec<&RuleInfo> = policies
        .rules()
        .iter()
        .filter(|r| !r.reads_kinds.is_empty() && selection.selected.contains_key(&r.id))
        .collect();
    let live = with_possible_subject(&readers, inputs, options);
    let mut kinds: Vec<&Gvk> = Vec::new();
    for k in live.iter().flat_map(|r| &r.reads_kinds) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    if kinds.is_empty() {
        return Vec::new();
    }
    // `who_can` reads the RBAC objects of the run, whole.
    let views = kinds
        .iter()
        .any(|k| rampart_compiler::views::who_can_question(&k.group, &k.kind).is_some());
    let projections: Vec<(&Gvk, Projection)> = kinds
        .iter()
        .map(|k| (*k, policies.set_projection(k)))
        .collect();
    let names: Vec<&str> = kinds.iter().map(|k| k.kind.as_str()).collect();
    let per_file: Vec<Vec<Node>> = inputs
        .par_iter()
        .map(|input| {
            if options.stop.load(Ordering::Relaxed) {
                return Vec::new();
            }
            let Ok(bytes) = inputs::read(input, options.load_limits.max_bytes) else {
                return Vec::new();
            };
            // Every RBAC kind name contains `Role`.
            let rbac_hint = views && memchr::memmem::find(&bytes, b"Role").is_some();
            if !rbac_hint && !may_hold_kind(&bytes, &names) {
                return Vec::new();
            }
            let Ok(loaded) = manifest::load_bytes(&bytes, &options.load_limits) else {
                return Vec::new();
            };
            loaded
                .objects
                .into_iter()
                .filter_map(|o| {
                    if views && rbac::view::is_rbac_object(&o.api_version, &o.kind) {
                        return Some(o.node);
                    }
                    let mut read: Option<Projection> = None;
                    for (k, p) in &projections {
                        if k.matches(&o.api_version, &o.kind) {
                            read.get_or_insert_with(Projection::empty).merge(p);
                        }
                    }
                    read.map(|p| project_object(&o.node, &p))
                })
                .collect()
        })
        .collect();
    per_file.into_iter().flatten().collect()
}

/// The set rules among `readers` that may have a subject in the inputs: a rule matching
/// every kind, or one of whose target kind names occurs in some input file.
fn with_possible_subject<'r>(
    readers: &[&'r RuleInfo],
    inputs: &[Input],
    options: &Options,
) -> Vec<&'r RuleInfo> {
    let mut names: Vec<&str> = Vec::new();
    for t in readers.iter().flat_map(|r| &r.matcher.targets) {
        if !names.contains(&t.gvk.kind.as_str()) {
            names.push(&t.gvk.kind);
        }
    }
    let found: Vec<AtomicBool> = names
        .iter()
        .map(|n| AtomicBool::new(*n == rampart_compiler::ir::EVERY_KIND))
        .collect();
    let all_found = || found.iter().all(|f| f.load(Ordering::Relaxed));
    inputs.par_iter().for_each(|input| {
        if all_found() || options.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(bytes) = inputs::read(input, options.load_limits.max_bytes) else {
            return;
        };
        let escaped = memchr::memchr(b'\\', &bytes).is_some();
        for (name, flag) in names.iter().zip(&found) {
            if !flag.load(Ordering::Relaxed)
                && (escaped || memchr::memmem::find(&bytes, name.as_bytes()).is_some())
            {
                flag.store(true, Ordering::Relaxed);
            }
        }
    });
    readers
        .iter()
        .filter(|r| {
            r.matcher.targets.iter().any(|t| {
                let i = names.iter().position(|n| *n == t.gvk.kind);
                i.is_some_and(|i| found[i].load(Ordering::Relaxed))
            })
        })
        .copied()
        .collect()
}

/// Whether a file may hold an object of one of the kinds `names`, so that the first pass
/// parses only those files. A kind name can only be spelled without its letters in a row
/// through an escape in a double-quoted scalar (`\u0050`, an escaped line break), so a file
/// with no backslash and none of the names holds none of the kinds.
fn may_hold_kind(bytes: &[u8], names: &[&str]) -> bool {
    memchr::memchr(b'\\', bytes).is_some()
        || names
            .iter()
            .any(|n| memchr::memmem::find(bytes, n.as_bytes()).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set rule judging `subject` and reading Pods.
    fn reader(subject: &str) -> RuleInfo {
        serde_json::from_value(serde_json::json!({
            "id": format!("t.{subject}"), "module": "t", "name": subject, "title": "",
            "description": "", "rationale": "", "category": "", "remediation": "",
            "severity": "medium", "controls": [], "params": [], "outcomes": [],
            "matcher": {"targets": [{"gvk": {"group": "", "version": "v1", "kind": subject},
                                     "subject_path": [], "namespaced": true}]},
            "reads_kinds": [{"group": "", "version": "v1", "kind": "Pod"}],
        }))
        .expect("a rule")
    }

    fn input(text: &str) -> Input {
        Input {
            name: "-".into(),
            source: inputs::Source::Bytes(text.as_bytes().to_vec()),
        }
    }

    #[test]
    fn set_rules_without_a_possible_subject_are_left_out() {
        let (service, every) = (reader("Service"), reader("*"));
        let options = Options::default();
        let ids = |live: Vec<&RuleInfo>| live.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let pods = [input("kind: Pod\nmetadata: {name: a}\n")];
        assert_eq!(
            ids(with_possible_subject(&[&service], &pods, &options)),
            Vec::<String>::new()
        );
        // A rule of every kind may fire on anything.
        assert_eq!(
            ids(with_possible_subject(&[&service, &every], &pods, &options)),
            ["t.*"]
        );
        let with_service = [input("kind: Pod\n"), input("kind: Service\n")];
        assert_eq!(
            ids(with_possible_subject(&[&service], &with_service, &options)),
            ["t.Service"]
        );
        // A backslash may spell any name.
        let escaped = [input("kind: \"Serv\\u0069ce\"\n")];
        assert_eq!(
            ids(with_possible_subject(&[&service], &escaped, &options)),
            ["t.Service"]
        );
    }

    #[test]
    fn the_first_pass_parses_files_that_may_hold_a_set_kind() {
        let names = ["NetworkPolicy"];
        assert!(may_hold_kind(b"kind: NetworkPolicy\n", &names));
        assert!(may_hold_kind(
            b"{\"kind\": \"Network\\u0050olicy\"}",
            &names
        ));
        assert!(!may_hold_kind(
            b"kind: Pod\nmetadata: {name: network}\n",
            &names
        ));
    }
}
