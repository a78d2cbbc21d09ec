//! Exceptions: explicit, time-bound, tracked exemptions of findings.
//!
//! They come from an object's own annotations (`rampart.dev/exempt: "<rule glob>,…"`,
//! `rampart.dev/exempt-reason`, `rampart.dev/exempt-owner`, `rampart.dev/exempt-until:
//! YYYY-MM-DD`) or from an
//! `--exceptions` file:
//!
//! ```yaml
//! apiVersion: rampart.dev/v1alpha1
//! kind: Exceptions
//! exceptions:
//!   - rules: ["pss.baseline.privileged"]
//!     match: {kind: DaemonSet, namespace: "kube-*", name: "*"}
//!     reason: "the CNI agent needs the host network"
//!     owner: "platform-team"
//!     expires: "2026-12-31"
//! ```
//!
//! Both are read strictly (spec/config.md): an unknown key, a wrong type, an unknown rule or
//! a bad date is an error at its line, and a malformed exception never exempts anything.

use super::config::{suggestion, ConfigFile};
use super::RunError;
use crate::eval::select::glob;
use crate::manifest::{Node, Object};

/// The annotation listing the rule globs an object is exempt from.
pub const EXEMPT: &str = "rampart.dev/exempt";
/// The annotation saying why.
pub const EXEMPT_REASON: &str = "rampart.dev/exempt-reason";
/// The annotation saying who is accountable for the exemption.
pub const EXEMPT_OWNER: &str = "rampart.dev/exempt-owner";
/// The annotation saying until when (inclusive).
pub const EXEMPT_UNTIL: &str = "rampart.dev/exempt-until";

/// A calendar date (UTC), compared as year, month, day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day, 1 to 31.
    pub day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year = text[0..4].parse().ok()?;
        let month: u32 = text[5..7].parse().ok()?;
        let day: u32 = text[8..10].parse().ok()?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// Today in UTC.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_days((secs / 86_400) as i64)
    }

    /// The date `days` days after 1970-01-01 (Howard Hinnant's civil-from-days).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One exception: which findings it exempts, why, and until when.
#[derive(Clone, Debug)]
pub struct Exception {
    /// Rule id globs.
    pub rules: Vec<String>,
    /// Object selector globs; `None` matches every object.
    pub kind: Option<String>,
    /// Namespace glob; an object without a namespace matches only `None`.
    pub namespace: Option<String>,
    /// Name glob.
    pub name: Option<String>,
    /// Why the exception exists (required).
    pub reason: String,
    /// Who is accountable for it.
    pub owner: Option<String>,
    /// Last day on which it applies.
    pub expires: Option<Date>,
    /// Where it was written: `annotation` or `FILE:LINE`.
    pub origin: String,
    /// File and position, for notices.
    pub file: String,
    /// Line of the exception.
    pub line: u32,
    /// Column of the exception.
    pub col: u32,
}

impl Exception {
    /// Whether the exception covers this rule on this object (ignoring expiry).
    pub fn covers(&self, rule: &str, object: &Object) -> bool {
        let selector = |glob_text: &Option<String>, value: Option<&str>| match glob_text {
            None => true,
            Some(g) => value.is_some_and(|v| glob(v, g)),
        };
        self.rules.iter().any(|g| glob(rule, g))
            && selector(&self.kind, Some(&object.kind))
            && selector(&self.namespace, object.namespace.as_deref())
            && selector(&self.name, object.name.as_deref())
    }

    /// Whether the exception has expired on `today`.
    pub fn expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|until| until < today)
    }
}

/// What reading exceptions produced: the exceptions, errors, and notices (warnings).
#[derive(Debug, Default)]
pub struct Loaded {
    /// The exceptions that were well-formed.
    pub exceptions: Vec<Exception>,
    /// Malformed exceptions (an exception without a reason, a bad date…).
    pub errors: Vec<RunError>,
    /// Exceptions naming no known rule, expired exceptions.
    pub notices: Vec<RunError>,
}

/// What exceptions are checked against.
#[derive(Clone, Copy, Debug)]
pub struct Checks<'a> {
    /// Every rule id of the policies (selected or not).
    pub known: &'a [String],
    /// The day expiry dates are compared with.
    pub today: Date,
    /// `--require-owner-and-expiry`: an exception without an owner or an expiry date is an
    /// error.
    pub require_owner_and_expiry: bool,
}

/// The keys of a `kind: Exceptions` document.
const DOCUMENT_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "exceptions"];
/// The keys of one exception.
const EXCEPTION_KEYS: &[&str] = &["rule", "rules", "match", "reason", "owner", "expires"];
/// The keys of an exception's `match`.
const MATCH_KEYS: &[&str] = &["all", "kind", "namespace", "name"];
/// The annotations Rampart reads on objects (any other `rampart.dev/` one is an error, but
/// for those its exports write: `rampart_compiler::export::ANNOTATIONS`).
const ANNOTATIONS: &[&str] = &[EXEMPT, EXEMPT_REASON, EXEMPT_OWNER, EXEMPT_UNTIL];

/// `unknown rule `x` (did you mean …)` when a rule glob names no rule of the policies.
fn unknown_rule(glob_text: &str, known: &[String]) -> Option<String> {
    if known.iter().any(|id| glob(id, glob_text)) {
        return None;
    }
    if glob_text.contains(['*', '?', '[']) {
        return Some(format!(
            "rule glob `{glob_text}` matches no rule of the policies"
        ));
    }
    let hint = suggestion(glob_text, known.iter().map(String::as_str));
    Some(format!("unknown rule `{glob_text}`{hint}"))
}

/// Reads an `--exceptions` file, strictly: every problem in it is an error (spec/config.md).
pub fn load_file(name: &str, bytes: &[u8], checks: Checks) -> Loaded {
    let mut out = Loaded::default();
    let (mut file, documents) = ConfigFile::documents(name, bytes, "Exceptions", DOCUMENT_KEYS);
    for doc in &documents {
        let Some(list) = doc.get("exceptions") else {
            file.error(
                doc,
                "a `kind: Exceptions` document needs an `exceptions` list".into(),
            );
            continue;
        };
        let Some(items) = list.as_list() else {
            file.error(list, "`exceptions` must be a list".into());
            continue;
        };
        for item in items {
            if let Some(ex) = exception_from_node(&mut file, item, checks) {
                if ex.expired(checks.today) {
                    out.notices.push(RunError::at(
                        name,
                        ex.line,
                        ex.col,
                        format!(
                            "exception expired on {}; its findings are reported again",
                            ex.expires.expect("expired implies a date")
                        ),
                    ));
                }
                out.exceptions.push(ex);
            }
        }
    }
    out.errors = file.into_errors();
    out
}

/// Reads one exception; `None` when it has errors (recorded in `file`).
fn exception_from_node(file: &mut ConfigFile, node: &Node, checks: Checks) -> Option<Exception> {
    if node.as_map().is_none() {
        file.error(node, "an exception must be a mapping".into());
        return None;
    }
    let before = file.errors.len();
    file.check_keys(node, EXCEPTION_KEYS, "an exception");
    let mut rules = Vec::new();
    if let Some(r) = node.get("rule") {
        rules.extend(file.string("rule", r).map(|t| (t.to_string(), r)));
    }
    if let Some(list) = node.get("rules") {
        match list.as_list() {
            Some(items) if !items.is_empty() => {
                for item in items {
                    rules.extend(file.string("rules", item).map(|t| (t.to_string(), item)));
                }
            }
            _ => file.error(
                list,
                "`rules` must be a non-empty list of rule ids or globs".into(),
            ),
        }
    }
    if node.get("rule").is_none() && node.get("rules").is_none() {
        file.error(node, "an exception needs `rules`".into());
    }
    for (text, at) in &rules {
        if let Some(message) = unknown_rule(text, checks.known) {
            file.error(at, message);
        }
    }
    let selector = match_from_node(file, node);
    let reason = match node.get("reason") {
        None => {
            file.error(node, "an exception needs a `reason`".into());
            String::new()
        }
        Some(r) => match file.string("reason", r).map(str::trim) {
            Some("") => {
                file.error(r, "`reason` must not be empty".into());
                String::new()
            }
            text => text.unwrap_or_default().to_string(),
        },
    };
    let owner = match node.get("owner").map(|o| (o, file.string("owner", o))) {
        Some((o, Some(text))) if text.trim().is_empty() => {
            file.error(o, "`owner` must not be empty".into());
            None
        }
        Some((_, text)) => text.map(str::to_string),
        None => None,
    };
    let expires = node.get("expires").and_then(|n| {
        let date = n.as_str().and_then(Date::parse);
        if date.is_none() {
            file.error(n, "`expires` must be a date written YYYY-MM-DD".into());
        }
        date
    });
    if checks.require_owner_and_expiry {
        if node.get("owner").is_none() {
            file.error(
                node,
                "an exception needs an `owner` (--require-owner-and-expiry)".into(),
            );
        }
        if node.get("expires").is_none() {
            file.error(
                node,
                "an exception needs `expires` (--require-owner-and-expiry)".into(),
            );
        }
    }
    if file.errors.len() > before {
        return None;
    }
    let (kind, namespace, name) = selector?;
    Some(Exception {
        rules: rules.into_iter().map(|(t, _)| t).collect(),
        kind,
        namespace,
        name,
        reason,
        owner,
        expires,
        origin: format!("{}:{}", file.name, node.line),
        file: file.name.to_string(),
        line: node.line,
        col: node.col,
    })
}

/// The globs of an exception's `match`: `(kind, namespace, name)`. A `match` must name at
/// least one of them, or say `all: true`, so that covering every object is never an accident.
type Selector = (Option<String>, Option<String>, Option<String>);

fn match_from_node(file: &mut ConfigFile, node: &Node) -> Option<Selector> {
    let Some(selector) = node.get("match") else {
        file.error(
            node,
            "an exception needs a `match` (write `match: {all: true}` to cover every object)"
                .into(),
        );
        return None;
    };
    if selector.as_map().is_none() {
        file.error(
            selector,
            "`match` must be a mapping of `kind`, `namespace`, `name` or `all`".into(),
        );
        return None;
    }
    let before = file.errors.len();
    file.check_keys(selector, MATCH_KEYS, "`match`");
    let mut pick = |key: &str| {
        let n = selector.get(key)?;
        let text = file.string(key, n)?;
        if text.is_empty() {
            file.error(n, format!("`{key}` must not be empty"));
        }
        Some(text.to_string())
    };
    let picked = (pick("kind"), pick("namespace"), pick("name"));
    let criteria = MATCH_KEYS[1..].iter().any(|k| selector.get(k).is_some());
    match selector.get("all") {
        Some(all) if all.as_bool() != Some(true) => {
            file.error(all, "`all` can only be `true` (leave it out and name `kind`, `namespace` or `name`)".into());
        }
        Some(all) if criteria => {
            file.error(all, "`all: true` cannot be combined with `kind`, `namespace` or `name`".into());
        }
        Some(_) => {}
        None if !criteria && file.errors.len() == before => file.error(
            selector,
            "`match` has no criteria: name `kind`, `namespace` or `name`, or write `all: true` to cover every object".into(),
        ),
        None => {}
    }
    (file.errors.len() == before).then_some(picked)
}

/// Reads the exemption annotations of one object, if it has any. A malformed exemption is an
/// error and exempts nothing: the object's findings are reported as if it were absent.
pub fn from_annotations(file: &str, object: &Object, checks: Checks) -> Loaded {
    let mut out = Loaded::default();
    let annotations = object
        .node
        .get("metadata")
        .and_then(|m| m.get("annotations"));
    let Some(annotations) = annotations else {
        return out;
    };
    let at = |n: &Node, message: String| RunError::at(file, n.line, n.col, message);
    for (key, value) in annotations.as_map().unwrap_or_default() {
        if key.starts_with("rampart.dev/")
            && !ANNOTATIONS.contains(&key.as_str())
            && !rampart_compiler::export::ANNOTATIONS.contains(&key.as_str())
        {
            let hint = suggestion(key, ANNOTATIONS.iter().copied());
            out.errors
                .push(at(value, format!("unknown annotation `{key}`{hint}")));
        }
    }
    let Some(exempt) = annotations.get(EXEMPT) else {
        return out;
    };
    let text = exempt.as_str().unwrap_or("");
    let rules: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    if rules.is_empty() {
        out.errors.push(at(
            exempt,
            format!("`{EXEMPT}` must be a string of rule ids or globs, separated by commas"),
        ));
    }
    let reason = annotations
        .get(EXEMPT_REASON)
        .and_then(Node::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if reason.is_empty() {
        out.errors.push(at(
            exempt,
            format!("exemption without a reason: add the `{EXEMPT_REASON}` annotation"),
        ));
    }
    let owner = annotations
        .get(EXEMPT_OWNER)
        .and_then(Node::as_str)
        .map(str::trim);
    if checks.require_owner_and_expiry && owner.is_none_or(str::is_empty) {
        out.errors.push(at(exempt, format!("exemption without an owner: add the `{EXEMPT_OWNER}` annotation (--require-owner-and-expiry)")));
    }
    let expires = match annotations.get(EXEMPT_UNTIL) {
        None => {
            if checks.require_owner_and_expiry {
                out.errors.push(at(exempt, format!("exemption without an expiry date: add the `{EXEMPT_UNTIL}` annotation (--require-owner-and-expiry)")));
            }
            None
        }
        Some(n) => {
            let date = n.as_str().and_then(Date::parse);
            if date.is_none() {
                out.errors.push(at(
                    n,
                    format!("`{EXEMPT_UNTIL}` must be a date written YYYY-MM-DD"),
                ));
            }
            date
        }
    };
    if !out.errors.is_empty() {
        return out;
    }
    let ex = Exception {
        rules,
        kind: None,
        namespace: None,
        name: None,
        reason,
        owner: owner.map(str::to_string),
        expires,
        origin: "annotation".into(),
        file: file.to_string(),
        line: exempt.line,
        col: exempt.col,
    };
    for g in &ex.rules {
        if let Some(message) = unknown_rule(g, checks.known) {
            out.notices.push(at(
                exempt,
                format!("{message} in `{EXEMPT}`: it exempts nothing"),
            ));
        }
    }
    if let Some(until) = ex.expires.filter(|_| ex.expired(checks.today)) {
        out.notices.push(at(
            exempt,
            format!("exemption expired on {until}; its findings are reported again"),
        ));
    }
    out.exceptions.push(ex);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_compare() {
        assert_eq!(
            Date::parse("2024-02-29"),
            Some(Date {
                year: 2024,
                month: 2,
                day: 29
            })
        );
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2023-13-01"), None);
        assert_eq!(Date::parse("23-01-01"), None);
        assert!(Date::parse("2024-01-31") < Date::parse("2024-02-01"));
    }

    #[test]
    fn days_to_civil_dates() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
    }
}
