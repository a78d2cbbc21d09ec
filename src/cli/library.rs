//! The standard library's flags of `rampart test`: `--profile` (named rule sets),
//! `--kube-version` (the target Kubernetes version of the API version rules) and
//! `--summary controls` (the compliance table).

use rampart_runtime::runner::params::Declared;

/// The parameter `--kube-version 1.N` sets to N on every selected rule that declares it.
pub const KUBE_MINOR: &str = "kube_minor";

/// Summaries `--summary` prints after the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Summary {
    /// CIS, NIST and NSA-CISA controls: pass / fail / not-applicable rules and the rules behind
    /// each.
    Controls,
}

/// Library flags of `rampart test`.
#[derive(clap::Args, Debug, Default)]
pub struct LibraryArgs {
    /// Run the rules of this profile (repeatable; `rampart rules` lists the profiles).
    #[arg(long = "profile", value_name = "NAME")]
    pub profile: Vec<String>,
    /// The Kubernetes version the manifests target, as 1.N: api.deprecated and api.removed
    /// report the API versions it deprecates or no longer serves [default: the version of
    /// the embedded schema].
    #[arg(long = "kube-version", value_name = "1.N")]
    pub kube_version: Option<String>,
    /// Print a summary after the report (on stderr for machine formats).
    #[arg(long = "summary", value_name = "WHAT", value_enum)]
    pub summary: Option<Summary>,
}

/// The minor version N of `1.N`; anything else is an error that says the form.
pub fn parse_kube_version(text: &str) -> Result<u32, String> {
    let minor = text
        .strip_prefix('v')
        .unwrap_or(text)
        .strip_prefix("1.")
        .and_then(|m| m.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    minor.ok_or_else(|| {
        format!("--kube-version `{text}` is not a Kubernetes version; write it as 1.N, e.g. 1.29")
    })
}

/// The `--param` flags `--kube-version` stands for: `RULE.kube_minor=N` for every selected
/// rule that declares `kube_minor`.
pub fn kube_version_params(
    kube_version: Option<&str>,
    declared: &Declared,
    selected: &[String],
) -> Result<Vec<String>, String> {
    let Some(text) = kube_version else {
        return Ok(Vec::new());
    };
    let minor = parse_kube_version(text)?;
    Ok(declared
        .iter()
        .filter(|(id, params)| selected.contains(id) && params.iter().any(|p| p.name == KUBE_MINOR))
        .map(|(id, _)| format!("{id}.{KUBE_MINOR}={minor}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_versions_are_read_as_their_minor_number() {
        assert_eq!(parse_kube_version("1.29"), Ok(29));
        assert_eq!(parse_kube_version("v1.25.3"), Ok(25));
        for bad in ["29", "2.1", "1.x", ""] {
            let e = parse_kube_version(bad).unwrap_err();
            assert!(e.contains("write it as 1.N"), "{bad}: {e}");
        }
    }
}
