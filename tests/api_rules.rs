//! The rules `api.deprecated` and `api.removed` (`stdlib/policies/api.rp`) and their tests
//! (`stdlib/tests/api.test.yaml`) are generated from one table,
//! `stdlib/data/api-versions.yaml`. This test fails when either file is stale; regenerate
//! both with:
//!
//!     UPDATE_API_RULES=1 cargo test --test api_rules

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

/// One row of the table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Row {
    api_version: String,
    kind: String,
    /// The apiVersion to move to; empty when the API has no successor.
    replacement: String,
    /// Minor version (1.N) that deprecated it.
    deprecated: u32,
    /// Minor version (1.N) that stopped serving it.
    removed: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    apis: Vec<Row>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn table() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("stdlib/data/api-versions.yaml"))
        .expect("stdlib/data/api-versions.yaml is readable");
    let table: Table = serde_yaml_ng::from_str(&text).expect("the API table parses");
    table.apis
}

/// The minor version of the embedded schema: the default target of both rules.
fn schema_minor() -> u32 {
    let version = rampart_stdlib::KUBERNETES_VERSION;
    version
        .strip_prefix("1.")
        .and_then(|m| m.parse().ok())
        .expect("the embedded schema's version is 1.N")
}

/// `apps/v1beta1/Deployment`, or `core/v1/...` for the core group.
fn kind_ref(row: &Row) -> String {
    match row.api_version.split_once('/') {
        Some((group, version)) => format!("{group}/{version}/{}", row.kind),
        None => format!("core/{}/{}", row.api_version, row.kind),
    }
}

fn advice(row: &Row) -> String {
    if row.replacement.is_empty() {
        "it has no replacement: remove the object".to_string()
    } else {
        format!("use apiVersion {}", row.replacement)
    }
}

const HEADER: &str = "// Deprecated and removed Kubernetes API versions. Generated from\n\
// stdlib/data/api-versions.yaml by `UPDATE_API_RULES=1 cargo test --test api_rules`; do not\n\
// edit by hand. The target Kubernetes version is the parameter kube_minor (1.N), which\n\
// `rampart test --kube-version 1.N` sets for both rules.\n";

fn render_rules(rows: &[Row]) -> String {
    let minor = schema_minor();
    let kinds: Vec<String> = rows.iter().map(kind_ref).collect();
    let mut kinds_dedup: Vec<String> = Vec::new();
    for k in kinds {
        if !kinds_dedup.contains(&k) {
            kinds_dedup.push(k);
        }
    }
    let mut out = String::from(HEADER);
    out.push_str("module api\n");
    let rules = [
        (
            "removed",
            "deny",
            "Objects must not use API versions the target Kubernetes version no longer serves",
            "The object's apiVersion and kind are an API version that the target Kubernetes version (the parameter kube_minor: 1.N, set by rampart test --kube-version; by default the version of the embedded schema) no longer serves. The message names the replacement apiVersion and the version that removed it. The table of versions is stdlib/data/api-versions.yaml.",
            "The API server refuses objects of a version it no longer serves: applying the manifest fails, and an upgrade of the cluster breaks the deployment that still carries it.",
            "high",
        ),
        (
            "deprecated",
            "warn",
            "Objects should not use deprecated API versions",
            "The object's apiVersion and kind are an API version that the target Kubernetes version (the parameter kube_minor: 1.N, set by rampart test --kube-version; by default the version of the embedded schema) still serves but has deprecated. The message names the replacement apiVersion and the version that removes it. Reported as a warning. The table of versions is stdlib/data/api-versions.yaml.",
            "A deprecated API version is removed by a later Kubernetes release; manifests that still use it break on that upgrade.",
            "low",
        ),
    ];
    for (name, action, title, description, rationale, severity) in rules {
        let _ = write!(
            out,
            "\nrule {name} {{\n  title       \"{title}\"\n  description \"{description}\"\n  \
             rationale   \"{rationale}\"\n  severity    {severity}\n  category    \"API versions\"\n  \
             controls    [\"NIST CM-2\", \"NIST SI-2\"]\n  \
             remediation \"Move the manifest to the replacement apiVersion the message names (kubectl convert can rewrite it), checking the fields that changed between the versions.\"\n  \
             param kube_minor: int = {minor}\n  match {}\n\n  \
             let version = object.apiVersion ?? \"\"\n  let kind = object.kind ?? \"\"\n",
            kinds_dedup.join(", ")
        );
        for row in rows {
            let when = if name == "removed" {
                format!("kube_minor >= {}", row.removed)
            } else {
                format!(
                    "kube_minor >= {} and kube_minor < {}",
                    row.deprecated, row.removed
                )
            };
            let message = if name == "removed" {
                format!(
                    "{} `{{object.metadata.name}}` uses apiVersion {}, which Kubernetes 1.{} removed: {}",
                    row.kind,
                    row.api_version,
                    row.removed,
                    advice(row)
                )
            } else {
                format!(
                    "{} `{{object.metadata.name}}` uses apiVersion {}, deprecated since Kubernetes 1.{} and removed in 1.{}: {}",
                    row.kind,
                    row.api_version,
                    row.deprecated,
                    row.removed,
                    advice(row)
                )
            };
            let _ = write!(
                out,
                "\n  {action} when version == \"{}\" and kind == \"{}\" and {when}\n    \
                 at object.apiVersion\n    message \"{message}\"\n",
                row.api_version, row.kind
            );
        }
        out.push_str("}\n");
    }
    out
}

fn render_tests(rows: &[Row]) -> String {
    let minor = schema_minor();
    let mut out = String::from(
        "# Tests of api.removed and api.deprecated, three cases per row of\n\
         # stdlib/data/api-versions.yaml: on the default target, on the last version that serves\n\
         # the API, and on the last version before its deprecation. Generated by\n\
         # `UPDATE_API_RULES=1 cargo test --test api_rules`; do not edit by hand.\ncases:\n",
    );
    for row in rows {
        let object = format!(
            "{{apiVersion: {}, kind: {}, metadata: {{name: old}}}}",
            row.api_version, row.kind
        );
        let escaped = |s: &str| s.replace('.', "\\\\.");
        let _ = write!(
            out,
            "  - name: {} {} on the default target 1.{minor}\n    object: {object}\n    expect:\n      \
             api.removed: {{outcome: deny, count: 1, path: apiVersion, message: \"{} `old` uses apiVersion {}, which Kubernetes 1\\\\.{} removed: {}\"}}\n      \
             api.deprecated: pass\n",
            row.api_version,
            row.kind,
            row.kind,
            escaped(&row.api_version),
            row.removed,
            escaped(&advice(row)),
        );
        let last = row.removed - 1;
        let _ = write!(
            out,
            "  - name: {} {} on 1.{last}, the last version that serves it\n    object: {object}\n    \
             params: {{api.removed.kube_minor: {last}, api.deprecated.kube_minor: {last}}}\n    expect:\n      \
             api.removed: pass\n      \
             api.deprecated: {{outcome: warn, count: 1, path: apiVersion, message: \"deprecated since Kubernetes 1\\\\.{} and removed in 1\\\\.{}: {}\"}}\n",
            row.api_version,
            row.kind,
            row.deprecated,
            row.removed,
            escaped(&advice(row)),
        );
        let before = row.deprecated - 1;
        let _ = write!(
            out,
            "  - name: {} {} on 1.{before}, before its deprecation\n    object: {object}\n    \
             params: {{api.removed.kube_minor: {before}, api.deprecated.kube_minor: {before}}}\n    expect:\n      \
             api.removed: pass\n      api.deprecated: pass\n",
            row.api_version, row.kind,
        );
    }
    out
}

/// Writes `text` to `rel` with UPDATE_API_RULES set; else asserts the file holds it.
fn check(rel: &str, text: &str) {
    let path = root().join(rel);
    if std::env::var_os("UPDATE_API_RULES").is_some() {
        std::fs::write(&path, text).expect("the generated file is writable");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == text,
        "{rel} is stale: run `UPDATE_API_RULES=1 cargo test --test api_rules`"
    );
}

#[test]
fn api_rules_are_generated_from_the_table() {
    // Written in the canonical style, so that `rampart fmt --check stdlib` passes on it.
    let rules = rampart_compiler::format::format_source(&render_rules(&table()))
        .expect("the generated rules parse");
    check("stdlib/policies/api.rp", &rules);
}

#[test]
fn api_tests_are_generated_from_the_table() {
    check("stdlib/tests/api.test.yaml", &render_tests(&table()));
}

#[test]
fn the_table_is_consistent() {
    let rows = table();
    assert!(!rows.is_empty());
    for row in &rows {
        let name = format!("{} {}", row.api_version, row.kind);
        assert!(
            row.deprecated < row.removed,
            "{name}: deprecated after its removal"
        );
        assert!(
            row.removed <= schema_minor(),
            "{name}: removed after the embedded schema's version; the default target would not report it"
        );
        let same = rows
            .iter()
            .filter(|r| r.api_version == row.api_version && r.kind == row.kind)
            .count();
        assert_eq!(same, 1, "{name} appears {same} times");
        assert_ne!(row.replacement, row.api_version, "{name} replaces itself");
    }
}

#[test]
fn every_row_is_a_kind_the_compiler_knows() {
    // The rules match each row by group/version/kind: a removed version the compiler does
    // not know would not compile, and this names the row instead.
    let c = rampart_stdlib::compile();
    let program = c.program.expect("the standard library compiles");
    let removed = program
        .rules
        .iter()
        .find(|r| r.id == "api.removed")
        .expect("api.removed exists");
    for row in table() {
        let (group, version) = row
            .api_version
            .split_once('/')
            .unwrap_or(("", row.api_version.as_str()));
        assert!(
            removed.matcher.targets.iter().any(|t| t.gvk.group == group
                && t.gvk.version == version
                && t.gvk.kind == row.kind),
            "api.removed does not match {} {}",
            row.api_version,
            row.kind
        );
    }
}
