//! The Gatekeeper mutators of `fix` clauses, verified without Gatekeeper (spec/fix.md §7.2):
//! for every object, the fixes the Wasm evaluator reports for the exported rules are
//! applied with `runtime::fix::apply` (the intended object), and the mutators are run on
//! the same object by a model of Gatekeeper's mutation system written after its sources
//! (pkg/mutation: the location parser, `core.Mutate`, the path tester, the Assign,
//! AssignMetadata and ModifySet setters, `applyTo` and `match`); the results must be equal,
//! and a second run must change nothing.
//!
//! The model, like the API server's typed decoding before any webhook, sees objects without
//! null fields: Gatekeeper tests a field's presence by its key.

use std::collections::{BTreeSet, HashMap};

use rampart_compiler::backend::rego::mutators;
use rampart_compiler::ir::Program;
use rampart_runtime::manifest::Node;
use serde::Deserialize;
use serde_json::Value as Json;

mod common;
use common::{compile_source, corpus, crd_schema, load_objects, stdlib, validate};

const FIXES: &str = include_str!("fixes/fixes.rp");
const GATEKEEPER: &str = include_str!("fixes/gatekeeper.rp");
const OBJECTS: &str = include_str!("fixes/objects.yaml");

/// A node of a location (Gatekeeper's `parser.Object` and `parser.List`).
#[derive(Clone, Debug, PartialEq)]
enum Loc {
    Field(String),
    /// `[key:*]`: every element.
    Glob,
    /// `[key:value]`: the element whose `key` is `value`.
    Keyed(String, String),
}

/// Gatekeeper's location syntax: identifiers of letters, digits, `_` and `-`, or quoted
/// with `"` or `'` (a backslash escapes the next character), separated by `.`, each
/// optionally followed by `[key: value]` or `[key: *]`.
fn parse_location(s: &str) -> Vec<Loc> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let ident = |i: &mut usize| -> String {
        let mut out = String::new();
        if chars[*i] == '"' || chars[*i] == '\'' {
            let q = chars[*i];
            *i += 1;
            while chars[*i] != q {
                if chars[*i] == '\\' {
                    *i += 1;
                }
                out.push(chars[*i]);
                *i += 1;
            }
            *i += 1;
        } else {
            while *i < chars.len()
                && (chars[*i].is_ascii_alphanumeric() || chars[*i] == '_' || chars[*i] == '-')
            {
                out.push(chars[*i]);
                *i += 1;
            }
        }
        assert!(!out.is_empty(), "an empty identifier in `{s}`");
        out
    };
    let mut out = Vec::new();
    loop {
        out.push(Loc::Field(ident(&mut i)));
        if i < chars.len() && chars[i] == '[' {
            i += 1;
            let key = ident(&mut i);
            assert_eq!(chars[i], ':', "`{s}`");
            i += 1;
            while chars[i] == ' ' {
                i += 1;
            }
            if chars[i] == '*' {
                i += 1;
                out.push(Loc::Glob);
            } else {
                out.push(Loc::Keyed(key, ident(&mut i)));
            }
            assert_eq!(chars[i], ']', "`{s}`");
            i += 1;
        }
        if i == chars.len() {
            return out;
        }
        assert_eq!(chars[i], '.', "`{s}`");
        i += 1;
    }
}

#[derive(Clone, Debug)]
enum Setter {
    Assign(Json),
    Merge(Vec<Json>),
    Prune(Vec<Json>),
}

/// A mutator as Gatekeeper reads it.
#[derive(Clone, Debug)]
struct Mutator {
    rule: String,
    kind: String,
    /// `(group, version, kind)`; empty for AssignMetadata, which has none.
    apply_to: Vec<(String, String, String)>,
    spec_match: Json,
    location: Vec<Loc>,
    /// Path tests by node index: `true` for MustExist.
    tests: HashMap<usize, bool>,
    setter: Setter,
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn mutator(doc: &Json) -> Mutator {
    let spec = &doc["spec"];
    let kind = doc["kind"].as_str().unwrap().to_string();
    let mut apply_to = Vec::new();
    for a in spec["applyTo"].as_array().into_iter().flatten() {
        for g in strings(&a["groups"]) {
            for v in strings(&a["versions"]) {
                for k in strings(&a["kinds"]) {
                    apply_to.push((g.clone(), v.clone(), k));
                }
            }
        }
    }
    let location = parse_location(spec["location"].as_str().unwrap());
    let mut tests = HashMap::new();
    if kind == "AssignMetadata" {
        // Built in: it only adds.
        tests.insert(location.len() - 1, false);
    }
    for t in spec["parameters"]["pathTests"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let sub = parse_location(t["subPath"].as_str().unwrap());
        assert!(
            location.starts_with(&sub),
            "a subPath is a prefix of the location"
        );
        let must_exist = t["condition"] == "MustExist";
        let previous = tests.insert(sub.len() - 1, must_exist);
        assert!(
            previous.is_none_or(|p| p == must_exist),
            "conflicting path tests"
        );
    }
    let values = || {
        spec["parameters"]["values"]["fromList"]
            .as_array()
            .unwrap()
            .clone()
    };
    let setter = match (kind.as_str(), spec["parameters"]["operation"].as_str()) {
        ("ModifySet", Some("prune")) => Setter::Prune(values()),
        ("ModifySet", _) => Setter::Merge(values()),
        _ => Setter::Assign(spec["parameters"]["assign"]["value"].clone()),
    };
    Mutator {
        rule: doc["metadata"]["annotations"]["rampart.dev/rule"]
            .as_str()
            .unwrap()
            .to_string(),
        kind,
        apply_to,
        spec_match: spec["match"].clone(),
        location,
        tests,
        setter,
    }
}

/// Gatekeeper's namespace globs: a leading and/or trailing `*`.
fn glob_matches(glob: &str, name: &str) -> bool {
    match (glob.strip_prefix('*'), glob.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => name.contains(&rest[..rest.len() - 1]),
        (Some(suffix), _) => name.ends_with(suffix),
        (None, Some(prefix)) => name.starts_with(prefix),
        (None, None) => name == glob,
    }
}

/// `applyTo` and `match` (kinds, scope, namespaces, excludedNamespaces).
fn matches(m: &Mutator, object: &Json) -> bool {
    let api = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let kind = object["kind"].as_str().unwrap_or("");
    if m.kind != "AssignMetadata"
        && !m
            .apply_to
            .iter()
            .any(|(g, v, k)| g == group && v == version && k == kind)
    {
        return false;
    }
    let sm = &m.spec_match;
    let kinds_ok = sm["kinds"].as_array().is_none_or(|ks| {
        ks.iter().any(|k| {
            let gs = strings(&k["apiGroups"]);
            let ks = strings(&k["kinds"]);
            (gs.iter().any(|g| g == "*" || g == group)) && ks.iter().any(|k| k == "*" || k == kind)
        })
    });
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
    let scope_ok = sm["scope"] != "Namespaced" || !namespace.is_empty();
    let namespaces = strings(&sm["namespaces"]);
    let in_ok = namespaces.is_empty() || namespaces.iter().any(|g| glob_matches(g, namespace));
    let out_ok = !strings(&sm["excludedNamespaces"])
        .iter()
        .any(|g| !namespace.is_empty() && glob_matches(g, namespace));
    kinds_ok && scope_ok && in_ok && out_ok
}

fn set(setter: &Setter, obj: &mut serde_json::Map<String, Json>, key: &str) -> Result<(), String> {
    match setter {
        Setter::Assign(v) => {
            obj.insert(key.to_string(), v.clone());
        }
        Setter::Merge(values) => match obj.get_mut(key) {
            None => {
                obj.insert(key.to_string(), Json::Array(values.clone()));
            }
            Some(Json::Array(list)) => {
                for v in values {
                    if !list.contains(v) {
                        list.push(v.clone());
                    }
                }
            }
            Some(other) => return Err(format!("{other} is not a list")),
        },
        Setter::Prune(values) => match obj.get_mut(key) {
            None => {}
            Some(Json::Array(list)) => list.retain(|x| !values.contains(x)),
            Some(other) => return Err(format!("{other} is not a list")),
        },
    }
    Ok(())
}

/// `core.Mutate`: whether anything below `current` was set (only then is a created parent
/// kept).
fn mutate(m: &Mutator, current: &mut Json, depth: usize) -> Result<bool, String> {
    let test = m.tests.get(&depth).copied();
    let last = depth + 1 == m.location.len();
    match &m.location[depth] {
        Loc::Field(name) => {
            let Json::Object(obj) = current else {
                return Err(format!("`{name}` of a non-object"));
            };
            let exists = obj.contains_key(name);
            if (exists && test == Some(false)) || (!exists && test == Some(true)) {
                return Ok(false);
            }
            if last {
                set(&m.setter, obj, name)?;
                return Ok(true);
            }
            let mut next = match obj.get(name) {
                Some(v) => v.clone(),
                None => match m.location[depth + 1] {
                    Loc::Field(_) => Json::Object(Default::default()),
                    _ => Json::Array(Vec::new()),
                },
            };
            let mutated = mutate(m, &mut next, depth + 1)?;
            if mutated {
                obj.insert(name.clone(), next);
            }
            Ok(mutated)
        }
        Loc::Glob => {
            let Json::Array(list) = current else {
                return Err("a glob of a non-list".into());
            };
            if last {
                return Err("the last node cannot be a glob".into());
            }
            if test == Some(false) {
                return Ok(false);
            }
            let mut mutated = false;
            for element in list.iter_mut() {
                let mut copy = element.clone();
                if mutate(m, &mut copy, depth + 1)? {
                    *element = copy;
                    mutated = true;
                }
            }
            Ok(mutated)
        }
        Loc::Keyed(..) => Err("keyed list elements are not written by the export".into()),
    }
}

/// One pass of every mutator that matches, in order.
fn run(mutators: &[Mutator], object: &Json) -> Result<Json, String> {
    let mut current = object.clone();
    for m in mutators {
        if matches(m, &current) {
            mutate(m, &mut current, 0).map_err(|e| format!("{}: {e}", m.rule))?;
        }
    }
    Ok(current)
}

/// The mutator documents of `program`'s export.
fn documents(program: &Program, review: bool) -> Vec<Json> {
    let (files, _) = mutators::export_all(program, review);
    let mut docs = Vec::new();
    for f in files {
        assert!(f.path.starts_with("mutations/"), "{}", f.path);
        for d in serde_yaml_ng::Deserializer::from_str(&f.contents) {
            docs.push(Json::deserialize(d).expect("YAML"));
        }
    }
    docs
}

/// Per object: the intended object, the mutators' result and a second run's; the
/// differences found and the number of objects changed.
fn differential(
    program: &Program,
    mutators: &[Mutator],
    objects: &[(String, Node)],
    review: bool,
) -> (usize, Vec<String>) {
    let exported = mutators.iter().map(|m| m.rule.as_str());
    common::exported_differential(program, objects, review, exported, &|object| {
        run(mutators, object)
    })
}

fn check(what: &str, objects: &[(String, Node)], minimum: &[(&str, bool, usize)]) {
    common::check_fix_export(what, objects, minimum, &|program, review| {
        let docs = documents(program, review);
        let ms: Vec<Mutator> = docs.iter().map(mutator).collect();
        differential(program, &ms, objects, review)
    });
}

#[test]
fn mutators_agree_with_fix_apply_on_fixtures() {
    let objects = load_objects("objects.yaml", OBJECTS.as_bytes());
    check(
        "fixtures",
        &objects,
        &[
            ("fixes.rp", false, 3),
            ("fixes.rp", true, 4),
            ("gatekeeper.rp", false, 5),
            ("stdlib", false, 5),
            ("stdlib", true, 7),
        ],
    );
}

#[test]
fn mutators_agree_with_fix_apply_on_real_corpus() {
    let objects = corpus("real");
    assert!(objects.len() > 100, "the real corpus is there");
    check(
        "real corpus",
        &objects,
        &[
            ("fixes.rp", false, 60),
            ("fixes.rp", true, 60),
            ("gatekeeper.rp", false, 110),
            ("stdlib", false, 12),
            ("stdlib", true, 60),
        ],
    );
}

/// The comparison can fail: mutators without their path tests change objects the rules do
/// not fire on (a `privileged: false` set on every container).
#[test]
fn the_comparison_finds_a_wrong_mutator() {
    let objects = load_objects("objects.yaml", OBJECTS.as_bytes());
    let program = compile_source(FIXES);
    let mut ms: Vec<Mutator> = documents(&program, false).iter().map(mutator).collect();
    let (_, differences) = differential(&program, &ms, &objects, false);
    assert!(differences.is_empty(), "{differences:?}");
    for m in &mut ms {
        m.tests.clear();
    }
    let (_, differences) = differential(&program, &ms, &objects, false);
    assert!(
        !differences.is_empty(),
        "dropping the path tests went unnoticed"
    );
    // A wrong location too.
    let mut ms: Vec<Mutator> = documents(&program, false).iter().map(mutator).collect();
    for m in &mut ms {
        if let Some(Loc::Field(f)) = m.location.last_mut() {
            if f == "privileged" {
                *f = "allowPrivilegeEscalation".into();
            }
        }
    }
    let (_, differences) = differential(&program, &ms, &objects, false);
    assert!(!differences.is_empty(), "a wrong location went unnoticed");
}

/// Every mutator passes the CRD schema of its kind.
#[test]
fn mutators_validate_against_their_crds() {
    let schemas: HashMap<&str, Json> = [
        ("Assign", "assign"),
        ("AssignMetadata", "assignmetadata"),
        ("ModifySet", "modifyset"),
    ]
    .into_iter()
    .map(|(kind, file)| {
        let file = format!("mutations.gatekeeper.sh_{file}.crd.yaml");
        (kind, crd_schema("gatekeeper", &file, "v1"))
    })
    .collect();
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    for (name, program) in common::fix_programs() {
        for doc in documents(&program, true) {
            let kind = doc["kind"].as_str().unwrap().to_string();
            let at = format!("{name} {}", doc["metadata"]["name"]);
            validate(&schemas[kind.as_str()], &doc, &at, &mut errors);
            seen.insert(kind);
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(seen.len(), 3, "every mutator kind is exercised: {seen:?}");
    // The check can fail: a misspelt field is reported.
    let mut bad = documents(&compile_source(FIXES), false).remove(0);
    bad["spec"]["locaton"] = "spec".into();
    validate(&schemas["Assign"], &bad, "bad", &mut errors);
    assert!(!errors.is_empty());
}

/// Fixes that mutators cannot express are a warning at their rule, which is left out.
#[test]
fn inexpressible_fixes_are_reported_per_rule() {
    let program = compile_source(FIXES);
    let (files, gaps) = mutators::export_all(&program, true);
    let mut reported: Vec<(&str, &str)> = gaps
        .iter()
        .map(|g| (g.rule.as_str(), g.message.as_str()))
        .collect();
    reported.sort();
    let rules: Vec<&str> = reported.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        rules,
        [
            "fixtures.fixes.no_host_path",
            "fixtures.fixes.psa_label",
            "fixtures.fixes.sa_token"
        ],
        "{gaps:?}"
    );
    assert!(reported[0].1.contains("cannot remove"), "{reported:?}");
    assert!(
        reported[1]
            .1
            .contains("not \"the fixed field is not the fixed value\""),
        "{reported:?}"
    );
    for g in &gaps {
        assert!(
            g.to_string()
                .contains("cannot be exported to Gatekeeper mutators"),
            "{g}"
        );
        assert!(files.iter().all(|f| !f.contents.contains(&g.rule)));
    }
    assert_eq!(files.len(), 5);
}

#[test]
fn review_fixes_are_exported_only_when_asked() {
    let program = compile_source(FIXES);
    let id = "fixtures.fixes.read_only_root";
    let (safe, _) = mutators::export_all(&program, false);
    assert!(safe.iter().all(|f| !f.contents.contains(id)));
    let (all, _) = mutators::export_all(&program, true);
    assert!(all.iter().any(|f| f.contents.contains(id)));
    assert_eq!(all.len(), safe.len() + 1);
}

/// The standard library's mutators, reviewed as snapshots.
#[test]
fn stdlib_mutator_snapshots() {
    let (files, _) = mutators::export_all(&stdlib(), true);
    assert!(!files.is_empty());
    for f in files {
        insta::assert_snapshot!(
            format!("gatekeeper-{}", f.path.replace('/', "-")),
            f.contents
        );
    }
}

/// The path tests each form of `when` gets (spec/fix.md §7.2), on the Pod's mutators.
#[test]
fn each_form_of_when_gets_its_path_tests() {
    let mut docs = documents(&compile_source(FIXES), true);
    let (files, gaps) = mutators::export_all(&compile_source(GATEKEEPER), true);
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(files.len(), 4);
    docs.extend(documents(&compile_source(GATEKEEPER), true));
    let tests_of = |location: &str| -> (String, Vec<String>) {
        let d = docs
            .iter()
            .find(|d| d["spec"]["location"] == location)
            .unwrap_or_else(|| panic!("no mutator at {location}"));
        let tests = d["spec"]["parameters"]["pathTests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{} {}",
                    t["condition"].as_str().unwrap(),
                    t["subPath"].as_str().unwrap()
                )
            })
            .collect();
        (d["kind"].as_str().unwrap().to_string(), tests)
    };
    let c = "spec.containers[name:*]";
    let cases: [(String, &str, Vec<String>); 8] = [
        // `f ?? false`, fixed to false: another value, not absent.
        (
            format!("{c}.securityContext.privileged"),
            "Assign",
            vec![format!("MustExist {c}.securityContext.privileged")],
        ),
        // `not (f ?? false)`, fixed to true: absent or another value.
        (
            format!("{c}.securityContext.readOnlyRootFilesystem"),
            "Assign",
            vec![],
        ),
        // `(f ?? d) != v`.
        (format!("{c}.imagePullPolicy"), "Assign", vec![]),
        // `p != null and f == null`.
        (
            format!("{c}.livenessProbe.timeoutSeconds"),
            "Assign",
            vec![
                format!("MustExist {c}.livenessProbe"),
                format!("MustNotExist {c}.livenessProbe.timeoutSeconds"),
            ],
        ),
        // `v not in l`.
        (
            format!("{c}.securityContext.capabilities.drop"),
            "ModifySet",
            vec![],
        ),
        // `v in l`, removed.
        (
            format!("{c}.securityContext.capabilities.add"),
            "ModifySet",
            vec![format!("MustExist {c}.securityContext.capabilities.add")],
        ),
        // `f == null` of the object's own label.
        ("metadata.labels.app".into(), "AssignMetadata", vec![]),
        // The same on a pod template: Assign, only where the template is.
        (
            "spec.template.metadata.labels.app".into(),
            "Assign",
            vec![
                "MustExist spec.template".into(),
                "MustNotExist spec.template.metadata.labels.app".into(),
            ],
        ),
    ];
    for (location, kind, tests) in cases {
        assert_eq!(tests_of(&location), (kind.to_string(), tests), "{location}");
    }
}
