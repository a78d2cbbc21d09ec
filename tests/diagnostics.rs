//! Snapshot tests of `rampart check` diagnostics: each file in `tests/diagnostics/` is one
//! erroneous program; the real binary checks it and insta compares exit code and output.
//! Adding a test is adding a file.

use std::path::Path;
use std::process::Command;

#[test]
fn diagnostics() {
    insta::glob!("diagnostics/*.rp", |path| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let rel = path.strip_prefix(root).expect("inputs are under the crate");
        let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .current_dir(root)
            .args(["check", &rel.display().to_string()])
            .env("NO_COLOR", "1")
            .output()
            .expect("the binary runs");
        let code = out.status.code().unwrap_or(-1);
        // Inputs named `warn_*` only warn (exit 0); every other input is an error (exit 2).
        let warn_only = rel
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("warn_"));
        assert_eq!(
            code,
            if warn_only { 0 } else { 2 },
            "unexpected exit code for {}",
            rel.display()
        );
        insta::assert_snapshot!(format!(
            "exit code: {code}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    });
}

#[test]
fn json_diagnostics_name_file_and_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(root)
        .args(["check", "-o", "json", "tests/diagnostics/unknown_field.rp"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "unknown-field");
    assert_eq!(d["file"], "tests/diagnostics/unknown_field.rp");
    assert_eq!(d["line"], 6);
    assert_eq!(d["column"], 28);
    assert_eq!(json["errors"], 1);
    assert!(d["notes"][0]
        .as_str()
        .unwrap()
        .contains("did you mean `privileged`?"));
}

/// Each `one_*.rp` input is one natural mistake: it must give exactly one error (its notes
/// and help aside), never a cascade.
#[test]
fn one_mistake_one_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<_> = std::fs::read_dir(root.join("tests/diagnostics"))
        .expect("the inputs are there")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("one_"))
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "the one-mistake inputs are there");
    for path in inputs {
        let rel = path.strip_prefix(root).expect("under the crate");
        let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .current_dir(root)
            .args(["check", "-o", "json", &rel.display().to_string()])
            .output()
            .expect("the binary runs");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        assert_eq!(
            json["errors"],
            1,
            "{} gives {} errors: {:#}",
            rel.display(),
            json["errors"],
            json["diagnostics"]
        );
    }
}

/// An empty file, or one with only `module x`, gets a `no-rules` warning and no error.
#[test]
fn empty_policy_files_warn() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["warn_empty_file.rp", "warn_module_only.rp"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .current_dir(root)
            .args(["check", "-o", "json", &format!("tests/diagnostics/{file}")])
            .output()
            .expect("the binary runs");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        assert_eq!(json["errors"], 0, "{file}");
        assert_eq!(json["diagnostics"][0]["code"], "no-rules", "{file}");
    }
}
