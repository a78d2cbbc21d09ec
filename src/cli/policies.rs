//! Loading the policies to run: the embedded standard library, `.rp` files and folders, or a
//! `policies.wasm` bundle; selecting rules by id; the on-disk cache of compiled code.

use std::path::PathBuf;

use rampart_compiler::{ir, Compilation};
use rampart_runtime::eval::{self, select::glob, ParamInfo};
use rampart_runtime::runner::params::Declared;
use rampart_runtime::schema_check::rules as schema_rules;

use super::module_cache;
use super::profiles::{Profiles, Tags};

/// The name of the bundle that `rampart build --target wasm` writes.
pub const BUNDLE: &str = "policies.wasm";

/// `-p/--policy PATH`: the policies a command reads, the same flag for `check`, `test`,
/// `rules`, `explain`, `build` and `verify`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PolicyArgs {
    /// Policy `.rp` files or folders (repeatable); `test`, `rules` and `explain` also take
    /// `policies.wasm` bundles. Without it, the embedded standard library (`verify`: for
    /// the test files that name no `policies`).
    #[arg(short, long = "policy", value_name = "PATH")]
    pub policy: Vec<PathBuf>,
}

/// Which rules to keep: `--rule` globs and `--profile` names (none: every rule but the
/// opt-in ones) minus `--exclude-rule` globs.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `--rule` globs.
    pub include: Vec<String>,
    /// `--exclude-rule` globs.
    pub exclude: Vec<String>,
    /// `--profile` names.
    pub profiles: Vec<String>,
}

/// The outcome of a selection: the rules to run, and the opt-in rules it left out.
pub struct Selected {
    /// The selected rule ids.
    pub ids: Vec<String>,
    /// Opt-in rules not selected (they run only when a `--rule` glob or a profile names
    /// them).
    pub opt_in: Vec<String>,
}

impl Selection {
    /// The selected rules among `rules`; a `--rule` glob that matches no rule, or an unknown
    /// profile, is an error.
    pub fn apply(&self, rules: &[Tags]) -> Result<Selected, String> {
        self.apply_with(rules, &Profiles::embedded())
    }

    /// [`Selection::apply`] with the profiles and opt-in rules of `library`.
    pub fn apply_with(&self, rules: &[Tags], library: &Profiles) -> Result<Selected, String> {
        for g in &self.include {
            if !rules.iter().any(|r| glob(r.id, g)) {
                return Err(format!("--rule `{g}` matches no rule of the policies"));
            }
        }
        let profiles = self
            .profiles
            .iter()
            .map(|name| library.get(name))
            .collect::<Result<Vec<_>, _>>()?;
        let chosen = !self.include.is_empty() || !profiles.is_empty();
        let mut selected = Selected {
            ids: Vec::new(),
            opt_in: Vec::new(),
        };
        for r in rules {
            if self.exclude.iter().any(|g| glob(r.id, g)) {
                continue;
            }
            if chosen {
                if self.include.iter().any(|g| glob(r.id, g))
                    || profiles.iter().any(|p| p.selects(r))
                {
                    selected.ids.push(r.id.to_string());
                }
            } else if library.opt_in(r.id) {
                selected.opt_in.push(r.id.to_string());
            } else {
                selected.ids.push(r.id.to_string());
            }
        }
        Ok(selected)
    }
}

/// A compiled policy module and what is known about it.
pub struct Module {
    /// The Wasm bytes.
    pub wasm: Vec<u8>,
    /// Every rule id of the policies before selection.
    pub all_rules: Vec<String>,
    /// The parameters every rule declares, before selection.
    pub declared: Declared,
    /// The selected rule ids.
    pub selected: Vec<String>,
    /// The opt-in rules the selection left out.
    pub opt_in: Vec<String>,
    /// The policy sources (name, text), when compiled from source: for `explain`.
    pub sources: Vec<(String, String)>,
    /// The CRD files the policies import (their text), when compiled from source.
    pub crds: Vec<String>,
}

/// The user's cache folder for compiled policies: `$RAMPART_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/rampart`, else `~/.cache/rampart`.
/// `RAMPART_NO_CACHE` (set and not empty or `0`) turns the cache off.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if var("RAMPART_NO_CACHE").is_some_and(|v| v != "0") {
        return None;
    }
    if let Some(dir) = var("RAMPART_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("rampart"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".cache").join("rampart"))
}

/// The bundle named by `paths`, if they name one: a `.wasm` file, or a folder holding
/// `policies.wasm`.
fn bundle_path(paths: &[PathBuf]) -> Option<PathBuf> {
    let [path] = paths else {
        return None;
    };
    if path.extension().is_some_and(|e| e == "wasm") {
        return Some(path.clone());
    }
    let inside = path.join(BUNDLE);
    (path.is_dir() && inside.is_file()).then_some(inside)
}

/// A compiled policy set: the IR, the sources (name, text) and the imported CRD files.
pub type Compiled = (ir::Program, Vec<(String, String)>, Vec<String>);

/// Compiles `.rp` sources (the standard library when `paths` is empty and `stdlib` unset) to
/// the IR, printing diagnostics on stderr; with `stdlib`, the standard library is compiled
/// together with the sources of `paths` (its names then start with [`rampart_stdlib::PREFIX`]).
pub fn compile_program_with(paths: &[PathBuf], stdlib: bool) -> Result<Compiled, String> {
    let (compilation, texts) = compile_with(paths, stdlib)?;
    match compilation.program {
        Some(program) => Ok((program, texts, compilation.imported_crds)),
        None => Err("the policies do not compile".into()),
    }
}

/// Compiles `.rp` sources (the standard library when `paths` is empty), printing the
/// diagnostics on stderr: the compilation (its program is set) and the source texts, or
/// the message for a failed compilation.
pub fn compile(paths: &[PathBuf]) -> Result<(Compilation, Vec<(String, String)>), String> {
    compile_with(paths, false)
}

/// Like [`compile`]; with `stdlib`, the standard library is compiled together with `paths`.
pub fn compile_with(
    paths: &[PathBuf],
    stdlib: bool,
) -> Result<(Compilation, Vec<(String, String)>), String> {
    let (compilation, texts): (Compilation, Vec<(String, String)>) = if paths.is_empty() {
        let texts = rampart_stdlib::POLICIES
            .iter()
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .collect();
        (rampart_stdlib::compile(), texts)
    } else {
        let sources = rampart_compiler::read_sources(paths);
        if sources.is_empty() {
            return Err("no `.rp` files found in the given policy paths".into());
        }
        let mut texts: Vec<(String, String)> = sources
            .iter()
            .filter_map(|s| s.text.as_ref().ok().map(|t| (s.name.clone(), t.clone())))
            .collect();
        if stdlib {
            texts.extend(rampart_stdlib::POLICIES.iter().map(|(name, text)| {
                (
                    format!("{}{name}", rampart_stdlib::PREFIX),
                    text.to_string(),
                )
            }));
            (rampart_stdlib::compile_with(sources), texts)
        } else {
            (
                rampart_compiler::compile(sources, &crate::kubernetes_schema()),
                texts,
            )
        }
    };
    // The standard library is tested to compile cleanly; only user policies get their
    // warnings shown.
    if compilation.has_errors() || !paths.is_empty() {
        crate::print_diagnostics(&compilation);
    }
    if compilation.program.is_none() {
        return Err("the policies do not compile".into());
    }
    Ok((compilation, texts))
}

/// Loads the policies named by `-p` (the standard library when none) and applies the rule
/// selection. Errors are printed-ready messages.
pub fn module(paths: &[PathBuf], selection: &Selection) -> Result<Module, String> {
    module_with(paths, false, selection)
}

/// Like [`module`]; with `stdlib`, the standard library runs together with `paths`.
pub fn module_with(
    paths: &[PathBuf],
    stdlib: bool,
    selection: &Selection,
) -> Result<Module, String> {
    if let Some(bundle) = bundle_path(paths).filter(|_| !stdlib) {
        let wasm = std::fs::read(&bundle)
            .map_err(|e| format!("cannot read `{}`: {e}", bundle.display()))?;
        let meta =
            eval::read_metadata(&wasm).map_err(|e| format!("`{}`: {e}", bundle.display()))?;
        let tags = with_schema_rules(meta.rules.iter().map(info_tags));
        let all_rules = ids(&tags);
        let chosen = selection.apply(&borrowed(&tags))?;
        let (selected, opt_in) = (chosen.ids, chosen.opt_in);
        let declared = meta.rules.into_iter().map(|r| (r.id, r.params)).collect();
        return Ok(Module {
            wasm,
            all_rules,
            declared,
            selected,
            opt_in,
            sources: Vec::new(),
            crds: Vec::new(),
        });
    }
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(format!("policy path `{}` does not exist", p.display()));
    }
    // The standard library alone: compiled once, then read from the cache.
    let cache = cache_dir()
        .filter(|_| paths.is_empty())
        .and_then(|dir| Some((module_cache::key(selection)?, dir)));
    if let Some((key, dir)) = &cache {
        if let Some(module) = module_cache::load(dir, key) {
            return Ok(module);
        }
    }
    let module = compile_module(paths, stdlib, selection)?;
    if let Some((key, dir)) = &cache {
        module_cache::store(dir, key, &module);
    }
    Ok(module)
}

/// [`module_with`] for `.rp` sources: compiles them.
fn compile_module(
    paths: &[PathBuf],
    stdlib: bool,
    selection: &Selection,
) -> Result<Module, String> {
    let (mut program, sources, crds) = compile_program_with(paths, stdlib)?;
    let tags = with_schema_rules(program.rules.iter().map(ir_tags));
    let all_rules = ids(&tags);
    let chosen = selection.apply(&borrowed(&tags))?;
    let (selected, opt_in) = (chosen.ids, chosen.opt_in);
    let declared = declared_params(&program);
    // Unselected rules are left out of the module, so they cost nothing and cannot fail.
    program.rules.retain(|r| selected.contains(&r.id));
    let wasm = to_wasm(&program)?;
    Ok(Module {
        wasm,
        all_rules,
        declared,
        selected,
        opt_in,
        sources,
        crds,
    })
}

/// Keeps the rules of `program` that `selection` selects (as `rampart test` would run them);
/// returns the opt-in rules it left out.
pub fn select_rules(
    program: &mut ir::Program,
    selection: &Selection,
) -> Result<Vec<String>, String> {
    let tags: Vec<OwnedTags> = program.rules.iter().map(ir_tags).collect();
    let chosen = selection.apply(&borrowed(&tags))?;
    program.rules.retain(|r| chosen.ids.contains(&r.id));
    Ok(chosen.opt_in)
}

/// A rule's id, category and controls, owned: what a selection looks at.
pub type OwnedTags = (String, String, Vec<String>);

fn info_tags(r: &eval::RuleInfo) -> OwnedTags {
    (r.id.clone(), r.category.clone(), r.controls.clone())
}

fn ir_tags(r: &ir::Rule) -> OwnedTags {
    (
        r.id.clone(),
        r.meta.category.clone(),
        r.meta.controls.clone(),
    )
}

fn borrowed(tags: &[OwnedTags]) -> Vec<Tags<'_>> {
    tags.iter()
        .map(|(id, category, controls)| Tags {
            id,
            category,
            controls,
        })
        .collect()
}

fn ids(tags: &[OwnedTags]) -> Vec<String> {
    tags.iter().map(|t| t.0.clone()).collect()
}

/// The policies' rules and the `schema.*` rules of schema validation, which `rampart
/// test` runs besides the policies, sorted by id.
fn with_schema_rules(rules: impl Iterator<Item = OwnedTags>) -> Vec<OwnedTags> {
    let mut all: Vec<OwnedTags> = rules
        .chain(schema_rules::infos().iter().map(info_tags))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The policies of one `rampart test` run: one module per `policies.wasm` bundle, and one
/// compiled from the `.rp` sources (with the standard library, with `--stdlib`).
pub struct ModuleSet {
    /// The Wasm bytes of each module.
    pub wasm: Vec<Vec<u8>>,
    /// Every rule id of the policies before selection (the `schema.*` rules included).
    pub all_rules: Vec<String>,
    /// The parameters every rule declares, before selection.
    pub declared: Declared,
    /// The selected rule ids.
    pub selected: Vec<String>,
    /// The CRD files the compiled policies import (their text).
    pub crds: Vec<String>,
}

/// Loads the policies named by `-p`: bundles and sources may be mixed; each bundle is a
/// module of its own, since a compiled bundle cannot be merged with sources.
pub fn module_set(
    paths: &[PathBuf],
    stdlib: bool,
    selection: &Selection,
) -> Result<ModuleSet, String> {
    let (bundles, sources): (Vec<PathBuf>, Vec<PathBuf>) = paths
        .iter()
        .cloned()
        .partition(|p| bundle_path(std::slice::from_ref(p)).is_some());
    if bundles.is_empty() || (bundles.len() == 1 && sources.is_empty() && !stdlib) {
        let module = module_with(paths, stdlib, selection)?;
        return Ok(ModuleSet {
            wasm: vec![module.wasm],
            all_rules: module.all_rules,
            declared: module.declared,
            selected: module.selected,
            crds: module.crds,
        });
    }
    let mut wasm = Vec::new();
    let mut tags = Vec::new();
    let mut declared = Declared::new();
    for path in &bundles {
        let bundle = bundle_path(std::slice::from_ref(path)).expect("partitioned as a bundle");
        let bytes = std::fs::read(&bundle)
            .map_err(|e| format!("cannot read `{}`: {e}", bundle.display()))?;
        let meta =
            eval::read_metadata(&bytes).map_err(|e| format!("`{}`: {e}", bundle.display()))?;
        tags.extend(meta.rules.iter().map(info_tags));
        declared.extend(meta.rules.into_iter().map(|r| (r.id, r.params)));
        wasm.push(bytes);
    }
    let mut program = None;
    let mut crds = Vec::new();
    if !sources.is_empty() || stdlib {
        if let Some(p) = sources.iter().find(|p| !p.exists()) {
            return Err(format!("policy path `{}` does not exist", p.display()));
        }
        let (compiled, _, imported) = compile_program_with(&sources, stdlib)?;
        tags.extend(compiled.rules.iter().map(ir_tags));
        declared.extend(declared_params(&compiled));
        crds = imported;
        program = Some(compiled);
    }
    let tags = with_schema_rules(tags.into_iter());
    let all_rules = ids(&tags);
    let selected = selection.apply(&borrowed(&tags))?.ids;
    if let Some(mut program) = program {
        program.rules.retain(|r| selected.contains(&r.id));
        wasm.push(to_wasm(&program)?);
    }
    Ok(ModuleSet {
        wasm,
        all_rules,
        declared,
        selected,
        crds,
    })
}

/// The parameters each rule of a program declares, with their defaults.
fn declared_params(program: &ir::Program) -> Declared {
    program
        .rules
        .iter()
        .map(|r| {
            let params = r.params.iter().map(|p| ParamInfo {
                name: p.name.clone(),
                ty: p.ty.clone(),
                default: serde_json::to_value(&p.default).unwrap_or_default(),
            });
            (r.id.clone(), params.collect())
        })
        .collect()
}

/// Compiles a program to a Wasm module.
fn to_wasm(program: &ir::Program) -> Result<Vec<u8>, String> {
    rampart_compiler::backend::wasm::compile(program).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("cannot compile to wasm: {e}"))
            .collect::<Vec<_>>()
            .join("\nerror: ")
    })
}

/// Loads every module of a set into the evaluator.
pub fn load_set(set: &ModuleSet) -> Result<Vec<eval::Policies>, String> {
    let engine = eval::Engine::new().map_err(|e| format!("cannot start the evaluator: {e}"))?;
    let cache = cache_dir();
    set.wasm
        .iter()
        .map(|wasm| {
            eval::Policies::load(&engine, wasm, cache.as_deref())
                .map_err(|e| format!("cannot load the policies: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBRARY: &str = "apiVersion: rampart.dev/v1alpha1\nkind: Profiles\n\
                           profiles:\n- {name: cis, controls: [\"CIS *\"]}\n\
                           - {name: labels, rules: [meta.required_labels]}\n\
                           opt_in: [meta.required_labels]\n";

    fn run(selection: &Selection) -> Result<Selected, String> {
        let cis = vec!["CIS 5.2.1".to_string()];
        let rules = [
            Tags {
                id: "pss.privileged",
                category: "",
                controls: &cis,
            },
            Tags {
                id: "meta.required_labels",
                category: "",
                controls: &[],
            },
            Tags {
                id: "net.x",
                category: "",
                controls: &[],
            },
        ];
        let library = Profiles::parse("p.yaml", LIBRARY).unwrap();
        selection.apply_with(&rules, &library)
    }

    #[test]
    fn opt_in_rules_run_only_when_a_rule_glob_or_a_profile_names_them() {
        let all = run(&Selection::default()).unwrap();
        assert_eq!(all.ids, vec!["pss.privileged", "net.x"]);
        assert_eq!(all.opt_in, vec!["meta.required_labels"]);
        let named = run(&Selection {
            include: vec!["meta.*".into()],
            ..Selection::default()
        })
        .unwrap();
        assert_eq!(named.ids, vec!["meta.required_labels"]);
        assert!(named.opt_in.is_empty());
        let profile = run(&Selection {
            profiles: vec!["labels".into()],
            ..Selection::default()
        })
        .unwrap();
        assert_eq!(profile.ids, vec!["meta.required_labels"]);
    }

    #[test]
    fn rule_globs_and_profiles_add_up_and_exclusions_win() {
        let both = run(&Selection {
            include: vec!["net.*".into()],
            profiles: vec!["cis".into()],
            exclude: Vec::new(),
        })
        .unwrap();
        assert_eq!(both.ids, vec!["pss.privileged", "net.x"]);
        let excluded = run(&Selection {
            include: Vec::new(),
            profiles: vec!["cis".into()],
            exclude: vec!["pss.*".into()],
        })
        .unwrap();
        assert!(excluded.ids.is_empty());
        let unknown = run(&Selection {
            profiles: vec!["cys".into()],
            ..Selection::default()
        });
        assert!(unknown.err().unwrap().contains("unknown profile `cys`"));
    }
}
