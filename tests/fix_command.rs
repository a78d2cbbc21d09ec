//! `rampart fix` on the real binary: files edited in place with minimal edits, `--dry-run`,
//! `--diff`, `--unsafe`, `--rule`, conflicts, refused files, stdin, and the exit codes
//! counted after fixing.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run, scratch, stderr};

const POLICIES: &str = "tests/fix/policies";

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fix/manifests").join(name)
}

/// Copies fixtures into a fresh scratch folder; returns the folder.
fn copy(test: &str, names: &[&str]) -> PathBuf {
    let dir = scratch(&format!("fix-{test}"));
    for name in names {
        fs::copy(fixture(name), dir.join(name)).unwrap();
    }
    dir
}

fn fix(extra: &[&str], path: &Path) -> Output {
    let mut args = vec!["fix", "-p", POLICIES];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    run(&args)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

#[test]
fn the_file_is_edited_in_place_and_everything_else_kept_byte_for_byte() {
    let dir = copy("in-place", &["pod.yaml"]);
    let out = fix(&[], &dir.join("pod.yaml"));
    // The review fixes (read_only) were skipped: findings remain.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        read(&dir.join("pod.yaml")),
        read(&fixture("pod.fixed.yaml"))
    );
    let summary = stderr(&out);
    assert!(summary.contains("fixed 11 findings in 1 file"), "{summary}");
    assert!(summary.contains("  fixtest.caps: 3"), "{summary}");
    assert!(
        summary.contains("needs --unsafe (review fixes skipped):\n  fixtest.read_only: 4"),
        "{summary}"
    );
    assert!(summary.contains("4 findings remain"), "{summary}");
}

#[test]
fn a_second_run_changes_nothing() {
    let dir = copy("second-run", &["pod.yaml"]);
    let path = dir.join("pod.yaml");
    let first = fix(&["--unsafe"], &path);
    let once = read(&path);
    assert_ne!(once, read(&fixture("pod.yaml")), "{}", stderr(&first));
    let second = fix(&["--unsafe"], &path);
    assert_eq!(read(&path), once);
    assert!(
        stderr(&second).contains("fixed 0 findings in 0 files"),
        "{}",
        stderr(&second)
    );
    assert_eq!(first.status.code(), second.status.code());
}

#[test]
fn dry_run_writes_nothing() {
    let dir = copy("dry-run", &["pod.yaml"]);
    let out = fix(&["--dry-run"], &dir.join("pod.yaml"));
    assert_eq!(read(&dir.join("pod.yaml")), read(&fixture("pod.yaml")));
    let summary = stderr(&out);
    assert!(
        summary.contains("would fix 11 findings in 1 file (dry run: nothing written)"),
        "{summary}"
    );
    // Counted as if fixed.
    assert!(summary.contains("4 findings remain"), "{summary}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn diff_prints_a_unified_diff() {
    let dir = copy("diff", &["pod.yaml"]);
    let path = dir.join("pod.yaml");
    let out = fix(&["--diff", "--dry-run"], &path);
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.starts_with(&format!(
            "--- {}\n+++ {}\n@@ ",
            path.display(),
            path.display()
        )),
        "{diff}"
    );
    assert!(
        diff.contains("\n-  hostPID: true\n+  hostPID: false\n"),
        "{diff}"
    );
    assert!(diff.contains("\n-      privileged: true\n"), "{diff}");
    assert!(
        diff.contains("\n+  labels:\n+    pod-security.kubernetes.io/enforce: restricted\n"),
        "{diff}"
    );
    assert_eq!(read(&path), read(&fixture("pod.yaml")));
}

#[test]
fn review_fixes_need_unsafe() {
    let dir = copy("unsafe", &["pod.yaml"]);
    let path = dir.join("pod.yaml");
    fix(&[], &path);
    assert!(!read(&path).contains("readOnlyRootFilesystem"));
    let out = fix(&["--unsafe"], &path);
    let text = read(&path);
    assert_eq!(
        text.matches("readOnlyRootFilesystem: true").count(),
        3,
        "{text}"
    );
    let summary = stderr(&out);
    assert!(summary.contains("  fixtest.read_only: 3"), "{summary}");
    assert!(!summary.contains("needs --unsafe"), "{summary}");
}

#[test]
fn rule_narrows_the_fixes() {
    let dir = copy("rule", &["pod.yaml"]);
    let path = dir.join("pod.yaml");
    let out = fix(&["--rule", "fixtest.host_pid"], &path);
    assert_eq!(
        read(&path),
        read(&fixture("pod.yaml")).replace("hostPID: true", "hostPID: false")
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no finding left"));
}

#[test]
fn conflicting_fixes_are_both_left_out_and_reported() {
    let dir = copy("conflict", &["nopid.yaml"]);
    let path = dir.join("nopid.yaml");
    let out = run(&["fix", "-p", "tests/fix/conflict", path.to_str().unwrap()]);
    assert_eq!(read(&path), read(&fixture("nopid.yaml")));
    let summary = stderr(&out);
    assert!(
        summary.contains(&format!(
            "conflicts (neither fix applied):\n  {}:5: conflict.pid_off and conflict.pid_on set spec.hostPID to different values",
            path.display()
        )),
        "{summary}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_refused_file_is_left_alone_and_the_others_are_fixed() {
    let dir = copy("refused", &["anchored.yaml", "clean.yaml"]);
    let out = fix(&[], &dir);
    assert_eq!(
        read(&dir.join("anchored.yaml")),
        read(&fixture("anchored.yaml"))
    );
    assert_eq!(
        read(&dir.join("clean.yaml")),
        read(&fixture("clean.yaml")).replace("hostPID: true", "hostPID: false")
    );
    let summary = stderr(&out);
    let anchored = dir.join("anchored.yaml");
    assert!(
        summary.contains(&format!(
            "files left untouched:\n  {}:10: an anchor or alias is on the edited value",
            anchored.display()
        )),
        "{summary}"
    );
    // The anchored file's findings remain.
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn exit_code_zero_when_everything_is_fixed_and_two_on_errors() {
    let dir = copy("exit-codes", &["clean.yaml"]);
    let out = fix(&[], &dir.join("clean.yaml"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fs::write(
        dir.join("broken.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n",
    )
    .unwrap();
    fs::copy(fixture("clean.yaml"), dir.join("clean.yaml")).unwrap();
    let out = fix(&[], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.yaml:"), "{}", stderr(&out));
    // The other file is still fixed.
    assert!(read(&dir.join("clean.yaml")).contains("hostPID: false # fixed by host_pid"));
}

#[test]
fn stdin_prints_the_fixed_text() {
    let out = common::run_with_stdin(
        &["fix", "-p", POLICIES, "--rule", "fixtest.host_pid", "-"],
        read(&fixture("clean.yaml")).as_bytes(),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        read(&fixture("clean.yaml")).replace("hostPID: true", "hostPID: false")
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn help_lists_fix() {
    let out = run(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("\n  fix "), "{help}");
}

#[test]
fn the_readme_before_and_after_is_what_fix_does() {
    let blocks = common::readme_yaml_blocks("## Fixing manifests", 2);
    let dir = scratch("fix-readme");
    let path = dir.join("pod.yaml");
    fs::write(&path, &blocks[0]).unwrap();
    fix(&[], &path);
    assert_eq!(read(&path), blocks[1]);
}
