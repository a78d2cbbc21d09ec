//! `rampart fix` and the objects set rules generate (spec/language.md §4.13 "Generated
//! objects"), on the real binary with the standard library's `net.default_deny`: written
//! to `<file>.generated.yaml`, appended to when it exists, never twice, `--dry-run`,
//! `--diff`, `--generated -` and stdin.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run, run_with_stdin, scratch, stderr};

const NAMESPACES: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n";

/// The NetworkPolicy `net.default_deny` generates for a namespace, as `rampart fix` writes it.
fn policy(namespace: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: {namespace}\nspec:\n  podSelector: {{}}\n  policyTypes:\n  - Ingress\n  - Egress\n"
    )
}

/// A scratch folder holding `ns.yaml`.
fn folder(test: &str) -> PathBuf {
    let dir = scratch(&format!("fix-generated-{test}"));
    fs::write(dir.join("ns.yaml"), NAMESPACES).unwrap();
    dir
}

fn fix(extra: &[&str], path: &Path) -> Output {
    let mut args = vec!["fix", "--stdlib", "--rule", "net.default_deny"];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    run(&args)
}

fn generated(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join("ns.generated.yaml")).ok()
}

#[test]
fn objects_go_next_to_their_file_and_a_second_run_on_the_folder_changes_nothing() {
    let dir = folder("folder");
    let out = fix(&[], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        generated(&dir).as_deref(),
        Some(format!("{}---\n{}", policy("shop"), policy("web")).as_str())
    );
    assert!(
        stderr(&out).contains("generated 2 objects (set rules)"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("no fix available"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read_to_string(dir.join("ns.yaml")).unwrap(), NAMESPACES);
    // The generated file is now an input: the rule finds its objects and stops firing.
    let before = generated(&dir);
    let again = fix(&[], &dir);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(!stderr(&again).contains("generated"), "{}", stderr(&again));
    assert_eq!(generated(&dir), before);
    let test = run(&[
        "test",
        "--stdlib",
        "--rule",
        "net.default_deny",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(test.status.code(), Some(0), "{}", stderr(&test));
}

#[test]
fn given_only_the_file_the_objects_already_written_are_not_written_again() {
    let dir = folder("file-only");
    let ns = dir.join("ns.yaml");
    assert_eq!(fix(&[], &ns).status.code(), Some(0));
    let first = generated(&dir).expect("written");
    let again = fix(&[], &ns);
    // Counted as if the generated file were checked: nothing is left.
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(!stderr(&again).contains("generated"), "{}", stderr(&again));
    assert_eq!(generated(&dir), Some(first));
}

#[test]
fn an_existing_generated_file_keeps_its_text_and_gets_the_missing_objects() {
    let dir = folder("append");
    let kept = format!("# reviewed by the platform team\n{}", policy("shop"));
    fs::write(dir.join("ns.generated.yaml"), &kept).unwrap();
    let out = fix(&[], &dir.join("ns.yaml"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("generated 1 object (set rules)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        generated(&dir),
        Some(format!("{kept}---\n{}", policy("web")))
    );
}

#[test]
fn dry_run_and_diff_show_the_objects_and_write_nothing() {
    let dir = folder("dry-run");
    let out = fix(&["--dry-run", "--diff"], &dir.join("ns.yaml"));
    assert_eq!(generated(&dir), None);
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("+++ "), "{diff}");
    assert!(diff.contains("ns.generated.yaml"), "{diff}");
    assert!(diff.contains("+  namespace: web\n"), "{diff}");
    assert!(
        stderr(&out).contains("would generate 2 objects"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn generated_dash_prints_the_objects_and_writes_no_file() {
    let dir = folder("stdout");
    let out = fix(&["--generated", "-"], &dir.join("ns.yaml"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("---\n{}---\n{}", policy("shop"), policy("web"))
    );
    assert_eq!(generated(&dir), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bad = fix(&["--generated", "out.yaml"], &dir.join("ns.yaml"));
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("only `-`"), "{}", stderr(&bad));
}

fn stdin(extra: &[&str]) -> Output {
    let mut args = vec!["fix", "--stdlib", "--rule", "net.default_deny"];
    args.extend_from_slice(extra);
    args.push("-");
    run_with_stdin(&args, NAMESPACES.as_bytes())
}

#[test]
fn stdin_prints_generated_objects_only_when_asked() {
    let plain = stdin(&[]);
    assert_eq!(String::from_utf8_lossy(&plain.stdout), NAMESPACES);
    // Nothing generated: the findings remain.
    assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
    let asked = stdin(&["--generated", "-"]);
    assert_eq!(
        String::from_utf8_lossy(&asked.stdout),
        format!("{NAMESPACES}---\n{}---\n{}", policy("shop"), policy("web"))
    );
    assert_eq!(asked.status.code(), Some(0), "{}", stderr(&asked));
}

#[test]
fn the_readme_example_is_what_fix_generates() {
    let blocks = common::readme_yaml_blocks("A set rule's\noutcome may `generate` it", 2);
    let dir = scratch("fix-generated-readme");
    fs::write(dir.join("ns.yaml"), &blocks[0]).unwrap();
    let out = fix(&[], &dir);
    assert!(
        stderr(&out).contains("generated 1 object (set rules)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(generated(&dir), Some(blocks[1].clone()));
}
