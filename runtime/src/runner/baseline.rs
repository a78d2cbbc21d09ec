//! `--baseline`: a previous `rampart test -o json` report whose findings are known and let
//! pass. A finding matches an entry by rule, object identity (apiVersion, kind, namespace,
//! name) and field path, never by line, so edits elsewhere in a file keep it matched; when
//! one object appears in several files, an entry of the same file is taken first.

use std::collections::HashMap;

use serde::Deserialize;

use super::{ObjectResult, Violation};

/// What identifies a finding across runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    rule: String,
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: Option<String>,
    path: String,
}

/// A baseline entry that no finding of this run matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    /// The rule id.
    pub rule: String,
    /// `Kind namespace/name` of the object.
    pub object: String,
    /// The field path.
    pub path: String,
    /// The file it was found in.
    pub file: String,
}

impl Stale {
    /// `rule `r` on Kind ns/name at `path` (file)`.
    pub fn describe(&self) -> String {
        format!(
            "rule `{}` on {} at `{}` (in `{}`)",
            self.rule, self.object, self.path, self.file
        )
    }
}

/// One entry: the file it was found in, and whether a finding has matched it.
struct Entry {
    file: String,
    used: bool,
}

/// The findings of a previous report.
pub struct Baseline {
    /// The baseline file, as named on the command line.
    pub file: String,
    entries: HashMap<Key, Vec<Entry>>,
}

/// The parts of the JSON report (`report::json`) that a baseline reads.
#[derive(Deserialize)]
struct Document {
    version: u32,
    results: Vec<JsonResult>,
}

#[derive(Deserialize)]
struct JsonResult {
    file: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: Option<String>,
    violations: Vec<JsonViolation>,
}

#[derive(Deserialize)]
struct JsonViolation {
    rule: String,
    path: String,
}

impl Baseline {
    /// Reads a `-o json` report; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<Baseline, String> {
        let doc: Document = serde_json::from_str(text).map_err(|e| {
            format!(
                "`{file}`:{}:{}: not a `rampart test -o json` report: {e}",
                e.line(),
                e.column()
            )
        })?;
        if doc.version != 1 {
            return Err(format!(
                "`{file}`: report version {} is not supported (expected 1)",
                doc.version
            ));
        }
        let mut entries: HashMap<Key, Vec<Entry>> = HashMap::new();
        for r in doc.results {
            for v in r.violations {
                let key = Key {
                    rule: v.rule,
                    api_version: r.api_version.clone(),
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                    path: v.path,
                };
                entries.entry(key).or_default().push(Entry {
                    file: r.file.clone(),
                    used: false,
                });
            }
        }
        Ok(Baseline {
            file: file.to_string(),
            entries,
        })
    }

    /// Whether the baseline holds `v` (found on `r`); the matching entry is used up, so that
    /// a second identical finding is new.
    pub fn take(&mut self, r: &ObjectResult, v: &Violation) -> bool {
        let key = Key {
            rule: v.rule.to_string(),
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            path: v.path.clone(),
        };
        let Some(entries) = self.entries.get_mut(&key) else {
            return false;
        };
        let free = entries
            .iter()
            .position(|e| !e.used && e.file == r.file)
            .or_else(|| entries.iter().position(|e| !e.used));
        match free {
            Some(i) => {
                entries[i].used = true;
                true
            }
            None => false,
        }
    }

    /// The entries no finding matched, in a stable order.
    pub fn stale(self) -> Vec<Stale> {
        let mut stale: Vec<Stale> = self
            .entries
            .into_iter()
            .flat_map(|(key, entries)| {
                entries.into_iter().filter(|e| !e.used).map(move |e| {
                    let name = key.name.as_deref().unwrap_or("<unnamed>");
                    let object = match &key.namespace {
                        Some(ns) => format!("{} {ns}/{name}", key.kind),
                        None => format!("{} {name}", key.kind),
                    };
                    Stale {
                        rule: key.rule.clone(),
                        object,
                        path: key.path.clone(),
                        file: e.file,
                    }
                })
            })
            .collect();
        stale.sort_by(|a, b| {
            (&a.file, &a.object, &a.rule, &a.path).cmp(&(&b.file, &b.object, &b.rule, &b.path))
        });
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(file: &str, name: &str, rule: &str, path: &str) -> (ObjectResult, Violation) {
        let r = ObjectResult {
            file: file.into(),
            document: 0,
            item: None,
            line: 1,
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some("web".into()),
            name: Some(name.into()),
            violations: Vec::new(),
            error: None,
            failed_rules: Vec::new(),
            applicable: Vec::new(),
            rules: Default::default(),
        };
        let v = Violation {
            rule: rule.into(),
            action: crate::eval::Action::Deny,
            severity: "high".into(),
            message: String::new(),
            path: path.into(),
            line: 40,
            col: 3,
            source_line: String::new(),
            exemption: None,
            at_threshold: true,
            baselined: false,
            fixes: Vec::new(),
            generated: None,
        };
        (r, v)
    }

    const REPORT: &str = r#"{"version": 1, "summary": {}, "results": [
      {"file": "a.yaml", "document": 0, "line": 1, "apiVersion": "v1", "kind": "Pod",
       "namespace": "web", "name": "api", "violations": [
         {"rule": "r.one", "path": "spec.x", "line": 9, "column": 3},
         {"rule": "r.two", "path": "spec.y", "line": 10, "column": 3}]},
      {"file": "b.yaml", "document": 0, "line": 1, "apiVersion": "v1", "kind": "Pod",
       "namespace": "web", "name": "api", "violations": [
         {"rule": "r.one", "path": "spec.x", "line": 9, "column": 3}]}]}"#;

    #[test]
    fn matches_by_rule_object_and_path_not_by_line_and_lists_the_rest() {
        let mut b = Baseline::parse("base.json", REPORT).unwrap();
        let (r, v) = result("b.yaml", "api", "r.one", "spec.x");
        assert!(b.take(&r, &v), "same identity, other line");
        let (r, v) = result("b.yaml", "api", "r.one", "spec.x");
        assert!(b.take(&r, &v), "the entry of a.yaml is the second one");
        assert!(!b.take(&r, &v), "both entries are used up");
        let (r, v) = result("a.yaml", "web", "r.two", "spec.y");
        assert!(!b.take(&r, &v), "another object");
        let stale = b.stale();
        assert_eq!(stale.len(), 1);
        assert_eq!(
            stale[0].describe(),
            "rule `r.two` on Pod web/api at `spec.y` (in `a.yaml`)"
        );
    }

    #[test]
    fn the_same_file_is_taken_first() {
        let mut b = Baseline::parse("base.json", REPORT).unwrap();
        let (r, v) = result("a.yaml", "api", "r.one", "spec.x");
        assert!(b.take(&r, &v));
        let stale = b.stale();
        let left: Vec<(&str, &str)> = stale
            .iter()
            .map(|s| (s.rule.as_str(), s.file.as_str()))
            .collect();
        assert_eq!(left, [("r.two", "a.yaml"), ("r.one", "b.yaml")]);
    }

    #[test]
    fn a_file_that_is_no_report_is_refused_with_its_position() {
        let e = Baseline::parse("b.json", "{\"version\": 1,\n \"results\": 3}")
            .err()
            .unwrap();
        assert!(e.starts_with("`b.json`:2:"), "{e}");
        let e = Baseline::parse("b.json", r#"{"version": 2, "results": []}"#)
            .err()
            .unwrap();
        assert!(e.contains("version 2"), "{e}");
    }
}
