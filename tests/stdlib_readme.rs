//! `stdlib/README.md` is generated from the standard library's sources. This test fails when
//! it is stale; regenerate it with:
//!
//!     UPDATE_STDLIB_README=1 cargo test --test stdlib_readme

use std::path::Path;

/// The README text for the embedded standard library.
fn render() -> String {
    let c = rampart_stdlib::compile();
    let program = c.program.expect("the standard library compiles");
    let mut out = String::from(
        "# The standard library\n\n\
         Generated from `stdlib/policies/*.rp` by `UPDATE_STDLIB_README=1 cargo test --test stdlib_readme`;\n\
         do not edit by hand. `rampart test` checks every rule below when no `-p` is given;\n\
         `rampart explain RULE` prints a rule's rationale and remediation. Pod rules also apply,\n\
         through autogen, to Deployment, StatefulSet, DaemonSet, ReplicaSet,\n\
         ReplicationController, Job and CronJob. `fix` says whether the rule's findings carry\n\
         fixes (spec/language.md §4.12): `yes` (safe, applied by `rampart fix`), `review`\n\
         (applied only with `--unsafe`), `yes, review` (some of each), `generates KIND` (a set\n\
         rule whose findings generate the missing object, spec/language.md §4.14) or `—` (a\n\
         person must choose).\n\n\
         | rule | severity | kinds | controls | fix | checks |\n|---|---|---|---|---|---|\n",
    );
    for r in &program.rules {
        // Autogen targets are implied by Pod; list only the kinds the rule names.
        let mut kinds: Vec<&str> = r
            .matcher
            .targets
            .iter()
            .filter(|t| t.subject_path.is_empty())
            .map(|t| t.gvk.kind.as_str())
            .collect();
        kinds.dedup();
        let set_rule = if !r.reads_other_objects() {
            ""
        } else {
            " (set rule)"
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {}{} |\n",
            r.id,
            r.meta.severity.as_str(),
            kinds.join(", "),
            r.meta.controls.join(", "),
            fix_column(r),
            r.meta.title.replace('|', "\\|"),
            set_rule
        ));
    }
    out.push_str(&format!("\n{} rules.\n", program.rules.len()));
    out
}

/// `yes`, `review`, `yes, review`, `generates KIND` or `—`: the kinds of fixes the rule's
/// outcomes carry.
fn fix_column(r: &rampart_compiler::ir::Rule) -> String {
    let generated: Vec<&str> = r
        .outcomes
        .iter()
        .filter_map(|o| o.generate.as_ref()?.entry("kind")?.const_str())
        .collect();
    if !generated.is_empty() {
        return format!("generates {}", generated.join(", "));
    }
    let fixes = r.outcomes.iter().flat_map(|o| &o.fixes);
    let (mut safe, mut review) = (false, false);
    for f in fixes {
        if f.review {
            review = true;
        } else {
            safe = true;
        }
    }
    match (safe, review) {
        (true, true) => "yes, review",
        (true, false) => "yes",
        (false, true) => "review",
        (false, false) => "—",
    }
    .to_string()
}

#[test]
fn stdlib_readme_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/README.md");
    let expected = render();
    if std::env::var_os("UPDATE_STDLIB_README").is_some() {
        std::fs::write(&path, &expected).expect("stdlib/README.md is writable");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "stdlib/README.md is stale: run `UPDATE_STDLIB_README=1 cargo test --test stdlib_readme`"
    );
}
