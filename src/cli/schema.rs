//! The schema validation of `rampart test`: its flags and the validator they configure
//! (the embedded Kubernetes schema, the CRDs the policies import, and `--crd` files).

use std::path::{Path, PathBuf};

use rampart_runtime::runner::inputs;
use rampart_runtime::schema_check::{rules, Validator};

/// The schema validation flags of `rampart test`.
#[derive(clap::Args, Debug, Default)]
pub struct SchemaArgs {
    /// CustomResourceDefinitions (a YAML file, or a folder walked for *.yaml, *.yml, *.json)
    /// whose kinds are validated too (repeatable).
    #[arg(long = "crd", value_name = "FILE|DIR")]
    pub crds: Vec<PathBuf>,
    /// Make objects whose kind has no schema errors instead of only counting them.
    #[arg(long = "strict-kinds")]
    pub strict_kinds: bool,
}

/// The validator for a run: `None` when no `schema.*` rule is selected and kinds are not
/// strict, so nothing is checked. `imported` are the CRD files the policies import.
pub fn validator(
    args: &SchemaArgs,
    selected: &[String],
    imported: &[String],
) -> Result<Option<Validator>, String> {
    let wanted = selected.iter().any(|id| rules::is_schema_rule(id));
    if !wanted && !args.strict_kinds {
        return Ok(None);
    }
    let mut validator = Validator::new(crate::kubernetes_schema());
    for text in imported {
        // The compiler has loaded these already, so they do not fail here.
        validator.add_crd_yaml(text)?;
    }
    for path in &args.crds {
        for file in crd_files(path)? {
            let name = file.display().to_string();
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("cannot read `{name}`: {e}"))?;
            match validator.add_crd_yaml(&text) {
                Ok(_) => {}
                // A folder may hold other manifests next to the CRDs.
                Err(e) if path.is_dir() && e.starts_with("no CustomResourceDefinition") => {}
                Err(e) => return Err(format!("--crd `{name}`: {e}")),
            }
        }
    }
    Ok(Some(validator))
}

/// The files a `--crd` path names: the file itself, or the YAML and JSON files under a
/// folder in sorted order, found by the same walk as the manifests of `rampart test`.
fn crd_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let given = [path.display().to_string()];
    let (inputs, errors) = inputs::collect(&given, &inputs::Ignore::new(&[])?, usize::MAX);
    if let Some(e) = errors.first() {
        return Err(format!("--crd `{}`: {}", e.file, e.message));
    }
    Ok(inputs
        .into_iter()
        .filter_map(|input| match input.source {
            inputs::Source::File(file) => Some(file),
            inputs::Source::Bytes(_) => None,
        })
        .collect())
}
