//! The names Rampart writes into exports (object names, Kyverno rule names, Constraint
//! kinds, file names): one way to derive them from rule ids, one deterministic shortening
//! for every target, and the check that two rules never get the same name.
//!
//! Every name is kept within [`MAX_NAME`] characters, the DNS-1123 label limit: Kubernetes
//! object names, Kyverno rule names (its CRD says 63) and the lowercase Constraint kind
//! (a CRD plural, a DNS-1035 label) all fit, whatever the target. A longer name keeps its
//! first characters and ends with a hash of the whole name, so it stays readable, stable
//! from run to run, and distinct from every other long name.

use std::collections::BTreeMap;

/// The longest name written into an export.
pub const MAX_NAME: usize = 63;

/// A DNS-1123 label from a rule id or module: lowercase letters and digits, every other
/// character `-` (`pss.baseline.host_ports` → `pss-baseline-host-ports`), starting and
/// ending with a letter or digit. Not shortened: see [`fit`].
pub fn label(id: &str) -> String {
    let mapped: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() {
        "rule".into()
    } else {
        trimmed.to_string()
    }
}

/// A CamelCase kind from a rule id (`pss.baseline.privileged` → `PssBaselinePrivileged`),
/// within [`MAX_NAME`] characters and starting with a letter, as a CRD kind must.
pub fn kind(id: &str) -> String {
    let mut out = String::new();
    for part in id.split(['.', '_', '-']) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.extend(chars);
        }
    }
    out.retain(|c| c.is_ascii_alphanumeric());
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert_str(0, "Rule");
    }
    shorten(&out, MAX_NAME, "")
}

/// `name` when it has at most [`MAX_NAME`] characters, else shortened with a hash suffix
/// and a `-` before it (for object names, Kyverno rule names and file names).
pub fn fit(name: &str) -> String {
    shorten(name, MAX_NAME, "-")
}

/// `name` when it has at most `max` characters (ASCII), else its first characters, `sep`
/// and the first 8 hex digits of the FNV-1a hash of the whole name.
pub fn shorten(name: &str, max: usize, sep: &str) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash = format!("{:016x}", fnv1a(name.as_bytes()));
    let hash = &hash[..8];
    let keep = max.saturating_sub(hash.len() + sep.len());
    let mut end = keep.min(name.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    // A `-` cannot end the kept part: it would give `--` (or end a label).
    let prefix = name[..end].trim_end_matches(['-', '.']);
    format!("{prefix}{sep}{hash}")
}

/// FNV-1a, 64 bits: stable across runs and platforms (not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Two rules whose exported names are the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clash {
    /// What the name is, e.g. `ValidatingAdmissionPolicy name`.
    pub what: String,
    /// The name both rules would get.
    pub name: String,
    /// The rule that claimed the name first.
    pub first: String,
    /// The rule that claimed it second.
    pub second: String,
}

impl Clash {
    /// The one-line message, naming both rules.
    pub fn message(&self, target: &str) -> String {
        format!(
            "rules `{}` and `{}` both export to {target} as {} `{}`",
            self.first, self.second, self.what, self.name
        )
    }
}

/// The names written so far in one export, by what they name, and the clashes found.
#[derive(Debug, Default)]
pub struct Claims {
    taken: BTreeMap<(String, String), String>,
    clashes: Vec<Clash>,
}

impl Claims {
    /// Records that `rule` writes `name` as `what`; a name already written for another rule
    /// is a clash (reported once per pair of rules). Names compare without case: kinds
    /// become lowercase CRD plurals, and file systems may ignore case.
    pub fn claim(&mut self, what: &str, name: &str, rule: &str) {
        let key = (what.to_string(), name.to_ascii_lowercase());
        match self.taken.get(&key) {
            Some(first)
                if self
                    .clashes
                    .iter()
                    .any(|c| c.first == *first && c.second == rule) => {}
            Some(first) if first != rule => self.clashes.push(Clash {
                what: what.to_string(),
                name: name.to_string(),
                first: first.clone(),
                second: rule.to_string(),
            }),
            Some(_) => {}
            None => {
                self.taken.insert(key, rule.to_string());
            }
        }
    }

    /// The clashes found, in the order they were found.
    pub fn into_clashes(self) -> Vec<Clash> {
        self.clashes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(fit("pss-baseline-privileged"), "pss-baseline-privileged");
        assert_eq!(label("pss.baseline.host_ports"), "pss-baseline-host-ports");
        assert_eq!(kind("pss.baseline.privileged"), "PssBaselinePrivileged");
    }

    #[test]
    fn long_names_are_shortened_deterministically() {
        let long = label(&format!("team.{}", "very_long_rule_name_".repeat(5)));
        assert!(long.len() > MAX_NAME);
        let a = fit(&long);
        assert_eq!(a.len(), MAX_NAME);
        assert_eq!(a, fit(&long), "same input, same name");
        assert!(a.starts_with("team-very-long-rule-name-"));
        assert!(!a.contains("--"));
        // Two long names with the same first characters stay distinct.
        let other = fit(&format!("{long}x"));
        assert_ne!(a, other);
        assert_eq!(a[..50], other[..50]);
    }

    #[test]
    fn long_kinds_stay_valid_kinds() {
        let k = kind(&format!("team.{}", "long_rule_".repeat(10)));
        assert!(k.len() <= MAX_NAME);
        assert!(k.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(k.starts_with("TeamLongRule"));
        assert_eq!(kind("9lives.x"), "Rule9livesX");
    }

    #[test]
    fn labels_start_and_end_with_alphanumerics() {
        assert_eq!(label("team.rule_"), "team-rule");
        assert_eq!(label("__"), "rule");
    }

    #[test]
    fn claims_report_clashes_with_both_rules() {
        let mut c = Claims::default();
        c.claim("name", "team-web-no-root-user", "team.web.no_root_user");
        c.claim("name", "team-web-no-root-user", "team.web.no_root_user");
        c.claim("kind", "team-web-no-root-user", "team.web_no.root_user");
        c.claim("name", "Team-Web-No-Root-User", "team.web_no.root_user");
        // The same two rules clashing on another name: still one clash.
        c.claim(
            "file",
            "team-web-no-root-user.yaml",
            "team.web.no_root_user",
        );
        c.claim(
            "file",
            "team-web-no-root-user.yaml",
            "team.web_no.root_user",
        );
        let clashes = c.into_clashes();
        assert_eq!(clashes.len(), 1);
        assert_eq!(clashes[0].first, "team.web.no_root_user");
        assert_eq!(clashes[0].second, "team.web_no.root_user");
        assert_eq!(
            clashes[0].message("vap"),
            "rules `team.web.no_root_user` and `team.web_no.root_user` both export to vap as name `Team-Web-No-Root-User`"
        );
    }
}
