//! Property tests over generated inputs: evaluation does not depend on the number of threads,
//! a Pod's findings are those of its containers checked one by one, and exported YAML reads
//! back the same whichever parser reads it and however it is printed. Case counts are small:
//! these run in CI on two cores.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use proptest::prelude::*;
use rampart_compiler::backend::cel::{kyverno, vap};
use rampart_compiler::backend::rego::gatekeeper;
use rampart_compiler::schema::Schema;
use rampart_compiler::{compile, Source};
use rampart_runtime::eval::{Engine, Limits, ObjectSet, Params, Policies};
use rampart_runtime::manifest::{self, format_path, load, Node, PathSegment};
use rampart_runtime::runner::{self, Input, Options};

/// The standard library, compiled to Wasm and loaded once.
fn stdlib() -> &'static Policies {
    static POLICIES: OnceLock<Policies> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let program = rampart_stdlib::compile().program.expect("stdlib compiles");
        let wasm =
            rampart_compiler::backend::wasm::compile(&program).expect("stdlib compiles to Wasm");
        Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap()
    })
}

/// One generated container, as YAML lines at the indentation of a list item.
#[derive(Clone, Debug)]
struct Container {
    image: &'static str,
    privileged: Option<bool>,
    run_as_non_root: Option<bool>,
    run_as_user: Option<i64>,
    escalation: Option<bool>,
    read_only_root: Option<bool>,
    add_capability: Option<&'static str>,
    drop_all: bool,
    host_port: Option<u16>,
    limits: bool,
}

fn container() -> impl Strategy<Value = Container> {
    let image = prop::sample::select(vec![
        "nginx",
        "nginx:latest",
        "registry.example/app:1.2",
        "registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "docker.io/library/busybox:1",
    ]);
    let capability =
        prop::sample::select(vec!["NET_ADMIN", "SYS_ADMIN", "NET_BIND_SERVICE", "CHOWN"]);
    (
        (image, any::<Option<bool>>(), any::<Option<bool>>()),
        prop::option::of(prop::sample::select(vec![0i64, 1000, 65534])),
        (any::<Option<bool>>(), any::<Option<bool>>()),
        (prop::option::of(capability), any::<bool>()),
        (
            prop::option::of(prop::sample::select(vec![80u16, 8080])),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((image, privileged, non_root), user, (esc, ro), (cap, drop_all), (port, limits))| {
                Container {
                    image,
                    privileged,
                    run_as_non_root: non_root,
                    run_as_user: user,
                    escalation: esc,
                    read_only_root: ro,
                    add_capability: cap,
                    drop_all,
                    host_port: port,
                    limits,
                }
            },
        )
}

impl Container {
    fn yaml(&self, name: &str) -> String {
        let mut out = format!("    - name: {name}\n      image: \"{}\"\n", self.image);
        let mut sc = Vec::new();
        let flag = |key: &str, v: Option<bool>| v.map(|b| format!("        {key}: {b}\n"));
        sc.extend(flag("privileged", self.privileged));
        sc.extend(flag("runAsNonRoot", self.run_as_non_root));
        sc.extend(flag("allowPrivilegeEscalation", self.escalation));
        sc.extend(flag("readOnlyRootFilesystem", self.read_only_root));
        if let Some(user) = self.run_as_user {
            sc.push(format!("        runAsUser: {user}\n"));
        }
        if self.add_capability.is_some() || self.drop_all {
            sc.push("        capabilities:\n".into());
            if let Some(cap) = self.add_capability {
                sc.push(format!("          add: [{cap}]\n"));
            }
            if self.drop_all {
                sc.push("          drop: [ALL]\n".into());
            }
        }
        if !sc.is_empty() {
            out.push_str("      securityContext:\n");
            out.extend(sc);
        }
        if let Some(port) = self.host_port {
            out.push_str(&format!(
                "      ports:\n        - containerPort: {port}\n          hostPort: {port}\n"
            ));
        }
        if self.limits {
            out.push_str("      resources:\n        limits: {cpu: 500m, memory: 128Mi}\n        requests: {cpu: 100m, memory: 64Mi}\n");
        }
        out
    }
}

/// A Pod holding `containers`, named `c<index>` after their index in `names`.
fn pod(name: &str, containers: &[(usize, &Container)]) -> String {
    let mut out = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  containers:\n"
    );
    for (i, c) in containers {
        out.push_str(&c.yaml(&format!("c{i}")));
    }
    out
}

fn load_one(text: &str) -> Node {
    let loaded = load(text, &manifest::Limits::default()).unwrap();
    assert_eq!(loaded.objects.len(), 1, "{text}");
    loaded.objects.into_iter().next().unwrap().node
}

/// `(rule, message, path)` of every finding, with the index of `spec.containers[i]` mapped
/// through `index`.
fn findings(node: &Node, index: impl Fn(usize) -> usize) -> BTreeSet<(String, String, String)> {
    let found = stdlib()
        .evaluate(
            node,
            &ObjectSet::default(),
            &Params::default(),
            &Limits::default(),
        )
        .into_result()
        .unwrap();
    found
        .into_iter()
        .map(|f| {
            let mut path = f.path.clone();
            if let [PathSegment::Field(spec), PathSegment::Field(list), PathSegment::Index(i), ..] =
                path.as_mut_slice()
            {
                if spec == "spec" && list == "containers" {
                    *i = index(*i);
                }
            }
            (f.rule_id, f.message, format_path(&path))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Findings name the container they are about, so a Pod's findings are the union of the
    /// findings of one-container Pods (Pod-level findings appear in each, and once in the
    /// union).
    #[test]
    fn a_pod_is_its_containers_checked_one_by_one(containers in prop::collection::vec(container(), 1..5)) {
        let all: Vec<_> = containers.iter().enumerate().collect();
        let whole = findings(&load_one(&pod("p", &all)), |i| i);
        let mut one_by_one = BTreeSet::new();
        for (i, c) in &all {
            let single = load_one(&pod("p", &[(*i, *c)]));
            one_by_one.extend(findings(&single, |_| *i));
        }
        prop_assert_eq!(whole, one_by_one);
    }

    /// The same inputs give the same report, in the same order, with 1, 2 or 4 threads.
    #[test]
    fn reports_do_not_depend_on_the_thread_count(
        files in prop::collection::vec(prop::collection::vec(container(), 1..4), 1..6)
    ) {
        let inputs: Vec<Input> = files
            .iter()
            .enumerate()
            .map(|(f, containers)| {
                let all: Vec<_> = containers.iter().enumerate().collect();
                // Two objects per file, so that objects of one file are evaluated in parallel.
                let text = format!("{}---\n{}", pod("a", &all), pod("b", &all[..1]));
                Input { name: format!("f{f}.yaml"), source: runner::Source::Bytes(text.into_bytes()) }
            })
            .collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| runner::run(stdlib(), &inputs, Vec::new(), &Options::default()))
        };
        let one = run(1);
        prop_assert_eq!(one.results.len(), 2 * files.len());
        prop_assert!(one.errors.is_empty(), "{:?}", one.errors);
        for threads in [2, 4, 1] {
            let other = run(threads);
            prop_assert_eq!(&one.results, &other.results);
            prop_assert_eq!(&one.errors, &other.errors);
            prop_assert_eq!(one.summary, other.summary);
        }
    }
}

/// Text a policy string may hold, escaped for a `.rp` string literal: quotes, backslashes,
/// YAML indicators, newlines, non-ASCII.
fn rp_text() -> impl Strategy<Value = (String, String)> {
    let pieces = prop::sample::select(vec![
        "a", "Z", " ", ": ", "- ", "#", "\"", "\\", "\n", "\t", "'", "&x", "*y", "!t", "%", "@",
        "`", "|", ">", "[", "]", ",", "?", "é", "日本", "🙂", "---", "...", "null", "true", "0x1",
        "{", "}",
    ]);
    prop::collection::vec(pieces, 1..12).prop_map(|pieces| {
        let text: String = pieces.concat();
        let escaped = text
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .replace('\t', "\\t")
            .replace('{', "\\{")
            .replace('}', "\\}");
        (text, escaped)
    })
}

/// Every object of an exported file, read by Rampart's loader (as JSON).
fn read_back(file: &str, text: &str) -> Vec<serde_json::Value> {
    let loaded =
        load(text, &manifest::Limits::default()).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
    assert_eq!(loaded.skipped, 0, "{file}");
    loaded.objects.iter().map(|o| o.node.to_json()).collect()
}

/// The same file read by serde_yaml_ng (a second, independent YAML parser).
fn read_with_serde(text: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde_json::Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// The string values under keys ending in `title` (annotations such as
/// `metadata.gatekeeper.sh/title`).
fn titles_in(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match v {
                serde_json::Value::String(s) if k.ends_with("title") => vec![s.clone()],
                _ => titles_in(v),
            })
            .collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(titles_in).collect(),
        _ => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Exported YAML means the same to two parsers, and printing what was read as YAML again
    /// and reading it back gives the same objects; the title survives the export intact.
    #[test]
    fn exported_yaml_reads_back_the_same((title, escaped_title) in rp_text(), (_, escaped_message) in rp_text()) {
        let source = format!(
            "module prop\n\nrule weird {{\n  title \"{escaped_title}\"\n  description \"{escaped_message}\"\n  severity high\n  match Pod\n  deny for c in object.spec.containers\n    when c.securityContext.privileged ?? false\n    message \"{escaped_message}: {{c.name}}\"\n}}\n"
        );
        let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap();
        let compilation = compile(vec![Source { name: "prop.rp".into(), text: Ok(source.clone()) }], &schema);
        let program = compilation.program.unwrap_or_else(|| {
            panic!("{source}\n{:?}", compilation.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>())
        });
        let mut files: Vec<(String, String)> = Vec::new();
        files.extend(gatekeeper::export(&program).unwrap().files.into_iter().map(|f| (f.path, f.contents)));
        for (exported, errors) in [
            kyverno::export_cluster_policies_all(&program),
            kyverno::export_validating_policies_all(&program),
            vap::export_all(&program),
        ] {
            prop_assert!(errors.is_empty(), "{:?}", errors.iter().map(ToString::to_string).collect::<Vec<_>>());
            files.extend(exported.into_iter().map(|f| (f.path, f.contents)));
        }
        prop_assert!(files.len() >= 4);
        let mut titles = Vec::new();
        for (file, text) in &files {
            let objects = read_back(file, text);
            prop_assert!(!objects.is_empty(), "{}", file);
            prop_assert_eq!(&objects, &read_with_serde(text), "{}", file);
            let printed: String = objects
                .iter()
                .map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
                .collect();
            prop_assert_eq!(&read_back(file, &printed), &objects, "{}", file);
            titles.extend(objects.iter().flat_map(titles_in));
        }
        // Every title written is the rule's title, whole: escaping lost nothing.
        prop_assert!(!titles.is_empty());
        for written in &titles {
            prop_assert_eq!(written, &title);
        }
    }
}

/// Found by the property above: a title holding a line break ended the `#` comment that
/// heads the Gatekeeper file and the Rego module, and the rest of the title was read as YAML
/// (or as Rego).
#[test]
fn a_title_with_line_breaks_stays_in_its_comment() {
    let source = "module prop\n\nrule injected {\n  title \"x\\n---\\nkind: Injected\\nallow = true\"\n  match Pod\n  deny when true message \"m\"\n}\n";
    let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap();
    let compilation = compile(
        vec![Source {
            name: "prop.rp".into(),
            text: Ok(source.into()),
        }],
        &schema,
    );
    let program = compilation.program.unwrap();
    let files = gatekeeper::export(&program).unwrap().files;
    // The Constraint (constraints/) and its template (templates/) each head their file.
    let objects: Vec<_> = files
        .iter()
        .filter(|f| f.path.contains("injected"))
        .flat_map(|f| read_back(&f.path, &f.contents))
        .collect();
    let kinds: Vec<_> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["PropInjected", "ConstraintTemplate"], "{files:?}");
    let rego = rampart_compiler::backend::rego::rule_module(&program.rules[0], "p");
    assert!(
        rego.starts_with("# Rule prop.injected: x --- kind: Injected allow = true\n"),
        "{rego}"
    );
    assert!(!rego.lines().any(|l| l == "allow = true"), "{rego}");
}
