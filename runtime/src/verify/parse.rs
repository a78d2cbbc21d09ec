//! Reads `*.test.yaml` files (spec/testing.md) and checks them before anything runs: every
//! problem is an error with the file and line, so a test can never pass by accident.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::eval::{AdmissionContext, Operation, Params, RuleInfo, UserInfo};
use crate::manifest::{self, Node, Value};

/// What a case expects from one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Pass,
    Deny,
    Warn,
    Skip,
}

impl Outcome {
    /// The word used in test files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Deny => "deny",
            Outcome::Warn => "warn",
            Outcome::Skip => "skip",
        }
    }

    fn parse(word: &str) -> Option<Outcome> {
        match word {
            "pass" => Some(Outcome::Pass),
            "deny" => Some(Outcome::Deny),
            "warn" => Some(Outcome::Warn),
            "skip" => Some(Outcome::Skip),
            _ => None,
        }
    }
}

/// One expectation: a rule, its outcome and the optional details a finding must show.
#[derive(Clone, Debug)]
pub struct Expectation {
    pub rule: String,
    pub outcome: Outcome,
    pub count: Option<usize>,
    pub message: Option<Regex>,
    pub path: Option<String>,
    pub line: Option<u32>,
    /// Line of the expectation in the test file.
    pub at: u32,
    /// `fixed`: the outcome expected once the rule's fixes are applied, and its line.
    pub fixed: Option<(Outcome, u32)>,
    /// `fixed_object`: the object expected once the rule's fixes are applied, and its line.
    pub fixed_object: Option<(serde_json::Value, u32)>,
    /// `generated`: the objects the findings generate, in order, and its line.
    pub generated: Option<(Vec<serde_json::Value>, u32)>,
}

/// One case: an object, the objects checked together with it, and its expectations.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub object: Node,
    /// The object and the objects of `with`, for `objects(Kind)`.
    pub set: Vec<Node>,
    /// Parameter overrides of `params`.
    pub params: Params,
    /// Each override as written, with its line, for the type check before running.
    pub param_lines: Vec<(String, String, serde_json::Value, u32)>,
    pub expects: Vec<Expectation>,
    /// The admission request the case is evaluated under (`operation`, `userInfo`,
    /// `dryRun`, `oldObject` or `old`): a `CREATE` when the case sets none.
    pub context: AdmissionContext,
}

/// Which policies a test file tests: the embedded standard library, or these `.rp` paths.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PolicySet {
    Stdlib,
    Paths(Vec<PathBuf>),
}

/// A test file's top level, read before the policies are compiled.
#[derive(Clone, Debug)]
pub struct Header {
    pub policies: PolicySet,
    /// Line of `policies` (or 1), where compile errors are reported.
    pub at: u32,
    pub root: Node,
    pub text: String,
}

/// Collects errors as `file:line: message`.
pub struct Errors<'a> {
    pub file: &'a str,
    pub list: &'a mut Vec<String>,
}

impl Errors<'_> {
    fn push(&mut self, line: u32, message: impl AsRef<str>) {
        self.list
            .push(format!("{}:{line}: {}", self.file, message.as_ref()));
    }
}

/// Marker keys appended to a test file so the manifest loader, which only keeps documents
/// with `apiVersion` and `kind`, returns its top level with positions intact. They go at the
/// end so that every line number of the file stays as written.
const MARKER: &str = "\napiVersion: rampart.dev/v1\nkind: RampartTestFile\n";

/// Reads a test file's top level and its `policies`.
pub fn read_header(path: &Path, errors: &mut Errors) -> Option<Header> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(1, format!("cannot read the test file: {e}"));
            return None;
        }
    };
    let padded = format!("{text}{MARKER}");
    let loaded = match manifest::load(&padded, &manifest::Limits::default()) {
        Ok(l) => l,
        Err(e) if e.line as usize > text.lines().count() => {
            errors.push(
                e.line.min(text.lines().count().max(1) as u32),
                "a test file must be one YAML mapping with `cases` (and optionally `policies`)",
            );
            return None;
        }
        Err(e) => {
            errors.push(e.line, format!("invalid YAML: {}", e.message));
            return None;
        }
    };
    if loaded.objects.len() != 1 || loaded.skipped != 0 {
        errors.push(
            1,
            "a test file must be one YAML document: a mapping with `cases` (and optionally `policies`)",
        );
        return None;
    }
    let root = loaded.objects.into_iter().next()?.node;
    let mut ok = true;
    for (key, value) in root.as_map().unwrap_or_default() {
        if !["policies", "cases", "apiVersion", "kind"].contains(&key.as_str()) {
            errors.push(
                key_line(&text, key, value, 1),
                format!("unknown key `{key}` (a test file has `policies` and `cases`)"),
            );
            ok = false;
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let (policies, at) = match root.get("policies") {
        None => (PolicySet::Stdlib, 1),
        Some(node) => {
            let at = key_line(&text, "policies", node, 1);
            let items: Vec<&Node> = match &node.value {
                Value::String(_) => vec![node],
                Value::List(items) => items.iter().collect(),
                _ => vec![],
            };
            if items.is_empty() {
                errors.push(at, "`policies` must be a path or a list of paths");
                return None;
            }
            let mut paths = Vec::new();
            for item in items {
                let Some(p) = item.as_str() else {
                    errors.push(item.line, "`policies` must be a path or a list of paths");
                    ok = false;
                    continue;
                };
                let full = dir.join(p);
                if !full.exists() {
                    errors.push(item.line, format!("policy path `{p}` does not exist"));
                    ok = false;
                }
                paths.push(full);
            }
            paths.sort();
            (PolicySet::Paths(paths), at)
        }
    };
    ok.then_some(Header {
        policies,
        at,
        root,
        text,
    })
}

/// Reads and checks the cases of a test file against the rules of its policies.
pub fn read_cases(
    path: &Path,
    header: &Header,
    rules: &[RuleInfo],
    errors: &mut Errors,
) -> Vec<Case> {
    let text = &header.text;
    let dir = path.parent().unwrap_or(Path::new("."));
    let Some(cases) = header.root.get("cases") else {
        errors.push(1, "the test file has no `cases`");
        return Vec::new();
    };
    let Some(items) = cases.as_list().filter(|l| !l.is_empty()) else {
        errors.push(
            key_line(text, "cases", cases, 1),
            "`cases` must be a non-empty list",
        );
        return Vec::new();
    };
    let by_id: BTreeMap<&str, &RuleInfo> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(case) = read_case(index, item, text, dir, &by_id, errors) {
            out.push(case);
        }
    }
    out
}

fn read_case(
    index: usize,
    node: &Node,
    text: &str,
    dir: &Path,
    rules: &BTreeMap<&str, &RuleInfo>,
    errors: &mut Errors,
) -> Option<Case> {
    let Some(entries) = node.as_map() else {
        errors.push(
            node.line,
            "a case must be a mapping with `object` or `file`, and `expect`",
        );
        return None;
    };
    let mut ok = true;
    for (key, value) in entries {
        if !CASE_KEYS.contains(&key.as_str()) {
            let hint = rampart_compiler::diagnostics::did_you_mean(key, CASE_KEYS.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            errors.push(
                key_line(text, key, value, node.line),
                format!("unknown key `{key}` in a case{hint}"),
            );
            ok = false;
        }
    }
    let name = match node.get("name") {
        None => format!("case {}", index + 1),
        Some(n) => match n.as_str() {
            Some(s) => s.to_string(),
            None => {
                errors.push(n.line, "a case's `name` must be a string");
                return None;
            }
        },
    };
    let object = match (node.get("object"), node.get("file")) {
        (Some(_), Some(f)) => {
            errors.push(
                f.line,
                format!("case `{name}` has both `object` and `file`"),
            );
            return None;
        }
        (None, None) => {
            errors.push(
                node.line,
                format!("case `{name}` has neither `object` nor `file`"),
            );
            return None;
        }
        (Some(o), None) => inline_object(o, &name, errors)?,
        (None, Some(f)) => {
            let select = node.get("select").map(|s| Select::read(s, &name, errors));
            file_object(f, dir, &name, select.flatten().as_ref(), errors)?
        }
    };
    let context = read_context(node, &name, dir, errors)?;
    let mut set = vec![object.clone()];
    if let Some(with) = node.get("with") {
        let Some(list) = with.as_list() else {
            errors.push(
                with.line,
                "`with` must be a list of objects or `{file: path}` entries",
            );
            return None;
        };
        for item in list {
            let extra = match item.get("file") {
                Some(f) if item.as_map().is_some_and(|m| m.len() == 1) => {
                    file_object(f, dir, &name, None, errors)
                }
                _ => inline_object(item, &name, errors),
            };
            match extra {
                Some(o) => set.push(o),
                None => ok = false,
            }
        }
    }
    let mut params = Params::default();
    let mut param_lines = Vec::new();
    if let Some(p) = node.get("params") {
        let Some(entries) = p.as_map() else {
            errors.push(
                p.line,
                format!("case `{name}`: `params` must map `rule.id.param` to values"),
            );
            return None;
        };
        for (key, value) in entries {
            let at = key_line(text, key, value, p.line);
            let Some((rule_id, param)) = key.rsplit_once('.') else {
                errors.push(
                    at,
                    format!("case `{name}`: parameter `{key}` must be written `rule.id.param`"),
                );
                ok = false;
                continue;
            };
            let Some(rule) = rules.get(rule_id) else {
                let hint =
                    rampart_compiler::diagnostics::did_you_mean(rule_id, rules.keys().copied())
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                errors.push(
                    at,
                    format!("case `{name}`: unknown rule `{rule_id}` in parameter `{key}`{hint}"),
                );
                ok = false;
                continue;
            };
            if !rule.params.iter().any(|q| q.name == param) {
                errors.push(
                    at,
                    format!("case `{name}`: rule `{rule_id}` has no parameter `{param}`"),
                );
                ok = false;
                continue;
            }
            params.set(rule_id, param, value.to_json());
            param_lines.push((rule_id.to_string(), param.to_string(), value.to_json(), at));
        }
    }
    let expects = match node.get("expect") {
        None => {
            errors.push(node.line, format!("case `{name}` has no `expect`"));
            return None;
        }
        Some(e) => read_expects(e, &name, &object, text, rules, errors)?,
    };
    ok.then_some(Case {
        name,
        object,
        set,
        params,
        param_lines,
        expects,
        context,
    })
}

/// The admission request of a case: `operation` (CREATE, UPDATE, DELETE or CONNECT),
/// `userInfo` (`username`, `uid`, `groups`), `dryRun`, and the object before the request,
/// inline (`oldObject`) or in a file (`old`, one object, or the one `select` picks).
fn read_context(
    node: &Node,
    case: &str,
    dir: &Path,
    errors: &mut Errors,
) -> Option<AdmissionContext> {
    let mut context = AdmissionContext::create();
    let mut ok = true;
    if let Some(op) = node.get("operation") {
        match op.as_str().map(str::parse::<Operation>) {
            Some(Ok(o)) => context.operation = o,
            Some(Err(e)) => {
                errors.push(op.line, format!("case `{case}`: {e}"));
                ok = false;
            }
            None => {
                errors.push(
                    op.line,
                    format!("case `{case}`: `operation` must be a string"),
                );
                ok = false;
            }
        }
    }
    if let Some(u) = node.get("userInfo") {
        let text = |k: &str| u.get(k).and_then(Node::as_str).map(str::to_string);
        let groups: Option<Vec<String>> = match u.get("groups") {
            None => Some(Vec::new()),
            Some(g) => g
                .as_list()
                .and_then(|l| l.iter().map(|x| x.as_str().map(str::to_string)).collect()),
        };
        let valid = u.as_map().is_some_and(|m| {
            m.iter().all(|(k, v)| match k.as_str() {
                "username" | "uid" => v.as_str().is_some(),
                "groups" => true,
                _ => false,
            })
        });
        match groups.filter(|_| valid) {
            Some(groups) => {
                context.user_info = UserInfo {
                    username: text("username").unwrap_or_default(),
                    uid: text("uid").unwrap_or_default(),
                    groups,
                }
            }
            None => {
                errors.push(
                    u.line,
                    format!(
                        "case `{case}`: `userInfo` takes `username` and `uid` (strings) and `groups` (a list of strings)"
                    ),
                );
                ok = false;
            }
        }
    }
    if let Some(d) = node.get("dryRun") {
        match d.as_bool() {
            Some(b) => context.dry_run = b,
            None => {
                errors.push(
                    d.line,
                    format!("case `{case}`: `dryRun` must be true or false"),
                );
                ok = false;
            }
        }
    }
    context.old_object = match (node.get("oldObject"), node.get("old")) {
        (Some(_), Some(f)) => {
            errors.push(
                f.line,
                format!("case `{case}` has both `oldObject` and `old`"),
            );
            return None;
        }
        (Some(o), None) => Some(inline_object(o, case, errors)?),
        (None, Some(f)) => {
            let select = node.get("select").map(|s| Select::read(s, case, errors));
            Some(file_object(
                f,
                dir,
                case,
                select.flatten().as_ref(),
                errors,
            )?)
        }
        (None, None) => None,
    };
    if context.old_object.is_some()
        && !matches!(context.operation, Operation::Update | Operation::Delete)
    {
        let line = node
            .get("oldObject")
            .or(node.get("old"))
            .map_or(node.line, |n| n.line);
        errors.push(
            line,
            format!(
                "case `{case}`: an old object needs `operation: UPDATE` or `operation: DELETE` (the request is a {})",
                context.operation
            ),
        );
        ok = false;
    }
    ok.then_some(context)
}

/// An inline object: a mapping with string `apiVersion` and `kind`.
fn inline_object(node: &Node, case: &str, errors: &mut Errors) -> Option<Node> {
    let typed = node.get("apiVersion").and_then(Node::as_str).is_some()
        && node.get("kind").and_then(Node::as_str).is_some();
    if !typed {
        errors.push(
            node.line,
            format!("case `{case}`: an object needs string `apiVersion` and `kind`"),
        );
        return None;
    }
    Some(node.clone())
}

/// The keys of a case.
const CASE_KEYS: &[&str] = &[
    "name",
    "object",
    "file",
    "select",
    "with",
    "params",
    "expect",
    "operation",
    "userInfo",
    "dryRun",
    "oldObject",
    "old",
];

/// `select: {kind: K, name: N}`: which object of a `file` holding several a case tests.
struct Select {
    kind: Option<String>,
    name: Option<String>,
}

impl Select {
    fn read(node: &Node, case: &str, errors: &mut Errors) -> Option<Select> {
        let text = |key: &str| node.get(key).and_then(Node::as_str).map(str::to_string);
        let valid = node.as_map().is_some_and(|m| {
            !m.is_empty()
                && m.iter()
                    .all(|(k, v)| ["kind", "name"].contains(&k.as_str()) && v.as_str().is_some())
        });
        if !valid {
            errors.push(
                node.line,
                format!("case `{case}`: `select` takes `kind` and/or `name` (strings)"),
            );
            return None;
        }
        Some(Select {
            kind: text("kind"),
            name: text("name"),
        })
    }

    fn matches(&self, o: &manifest::Object) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == o.kind)
            && self
                .name
                .as_ref()
                .is_none_or(|n| o.name.as_ref() == Some(n))
    }
}

/// The one Kubernetes object of a file named relative to the test file, or the one `select`
/// picks among several.
fn file_object(
    node: &Node,
    dir: &Path,
    case: &str,
    select: Option<&Select>,
    errors: &mut Errors,
) -> Option<Node> {
    let Some(name) = node.as_str() else {
        errors.push(node.line, format!("case `{case}`: `file` must be a path"));
        return None;
    };
    let full = dir.join(name);
    let bytes = match std::fs::read(&full) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            errors.push(
                node.line,
                format!("case `{case}`: file `{name}` does not exist"),
            );
            return None;
        }
        Err(e) => {
            errors.push(
                node.line,
                format!("case `{case}`: cannot read `{name}`: {e}"),
            );
            return None;
        }
    };
    match manifest::load_bytes(&bytes, &manifest::Limits::default()) {
        Err(e) => {
            errors.push(
                node.line,
                format!("case `{case}`: `{name}`:{}: {}", e.line, e.message),
            );
            None
        }
        Ok(loaded) if select.is_some() => {
            let select = select?;
            let mut found: Vec<_> = loaded
                .objects
                .into_iter()
                .filter(|o| select.matches(o))
                .collect();
            if found.len() == 1 {
                return found.pop().map(|o| o.node);
            }
            errors.push(
                node.line,
                format!(
                    "case `{case}`: `select` picks {} objects of `{name}`, it must pick one",
                    found.len()
                ),
            );
            None
        }
        Ok(loaded) if loaded.objects.len() == 1 && loaded.skipped == 0 => {
            loaded.objects.into_iter().next().map(|o| o.node)
        }
        Ok(loaded) => {
            errors.push(
                node.line,
                format!(
                    "case `{case}`: `{name}` must hold exactly one Kubernetes object, it holds {} (pick one with `select: {{kind: …, name: …}}`)",
                    loaded.objects.len() + loaded.skipped
                ),
            );
            None
        }
    }
}

fn read_expects(
    node: &Node,
    case: &str,
    object: &Node,
    text: &str,
    rules: &BTreeMap<&str, &RuleInfo>,
    errors: &mut Errors,
) -> Option<Vec<Expectation>> {
    let Some(entries) = node.as_map().filter(|m| !m.is_empty()) else {
        errors.push(
            node.line,
            format!("case `{case}`: `expect` must map rule ids to outcomes"),
        );
        return None;
    };
    let api_version = object
        .get("apiVersion")
        .and_then(Node::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Node::as_str).unwrap_or("");
    let mut out = Vec::new();
    let mut ok = true;
    for (rule_id, value) in entries {
        let at = key_line(text, rule_id, value, node.line);
        let Some(rule) = rules.get(rule_id.as_str()) else {
            let hint = rampart_compiler::diagnostics::did_you_mean(rule_id, rules.keys().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            errors.push(at, format!("case `{case}`: unknown rule `{rule_id}`{hint}"));
            ok = false;
            continue;
        };
        let Some(expectation) = read_expectation(rule_id, value, at, case, errors) else {
            ok = false;
            continue;
        };
        // A rule that cannot match the kind always skips: expecting anything else could
        // never mean what it says.
        let kind_matches = rule
            .matcher
            .targets
            .iter()
            .any(|t| t.gvk.matches(api_version, kind));
        if expectation.outcome != Outcome::Skip && !kind_matches {
            let kinds: Vec<String> = rule
                .matcher
                .targets
                .iter()
                .map(|t| t.gvk.kind.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            errors.push(
                at,
                format!(
                    "case `{case}`: rule `{rule_id}` cannot match a `{kind}` (`{api_version}`), so it can only skip; it matches {}",
                    kinds
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            ok = false;
            continue;
        }
        out.push(expectation);
    }
    ok.then_some(out)
}

fn read_expectation(
    rule: &str,
    value: &Node,
    at: u32,
    case: &str,
    errors: &mut Errors,
) -> Option<Expectation> {
    let bad_outcome = |word: &str| {
        format!("case `{case}`: unknown outcome `{word}` for `{rule}` (expected pass, deny, warn or skip)")
    };
    let mut e = Expectation {
        rule: rule.to_string(),
        outcome: Outcome::Pass,
        count: None,
        message: None,
        path: None,
        line: None,
        at,
        fixed: None,
        fixed_object: None,
        generated: None,
    };
    if let Some(word) = value.as_str() {
        let Some(outcome) = Outcome::parse(word) else {
            errors.push(at, bad_outcome(word));
            return None;
        };
        e.outcome = outcome;
        return Some(e);
    }
    let Some(entries) = value.as_map() else {
        errors.push(
            at,
            format!("case `{case}`: the expectation for `{rule}` must be an outcome or a mapping with `outcome`"),
        );
        return None;
    };
    let mut ok = true;
    for (key, v) in entries {
        match key.as_str() {
            "outcome" => match v.as_str().and_then(Outcome::parse) {
                Some(o) => e.outcome = o,
                None => {
                    let word = v
                        .as_str()
                        .map_or_else(|| format!("{:?}", v.to_json()), str::to_string);
                    errors.push(v.line, bad_outcome(&word));
                    ok = false;
                }
            },
            "count" => match v.as_i64().and_then(|n| usize::try_from(n).ok()) {
                Some(n) => e.count = Some(n),
                None => {
                    errors.push(
                        v.line,
                        format!("case `{case}`: `count` must be a non-negative integer"),
                    );
                    ok = false;
                }
            },
            "message" => match v.as_str().map(Regex::new) {
                Some(Ok(re)) => e.message = Some(re),
                Some(Err(err)) => {
                    let first = err.to_string();
                    let reason = first.lines().last().unwrap_or("").trim();
                    let pattern = v.as_str().unwrap_or("");
                    errors.push(
                        v.line,
                        format!("case `{case}`: invalid `message` regex `{pattern}`: {reason}"),
                    );
                    ok = false;
                }
                None => {
                    errors.push(
                        v.line,
                        format!("case `{case}`: `message` must be a string (a regex)"),
                    );
                    ok = false;
                }
            },
            "path" => match v.as_str() {
                Some(p) => e.path = Some(p.to_string()),
                None => {
                    errors.push(v.line, format!("case `{case}`: `path` must be a string"));
                    ok = false;
                }
            },
            "line" => match v.as_i64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => e.line = Some(n),
                None => {
                    errors.push(
                        v.line,
                        format!("case `{case}`: `line` must be a positive integer"),
                    );
                    ok = false;
                }
            },
            "fixed" => match v.as_str().and_then(Outcome::parse) {
                Some(o) if o != Outcome::Skip => e.fixed = Some((o, v.line)),
                _ => {
                    let word = v
                        .as_str()
                        .map_or_else(|| format!("{:?}", v.to_json()), str::to_string);
                    errors.push(
                        v.line,
                        format!("case `{case}`: unknown `fixed` outcome `{word}` for `{rule}` (expected pass, deny or warn)"),
                    );
                    ok = false;
                }
            },
            "fixed_object" => match v.as_map() {
                Some(_) => e.fixed_object = Some((v.to_json(), key_line_near(v.line, at))),
                None => {
                    errors.push(
                        v.line,
                        format!("case `{case}`: `fixed_object` must be a mapping (the whole object after the fixes)"),
                    );
                    ok = false;
                }
            },
            "generated" => match v
                .as_list()
                .filter(|l| l.iter().all(|o| o.as_map().is_some()))
            {
                Some(list) => {
                    let objects = list.iter().map(Node::to_json).collect();
                    e.generated = Some((objects, key_line_near(v.line, at)));
                }
                None => {
                    errors.push(
                        v.line,
                        format!("case `{case}`: `generated` must be a list of mappings (the objects the findings generate)"),
                    );
                    ok = false;
                }
            },
            other => {
                errors.push(
                    key_line_near(v.line, at),
                    format!("case `{case}`: unknown key `{other}` in the expectation for `{rule}` (outcome, count, message, path, line, fixed, fixed_object, generated)"),
                );
                ok = false;
            }
        }
    }
    if value.get("outcome").is_none() {
        errors.push(
            at,
            format!("case `{case}`: the expectation for `{rule}` has no `outcome`"),
        );
        ok = false;
    }
    let details = e.count.is_some() || e.message.is_some() || e.path.is_some() || e.line.is_some();
    if details && !matches!(e.outcome, Outcome::Deny | Outcome::Warn) {
        errors.push(
            at,
            format!("case `{case}`: `count`, `message`, `path` and `line` describe findings, so they need outcome `deny` or `warn`"),
        );
        ok = false;
    }
    let fixes = e.fixed.is_some() || e.fixed_object.is_some();
    if fixes && !matches!(e.outcome, Outcome::Deny | Outcome::Warn) {
        errors.push(
            at,
            format!("case `{case}`: `fixed` and `fixed_object` describe the fixes of findings, so they need outcome `deny` or `warn`"),
        );
        ok = false;
    }
    if e.generated.is_some() && !matches!(e.outcome, Outcome::Deny | Outcome::Warn) {
        errors.push(
            at,
            format!("case `{case}`: `generated` describes the objects findings generate, so it needs outcome `deny` or `warn`"),
        );
        ok = false;
    }
    if let (None, Some((_, line))) = (&e.fixed, &e.fixed_object) {
        errors.push(
            *line,
            format!(
                "case `{case}`: `fixed_object` needs `fixed`, the outcome expected after the fixes"
            ),
        );
        ok = false;
    }
    ok.then_some(e)
}

fn key_line_near(value_line: u32, at: u32) -> u32 {
    value_line.max(at)
}

/// The line of `key` in a mapping: the value's own line for scalars and flow collections;
/// for a block collection (which starts on a later line) the nearest line above it naming
/// the key.
fn key_line(text: &str, key: &str, value: &Node, floor: u32) -> u32 {
    let lines: Vec<&str> = text.lines().collect();
    let mut line = value.line;
    while line >= floor.max(1) {
        if let Some(l) = lines.get(line as usize - 1) {
            let trimmed = l.trim_start().trim_start_matches("- ");
            let unquoted = trimmed.trim_start_matches(['"', '\'']);
            if unquoted.starts_with(key) {
                return line;
            }
        }
        if line == 1 {
            break;
        }
        line -= 1;
    }
    value.line
}
