//! Tests of the manifest loader: positions, documents, lists, limits and the shared corpora.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rampart_runtime::manifest::{
    format_path, load, load_bytes, Limits, LoadError, Node, PathSegment, Value,
};

fn load_ok(text: &str) -> rampart_runtime::manifest::Loaded {
    load(text, &Limits::default()).unwrap_or_else(|e| panic!("load failed: {e}"))
}

fn load_err(text: &str) -> LoadError {
    load(text, &Limits::default()).expect_err("load should fail")
}

fn at<'a>(node: &'a Node, path: &[PathSegment]) -> &'a Node {
    let (found, matched) = node.locate(path);
    assert_eq!(matched, path.len(), "missing {}", format_path(path));
    found
}

fn field(name: &str) -> PathSegment {
    PathSegment::Field(name.to_owned())
}

fn pos(node: &Node) -> (u32, u32) {
    (node.line, node.col)
}

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: prod
spec:
  containers:
  - name: app
    image: nginx
    securityContext:
      privileged: true
      runAsUser: 0
  - name: side
    ports: [{containerPort: 80, protocol: TCP}, {containerPort: 443}]
";

#[test]
fn block_style_positions_are_exact() {
    let loaded = load_ok(POD);
    assert_eq!(loaded.objects.len(), 1);
    let pod = &loaded.objects[0];
    assert_eq!((pod.kind.as_str(), pod.api_version.as_str()), ("Pod", "v1"));
    assert_eq!(pod.name.as_deref(), Some("web"));
    assert_eq!(pod.namespace.as_deref(), Some("prod"));
    assert_eq!(pos(&pod.node), (1, 1));

    let containers = at(&pod.node, &[field("spec"), field("containers")]);
    // A block sequence is placed at its key (spec/language.md §4.5), here `containers:`.
    assert_eq!(pos(containers), (7, 3));
    let first = at(containers, &[PathSegment::Index(0)]);
    assert_eq!(pos(first), (8, 5));
    let privileged = at(first, &[field("securityContext"), field("privileged")]);
    assert_eq!(pos(privileged), (11, 19));
    assert_eq!(privileged.value, Value::Bool(true));
    let user = at(first, &[field("securityContext"), field("runAsUser")]);
    assert_eq!((pos(user), &user.value), ((12, 18), &Value::Int(0)));
    assert_eq!(pos(at(first, &[field("image")])), (9, 12));
}

#[test]
fn flow_style_positions_are_exact() {
    let pod = &load_ok(POD).objects[0].node;
    let ports = at(
        pod,
        &[
            field("spec"),
            field("containers"),
            PathSegment::Index(1),
            field("ports"),
        ],
    );
    assert_eq!(pos(ports), (14, 12));
    let second = at(ports, &[PathSegment::Index(1)]);
    assert_eq!(pos(second), (14, 49));
    assert_eq!(pos(at(second, &[field("containerPort")])), (14, 65));
    let protocol = at(ports, &[PathSegment::Index(0), field("protocol")]);
    assert_eq!(pos(protocol), (14, 43));
    assert_eq!(protocol.as_str(), Some("TCP"));
}

#[test]
fn nested_block_sequences_and_scalar_styles() {
    let text = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  script: |
    echo hi
  quoted: \"true\"
  single: '42'
  plain: yes
  list:
    - - a
      - b
  blocks:
  - |
    one
  - >-
    two
  tagged: !!str |
    x
";
    let node = &load_ok(text).objects[0].node;
    let data = node.get("data").unwrap();
    assert_eq!(data.get("script").unwrap().as_str(), Some("echo hi\n"));
    assert_eq!(pos(data.get("script").unwrap()), (6, 11));
    assert_eq!(data.get("quoted").unwrap().as_str(), Some("true"));
    assert_eq!(data.get("single").unwrap().as_str(), Some("42"));
    // YAML 1.1, as sigs.k8s.io/yaml reads it: the API server receives `true`.
    assert_eq!(data.get("plain").unwrap().as_bool(), Some(true));
    let blocks = data.get("blocks").unwrap().as_list().unwrap();
    assert_eq!(pos(&blocks[0]), (15, 5));
    assert_eq!(
        (pos(&blocks[1]), blocks[1].as_str()),
        ((17, 5), Some("two"))
    );
    assert_eq!(pos(data.get("tagged").unwrap()), (19, 11));
    let list = data.get("list").unwrap();
    // A block sequence is placed at its key, `list:`.
    assert_eq!(pos(list), (11, 3));
    let inner = &list.as_list().unwrap()[0];
    assert_eq!(pos(inner), (12, 7));
    assert_eq!(pos(&inner.as_list().unwrap()[1]), (13, 9));
}

#[test]
fn multi_document_with_empty_and_skipped_documents() {
    let text = "\
# leading comment
---
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
---
# only a comment
---
just: data
---
apiVersion: v1
kind: 7
---
- a list
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
...
";
    let loaded = load_ok(text);
    let summary: Vec<_> = loaded
        .objects
        .iter()
        .map(|o| (o.kind.as_str(), o.doc_index, o.item_index))
        .collect();
    assert_eq!(summary, [("Namespace", 0, None), ("Deployment", 4, None)]);
    assert_eq!(loaded.skipped, 3);
    assert_eq!(pos(&loaded.objects[1].node), (17, 1));
    assert_eq!(loaded.objects[1].name.as_deref(), Some("d"));
}

#[test]
fn lists_are_flattened() {
    let text = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: s
- apiVersion: v1
  kind: Secret
- not: an object
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleList
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: r, namespace: ns}
---
apiVersion: v1
kind: PodList
items: []
---
apiVersion: example.com/v1
kind: ShoppingList
spec: {}
";
    let loaded = load_ok(text);
    let summary: Vec<_> = loaded
        .objects
        .iter()
        .map(|o| (o.kind.as_str(), o.doc_index, o.item_index))
        .collect();
    assert_eq!(
        summary,
        [
            ("Service", 0, Some(0)),
            ("Secret", 0, Some(1)),
            ("Role", 1, Some(0)),
            ("ShoppingList", 3, None),
        ]
    );
    assert_eq!(loaded.skipped, 1);
    assert_eq!(pos(&loaded.objects[1].node), (8, 3));
    assert_eq!(loaded.objects[2].namespace.as_deref(), Some("ns"));
}

#[test]
fn json_object_keeps_positions() {
    let text = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"p\"},\n  \"spec\": {\"hostNetwork\":true, \"n\": 1.5}\n}\n";
    let loaded = load_ok(text);
    let pod = &loaded.objects[0];
    assert_eq!(pod.name.as_deref(), Some("p"));
    assert_eq!(pos(&pod.node), (1, 1));
    let spec = pod.node.get("spec").unwrap();
    assert_eq!(pos(spec), (5, 11));
    let host = spec.get("hostNetwork").unwrap();
    assert_eq!((pos(host), &host.value), ((5, 26), &Value::Bool(true)));
    assert_eq!(spec.get("n").unwrap().value, Value::Float(1.5));
    assert_eq!(
        pod.node.to_json(),
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"hostNetwork": true, "n": 1.5}
        })
    );
}

#[test]
fn json_array_elements_are_documents() {
    let text = "  [\n {\"apiVersion\": \"v1\", \"kind\": \"Service\"},\n {\"a\": 1},\n {\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}]}\n]";
    let loaded = load_ok(text);
    let summary: Vec<_> = loaded
        .objects
        .iter()
        .map(|o| (o.kind.as_str(), o.doc_index, o.item_index, pos(&o.node)))
        .collect();
    assert_eq!(
        summary,
        [("Service", 0, None, (2, 2)), ("Pod", 2, Some(0), (4, 49)),]
    );
    assert_eq!(loaded.skipped, 1);
}

#[test]
fn duplicate_keys_are_rejected() {
    let error = load_err("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n");
    assert_eq!(
        error.to_string(),
        "5:3: duplicate key `name` (first at line 4)"
    );
    let error = load_err("a: {x: 1, y: 2, x: 3}\n");
    assert_eq!((error.line, error.col), (1, 17));
    // Large maps use an index; the check must still fire.
    let mut big: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
    big.push_str("k42: again\n");
    assert_eq!(
        load_err(&big).to_string(),
        "101:1: duplicate key `k42` (first at line 43)"
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = "\
apiVersion: v1
kind: Pod
metadata:
  labels: &labels
    app: web
    tier: front
  annotations:
    <<: *labels
    tier: back
spec:
  copy: *labels
";
    let node = &load_ok(text).objects[0].node;
    let annotations = node.get("metadata").unwrap().get("annotations").unwrap();
    assert_eq!(
        annotations.to_json(),
        serde_json::json!({"app": "web", "tier": "back"})
    );
    let copy = node.get("spec").unwrap().get("copy").unwrap();
    // The copy sits at the alias; its children keep the anchored text's positions.
    assert_eq!(pos(copy), (11, 9));
    assert_eq!(pos(copy.get("app").unwrap()), (5, 10));
    assert_eq!(
        copy.to_json(),
        serde_json::json!({"app": "web", "tier": "front"})
    );

    let error = load_err("a: &a [1, *a]\n");
    assert_eq!((error.line, error.col), (1, 11));
    let error = load_err("a: <<\nb:\n  <<: 1\n");
    assert!(error.message.contains("merge key"), "{error}");
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 9].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    let start = Instant::now();
    let error = load_err(&text);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(error.message.contains("aliases expand"), "{error}");
    assert!(error.line >= 7, "{error}");
}

#[test]
fn depth_limit() {
    let limits = Limits {
        max_depth: 5,
        ..Limits::default()
    };
    assert!(load("a: [[[1]]]\n", &limits).is_ok());
    let error = load("a: [[[[[1]]]]]\n", &limits).unwrap_err();
    assert_eq!(
        error.to_string(),
        "1:8: nesting is deeper than the limit of 5 levels"
    );
    let deep = format!("{}{}", "[".repeat(220), "]".repeat(220));
    let error = load_err(&deep);
    assert_eq!((error.line, error.col), (1, 201));
    // Far deeper input fails fast too, whichever check sees it first.
    let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(load(&deeper, &Limits::default()).is_err());
    // Aliases must not build deep trees out of shallow anchors.
    let error = load("a: &a [[1]]\nb: [[[*a]]]\n", &limits).unwrap_err();
    assert_eq!((error.line, error.col), (2, 7));
}

#[test]
fn document_and_size_limits() {
    let limits = Limits {
        max_documents: 3,
        max_bytes: 40,
        ..Limits::default()
    };
    let error = load("---\na: 1\n---\n---\n---\nb: 2\n", &limits).unwrap_err();
    assert_eq!(error.to_string(), "5:1: more than 3 documents");
    let error = load(&"x".repeat(41), &limits).unwrap_err();
    assert_eq!(
        error.to_string(),
        "1:41: input is larger than the limit of 40 bytes"
    );
}

#[test]
fn binary_and_invalid_utf8_are_rejected() {
    let error = load_bytes(b"apiVersion: v1\nkind: P\xffod\n", &Limits::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "2:8: invalid utf-8: unexpected byte 0xff"
    );
    let error = load_bytes(b"a: 1\nb: \x00\x01\x02\xfe", &Limits::default()).unwrap_err();
    assert_eq!(error.to_string(), "2:4: binary content: found a NUL byte");
    let error = load("a: b\0c\n", &Limits::default()).unwrap_err();
    assert_eq!((error.line, error.col), (1, 5));
}

#[test]
fn parser_errors_keep_their_position() {
    let error = load_err("a: 1\nb: [1, 2\nc: 3\n");
    assert!(error.line >= 2, "{error}");
    let error = load_err("---\nkind: Pod\n---\na:\n  b: 1\n c: 2\n");
    assert_eq!(error.line, 6, "{error}");
    let error = load_err("a: *missing\n");
    assert_eq!((error.line, error.col), (1, 4), "{error}");
}

#[test]
fn closing_brackets_at_the_keys_indentation_are_accepted() {
    let text = "\
apiVersion: v1
kind: Pod
spec:
  args: [
      \"-a\",
      \"-b\",
  ]
  env: {
    A: b
  }
  after: 1
";
    let node = &load_ok(text).objects[0].node;
    let spec = node.get("spec").unwrap();
    assert_eq!(
        spec.to_json(),
        serde_json::json!({"args": ["-a", "-b"], "env": {"A": "b"}, "after": 1})
    );
    assert_eq!(pos(spec.get("after").unwrap()), (11, 10));
    assert_eq!(
        pos(&spec.get("args").unwrap().as_list().unwrap()[1]),
        (6, 7)
    );
    // A bracket in block context stays an error, reported where it was.
    let error = load_err("a:\n  b: c\n ]\n");
    assert_eq!(error.line, 3, "{error}");
}

#[test]
fn locate_returns_the_nearest_ancestor() {
    let pod = &load_ok(POD).objects[0].node;
    let path = [
        field("spec"),
        field("containers"),
        PathSegment::Index(1),
        field("securityContext"),
        field("privileged"),
    ];
    let (node, matched) = pod.locate(&path);
    assert_eq!(matched, 3);
    assert_eq!(pos(node), (13, 5));
    let (node, matched) = pod.locate(&[field("spec"), field("containers"), PathSegment::Index(9)]);
    assert_eq!((matched, pos(node)), (2, (7, 3)));
    let (node, matched) = pod.locate(&[]);
    assert_eq!((matched, pos(node)), (0, (1, 1)));
}

#[test]
fn format_path_uses_dots_and_brackets() {
    let path = [
        field("spec"),
        field("template"),
        field("spec"),
        field("containers"),
        PathSegment::Index(0),
        field("securityContext"),
        field("privileged"),
    ];
    assert_eq!(
        format_path(&path),
        "spec.template.spec.containers[0].securityContext.privileged"
    );
    let path = [
        field("metadata"),
        field("annotations"),
        PathSegment::Key("a.b/c".to_owned()),
    ];
    assert_eq!(format_path(&path), r#"metadata.annotations["a.b/c"]"#);
    let path = [
        field("metadata"),
        field("labels"),
        PathSegment::Key("app".to_owned()),
        PathSegment::Key("q\"x".to_owned()),
    ];
    assert_eq!(format_path(&path), r#"metadata.labels.app["q\"x"]"#);
    assert_eq!(format_path(&[PathSegment::Index(2)]), "[2]");
    assert_eq!(format_path(&[]), "");
}

#[test]
fn tags_and_keys() {
    let text = "\
a: !!str 10
b: !!int \"10\"
c: !custom 10
? 1
: one
true: yes
d: 0644
e: ~
no: 1e3
0x1F: 1_000
";
    let node = &load_ok(text).objects;
    assert!(node.is_empty());
    let loaded = load(
        &format!("apiVersion: v1\nkind: X\n{text}"),
        &Limits::default(),
    )
    .unwrap();
    let json = loaded.objects[0].node.to_json();
    assert_eq!(json["a"], "10");
    assert_eq!(json["b"], 10);
    assert_eq!(json["c"], 10);
    assert_eq!(json["1"], "one");
    assert_eq!(json["true"], true);
    assert_eq!(json["d"], 420);
    assert_eq!(json["e"], serde_json::Value::Null);
    // Plain keys resolve like values and become their JSON text (sigs.k8s.io/yaml).
    assert_eq!(json["false"], 1000);
    assert_eq!(json["31"], 1000);
    assert!(load_err("a: !!int ten\n").message.contains("`ten`"));
    let inf = load_err("a: 1\nb: -.inf\n");
    assert_eq!((inf.line, inf.col), (2, 4));
    assert!(
        inf.message.contains("`-.inf` is not a JSON number"),
        "{}",
        inf.message
    );
    assert!(load_err("? [a]\n: b\n")
        .message
        .contains("keys must be scalars"));
}

fn shared(relative: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus")).join(relative)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn real_corpus_loads_with_the_expected_object_counts() {
    let root = shared("real");
    assert!(
        root.exists(),
        "{} is missing: ../shared must be beside the checkout",
        root.display()
    );
    let expected: BTreeMap<String, usize> =
        serde_json::from_slice(&std::fs::read(root.join("documents.json")).unwrap()).unwrap();
    // The defaults leave at least four times the room real manifests need (the largest
    // file is 1.9 MB, the deepest nesting 38 levels, the most documents in a file 70).
    let defaults = Limits::default();
    let quarter = Limits {
        max_bytes: defaults.max_bytes / 4,
        max_depth: defaults.max_depth / 4,
        max_documents: defaults.max_documents / 4,
        max_alias_expansion: defaults.max_alias_expansion / 4,
    };
    let files = yaml_files(&root);
    assert_eq!(files.len(), expected.len());
    for path in files {
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = std::fs::read(&path).unwrap();
        let loaded = load_bytes(&bytes, &quarter).unwrap_or_else(|e| panic!("{relative}:{e}"));
        assert_eq!(
            loaded.objects.len(),
            expected[&relative],
            "object count of {relative}"
        );
        assert_eq!(loaded.skipped, 0, "skipped in {relative}");
    }
}

#[test]
fn psa_fixtures_are_single_pods() {
    let root = shared("psa");
    assert!(
        root.exists(),
        "{} is missing: ../shared must be beside the checkout",
        root.display()
    );
    let files = yaml_files(&root);
    assert!(!files.is_empty());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let loaded = load_bytes(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}:{e}", path.display()));
        assert_eq!(loaded.objects.len(), 1, "{}", path.display());
        let pod = &loaded.objects[0];
        assert_eq!((pod.api_version.as_str(), pod.kind.as_str()), ("v1", "Pod"));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(pod.name.as_deref(), Some(stem));
    }
}
