//! The formatter's properties over every `.rp` file of the repository and over generated
//! expressions: formatting twice changes nothing more, the formatted file parses to the same
//! tree, compiles to the same IR, and keeps every comment. Snapshots show messy inputs.

use proptest::prelude::*;
use rampart_compiler::format::format_source;
use rampart_compiler::schema::Schema;
use rampart_compiler::syntax::parse_file;
use rampart_compiler::syntax::trivia::comments;
use rampart_compiler::Source;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Every `.rp` file of the repository (build output and hidden folders left out).
fn repository_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&p, out),
                Ok(_) if name.ends_with(".rp") => out.push(p),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(ROOT), &mut out);
    out.sort();
    out
}

/// The syntax tree's debug form without positions: two trees of the same meaning are equal.
fn shape(src: &str) -> String {
    let (file, errors) = parse_file(src);
    assert!(errors.is_empty(), "{errors:?}\n{src}");
    let mut s = format!("{file:?}");
    for (open, close) in [("span: Span {", "}"), ("depth: ", ","), ("parens: ", " ")] {
        while let Some(i) = s.find(open) {
            let j = s[i + open.len()..]
                .find(close)
                .map_or(s.len(), |j| i + open.len() + j + 1);
            s.replace_range(i..j, "");
        }
    }
    s
}

/// The comments of a text, in order.
fn comment_texts(src: &str) -> Vec<String> {
    comments(src).into_iter().map(|c| c.text).collect()
}

#[test]
fn every_repository_file_formats_idempotently_to_the_same_tree() {
    let files = repository_files();
    assert!(files.len() > 30, "found only {} .rp files", files.len());
    let mut formatted = 0;
    for path in &files {
        // Files that are not UTF-8 or do not parse (diagnostic tests) are left alone.
        let Ok(src) = std::fs::read_to_string(path) else {
            continue;
        };
        let Ok(once) = format_source(&src) else {
            continue;
        };
        formatted += 1;
        let twice = format_source(&once).unwrap_or_else(|e| {
            panic!(
                "{}: the formatted text does not parse: {e:?}\n{once}",
                path.display()
            )
        });
        assert_eq!(
            once,
            twice,
            "{}: formatting is not idempotent",
            path.display()
        );
        assert_eq!(
            shape(&src),
            shape(&once),
            "{}: the tree changed",
            path.display()
        );
        assert_eq!(
            comment_texts(&src),
            comment_texts(&once),
            "{}: comments changed",
            path.display()
        );
    }
    assert!(formatted > 30, "only {formatted} files formatted");
}

/// The program's IR as JSON, without the digest of the source text.
fn ir(sources: Vec<Source>, schema: &Schema) -> Option<String> {
    let c = rampart_compiler::compile(sources, schema);
    let mut program = serde_json::to_value(c.program?).unwrap();
    program["source_digest"] = serde_json::Value::Null;
    Some(program.to_string())
}

#[test]
fn every_repository_policy_set_compiles_to_the_same_ir_once_formatted() {
    let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap();
    // A policy set: the `.rp` files below the same `policies` folder, or the same folder.
    let mut sets: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for path in repository_files() {
        let dir = path
            .ancestors()
            .find(|a| a.file_name().is_some_and(|n| n == "policies"))
            .unwrap_or_else(|| path.parent().unwrap())
            .to_path_buf();
        sets.entry(dir).or_default().push(path);
    }
    let mut compared = 0;
    for (dir, paths) in sets {
        let original: Vec<Source> = paths
            .iter()
            .map(|p| rampart_compiler::read_source(p))
            .collect();
        let Some(before) = ir(original, &schema) else {
            continue;
        };
        let formatted: Vec<Source> = paths
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                Source {
                    name: p.display().to_string(),
                    text: Ok(format_source(&text).unwrap()),
                }
            })
            .collect();
        let after = ir(formatted, &schema)
            .unwrap_or_else(|| panic!("{}: the formatted set does not compile", dir.display()));
        assert_eq!(before, after, "{}: the IR changed", dir.display());
        compared += 1;
    }
    assert!(compared >= 5, "only {compared} policy sets compiled");
}

#[test]
fn files_with_syntax_errors_are_refused() {
    let errors = format_source("module a\nrule r { deny when message }").unwrap_err();
    assert!(!errors.is_empty());
}

#[test]
fn messy_inputs() {
    let cases = [
        (
            "spacing_and_alignment",
            "module   t.messy\nimport lib.pod   as   p\n\n\nrule   r{\ntitle \"T\"\n        severity high\n  controls [\"A\",\"B\"]\nmatch Pod,   apps/v1/Deployment\n  deny for c in all_containers( object ) when c.name==\"x\" and(c.image??\"\")!=\"\" message \"m {c.name}\"\n\n\n\n  warn message \"w\"}\nfn f(a:int,b:list<string>?)->bool=a>1\n",
        ),
        (
            "comments_everywhere",
            "// head\nmodule t.c # trailing on module\n\n// before the rule\nrule r { // after the brace\n  title \"t\" // after title\n  match Pod\n  // before deny\n  deny when object.spec.hostNetwork ?? false // after when\n    message \"m\"\n  // before the brace\n}\n// at the end\n",
        ),
        (
            "comment_inside_an_expression",
            "module t.e\nrule r {\n  match Pod\n  deny when object.spec.hostPID ?? false\n      // the second half\n      or object.spec.hostIPC ?? false\n    message \"m\"\n}\n",
        ),
        (
            "long_lines_break",
            "module t.l\nrule r {\n  match Pod\n  let allowed = [\"AUDIT_WRITE\", \"CHOWN\", \"DAC_OVERRIDE\", \"FOWNER\", \"FSETID\", \"KILL\", \"MKNOD\", \"NET_BIND_SERVICE\", \"SETFCAP\"]\n  deny for c in all_containers(object) when c.securityContext.privileged ?? false and not (c.securityContext.runAsNonRoot ?? false) and starts_with(c.image ?? \"\", \"docker.io/\") message \"container `{c.name}`\"\n}\nfn pick(v: Volume) -> string = if v.hostPath != null then \"hostPath\" else if v.nfs != null then \"nfs\" else if v.iscsi != null then \"iscsi\" else \"\"\n",
        ),
        (
            "generate_on_its_own_line",
            "module t.g\nrule r {\n  match Namespace\n  deny when len(objects(NetworkPolicy))==0 message \"m\" generate {\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"default-deny\",\"namespace\":\"{object.metadata.name}\"},\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}}\n  warn when true\n    message \"w\"\n    // a short one\n    generate {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\"}}\n}\n",
        ),
    ];
    for (name, src) in cases {
        let out = format_source(src).unwrap();
        assert_eq!(format_source(&out).unwrap(), out, "{name}: not idempotent");
        assert_eq!(shape(src), shape(&out), "{name}: the tree changed");
        insta::assert_snapshot!(name, out);
    }
}

/// Expressions of every form, written with arbitrary spacing and parentheses.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("object.metadata.name".to_string()),
        Just("c.name".to_string()),
        Just("c.securityContext.privileged".to_string()),
        Just("1".to_string()),
        Just("2.5".to_string()),
        Just("\"s\"".to_string()),
        Just("\"x {c.name} y\"".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("[1, 2]".to_string()),
        Just("{\"a\": 1}".to_string()),
        Just("len(c.args)".to_string()),
    ];
    leaf.prop_recursive(5, 40, 3, |inner| {
        let op = prop_oneof![
            Just("and"),
            Just("or"),
            Just("=="),
            Just("!="),
            Just("<"),
            Just(">="),
            Just("in"),
            Just("not in"),
            Just("+"),
            Just("-"),
            Just("??"),
        ];
        let space = prop_oneof![Just(" "), Just("  "), Just("\n      ")];
        prop_oneof![
            (inner.clone(), op, inner.clone(), space.clone())
                .prop_map(|(a, op, b, s)| format!("{a}{s}{op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("any x in [{a}]: {b}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("if {a} then {b} else {c}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("f({a},{b})")),
            inner.clone().prop_map(|a| format!("[{a}, {a}]")),
            inner.prop_map(|a| format!("m[{a}]")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn generated_expressions_keep_their_tree(e in expression(), c in any::<bool>()) {
        let comment = if c { "  // a note\n" } else { "" };
        let src = format!(
            "module t.gen\n{comment}rule r {{\n  match Pod\n  deny for c in all_containers(object)\n    when {e}\n    message \"m\"\n}}\n"
        );
        // Generated text the grammar refuses (`a == b == c`) is not a formatter question.
        prop_assume!(parse_file(&src).1.is_empty());
        let once = format_source(&src).unwrap();
        let twice = format_source(&once).unwrap();
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(shape(&src), shape(&once));
        prop_assert_eq!(comment_texts(&src), comment_texts(&once));
    }
}
