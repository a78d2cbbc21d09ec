use super::*;
use crate::manifest::{load, Limits};

fn kubernetes() -> Validator {
    Validator::new(Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap())
}

/// The issues of the single object in `yaml`, as `(rule, path, line, col, message)`.
fn issues(validator: &Validator, yaml: &str) -> Vec<(&'static str, String, u32, u32, String)> {
    let loaded = load(yaml, &Limits::default()).unwrap();
    let [object] = loaded.objects.as_slice() else {
        panic!("expected one object");
    };
    let line_text = |n: u32| yaml.lines().nth(n as usize - 1).unwrap_or("").to_string();
    validator
        .check(&object.node, &object.api_version, &object.kind, &line_text)
        .expect("the kind has a schema")
        .into_iter()
        .map(|i| (i.rule, format_path(&i.path), i.line, i.col, i.message))
        .collect()
}

fn rules_and_paths<'a>(
    found: &'a [(&'static str, String, u32, u32, String)],
) -> Vec<(&'static str, &'a str)> {
    found.iter().map(|(r, p, ..)| (*r, p.as_str())).collect()
}

#[test]
fn a_valid_deployment_has_no_issues() {
    let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
  creationTimestamp: null
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 8080
          resources:
            limits: {cpu: 500m, memory: 1Gi}
            requests: {cpu: 1, memory: 2.5e3}
          securityContext:
            privileged: false
          livenessProbe:
            httpGet: {path: /, port: http}
status: {}
"#;
    assert_eq!(issues(&kubernetes(), yaml), []);
}

#[test]
fn a_boolean_where_a_string_is_required_says_quote_it() {
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  enabled: true\n  port: 80\n";
    let found = issues(&kubernetes(), yaml);
    assert_eq!(
        found,
        [
            (
                rules::WRONG_TYPE,
                "data.enabled".to_string(),
                6,
                3,
                "`data.enabled` must be a string, found the boolean `true`: quote it to keep it a string"
                    .to_string()
            ),
            (
                rules::WRONG_TYPE,
                "data.port".to_string(),
                7,
                3,
                "`data.port` must be a string, found the integer `80`: quote it to keep it a string"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn unknown_fields_are_reported_at_their_key_with_a_suggestion() {
    let yaml = r#"apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
      image: nginx
      imagePullPolcy: Always
      securityContxt:
        privileged: true
  hostNetwork: true
  extra: {a: 1}
"#;
    let found = issues(&kubernetes(), yaml);
    assert_eq!(
        rules_and_paths(&found),
        [
            (rules::UNKNOWN_FIELD, "spec.containers[0].imagePullPolcy"),
            (rules::UNKNOWN_FIELD, "spec.containers[0].securityContxt"),
            (rules::UNKNOWN_FIELD, "spec.extra"),
        ]
    );
    // The key's position, also for a block value that starts on the next line.
    assert_eq!((found[0].2, found[0].3), (9, 7));
    assert_eq!((found[1].2, found[1].3), (10, 7));
    assert_eq!((found[2].2, found[2].3), (13, 3));
    assert_eq!(
        found[0].4,
        "unknown field `imagePullPolcy`: `spec.containers[0]` (`Container`) has no such field: \
         did you mean `imagePullPolicy`?"
    );
    assert_eq!(
        found[2].4,
        "unknown field `extra`: `spec` (`PodSpec`) has no such field"
    );
}

#[test]
fn missing_required_fields_are_reported_at_their_parent() {
    let yaml = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
        - image: nginx
          ports:
            - name: http
      volumes: [{name: v, hostPath: {type: Directory}}]
      imagePullSecrets: [{}]
"#;
    let found = issues(&kubernetes(), yaml);
    assert_eq!(
        rules_and_paths(&found),
        [
            (
                rules::REQUIRED,
                "spec.template.spec.containers[0].ports[0].containerPort"
            ),
            (rules::REQUIRED, "spec.template.spec.containers[0].name"),
            (
                rules::REQUIRED,
                "spec.template.spec.volumes[0].hostPath.path"
            ),
            (rules::REQUIRED, "spec.selector"),
        ]
    );
    // The list item of the port, the item of the container, the `hostPath` key, `spec`;
    // the reference without a name is accepted, as by the API server.
    let positions: Vec<(u32, u32)> = found.iter().map(|f| (f.2, f.3)).collect();
    assert_eq!(positions, [(11, 15), (9, 11), (12, 27), (5, 1)]);
    assert_eq!(
        found[1].4,
        "`spec.template.spec.containers[0].name` is required in `Container` but is missing"
    );
}

#[test]
fn scalar_types_follow_the_api_server() {
    let yaml = r#"apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  terminationGracePeriodSeconds: "30"
  activeDeadlineSeconds: 1.5
  priority: 1e3
  hostPID: "true"
  hostIPC: yes-please
  containers:
    - name: c
      image: [nginx]
      resources:
        limits: {cpu: lots, memory: 1Gi}
      ports:
        - containerPort: 80
      livenessProbe:
        tcpSocket: {port: true}
  nodeSelector: {disk: ssd, fast: false}
"#;
    let found = issues(&kubernetes(), yaml);
    let got: Vec<(&str, &str)> = found.iter().map(|f| (f.1.as_str(), f.4.as_str())).collect();
    assert_eq!(
        got,
        [
            ("spec.terminationGracePeriodSeconds", "`spec.terminationGracePeriodSeconds` must be an integer, found the string `\"30\"`: remove the quotes"),
            ("spec.activeDeadlineSeconds", "`spec.activeDeadlineSeconds` must be an integer, found the number `1.5`"),
            ("spec.hostPID", "`spec.hostPID` must be a boolean, found the string `\"true\"`: remove the quotes"),
            ("spec.hostIPC", "`spec.hostIPC` must be a boolean, found the string `\"yes-please\"`"),
            ("spec.containers[0].image", "`spec.containers[0].image` must be a string, found a list"),
            ("spec.containers[0].resources.limits.cpu", "`spec.containers[0].resources.limits.cpu` must be a quantity such as `500m` or `1Gi`, found `lots`"),
            ("spec.containers[0].livenessProbe.tcpSocket.port", "`spec.containers[0].livenessProbe.tcpSocket.port` must be an integer or a string, found the boolean `true`: quote it to make it a string"),
            ("spec.nodeSelector.fast", "`spec.nodeSelector.fast` must be a string, found the boolean `false`: quote it to keep it a string"),
        ]
    );
    assert!(found.iter().all(|f| f.0 == rules::WRONG_TYPE));
}

#[test]
fn objects_where_scalars_are_expected_and_the_other_way_round() {
    let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: {port: 80}\n  selector: app\n";
    let found = issues(&kubernetes(), yaml);
    assert_eq!(
        rules_and_paths(&found),
        [
            (rules::WRONG_TYPE, "spec.ports"),
            (rules::WRONG_TYPE, "spec.selector")
        ]
    );
    assert_eq!(found[0].4, "`spec.ports` must be a list, found a mapping");
    let yaml = "apiVersion: v1\nkind: Service\nmetadata: x\n";
    let found = issues(&kubernetes(), yaml);
    assert_eq!(
        found[0].4,
        "`metadata` must be a mapping (`ObjectMeta`), found the string `\"x\"`"
    );
}

#[test]
fn kinds_without_a_schema_are_not_checked() {
    let v = kubernetes();
    assert!(v.knows("apps/v1", "Deployment"));
    assert!(!v.knows("extensions/v1beta1", "Deployment"));
    assert!(!v.knows("example.com/v1", "Widget"));
    let node = load(
        "apiVersion: example.com/v1\nkind: Widget\n",
        &Limits::default(),
    )
    .unwrap()
    .objects
    .remove(0)
    .node;
    assert!(v
        .check(&node, "example.com/v1", "Widget", &|_| String::new())
        .is_none());
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer}
                mode: {type: string, enum: [Fast, Safe]}
                settings:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                  properties:
                    level: {type: integer}
                raw:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
"#;

#[test]
fn crd_kinds_are_checked_from_their_openapi_schema() {
    let mut v = kubernetes();
    assert_eq!(v.add_crd_yaml(WIDGET_CRD).unwrap(), 1);
    assert!(v.knows("example.com/v1", "Widget"));
    let yaml = r#"apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  labelz: {a: b}
spec:
  mode: fast
  colour: red
  settings: {level: "2", anything: [1, 2]}
  raw: {whatever: {deep: true}}
"#;
    let found = issues(&v, yaml);
    assert_eq!(
        rules_and_paths(&found),
        [
            (rules::UNKNOWN_FIELD, "metadata.labelz"),
            (rules::ENUM, "spec.mode"),
            (rules::UNKNOWN_FIELD, "spec.colour"),
            (rules::WRONG_TYPE, "spec.settings.level"),
            (rules::REQUIRED, "spec.size"),
        ]
    );
    assert_eq!(
        found[1].4,
        "`spec.mode` must be one of `Fast` or `Safe`, found `\"fast\"`"
    );
    assert_eq!(
        found[0].4,
        "unknown field `labelz`: `metadata` (`ObjectMeta`) has no such field: did you mean `labels`?"
    );
}

#[test]
fn keys_are_found_in_flow_and_quoted_mappings() {
    let line = |text: &'static str| move |_: u32| text.to_string();
    assert_eq!(
        find_key(
            &line("  x: {name: a, imagePullPolcy: b}"),
            "imagePullPolcy",
            1,
            32
        ),
        Some((1, 16))
    );
    assert_eq!(
        find_key(&line(r#"  {"kind": "Pod", "spek": {}}"#), "spek", 1, 27),
        Some((1, 19))
    );
    assert_eq!(last_key_at("  - name: x", "name"), Some(4));
    assert_eq!(last_key_at("  rename: x", "name"), None);
}
