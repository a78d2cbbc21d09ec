//! Profiles: named rule sets shipped with the standard library (`stdlib/profiles.yaml`,
//! spec/config.md "Profiles"), and the opt-in rules a run leaves out unless selected.

use rampart_compiler::diagnostics::did_you_mean;
use rampart_runtime::eval::select::glob;
use rampart_runtime::runner::config::ConfigFile;
use serde::Deserialize;

/// One named rule set.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The name `--profile` takes.
    pub name: String,
    /// One line saying what the profile is for.
    #[serde(default)]
    pub description: String,
    /// Rule id globs.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Control globs (`CIS *`): a rule with a matching control is in the profile.
    #[serde(default)]
    pub controls: Vec<String>,
    /// Categories: a rule of one of them is in the profile.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Rule id globs left out even when another key selects them.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// What a profile looks at in a rule.
pub struct Tags<'a> {
    /// The rule id.
    pub id: &'a str,
    /// The rule's category ("" when none).
    pub category: &'a str,
    /// The rule's controls.
    pub controls: &'a [String],
}

impl Profile {
    /// Whether the rule is in the profile.
    pub fn selects(&self, rule: &Tags) -> bool {
        let chosen = self.rules.iter().any(|g| glob(rule.id, g))
            || rule
                .controls
                .iter()
                .any(|c| self.controls.iter().any(|g| glob(c, g)))
            || (!rule.category.is_empty() && self.categories.iter().any(|c| c == rule.category));
        chosen && !self.exclude.iter().any(|g| glob(rule.id, g))
    }
}

/// The contents of a `kind: Profiles` file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    /// The named rule sets, in file order.
    pub profiles: Vec<Profile>,
    /// Rule id globs of the rules a run leaves out unless a `--rule` glob or a profile
    /// selects them.
    #[serde(default)]
    pub opt_in: Vec<String>,
}

impl Profiles {
    /// Reads a `kind: Profiles` file; errors name the file and line.
    pub fn parse(name: &str, text: &str) -> Result<Profiles, String> {
        let keys = ["apiVersion", "kind", "profiles", "opt_in"];
        let (file, docs) = ConfigFile::documents(name, text.as_bytes(), "Profiles", &keys);
        if let Some(e) = file.errors.first() {
            let at = e.line.map(|l| format!(":{l}")).unwrap_or_default();
            return Err(format!("{}{at}: {}", e.file, e.message));
        }
        let [doc] = docs.as_slice() else {
            return Err(format!("{name}: expected one `kind: Profiles` document"));
        };
        let mut json = doc.to_json();
        if let Some(map) = json.as_object_mut() {
            map.remove("apiVersion");
            map.remove("kind");
        }
        let profiles: Profiles =
            serde_json::from_value(json).map_err(|e| format!("{name}: {e}"))?;
        for (i, p) in profiles.profiles.iter().enumerate() {
            if profiles.profiles[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("{name}: profile `{}` is defined twice", p.name));
            }
        }
        Ok(profiles)
    }

    /// The profiles shipped with the standard library.
    pub fn embedded() -> Profiles {
        // Tested to parse (tests below); an error here is a build defect, reported as none.
        Profiles::parse("<stdlib>/profiles.yaml", rampart_stdlib::PROFILES).unwrap_or_default()
    }

    /// The profile called `name`; an unknown name is an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<&Profile, String> {
        if let Some(p) = self.profiles.iter().find(|p| p.name == name) {
            return Ok(p);
        }
        let names: Vec<&str> = self.profiles.iter().map(|p| p.name.as_str()).collect();
        let hint = did_you_mean(name, names.iter().copied())
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        Err(format!(
            "unknown profile `{name}`{hint}; the profiles are: {}",
            names.join(", ")
        ))
    }

    /// Whether rule `id` is opt-in.
    pub fn opt_in(&self, id: &str) -> bool {
        self.opt_in.iter().any(|g| glob(id, g))
    }

    /// The names of the profiles that hold the rule.
    pub fn holding(&self, rule: &Tags) -> Vec<&str> {
        self.profiles
            .iter()
            .filter(|p| p.selects(rule))
            .map(|p| p.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags<'a>(id: &'a str, category: &'a str, controls: &'a [String]) -> Tags<'a> {
        Tags {
            id,
            category,
            controls,
        }
    }

    #[test]
    fn the_embedded_profiles_parse_and_hold_the_required_names() {
        let p = Profiles::parse("profiles.yaml", rampart_stdlib::PROFILES).unwrap();
        for name in ["pss-baseline", "pss-restricted", "cis", "nsa", "production"] {
            assert!(p.get(name).is_ok(), "profile {name} is missing");
        }
        assert!(p.opt_in("meta.required_labels"));
        assert!(!p.opt_in("pss.baseline.privileged"));
    }

    #[test]
    fn profiles_select_by_id_control_and_category_minus_exclusions() {
        let text = "apiVersion: rampart.dev/v1alpha1\nkind: Profiles\nprofiles:\n\
                    - {name: a, rules: [\"pss.*\"], exclude: [\"pss.x\"]}\n\
                    - {name: b, controls: [\"CIS *\"]}\n\
                    - {name: c, categories: [Reliability]}\n";
        let p = Profiles::parse("p.yaml", text).unwrap();
        let cis = vec!["CIS 5.2.1".to_string(), "NIST AC-6".to_string()];
        let nist = vec!["NIST AC-6".to_string()];
        let a = p.get("a").unwrap();
        assert!(a.selects(&tags("pss.y", "", &[])));
        assert!(!a.selects(&tags("pss.x", "", &[])));
        assert!(!a.selects(&tags("net.y", "", &[])));
        let b = p.get("b").unwrap();
        assert!(b.selects(&tags("net.y", "", &cis)));
        assert!(!b.selects(&tags("net.y", "", &nist)));
        let c = p.get("c").unwrap();
        assert!(c.selects(&tags("w.x", "Reliability", &[])));
        assert!(!c.selects(&tags("w.x", "Network", &[])));
        assert_eq!(p.holding(&tags("pss.y", "", &cis)), vec!["a", "b"]);
    }

    #[test]
    fn unknown_profiles_and_keys_are_errors_that_say_what_is_known() {
        let text = "apiVersion: rampart.dev/v1alpha1\nkind: Profiles\nprofiles:\n- {name: cis}\n";
        let p = Profiles::parse("p.yaml", text).unwrap();
        let e = p.get("cys").unwrap_err();
        assert!(e.contains("unknown profile `cys`"), "{e}");
        assert!(e.contains("did you mean `cis`"), "{e}");
        let bad =
            "apiVersion: rampart.dev/v1alpha1\nkind: Profiles\nprofiles:\n- {name: a, rule: [x]}\n";
        let e = Profiles::parse("p.yaml", bad).unwrap_err();
        assert!(e.contains("unknown field `rule`"), "{e}");
        let twice = "apiVersion: rampart.dev/v1alpha1\nkind: Profiles\nprofiles:\n- {name: a}\n- {name: a}\n";
        assert!(Profiles::parse("p.yaml", twice)
            .unwrap_err()
            .contains("defined twice"));
    }
}
