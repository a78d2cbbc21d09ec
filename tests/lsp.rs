//! `rampart lsp` end to end: the real binary driven over JSON-RPC on its standard input and
//! output, as an editor drives it.

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

/// A client talking to one server process.
struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    /// Notifications received while waiting for responses.
    notifications: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let mut child = common::rampart(&["lsp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Client {
            child,
            stdin,
            stdout,
            next_id: 1,
            notifications: Vec::new(),
        }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the server hung up"
            );
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Sends a request and returns its response (`result` or `error`).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self.receive();
            if msg["id"] == json!(id) {
                return msg;
            }
            self.notifications.push(msg);
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let pos = self.notifications.iter().position(|n| {
                n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri
            });
            if let Some(i) = pos {
                let n = self.notifications.remove(i);
                return n["params"]["diagnostics"].as_array().unwrap().clone();
            }
            let msg = self.receive();
            self.notifications.push(msg);
        }
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The line and UTF-16 column of the first `needle` in `text`, plus `delta` columns.
fn pos(text: &str, needle: &str, delta: usize) -> Value {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in text"))
        + delta;
    let line = text[..at].matches('\n').count();
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col})
}

fn at(uri: &str, text: &str, needle: &str, delta: usize) -> Value {
    json!({"textDocument": {"uri": uri}, "position": pos(text, needle, delta)})
}

/// A server with `dir` as its workspace and `name` (written there with `text`) open; the
/// document's URI.
fn open(dir: &Path, name: &str, text: &str) -> (Client, String) {
    std::fs::write(dir.join(name), text).unwrap();
    let doc = uri(&dir.join(name));
    let mut c = Client::start();
    c.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(dir), "capabilities": {}}),
    );
    c.notify("initialized", json!({}));
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "rampart", "version": 1, "text": text}}),
    );
    (c, doc)
}

fn labels(completion: &Value) -> Vec<String> {
    completion["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {completion}"))
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

const LIB: &str = "module t.lib

// Whether the container runs privileged.
fn privileged(c: Container) -> bool = c.securityContext.privileged ?? false
";

const MAIN: &str = "module t.main

import t.lib

rule no_privileged {
  title    \"Containers must not be privileged\"
  severity high
  controls [\"CIS 5.2.2\"]
  match Pod

  deny for c in all_containers(object)
    when lib.privileged(c) and c.securityContext.runAsNonRoot != true
    at c.securityContext.privileged
    message \"container `{c.name}` is privileged\"
}
";

#[test]
fn the_server_answers_an_editor_session() {
    let dir = common::scratch("lsp-session");
    std::fs::write(dir.join("lib.rp"), LIB).unwrap();
    std::fs::write(dir.join("main.rp"), MAIN).unwrap();
    let main = uri(&dir.join("main.rp"));
    let lib = uri(&dir.join("lib.rp"));
    let mut c = Client::start();

    let init = c.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(&dir), "capabilities": {}}),
    );
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["hoverProvider"], true, "{init}");
    assert_eq!(caps["documentFormattingProvider"], true);
    assert_eq!(caps["completionProvider"]["triggerCharacters"][0], ".");
    c.notify("initialized", json!({}));

    // Diagnostics as the author types, with the "did you mean" as a quick fix.
    let typo = MAIN.replace("runAsNonRoot", "runAsNonRot");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": main, "languageId": "rampart", "version": 1, "text": typo}}),
    );
    let diags = c.diagnostics(&main);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "unknown-field");
    assert_eq!(d["range"]["start"], pos(&typo, "runAsNonRot", 0));
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `runAsNonRoot`?"),
        "{d}"
    );
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": main}, "range": d["range"], "context": {"diagnostics": [d]}}),
    );
    let fix = &actions["result"][0];
    assert_eq!(fix["kind"], "quickfix", "{actions}");
    let edit = &fix["edit"]["changes"][&main][0];
    assert_eq!(edit["newText"], "runAsNonRoot");
    assert_eq!(edit["range"], d["range"]);

    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 2}, "contentChanges": [{"text": MAIN}]}),
    );
    assert_eq!(c.diagnostics(&main), Vec::<Value>::new());

    // Hover: a field's Kubernetes type, a builtin's signature, a rule's title and controls.
    let h = c.request(
        "textDocument/hover",
        at(&main, MAIN, "securityContext.runAsNonRoot", 1),
    );
    let text = h["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("securityContext: SecurityContext?"), "{h}");
    assert!(text.contains("field of `Container`"), "{h}");
    assert!(
        text.contains("defines the security options the container"),
        "{h}"
    );
    let h = c.request("textDocument/hover", at(&main, MAIN, "all_containers", 2));
    let text = h["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("all_containers(pod)"), "{h}");
    let h = c.request("textDocument/hover", at(&main, MAIN, "no_privileged", 3));
    let text = h["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("Containers must not be privileged"), "{h}");
    assert!(text.contains("CIS 5.2.2"), "{h}");
    let h = c.request("textDocument/hover", at(&main, MAIN, "lib.privileged", 5));
    let text = h["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("fn privileged(c: Container) -> bool"), "{h}");
    assert!(
        text.contains("Whether the container runs privileged."),
        "{h}"
    );

    // Completion on unfinished code.
    let typing = MAIN.replace(
        "    at c.securityContext.privileged\n",
        "    at c.securityContext.\n",
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 3}, "contentChanges": [{"text": typing}]}),
    );
    let unfinished = c.diagnostics(&main);
    assert!(
        unfinished.iter().any(|d| d["code"] == "syntax"),
        "{unfinished:?}"
    );
    let comp = c.request(
        "textDocument/completion",
        at(
            &main,
            &typing,
            "at c.securityContext.",
            "at c.securityContext.".len(),
        ),
    );
    let items = labels(&comp);
    for f in [
        "privileged",
        "runAsNonRoot",
        "capabilities",
        "seccompProfile",
    ] {
        assert!(items.contains(&f.to_string()), "{f} not in {items:?}");
    }
    assert!(!items.contains(&"name".to_string()), "{items:?}");
    let comp = c.request(
        "textDocument/completion",
        at(&main, &typing, "when lib.", "when lib.".len()),
    );
    assert_eq!(labels(&comp), vec!["privileged"]);
    let comp = c.request(
        "textDocument/completion",
        at(&main, &typing, "match Pod", 6),
    );
    let items = labels(&comp);
    assert!(items.contains(&"Deployment".to_string()) && items.contains(&"Pod".to_string()));
    let comp = c.request(
        "textDocument/completion",
        at(&main, &typing, "severity high", 9),
    );
    assert_eq!(labels(&comp), vec!["low", "medium", "high", "critical"]);
    let comp = c.request(
        "textDocument/completion",
        at(&main, &typing, "lib.privileged(c)", 16),
    );
    let items = labels(&comp);
    for name in ["c", "object", "all_containers", "starts_with", "lib"] {
        assert!(items.contains(&name.to_string()), "{name} not in {items:?}");
    }
    let comp = c.request(
        "textDocument/completion",
        at(&main, &typing, "\n  match Pod", 3),
    );
    let items = labels(&comp);
    for word in ["title", "severity", "controls", "deny", "warn"] {
        assert!(items.contains(&word.to_string()), "{word} not in {items:?}");
    }
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 4}, "contentChanges": [{"text": MAIN}]}),
    );
    c.diagnostics(&main);

    // Go to definition: a binder, a function of an imported module, the module itself.
    let def = c.request("textDocument/definition", at(&main, MAIN, "c.name", 0));
    assert_eq!(def["result"]["uri"], main.as_str());
    assert_eq!(
        def["result"]["range"]["start"],
        pos(MAIN, "c in all_containers", 0)
    );
    let def = c.request(
        "textDocument/definition",
        at(&main, MAIN, "lib.privileged", 5),
    );
    assert_eq!(def["result"]["uri"], lib.as_str(), "{def}");
    assert_eq!(
        def["result"]["range"]["start"],
        pos(LIB, "privileged(c:", 0)
    );
    let def = c.request(
        "textDocument/definition",
        at(&main, MAIN, "import t.lib", 9),
    );
    assert_eq!(def["result"]["uri"], lib.as_str(), "{def}");

    // References of the binder: its definition and its four uses.
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": main}, "position": pos(MAIN, "c in all_containers", 0),
               "context": {"includeDeclaration": true}}),
    );
    assert_eq!(refs["result"].as_array().unwrap().len(), 5, "{refs}");

    // Document symbols.
    let syms = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": main}}),
    );
    let module = &syms["result"][0];
    assert_eq!(module["name"], "t.main");
    let names: Vec<&str> = module["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["t.lib", "no_privileged"]);

    // Formatting through `rampart fmt`.
    let messy = "module t.main\nimport t.lib\nrule r{\nmatch Pod\ndeny when lib.privileged( object.spec.containers[0] ) message \"m\"}\n";
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 5}, "contentChanges": [{"text": messy}]}),
    );
    c.diagnostics(&main);
    let fmt = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": main}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(
        fmt["result"][0]["newText"],
        "module t.main\n\nimport t.lib\n\nrule r {\n  match Pod\n  deny when lib.privileged(object.spec.containers[0])\n    message \"m\"\n}\n"
    );

    // A huge document gets a diagnostic, not a crash; the server keeps answering.
    let huge = format!("module t.main\n// {}\n", "x".repeat(1 << 20));
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 6}, "contentChanges": [{"text": huge}]}),
    );
    let diags = c.diagnostics(&main);
    assert!(
        diags[0]["message"]
            .as_str()
            .unwrap()
            .contains("more than the limit"),
        "{diags:?}"
    );
    let h = c.request("textDocument/hover", at(&main, &huge, "module", 0));
    assert_eq!(h["result"], Value::Null);
    let unknown = c.request("rampart/unknown", json!({}));
    assert!(unknown["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown request"));

    let down = c.request("shutdown", Value::Null);
    assert_eq!(down["result"], Value::Null, "{down}");
    c.notify("exit", Value::Null);
    let status = c.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
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
              properties:
                size:
                  type: integer
";

const WIDGETS: &str = "module t.widgets

import \"widget.yaml\"

rule small {
  title \"Widgets stay small\"
  match Widget
  deny when (object.spec.size ?? 0) > 3
    message \"widget of size {object.spec.size}\"
}
";

#[test]
fn imported_kinds_lead_to_their_crd_and_complete_their_fields() {
    let dir = common::scratch("lsp-crd");
    std::fs::write(dir.join("widget.yaml"), CRD).unwrap();
    let (mut c, doc) = open(&dir, "widgets.rp", WIDGETS);
    assert_eq!(c.diagnostics(&doc), Vec::<Value>::new());

    let def = c.request(
        "textDocument/definition",
        at(&doc, WIDGETS, "match Widget", 7),
    );
    assert_eq!(def["result"]["uri"], uri(&dir.join("widget.yaml")), "{def}");
    assert_eq!(def["result"]["range"]["start"], pos(CRD, "kind: Widget", 0));

    let typing = WIDGETS.replace("(object.spec.size ?? 0) > 3", "object.spec.");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 2}, "contentChanges": [{"text": typing}]}),
    );
    c.diagnostics(&doc);
    let comp = c.request(
        "textDocument/completion",
        at(
            &doc,
            &typing,
            "when object.spec.",
            "when object.spec.".len(),
        ),
    );
    assert_eq!(labels(&comp), vec!["size"]);

    c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert!(c.child.wait().unwrap().success());
}

const CONTEXT: &str = "module t.context

rule on_create {
  title \"Pods made by controllers\"
  match Pod
  deny when request.operation == \"CREATE\" and (controller.kind ?? \"\") == \"Deployment\"
    message \"m\"
}
";

#[test]
fn request_and_controller_complete_their_fields() {
    let dir = common::scratch("lsp-context");
    let (mut c, doc) = open(&dir, "context.rp", CONTEXT);
    assert_eq!(c.diagnostics(&doc), Vec::<Value>::new());
    let cases = [
        (
            "request.operation == \"CREATE\"",
            "request.",
            vec!["dryRun", "name", "namespace", "operation", "userInfo"],
        ),
        (
            "(controller.kind ?? \"\") == \"Deployment\"",
            "controller.",
            vec!["apiVersion", "kind", "metadata"],
        ),
    ];
    for (version, (complete, typed, want)) in (2..).zip(cases) {
        let typing = CONTEXT.replace(complete, typed);
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": doc, "version": version}, "contentChanges": [{"text": typing}]}),
        );
        c.diagnostics(&doc);
        let comp = c.request(
            "textDocument/completion",
            at(&doc, &typing, typed, typed.len()),
        );
        let mut got = labels(&comp);
        got.sort();
        assert_eq!(got, want, "after `{typed}`");
    }
    c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert!(c.child.wait().unwrap().success());
}
