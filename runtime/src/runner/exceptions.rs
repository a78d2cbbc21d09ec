//! Exceptions: explicit, time-bound, tracked exemptions of findings.
//!
//! They come from an object's own annotations (`rampart.dev/exempt: "<rule glob>,…"`,
//! `rampart.dev/exempt-reason`, `rampart.dev/exempt-until: YYYY-MM-DD`) or from an
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
//! The file is read with the manifest loader, so every problem points at its line.

use crate::eval::select::glob;
use crate::manifest::{self, Node, Object};

use super::RunError;

/// The annotation listing the rule globs an object is exempt from.
pub const EXEMPT: &str = "rampart.dev/exempt";
/// The annotation saying why.
pub const EXEMPT_REASON: &str = "rampart.dev/exempt-reason";
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

fn string_at<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Node::as_str)
}

/// Warns about rule globs that name no rule of the policies.
fn check_rules(ex: &Exception, known: &[String], notices: &mut Vec<RunError>) {
    for g in &ex.rules {
        if !known.iter().any(|id| glob(id, g)) {
            notices.push(RunError::at(
                &ex.file,
                ex.line,
                ex.col,
                format!("exception names no existing rule: `{g}`"),
            ));
        }
    }
}

/// Reads an `--exceptions` file.
pub fn load_file(name: &str, bytes: &[u8], known: &[String], today: Date) -> Loaded {
    let mut out = Loaded::default();
    let loaded = match manifest::load_bytes(bytes, &manifest::Limits::default()) {
        Ok(l) => l,
        Err(e) => {
            out.errors
                .push(RunError::at(name, e.line, e.col, e.message));
            return out;
        }
    };
    let documents: Vec<&Object> = loaded
        .objects
        .iter()
        .filter(|o| o.kind == "Exceptions")
        .collect();
    if documents.is_empty() {
        out.errors.push(RunError::file(
            name,
            "no `kind: Exceptions` document with an `exceptions` list".into(),
        ));
    }
    for doc in documents {
        let Some(list) = doc.node.get("exceptions").and_then(Node::as_list) else {
            out.errors.push(RunError::at(
                name,
                doc.node.line,
                doc.node.col,
                "`exceptions` must be a list".into(),
            ));
            continue;
        };
        for item in list {
            match exception_from_node(name, item) {
                Ok(ex) => {
                    check_rules(&ex, known, &mut out.notices);
                    if ex.expired(today) {
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
                Err(e) => out.errors.push(e),
            }
        }
    }
    out
}

fn exception_from_node(file: &str, node: &Node) -> Result<Exception, RunError> {
    let error = |n: &Node, message: &str| RunError::at(file, n.line, n.col, message.into());
    if node.as_map().is_none() {
        return Err(error(node, "an exception must be a mapping"));
    }
    let mut rules = Vec::new();
    if let Some(r) = string_at(node, "rule") {
        rules.push(r.to_string());
    }
    if let Some(list) = node.get("rules") {
        let items = list
            .as_list()
            .ok_or_else(|| error(list, "`rules` must be a list of rule globs"))?;
        for item in items {
            let text = item
                .as_str()
                .ok_or_else(|| error(item, "`rules` must be a list of rule globs"))?;
            rules.push(text.to_string());
        }
    }
    if rules.is_empty() {
        return Err(error(node, "an exception needs `rules` (or `rule`)"));
    }
    let selector = node.get("match");
    let pick = |key: &str| {
        selector
            .and_then(|m| m.get(key))
            .and_then(Node::as_str)
            .map(str::to_string)
    };
    let reason = string_at(node, "reason").unwrap_or("").trim().to_string();
    if reason.is_empty() {
        return Err(error(node, "an exception needs a `reason`"));
    }
    let expires = match node.get("expires") {
        None => None,
        Some(n) => Some(
            n.as_str()
                .and_then(Date::parse)
                .ok_or_else(|| error(n, "`expires` must be a date written YYYY-MM-DD"))?,
        ),
    };
    Ok(Exception {
        rules,
        kind: pick("kind"),
        namespace: pick("namespace"),
        name: pick("name"),
        reason,
        owner: string_at(node, "owner").map(str::to_string),
        expires,
        origin: format!("{file}:{}", node.line),
        file: file.to_string(),
        line: node.line,
        col: node.col,
    })
}

/// Reads the exemption annotations of one object, if it has any.
pub fn from_annotations(file: &str, object: &Object, known: &[String], today: Date) -> Loaded {
    let mut out = Loaded::default();
    let annotations = object
        .node
        .get("metadata")
        .and_then(|m| m.get("annotations"));
    let Some(annotations) = annotations else {
        return out;
    };
    let Some(exempt) = annotations.get(EXEMPT) else {
        return out;
    };
    let at = |n: &Node, message: String| RunError::at(file, n.line, n.col, message);
    let Some(text) = exempt.as_str() else {
        out.errors.push(at(
            exempt,
            format!("`{EXEMPT}` must be a string of rule globs"),
        ));
        return out;
    };
    let rules: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
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
        return out;
    }
    let expires = match annotations.get(EXEMPT_UNTIL) {
        None => None,
        Some(n) => match n.as_str().and_then(Date::parse) {
            Some(d) => Some(d),
            None => {
                out.errors.push(at(
                    n,
                    format!("`{EXEMPT_UNTIL}` must be a date written YYYY-MM-DD"),
                ));
                return out;
            }
        },
    };
    let ex = Exception {
        rules,
        kind: None,
        namespace: None,
        name: None,
        reason,
        owner: None,
        expires,
        origin: "annotation".into(),
        file: file.to_string(),
        line: exempt.line,
        col: exempt.col,
    };
    check_rules(&ex, known, &mut out.notices);
    if let Some(until) = ex.expires.filter(|_| ex.expired(today)) {
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
